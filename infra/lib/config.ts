import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';

/** The deployment stages `-c stage=…` accepts. */
export const STAGES = ['dev', 'prod'] as const;
export type Stage = (typeof STAGES)[number];

/**
 * Every event type the stream function (and the mailer's sweep) may publish on the
 * `events` topic: exactly the strings of `EventType::as_str` in
 * `crates/core/src/change.rs`. The email queue's subscription allows only these, so a
 * type missing here is silently dropped by SNS; `test/engage-stack.test.ts` compares
 * this list with the Rust source so the two cannot drift apart.
 */
export const EVENT_TYPES = [
  'client_created',
  'client_deleted',
  'consent_changed',
  'fix_feedback_given',
  'fix_delivered',
  'order_placed',
  'login_recorded',
  'email_engaged',
  'profile_updated',
  'contact_updated',
  'rescore_due',
] as const;

/** The SNS message attribute (String) the publisher sets to the event's type. */
export const EVENT_TYPE_ATTRIBUTE = 'event_type';

/** Lambda timeouts; the queues' visibility timeouts are derived from the mailer's. */
export const TIMEOUTS = {
  api: Duration.seconds(10),
  stream: Duration.seconds(30),
  mailer: Duration.seconds(30),
} as const;

/**
 * AWS's advice for an SQS event source: a visibility timeout of at least six times
 * the function's timeout, so a batch that is retried by the poller is not visible
 * twice at once.
 */
export const MAILER_QUEUE_VISIBILITY = Duration.seconds(TIMEOUTS.mailer.toSeconds() * 6);

/** Receives before a message moves to its dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;

/** What differs between stages. */
export interface StageSettings {
  readonly stage: Stage;
  /** Tables, bucket and log groups: RETAIN in prod, DESTROY in dev. */
  readonly removalPolicy: RemovalPolicy;
  /** DynamoDB deletion protection (prod only). */
  readonly deletionProtection: boolean;
  readonly logRetention: RetentionDays;
  /** Prefix for every physical name, e.g. `prod-engage-users`. */
  readonly prefix: string;
}

export function stageSettings(stage: Stage): StageSettings {
  const prod = stage === 'prod';
  return {
    stage,
    removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    deletionProtection: prod,
    logRetention: prod ? RetentionDays.THREE_MONTHS : RetentionDays.ONE_WEEK,
    prefix: `${stage}-engage`,
  };
}

/** `-c stage=dev|prod` (default `dev`); anything else is an error, not a new stage. */
export function stageFromContext(node: Node): Stage {
  const raw = node.tryGetContext('stage') ?? 'dev';
  if (!(STAGES as readonly string[]).includes(raw)) {
    throw new Error(`context "stage" must be one of ${STAGES.join(', ')}, not "${raw}"`);
  }
  return raw as Stage;
}

/**
 * A context value as an integer from `min` to `max` (`default` when unset); anything
 * else is an error naming the key, not a silent default.
 */
export function intContext(node: Node, key: string, fallback: number, min: number, max: number): number {
  const raw = node.tryGetContext(key) ?? fallback;
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`context "${key}" must be an integer from ${min} to ${max}`);
  }
  return n;
}

/** A context value as a non-empty string, or undefined. */
export function optionalContext(node: Node, key: string): string | undefined {
  const v = node.tryGetContext(key);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`context "${key}" must be a string`);
  return v;
}

/**
 * The environment variables the Lambda binaries read. engage's configuration loader
 * maps `ENGAGE_A__B` to the key `a.b` and refuses unknown keys, so the `aws.*` keys
 * below are the ones the `engage-lambda` package's configuration must define.
 */
export const ENV = {
  backend: 'ENGAGE_BACKEND',
  logFormat: 'ENGAGE_LOG_FORMAT',
  publicUrl: 'ENGAGE_PUBLIC_URL',
  from: 'ENGAGE_FROM',
  usersTable: 'ENGAGE_AWS__USERS_TABLE',
  emailsTable: 'ENGAGE_AWS__EMAILS_TABLE',
  ledgerTable: 'ENGAGE_AWS__LEDGER_TABLE',
  eventsTopicArn: 'ENGAGE_AWS__EVENTS_TOPIC_ARN',
  emailQueueUrl: 'ENGAGE_AWS__EMAIL_QUEUE_URL',
  emailDlqUrl: 'ENGAGE_AWS__EMAIL_DLQ_URL',
  emailQueueArn: 'ENGAGE_AWS__EMAIL_QUEUE_ARN',
  feedbackQueueArn: 'ENGAGE_AWS__FEEDBACK_QUEUE_ARN',
  openAiKeySecretArn: 'ENGAGE_AWS__OPENAI_API_KEY_SECRET_ARN',
  unsubscribeSecretArn: 'ENGAGE_AWS__UNSUBSCRIBE_SECRET_ARN',
  adminTokenSecretArn: 'ENGAGE_AWS__ADMIN_TOKEN_SECRET_ARN',
  /**
   * The secret CloudFront sends as `X-Origin-Verify` (`ORIGIN_VERIFY_HEADER`) on every
   * request to the API origin; the api function answers 403 to a request without it,
   * so the execute-api endpoint cannot be used around CloudFront.
   */
  originSecretArn: 'ENGAGE_AWS__ORIGIN_SECRET_ARN',
  mailSender: 'ENGAGE_MAIL__SENDER',
  sesConfigurationSet: 'ENGAGE_MAIL__SES__CONFIGURATION_SET',
  feedbackTopicArns: 'ENGAGE_FEEDBACK__SNS_TOPIC_ARNS',
  rustLog: 'RUST_LOG',
} as const;
