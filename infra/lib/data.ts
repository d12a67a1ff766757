import { Construct } from 'constructs';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import type { StageSettings } from './config';

/** A global secondary index: string keys, and what it projects besides them. */
export interface IndexSpec {
  readonly name: string;
  readonly partition: string;
  readonly sort: string;
  /** `ALL`, `KEYS_ONLY`, or the non-key attributes to include. */
  readonly projection: 'ALL' | 'KEYS_ONLY' | readonly string[];
}

/** The Emails table's indexes (`crates/aws/src/ledger/schema.rs`, `create_ledger_tables`). */
export const EMAILS_INDEXES: readonly IndexSpec[] = [
  { name: 'byUser', partition: 'user_id', sort: 'created_key', projection: ['campaign', 'status'] },
  { name: 'byStatus', partition: 'status', sort: 'due_at', projection: 'KEYS_ONLY' },
  { name: 'byStatusCreated', partition: 'status', sort: 'created_key', projection: ['campaign'] },
  { name: 'byCreated', partition: 'email_shard', sort: 'created_key', projection: ['campaign'] },
];

/** The Ledger table's indexes (`crates/aws/src/ledger/schema.rs`, `create_ledger_tables`). */
export const LEDGER_INDEXES: readonly IndexSpec[] = [
  { name: 'byRescore', partition: 'rescore_shard', sort: 'next_rescore_at', projection: 'KEYS_ONLY' },
  { name: 'bySuppression', partition: 'list_shard', sort: 'pk', projection: 'ALL' },
];

/**
 * The three DynamoDB tables. All are on-demand (no capacity to plan, and engage's
 * load comes in bursts: imports, the minute sweep), encrypted with the AWS-owned key,
 * with point-in-time recovery (35 days of restores to any second), string keys only.
 *
 * The key design is the Rust adapters' (`crates/aws/src/tables.rs`, also used by
 * `engage aws init` against the emulator): keep the three in step. In short:
 *
 * | table | item | pk | sk |
 * | --- | --- | --- | --- |
 * | Users | a client (`version`, `email`, `body` = the client as JSON) | `<user id>` | — |
 * | Users | an address guard (one client per address) | `email#<normalized address>` | — |
 * | Emails | an email (`user_id`, `status`, `created_key`, `due_at`, `email_shard`, `state`, `body`) | `<email id>` | `email` |
 * | Ledger | a claim (an event processed once: put if absent) | `event#<event id>` | `claim` |
 * | Ledger | a client's score and ledger state (`ledger_seq` guards commits) | `user#<user id>` | `score` |
 * | Ledger | a decision (sent / not sent, and why) | `user#<user id>` | `decision#<at>#<decision id>` |
 * | Ledger | a suppression | `suppression#<normalized address>` | `suppression` |
 *
 * Indexes (`EMAILS_INDEXES`, `LEDGER_INDEXES`, exactly those `create_ledger_tables`
 * in `crates/aws/src/ledger/schema.rs` makes on the emulator; a test compares the two):
 * - Emails `byUser` (`user_id`, `created_key` = `<created_at>#<email id>`): a
 *   client's emails, newest first;
 * - Emails `byStatus` (`status`, `due_at`): due scheduled, stranded pending, stuck
 *   sending and composing emails, for the sweep;
 * - Emails `byStatusCreated` (`status`, `created_key`) and `byCreated`
 *   (`email_shard`, `created_key`): the email lists of the API, by status or all;
 * - Ledger `byRescore` (`rescore_shard`, `next_rescore_at`): clients whose rescore is
 *   due (sparse: the attribute is set only while one is);
 * - Ledger `bySuppression` (`list_shard`, `pk`): the suppression list by address.
 *
 * A decision commit is one `TransactWriteItems` (claim, decision, email, score), so a
 * redelivered event finds its claim and changes nothing.
 *
 * `Table` (AWS::DynamoDB::Table) rather than `TableV2` (a global table): one region is
 * enough, and the stream's event source mapping is written by hand so its IAM grant
 * names the stream's ARN (the `Table` grant helper asks for `dynamodb:ListStreams` on
 * `*`).
 */
export class Data extends Construct {
  /**
   * `Users`: the client records the API writes. Its stream (`NEW_AND_OLD_IMAGES`) is
   * the change stream: the stream function diffs the two images into at most one
   * domain event (`crates/core/src/change.rs`), whose id derives from the record's
   * `SequenceNumber`, so a replay yields the same events. Address guard items are
   * skipped by the reader. Scores and email statuses live in the other tables, so
   * writing them never feeds back into the stream.
   */
  readonly users: Table;

  /** `Emails`: one item per email (`sk = "email"`), its history in `state`. */
  readonly emails: Table;

  /** `Ledger`: claims, decisions, scores and suppressions (see the table above). */
  readonly ledger: Table;

  constructor(scope: Construct, id: string, settings: StageSettings) {
    super(scope, id);
    const common = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: settings.deletionProtection,
      removalPolicy: settings.removalPolicy,
    };

    this.users = new Table(this, 'Users', {
      ...common,
      tableName: `${settings.prefix}-users`,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
    });

    this.emails = new Table(this, 'Emails', {
      ...common,
      tableName: `${settings.prefix}-emails`,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
    });
    const index = (table: Table, spec: IndexSpec) =>
      table.addGlobalSecondaryIndex({
        indexName: spec.name,
        partitionKey: { name: spec.partition, type: AttributeType.STRING },
        sortKey: { name: spec.sort, type: AttributeType.STRING },
        ...(typeof spec.projection === 'string'
          ? { projectionType: ProjectionType[spec.projection] }
          : { projectionType: ProjectionType.INCLUDE, nonKeyAttributes: [...spec.projection] }),
      });
    EMAILS_INDEXES.forEach((spec) => index(this.emails, spec));

    this.ledger = new Table(this, 'Ledger', {
      ...common,
      tableName: `${settings.prefix}-ledger`,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
    });
    LEDGER_INDEXES.forEach((spec) => index(this.ledger, spec));
  }
}
