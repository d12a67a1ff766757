// Assertion tests of the synthesized CloudFormation: no AWS account, no network, no
// Docker and no cargo-lambda (`aws:cdk:bundling-stacks: []` skips building the Rust
// functions; their code is never looked at).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { engageApp } from '../lib/app';
import { ENV, EVENT_TYPES, MAILER_QUEUE_VISIBILITY, TIMEOUTS, stageFromContext } from '../lib/config';
import { EMAILS_INDEXES, LEDGER_INDEXES, type IndexSpec } from '../lib/data';
import { EDGE_REGION, EdgeStack, WAF_MANAGED_RULE_GROUPS } from '../lib/edge';
import { EngageStack } from '../lib/engage-stack';
import { checkovSkips } from '../lib/lint';
import { API_PATHS, CONSOLE_CONTENT_SECURITY_POLICY, LOG_PREFIXES, ORIGIN_VERIFY_HEADER } from '../lib/web';

const ROOT = path.resolve(__dirname, '..');
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;
const NO_WEB_DIST = path.join(os.tmpdir(), 'engage-infra-test-no-such-dir');

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Synthesizes the stack for a context on top of cdk.json's feature flags. */
function synth(context: Record<string, unknown> = {}): { stack: EngageStack; template: Template } {
  const app = new App({
    context: {
      ...CDK_JSON_CONTEXT,
      'aws:cdk:bundling-stacks': [],
      webDist: NO_WEB_DIST,
      ...context,
    },
  });
  const stage = stageFromContext(app.node);
  const stack = new EngageStack(app, `engage-${stage}`, { stage });
  return { stack, template: Template.fromStack(stack) };
}

/** The one logical id of a resource of `type` whose properties match `props`. */
function idOf(template: Template, type: string, props: Json): string {
  const found = Object.keys(template.findResources(type, { Properties: Match.objectLike(props) }));
  expect(found, `${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0];
}

const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const asArray = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** Every IAM statement of the template: policies, roles' inline policies, managed policies. */
function statements(template: Template): Json[] {
  const out: Json[] = [];
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const r of Object.values(template.findResources(type)) as Json[]) {
      out.push(...asArray(r.Properties.PolicyDocument.Statement));
    }
  }
  for (const r of Object.values(template.findResources('AWS::IAM::Role')) as Json[]) {
    for (const p of asArray(r.Properties.Policies) as Json[]) out.push(...asArray(p.PolicyDocument.Statement));
  }
  return out;
}

/** Statements granting a DynamoDB, SNS or SQS action on `*` (any of its resources). */
function wildcardDataStatements(stmts: Json[]): Json[] {
  return stmts.filter(
    (s) =>
      s.Effect === 'Allow' &&
      asArray<string>(s.Action).some((a) => /^(dynamodb|sns|sqs):/.test(a)) &&
      asArray(s.Resource).some((r) => r === '*'),
  );
}

/** The statements of the default policy of the role of the function `fnId`. */
function policyOf(template: Template, fnId: string): Json[] {
  const fn = template.toJSON().Resources[fnId];
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  return Object.values(policies).flatMap((p: Json) => asArray(p.Properties.PolicyDocument.Statement));
}

/** The actions a statement list allows on `resource` (compared as CloudFormation JSON). */
function actionsOn(stmts: Json[], resource: Json): string[] {
  const key = JSON.stringify(resource);
  return stmts
    .filter((s) => asArray(s.Resource).some((r) => JSON.stringify(r) === key))
    .flatMap((s) => asArray<string>(s.Action))
    .sort();
}

/** Logical ids a value refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub). */
function refsIn(value: Json, out: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Ref' && typeof v === 'string') out.add(v);
      else if (k === 'Fn::GetAtt') out.add(Array.isArray(v) ? (v[0] as string) : String(v).split('.')[0]);
      else if (k === 'Fn::Sub') {
        const s = Array.isArray(v) ? v[0] : v;
        for (const m of String(s).matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) out.add(m[1]);
        if (Array.isArray(v)) refsIn(v[1], out);
      } else refsIn(v, out);
    }
  }
  return out;
}

/** A dependency cycle among the template's resources, or undefined. */
function findCycle(template: Json): string[] | undefined {
  const resources = template.Resources as Record<string, Json>;
  const edges = new Map<string, string[]>();
  for (const [id, r] of Object.entries(resources)) {
    const deps = refsIn(r.Properties ?? {});
    asArray<string>(r.DependsOn).forEach((d) => deps.add(d));
    edges.set(id, [...deps].filter((d) => d in resources));
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'open') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'open');
    stack.push(id);
    for (const d of edges.get(id)!) {
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const id of edges.keys()) {
    const c = visit(id);
    if (c) return c;
  }
  return undefined;
}

const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
const normalized = (spec: IndexSpec) => ({
  name: spec.name,
  partition: spec.partition,
  sort: spec.sort,
  projection: typeof spec.projection === 'string' ? spec.projection : [...spec.projection],
});

/**
 * The indexes `create_ledger_tables` (crates/aws/src/ledger/schema.rs) creates, read from its
 * source: `index(keys::BY_X, "hash", "range", include)` calls in its `emails` and
 * `ledger` arrays, names resolved through crates/aws/src/tables.rs's `keys`.
 */
function rustIndexes(): { emails: IndexSpec[]; ledger: IndexSpec[] } {
  const src = (f: string) => fs.readFileSync(path.join(ROOT, '..', 'crates', 'aws', 'src', f), 'utf8');
  const keys = new Map(
    [...src('tables.rs').matchAll(/pub const (\w+): &str = "([^"]*)";/g)].map((m) => [`keys::${m[1]}`, m[2]]),
  );
  const value = (token: string) => {
    const t = token.trim();
    if (t.startsWith('"')) return JSON.parse(t) as string;
    const v = keys.get(t);
    if (v === undefined) throw new Error(`unknown key constant ${t}`);
    return v;
  };
  const ledger = src('ledger/schema.rs');
  const body = ledger.slice(ledger.indexOf('pub async fn create_ledger_tables'));
  const block = (name: string): IndexSpec[] => {
    const m = body.match(new RegExp(`let ${name} = \\[([\\s\\S]*?)\\];`));
    if (!m) throw new Error(`no \`let ${name} = [...]\` in create_ledger_tables`);
    const calls = [...m[1].matchAll(/index\(\s*([^,]+),\s*([^,]+),\s*([^,]+),\s*(None|Some\(&\[([^\]]*)\]\))\s*,?\s*\)/g)];
    expect(calls.length, `index(...) calls in ${name}`).toBeGreaterThan(0);
    return calls
      .map((c) => {
        const include = c[4] === 'None' ? 'ALL' : c[5].trim() === '' ? 'KEYS_ONLY' : c[5].split(',').map(value);
        return normalized({ name: value(c[1]), partition: value(c[2]), sort: value(c[3]), projection: include });
      })
      .sort(byName);
  };
  return { emails: block('emails'), ledger: block('ledger') };
}

/**
 * The value of `pub const NAME: &str = "…";` in a Rust source file, as Rust reads the
 * literal: a `\` at the end of a line drops the line break and the next line's leading
 * whitespace; `\"` and `\\` are a quote and a backslash.
 */
function rustStrConst(file: string, name: string): string {
  const src = fs.readFileSync(path.join(ROOT, '..', file), 'utf8');
  const m = src.match(new RegExp(`pub const ${name}: &str = "((?:[^"\\\\]|\\\\[\\s\\S])*)";`));
  if (!m) throw new Error(`no \`pub const ${name}: &str = "…";\` in ${file}`);
  return m[1].replace(/\\\n\s*/g, '').replace(/\\(["\\])/g, '$1');
}

/** The CloudFront distribution's config (the template has exactly one). */
function distributionConfig(template: Template): Json {
  const ds = Object.values(template.findResources('AWS::CloudFront::Distribution')) as Json[];
  expect(ds).toHaveLength(1);
  return ds[0].Properties.DistributionConfig;
}

describe('engage stack (dev)', () => {
  let template: Template;
  let json: Json;
  let ids: Record<string, string>;

  beforeAll(() => {
    template = synth({ stage: 'dev' }).template;
    json = template.toJSON();
    const table = (name: string) => idOf(template, 'AWS::DynamoDB::Table', { TableName: `dev-engage-${name}` });
    const queue = (name: string) => idOf(template, 'AWS::SQS::Queue', { QueueName: `dev-engage-${name}` });
    const topic = (name: string) => idOf(template, 'AWS::SNS::Topic', { TopicName: `dev-engage-${name}` });
    const fn = (name: string) => idOf(template, 'AWS::Lambda::Function', { FunctionName: `dev-engage-${name}` });
    ids = {
      users: table('users'),
      emails: table('emails'),
      ledger: table('ledger'),
      emailQueue: queue('email'),
      emailDlq: queue('email-dlq'),
      streamDlq: queue('stream-dlq'),
      feedbackQueue: queue('feedback'),
      feedbackDlq: queue('feedback-dlq'),
      events: topic('events'),
      sesFeedback: topic('ses-feedback'),
      alarms: topic('alarms'),
      api: fn('api'),
      stream: fn('stream'),
      mailer: fn('mailer'),
      topicKey: idOf(template, 'AWS::KMS::Key', { EnableKeyRotation: true }),
      originSecret: idOf(template, 'AWS::SecretsManager::Secret', { Name: 'dev/engage/origin-verify' }),
      consoleBucket: idOf(template, 'AWS::S3::Bucket', { LoggingConfiguration: Match.anyValue() }),
      logBucket: idOf(template, 'AWS::S3::Bucket', { OwnershipControls: Match.anyValue() }),
      stage: idOf(template, 'AWS::ApiGatewayV2::Stage', { StageName: '$default' }),
    };
  });

  describe('tables', () => {
    it('Users: pk, on demand, PITR, stream NEW_AND_OLD_IMAGES', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: 'dev-engage-users',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      });
    });

    it('Emails: pk/sk, GSI byUser (user_id, created_key), PITR', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: 'dev-engage-emails',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        GlobalSecondaryIndexes: Match.arrayWith([
          {
            IndexName: 'byUser',
            KeySchema: [
              { AttributeName: 'user_id', KeyType: 'HASH' },
              { AttributeName: 'created_key', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['campaign', 'status'] },
          },
        ]),
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'user_id', AttributeType: 'S' },
          { AttributeName: 'created_key', AttributeType: 'S' },
        ]),
      });
    });

    it('the Emails and Ledger indexes are the specs, and the specs are create_ledger_tables in crates/aws/src/ledger/schema.rs', () => {
      const rendered = (spec: IndexSpec) => ({
        IndexName: spec.name,
        KeySchema: [
          { AttributeName: spec.partition, KeyType: 'HASH' },
          { AttributeName: spec.sort, KeyType: 'RANGE' },
        ],
        Projection:
          typeof spec.projection === 'string'
            ? { ProjectionType: spec.projection }
            : { ProjectionType: 'INCLUDE', NonKeyAttributes: [...spec.projection] },
      });
      const sortByName = (xs: Json[]) => [...xs].sort((a, b) => a.IndexName.localeCompare(b.IndexName));
      expect(sortByName(json.Resources[ids.emails].Properties.GlobalSecondaryIndexes)).toEqual(
        sortByName(EMAILS_INDEXES.map(rendered)),
      );
      expect(sortByName(json.Resources[ids.ledger].Properties.GlobalSecondaryIndexes)).toEqual(
        sortByName(LEDGER_INDEXES.map(rendered)),
      );
      expect(json.Resources[ids.users].Properties.GlobalSecondaryIndexes).toBeUndefined();

      const rust = rustIndexes();
      expect(rust.emails).toEqual([...EMAILS_INDEXES].map(normalized).sort(byName));
      expect(rust.ledger).toEqual([...LEDGER_INDEXES].map(normalized).sort(byName));
    });

    it('Ledger: pk/sk, on demand, PITR; only Users has a stream', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: 'dev-engage-ledger',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      const streams = template.findResources('AWS::DynamoDB::Table', {
        Properties: { StreamSpecification: Match.anyValue() },
      });
      expect(Object.keys(streams)).toEqual([ids.users]);
    });

    it('dev: tables are deleted with the stack and not deletion-protected', () => {
      for (const id of [ids.users, ids.emails, ids.ledger]) {
        const r = json.Resources[id];
        expect(r.DeletionPolicy).toBe('Delete');
        expect(r.Properties.DeletionProtectionEnabled).toBe(false);
      }
    });
  });

  describe('messaging', () => {
    it('email queue: DLQ after 5 receives, visibility 180 s = 6 x the mailer timeout, SSE', () => {
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: 'dev-engage-email',
        VisibilityTimeout: 180,
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: arnOf(ids.emailDlq), maxReceiveCount: 5 },
      });
      const mailerTimeout = json.Resources[ids.mailer].Properties.Timeout;
      expect(mailerTimeout).toBe(30);
      expect(json.Resources[ids.emailQueue].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * mailerTimeout);
      expect(MAILER_QUEUE_VISIBILITY.toSeconds()).toBe(6 * TIMEOUTS.mailer.toSeconds());
    });

    it('every queue is encrypted and refuses requests without TLS', () => {
      const queues = template.findResources('AWS::SQS::Queue');
      expect(Object.keys(queues)).toHaveLength(5);
      for (const q of Object.values(queues) as Json[]) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
      const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as Json[];
      const tlsGuarded = new Set(
        policies
          .filter((p) =>
            asArray(p.Properties.PolicyDocument.Statement).some(
              (s: Json) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false',
            ),
          )
          .flatMap((p) => asArray(p.Properties.Queues).map((q: Json) => q.Ref)),
      );
      expect([...tlsGuarded].sort()).toEqual(Object.keys(queues).sort());
    });

    it('events → email subscription: filter on event_type, exactly the Rust event types, raw delivery off', () => {
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'sqs',
        TopicArn: { Ref: ids.events },
        Endpoint: arnOf(ids.emailQueue),
        RawMessageDelivery: false,
        FilterPolicy: { event_type: [...EVENT_TYPES] },
      });
      // Message attributes, not the body (the default scope).
      const sub = Object.values(
        template.findResources('AWS::SNS::Subscription', { Properties: { TopicArn: { Ref: ids.events } } }),
      )[0] as Json;
      expect(sub.Properties.FilterPolicyScope ?? 'MessageAttributes').toBe('MessageAttributes');
    });

    it('the allow-list is exactly the EventType names of crates/core/src/change.rs', () => {
      // `EventType`'s names are its variants in snake_case (strum's `serialize_all`
      // and serde's `rename_all`, both "snake_case", as the enum declares).
      const rust = fs.readFileSync(path.join(ROOT, '..', 'crates', 'core', 'src', 'change.rs'), 'utf8');
      const start = rust.indexOf('pub enum EventType {');
      expect(start).toBeGreaterThan(-1);
      const head = rust.slice(Math.max(0, rust.lastIndexOf('#[derive', start)), start);
      expect(head).toContain('#[serde(rename_all = "snake_case")]');
      expect(head).toContain('#[strum(serialize_all = "snake_case")]');
      const body = rust.slice(start, rust.indexOf('\n}\n', start));
      const names = [...body.matchAll(/^\s{4}([A-Z]\w*),$/gm)].map((m) =>
        m[1].replace(/[A-Z]/g, (c, i) => (i === 0 ? '' : '_') + c.toLowerCase()),
      );
      expect(names.length).toBeGreaterThan(0);
      expect([...EVENT_TYPES].sort()).toEqual(names.sort());
    });

    it('the queue policy lets only the events topic send to the email queue', () => {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: ids.emailQueue }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: 'sqs:SendMessage',
              Effect: 'Allow',
              Principal: { Service: 'sns.amazonaws.com' },
              Condition: { ArnEquals: { 'aws:SourceArn': { Ref: ids.events } } },
            }),
          ]),
        },
      });
    });

    it('SES: configuration set → ses-feedback topic (bounce, complaint, delivery, reject) → feedback queue with its DLQ', () => {
      template.hasResourceProperties('AWS::SES::ConfigurationSet', { Name: 'dev-engage' });
      template.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
        ConfigurationSetName: { Ref: Match.anyValue() },
        EventDestination: {
          Enabled: true,
          MatchingEventTypes: Match.arrayEquals(['bounce', 'complaint', 'delivery', 'reject']),
          SnsDestination: { TopicARN: { Ref: ids.sesFeedback } },
        },
      });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        Topics: [{ Ref: ids.sesFeedback }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: 'sns:Publish', Principal: { Service: 'ses.amazonaws.com' } }),
          ]),
        },
      });
      template.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'sqs',
        TopicArn: { Ref: ids.sesFeedback },
        Endpoint: arnOf(ids.feedbackQueue),
        RawMessageDelivery: false,
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: 'dev-engage-feedback',
        VisibilityTimeout: 180,
        RedrivePolicy: { deadLetterTargetArn: arnOf(ids.feedbackDlq), maxReceiveCount: 5 },
      });
      template.resourceCountIs('AWS::SES::EmailIdentity', 0);
    });
  });

  describe('functions', () => {
    it('three Rust functions: provided.al2023, x86_64, 256 MB, their timeouts, bootstrap', () => {
      const expected = { api: 10, stream: 30, mailer: 30 } as const;
      for (const [name, timeout] of Object.entries(expected)) {
        template.hasResourceProperties('AWS::Lambda::Function', {
          FunctionName: `dev-engage-${name}`,
          Runtime: 'provided.al2023',
          Architectures: ['x86_64'],
          MemorySize: 256,
          Timeout: timeout,
          Handler: 'bootstrap',
          LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
        });
      }
    });

    it('environment: backend, tables, topic, queue, secrets, SES', () => {
      const env = json.Resources[ids.mailer].Properties.Environment.Variables;
      expect(env).toMatchObject({
        ENGAGE_BACKEND: 'aws',
        ENGAGE_AWS__USERS_TABLE: { Ref: ids.users },
        ENGAGE_AWS__EMAILS_TABLE: { Ref: ids.emails },
        ENGAGE_AWS__LEDGER_TABLE: { Ref: ids.ledger },
        ENGAGE_AWS__EVENTS_TOPIC_ARN: { Ref: ids.events },
        ENGAGE_AWS__EMAIL_QUEUE_URL: { Ref: ids.emailQueue },
        ENGAGE_AWS__OPENAI_API_KEY_SECRET_ARN: { Ref: expect.stringMatching(/OpenAiApiKey/) },
        ENGAGE_MAIL__SENDER: 'ses',
      });
      // The public URL is the CloudFront distribution's.
      expect(JSON.stringify(env.ENGAGE_PUBLIC_URL)).toMatch(/WebDistribution.*DomainName/);
      for (const fn of [ids.api, ids.stream]) {
        expect(json.Resources[fn].Properties.Environment.Variables.ENGAGE_BACKEND).toBe('aws');
      }
    });

    it('log groups with a retention (dev: 7 days), one per function', () => {
      for (const name of ['api', 'stream', 'mailer']) {
        template.hasResourceProperties('AWS::Logs::LogGroup', {
          LogGroupName: `/aws/lambda/dev-engage-${name}`,
          RetentionInDays: 7,
        });
      }
    });

    it('stream ← Users stream: batch 100, bisect, 5 retries, 1 h, item failures, on-failure stream-dlq, TRIM_HORIZON', () => {
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: ids.stream },
        EventSourceArn: { 'Fn::GetAtt': [ids.users, 'StreamArn'] },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 100,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 5,
        MaximumRecordAgeInSeconds: 3600,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        DestinationConfig: { OnFailure: { Destination: arnOf(ids.streamDlq) } },
      });
    });

    it('mailer ← email and feedback queues: batch 10, item failures, a batching window', () => {
      for (const q of [ids.emailQueue, ids.feedbackQueue]) {
        template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
          FunctionName: { Ref: ids.mailer },
          EventSourceArn: arnOf(q),
          BatchSize: 10,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          MaximumBatchingWindowInSeconds: Match.anyValue(),
          ScalingConfig: { MaximumConcurrency: 5 },
        });
      }
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    });

    it('the sweep: a schedule invoking the mailer every minute with {"sweep": true}', () => {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Target: {
          Arn: arnOf(ids.mailer),
          Input: JSON.stringify({ sweep: true }),
          RetryPolicy: { MaximumRetryAttempts: 0 },
          RoleArn: Match.anyValue(),
        },
      });
      const target = json.Resources[
        Object.keys(template.findResources('AWS::Scheduler::Schedule'))[0]
      ].Properties.Target;
      expect(JSON.parse(target.Input)).toEqual({ sweep: true });
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: {
          Statement: [
            Match.objectLike({ Action: 'lambda:InvokeFunction', Resource: Match.arrayWith([arnOf(ids.mailer)]) }),
          ],
        },
      });
    });
  });

  describe('IAM (least privilege)', () => {
    it('no statement allows a DynamoDB, SNS or SQS action on "*"', () => {
      const stmts = statements(template);
      expect(stmts.length).toBeGreaterThan(5);
      expect(wildcardDataStatements(stmts)).toEqual([]);
      // The same with Match: no policy has such a statement.
      for (const service of ['dynamodb', 'sns', 'sqs']) {
        const bad = template.findResources('AWS::IAM::Policy', {
          Properties: {
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({
                  Action: Match.arrayWith([Match.stringLikeRegexp(`^${service}:`)]),
                  Resource: '*',
                }),
              ]),
            },
          },
        });
        expect(Object.keys(bad), service).toEqual([]);
      }
    });

    it('the wildcard check catches a wildcard (it can fail)', () => {
      expect(
        wildcardDataStatements([
          { Effect: 'Allow', Action: 'dynamodb:ListStreams', Resource: '*' },
          { Effect: 'Allow', Action: ['logs:PutLogEvents'], Resource: '*' },
          { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [arnOf('Q'), '*'] },
        ]),
      ).toHaveLength(2);
    });

    it('stream: reads the Users stream, publishes to events, sends to stream-dlq; nothing else', () => {
      const stmts = policyOf(template, ids.stream);
      expect(actionsOn(stmts, { 'Fn::GetAtt': [ids.users, 'StreamArn'] })).toEqual([
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:ListStreams',
      ]);
      expect(actionsOn(stmts, { Ref: ids.events })).toEqual(['sns:Publish']);
      expect(actionsOn(stmts, arnOf(ids.streamDlq))).toContain('sqs:SendMessage');
      const resources = new Set(stmts.flatMap((s) => asArray(s.Resource)).map((r) => JSON.stringify(r)));
      expect(resources).toEqual(
        new Set(
          [
            { 'Fn::GetAtt': [ids.users, 'StreamArn'] },
            { Ref: ids.events },
            arnOf(ids.topicKey),
            arnOf(ids.streamDlq),
          ].map((r) => JSON.stringify(r)),
        ),
      );
    });

    it('api: reads and writes Users, Emails, Ledger; reads its secrets; the email queue and its DLQ; no SES or SNS', () => {
      const stmts = policyOf(template, ids.api);
      for (const t of [ids.users, ids.emails, ids.ledger]) {
        expect(actionsOn(stmts, arnOf(t))).toEqual(
          expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']),
        );
      }
      const actions = stmts.flatMap((s) => asArray<string>(s.Action));
      expect(actions.filter((a) => /^(ses|sns):/.test(a))).toEqual([]);
      expect(actions).toContain('secretsmanager:GetSecretValue');
      // /health reads the queue's depth; a redrive sends to it; nothing consumes it.
      const queue = actionsOn(stmts, arnOf(ids.emailQueue));
      expect(queue).toEqual(expect.arrayContaining(['sqs:GetQueueAttributes', 'sqs:SendMessage']));
      expect(queue.filter((a) => /Receive|Delete/.test(a))).toEqual([]);
      // /api/v1/dead-letters: look (receive, visible again), redrive (delete).
      expect(actionsOn(stmts, arnOf(ids.emailDlq))).toEqual(
        expect.arrayContaining(['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage']),
      );
      const sqsResources = new Set(
        stmts
          .filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('sqs:')))
          .flatMap((s) => asArray(s.Resource))
          .map((r) => JSON.stringify(r)),
      );
      expect(sqsResources).toEqual(new Set([arnOf(ids.emailQueue), arnOf(ids.emailDlq)].map((r) => JSON.stringify(r))));
      const env = json.Resources[ids.api].Properties.Environment.Variables;
      expect(env.ENGAGE_AWS__EMAIL_DLQ_URL).toEqual({ Ref: ids.emailDlq });
    });

    it('mailer: reads Users only, writes Emails and Ledger, consumes its queues, SES scoped to identity and configuration set', () => {
      const stmts = policyOf(template, ids.mailer);
      const users = actionsOn(stmts, arnOf(ids.users));
      expect(users).toContain('dynamodb:GetItem');
      expect(users.filter((a) => /Put|Update|Delete|Write/.test(a))).toEqual([]);
      for (const t of [ids.emails, ids.ledger]) {
        expect(actionsOn(stmts, arnOf(t))).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem']));
      }
      for (const q of [ids.emailQueue, ids.feedbackQueue]) {
        expect(actionsOn(stmts, arnOf(q))).toEqual(
          expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']),
        );
      }
      const ses = stmts.filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('ses:')));
      expect(ses).toHaveLength(1);
      expect(asArray(ses[0].Action).sort()).toEqual(['ses:SendEmail', 'ses:SendRawEmail']);
      const sesResources = JSON.stringify(ses[0].Resource);
      expect(sesResources).toContain(':identity/*');
      expect(sesResources).toContain(':configuration-set/');
      expect(asArray(ses[0].Resource)).not.toContain('*');
      const secretActions = stmts
        .filter((s) => asArray<string>(s.Action).some((a) => a.startsWith('secretsmanager:')))
        .flatMap((s) => asArray<string>(s.Action));
      expect([...new Set(secretActions)].sort()).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    });
  });

  describe('web', () => {
    it('an HTTP API whose $default route proxies to the api function (payload 2.0)', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP', Name: 'dev-engage-api' });
      const integration = idOf(template, 'AWS::ApiGatewayV2::Integration', {
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: arnOf(ids.api),
        PayloadFormatVersion: '2.0',
      });
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: '$default',
        Target: { 'Fn::Join': ['', ['integrations/', { Ref: integration }]] },
      });
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default', AutoDeploy: true });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: arnOf(ids.api),
        Principal: 'apigateway.amazonaws.com',
      });
    });

    it('the console bucket: no public access, SSE, TLS only, read by CloudFront through OAC', () => {
      const bucket = idOf(template, 'AWS::S3::Bucket', {
        LoggingConfiguration: Match.anyValue(),
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucket },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({
              Effect: 'Allow',
              Action: 's3:GetObject',
              Principal: { Service: 'cloudfront.amazonaws.com' },
              Condition: { StringEquals: { 'AWS:SourceArn': Match.anyValue() } },
            }),
          ]),
        },
      });
    });

    it('CloudFront: S3 origin with OAC; /api/*, /u/*, /webhooks/*, /health, /openapi.json → the HTTP API uncached', () => {
      const oac = idOf(template, 'AWS::CloudFront::OriginAccessControl', {
        OriginAccessControlConfig: {
          OriginAccessControlOriginType: 's3',
          SigningBehavior: 'always',
          SigningProtocol: 'sigv4',
        },
      });
      const origins = new Capture();
      const behaviors = new Capture();
      template.hasResourceProperties('AWS::CloudFront::Distribution', {
        DistributionConfig: Match.objectLike({
          Origins: origins,
          CacheBehaviors: behaviors,
          DefaultRootObject: 'index.html',
          DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: 'redirect-to-https' }),
        }),
      });
      const s3 = (origins.asArray() as Json[]).find((o) => o.S3OriginConfig);
      expect(s3.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oac, 'Id'] });
      expect(s3.S3OriginConfig.OriginAccessIdentity).toBe('');
      const apiOrigin = (origins.asArray() as Json[]).find((o) => o.CustomOriginConfig);
      expect(JSON.stringify(apiOrigin.DomainName)).toContain('ApiEndpoint');
      expect(apiOrigin.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
      const list = behaviors.asArray() as Json[];
      expect(list.map((b) => b.PathPattern).sort()).toEqual(['/api/*', '/health', '/openapi.json', '/u/*', '/webhooks/*']);
      expect([...API_PATHS].sort()).toEqual(list.map((b) => b.PathPattern).sort());
      for (const b of list) {
        expect(b.TargetOriginId).toBe(apiOrigin.Id);
        expect(b.AllowedMethods).toHaveLength(7);
        expect(b.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
      }
    });

    it('no console assets without a built web/dist', () => {
      template.resourceCountIs('Custom::CDKBucketDeployment', 0);
    });
  });

  describe('security: throttling and isolation', () => {
    it('the $default stage is throttled: 100 requests/s, bursts of 200', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      });
      template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    });

    it('the api function has 10 reserved; stream and mailer have none (bounded by their event sources)', () => {
      expect(json.Resources[ids.api].Properties.ReservedConcurrentExecutions).toBe(10);
      for (const fn of [ids.stream, ids.mailer]) {
        expect(json.Resources[fn].Properties.ReservedConcurrentExecutions).toBeUndefined();
        // ... and say why to checkov, on that resource only.
        expect(checkovSkips(json.Resources[fn]).map((s) => s.id)).toEqual(['CKV_AWS_115']);
      }
      expect(checkovSkips(json.Resources[ids.api])).toEqual([]);
    });

    it('origin-verify: a generated secret of 48 characters without punctuation', () => {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'dev/engage/origin-verify',
        GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true },
      });
    });

    it("CloudFront's API origin sends X-Origin-Verify with the secret, as a dynamic reference; the S3 origin does not", () => {
      const origins = distributionConfig(template).Origins as Json[];
      const api = origins.find((o) => o.CustomOriginConfig);
      expect(ORIGIN_VERIFY_HEADER).toBe('X-Origin-Verify');
      expect(api.OriginCustomHeaders).toEqual([
        {
          HeaderName: 'X-Origin-Verify',
          HeaderValue: {
            'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: ids.originSecret }, ':SecretString:::}}']],
          },
        },
      ]);
      const s3 = origins.find((o) => o.S3OriginConfig);
      expect(s3.OriginCustomHeaders).toBeUndefined();
      // The secret's value is nowhere in the template: the secret is generated at
      // deploy time, and only its reference is written.
      expect(json.Resources[ids.originSecret].Properties.SecretString).toBeUndefined();
    });

    it('ENGAGE_AWS__ORIGIN_SECRET_ARN in all three functions; only api may read the secret', () => {
      expect(ENV.originSecretArn).toBe('ENGAGE_AWS__ORIGIN_SECRET_ARN');
      for (const fn of [ids.api, ids.stream, ids.mailer]) {
        expect(json.Resources[fn].Properties.Environment.Variables.ENGAGE_AWS__ORIGIN_SECRET_ARN).toEqual({
          Ref: ids.originSecret,
        });
      }
      expect(actionsOn(policyOf(template, ids.api), { Ref: ids.originSecret })).toEqual([
        'secretsmanager:DescribeSecret',
        'secretsmanager:GetSecretValue',
      ]);
      for (const fn of [ids.stream, ids.mailer]) {
        expect(actionsOn(policyOf(template, fn), { Ref: ids.originSecret }), fn).toEqual([]);
      }
    });

    it('the console (default behavior) has its own headers policy: the CSP of crates/engage/src/console.rs, HSTS, nosniff, DENY, no-referrer', () => {
      const rust = rustStrConst('crates/engage/src/console.rs', 'CONTENT_SECURITY_POLICY');
      expect(rust).toMatch(/^default-src 'self'; /);
      expect(rust).not.toMatch(/\s{2}|\\/);
      expect(CONSOLE_CONTENT_SECURITY_POLICY).toBe(rust);

      const policyId = distributionConfig(template).DefaultCacheBehavior.ResponseHeadersPolicyId;
      expect(policyId).toEqual({ Ref: expect.any(String) }); // ours, not a managed policy's id
      const policy = json.Resources[policyId.Ref];
      expect(policy.Type).toBe('AWS::CloudFront::ResponseHeadersPolicy');
      const headers = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
      expect(headers).toEqual({
        ContentSecurityPolicy: { ContentSecurityPolicy: rust, Override: true },
        ContentTypeOptions: { Override: true },
        FrameOptions: { FrameOption: 'DENY', Override: true },
        ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
        StrictTransportSecurity: { AccessControlMaxAgeSec: 31_536_000, IncludeSubdomains: true, Override: true },
      });
    });

    it("the API's behaviors add HSTS and nosniff where the API sent none (no CSP: the API sets its own)", () => {
      const behaviors = distributionConfig(template).CacheBehaviors as Json[];
      const ids_ = new Set(behaviors.map((b) => JSON.stringify(b.ResponseHeadersPolicyId)));
      expect(ids_.size).toBe(1);
      const policy = json.Resources[behaviors[0].ResponseHeadersPolicyId.Ref];
      const headers = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
      expect(headers.ContentSecurityPolicy).toBeUndefined();
      expect(headers.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 31_536_000, Override: false });
      expect(headers.ContentTypeOptions).toEqual({ Override: false });
    });

    it('the rust-string reader reads continuation lines as Rust does (it can fail)', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engage-rs-'));
      try {
        fs.writeFileSync(path.join(dir, 'x.rs'), 'pub const X: &str = "a; \\\n     b \\"c\\" \\\\";\n');
        expect(rustStrConst(path.relative(path.join(ROOT, '..'), path.join(dir, 'x.rs')), 'X')).toBe('a; b "c" \\');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('security: SNS', () => {
    it('every topic (events, ses-feedback, alarms) signs with SignatureVersion 2 and is encrypted with the topic key', () => {
      const topics = template.findResources('AWS::SNS::Topic');
      expect(Object.keys(topics).sort()).toEqual([ids.events, ids.sesFeedback, ids.alarms].sort());
      for (const t of Object.values(topics) as Json[]) {
        expect(t.Properties.SignatureVersion, t.Properties.TopicName).toBe('2');
        expect(t.Properties.KmsMasterKeyId, t.Properties.TopicName).toEqual(arnOf(ids.topicKey));
      }
    });

    it('the topic key: customer-managed, rotated; CloudWatch and SES of this account may publish with it', () => {
      template.resourceCountIs('AWS::KMS::Key', 1);
      const key = json.Resources[ids.topicKey];
      expect(key.Properties.EnableKeyRotation).toBe(true);
      const stmts = asArray(key.Properties.KeyPolicy.Statement) as Json[];
      for (const service of ['cloudwatch.amazonaws.com', 'ses.amazonaws.com']) {
        const s = stmts.filter((x) => x.Principal?.Service === service);
        expect(s, service).toHaveLength(1);
        expect(s[0].Effect).toBe('Allow');
        expect(asArray(s[0].Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
        expect(s[0].Condition).toEqual({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
      }
      // No other service principal, and nothing for everyone.
      const services = stmts.flatMap((x) => asArray(x.Principal?.Service)).sort();
      expect(services).toEqual(['cloudwatch.amazonaws.com', 'ses.amazonaws.com']);
      expect(stmts.filter((x) => x.Principal === '*' || x.Principal?.AWS === '*')).toEqual([]);
    });

    it('the publishers (stream, mailer) may use the topic key; api may not; the queues need no key', () => {
      for (const fn of [ids.stream, ids.mailer]) {
        expect(actionsOn(policyOf(template, fn), arnOf(ids.topicKey)), fn).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
      }
      expect(actionsOn(policyOf(template, ids.api), arnOf(ids.topicKey))).toEqual([]);
      // SNS → SQS delivery needs nothing more: the queues are SSE-SQS, with no key of
      // theirs for SNS to be allowed.
      for (const q of Object.values(template.findResources('AWS::SQS::Queue')) as Json[]) {
        expect(q.Properties.SqsManagedSseEnabled).toBe(true);
        expect(q.Properties.KmsMasterKeyId).toBeUndefined();
      }
    });
  });

  describe('security: request and access logs', () => {
    it('the API stage writes a JSON access log (request id, no headers) to a log group kept 7 days', () => {
      const stage = json.Resources[ids.stage].Properties;
      const logGroup = stage.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
      expect(stage.AccessLogSettings.DestinationArn).toEqual(arnOf(logGroup));
      expect(json.Resources[logGroup].Properties).toMatchObject({
        LogGroupName: '/aws/apigateway/dev-engage-api',
        RetentionInDays: 7,
      });
      const format = JSON.parse(stage.AccessLogSettings.Format);
      expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', path: '$context.path' });
      expect(stage.AccessLogSettings.Format).not.toMatch(/authorization|header/i);
    });

    it('CloudFront standard logs (no cookies) and the console bucket access logs go to the log bucket', () => {
      expect(distributionConfig(template).Logging).toEqual({
        Bucket: { 'Fn::GetAtt': [ids.logBucket, 'RegionalDomainName'] },
        IncludeCookies: false,
        Prefix: LOG_PREFIXES.cloudFront,
      });
      expect(json.Resources[ids.consoleBucket].Properties.LoggingConfiguration).toEqual({
        DestinationBucketName: { Ref: ids.logBucket },
        LogFilePrefix: LOG_PREFIXES.consoleBucket,
      });
    });

    it('the log bucket: no public access, SSE, TLS only, ACLs for CloudFront, expires logs with the stage (7 days)', () => {
      const bucket = json.Resources[ids.logBucket];
      expect(bucket.Properties).toMatchObject({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] },
        VersioningConfiguration: { Status: 'Enabled' },
      });
      expect(bucket.Properties.LifecycleConfiguration.Rules).toEqual([
        expect.objectContaining({ ExpirationInDays: 7, NoncurrentVersionExpiration: { NoncurrentDays: 1 }, Status: 'Enabled' }),
      ]);
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: ids.logBucket },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' } }),
          ]),
        },
      });
      // Its own accesses are not logged (into itself), and checkov is told why.
      expect(bucket.Properties.LoggingConfiguration).toBeUndefined();
      expect(checkovSkips(bucket).map((s) => s.id)).toEqual(['CKV_AWS_18']);
    });

    it('the console bucket is versioned in dev too; old versions expire after 30 days', () => {
      expect(json.Resources[ids.consoleBucket].Properties).toMatchObject({
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: { Rules: [expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })] },
      });
    });
  });

  describe('alarms', () => {
    it('8 alarms on the DLQs, function errors, iterator age and the oldest email; all to the alarm topic', () => {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Json[];
      expect(alarms).toHaveLength(8);
      const metricNames = alarms.map((a) => a.Properties.MetricName).sort();
      expect(metricNames).toEqual(
        [
          'ApproximateAgeOfOldestMessage',
          'ApproximateNumberOfMessagesVisible',
          'ApproximateNumberOfMessagesVisible',
          'ApproximateNumberOfMessagesVisible',
          'Errors',
          'Errors',
          'Errors',
          'IteratorAge',
        ].sort(),
      );
      for (const a of alarms) {
        expect(a.Properties.AlarmActions).toEqual([{ Ref: ids.alarms }]);
        expect(a.Properties.ComparisonOperator).toBe('GreaterThanThreshold');
      }
    });

    it('DLQ depth > 0 for email-dlq, stream-dlq and feedback-dlq', () => {
      for (const q of [ids.emailDlq, ids.streamDlq, ids.feedbackDlq]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [q, 'QueueName'] } }],
          Threshold: 0,
        });
      }
    });

    it('errors of each function, iterator age > 60 s, oldest email > 5 min', () => {
      for (const fn of [ids.api, ids.stream, ids.mailer]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
          Threshold: 0,
        });
      }
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: ids.stream } }],
        Statistic: 'Maximum',
        Threshold: 60_000,
      });
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.emailQueue, 'QueueName'] } }],
        Threshold: 300,
      });
    });
  });

  it('secrets: the OpenAI key (a placeholder), the unsubscribe key, the admin token and the origin header, generated', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 4);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'dev/engage/openai-api-key',
      GenerateSecretString: Match.objectLike({}),
    });
    for (const slug of ['unsubscribe-key', 'admin-token', 'origin-verify']) {
      template.hasResourceProperties('AWS::SecretsManager::Secret', { Name: `dev/engage/${slug}` });
    }
  });

  it('outputs: API URL, CloudFront URL, table names, topic ARN', () => {
    const outputs = template.findOutputs('*');
    for (const name of ['ApiUrl', 'CloudFrontUrl', 'UsersTableName', 'EmailsTableName', 'LedgerTableName', 'EventsTopicArn']) {
      expect(outputs, name).toHaveProperty(name);
    }
    expect(outputs.UsersTableName.Value).toEqual({ Ref: ids.users });
    expect(outputs.EventsTopicArn.Value).toEqual({ Ref: ids.events });
  });

  it('has no dependency cycle (CloudFormation would refuse it)', () => {
    expect(findCycle(json)).toBeUndefined();
  });

  it('the cycle check finds a cycle (it can fail)', () => {
    expect(
      findCycle({
        Resources: {
          A: { Properties: { X: { Ref: 'B' } } },
          B: { Properties: { Y: { 'Fn::GetAtt': ['C', 'Arn'] } } },
          C: { DependsOn: ['A'] },
        },
      }),
    ).toEqual(['A', 'B', 'C', 'A']);
  });
});

describe('engage stack (prod)', () => {
  let template: Template;
  let json: Json;

  beforeAll(() => {
    template = synth({ stage: 'prod', sesDomain: 'mail.example.com', alarmEmail: 'ops@example.com' }).template;
    json = template.toJSON();
  });

  it('tables: deletion protection and RETAIN', () => {
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table')) as Json[];
    expect(tables).toHaveLength(3);
    for (const t of tables) {
      expect(t.Properties.TableName).toMatch(/^prod-engage-/);
      expect(t.Properties.DeletionProtectionEnabled).toBe(true);
      expect(t.DeletionPolicy).toBe('Retain');
      expect(t.UpdateReplacePolicy).toBe('Retain');
    }
  });

  it('secrets, log groups, the buckets and the topic key are retained; logs kept 90 days', () => {
    for (const type of ['AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup', 'AWS::S3::Bucket', 'AWS::KMS::Key']) {
      for (const r of Object.values(template.findResources(type)) as Json[]) expect(r.DeletionPolicy, type).toBe('Retain');
    }
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('prod: access logs and the log bucket keep 90 days', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/aws/apigateway/prod-engage-api',
      RetentionInDays: 90,
    });
    const logBucket = Object.values(
      template.findResources('AWS::S3::Bucket', { Properties: { OwnershipControls: Match.anyValue() } }),
    ) as Json[];
    expect(logBucket).toHaveLength(1);
    expect(logBucket[0].Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(90);
  });

  it('sesDomain: a domain identity in the configuration set, and SES sends scoped to it', () => {
    template.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: 'mail.example.com',
      ConfigurationSetAttributes: { ConfigurationSetName: { Ref: Match.anyValue() } },
    });
    const ses = statements(template).filter((s) => asArray<string>(s.Action).includes('ses:SendRawEmail'));
    expect(ses).toHaveLength(1);
    expect(JSON.stringify(ses[0].Resource)).toContain(':identity/mail.example.com');
    expect(JSON.stringify(ses[0].Resource)).not.toContain(':identity/*');
    const mailer = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 'prod-engage-mailer' } }),
    )[0] as Json;
    expect(mailer.Properties.Environment.Variables.ENGAGE_FROM).toBe('engage <engage@mail.example.com>');
    expect(Object.keys(template.findOutputs('*')).filter((k) => k.startsWith('DkimRecord'))).toHaveLength(3);
  });

  it('alarmEmail subscribes to the alarm topic', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('still no wildcard on data actions, and no cycle', () => {
    expect(wildcardDataStatements(statements(template))).toEqual([]);
    expect(findCycle(json)).toBeUndefined();
  });
});

describe('context', () => {
  it('refuses an unknown stage', () => {
    expect(() => synth({ stage: 'staging' })).toThrow(/stage/);
  });

  it('bundle=false alone (what `npm run synth` passes) skips building the functions', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, bundle: 'false', webDist: NO_WEB_DIST } });
    const stack = new EngageStack(app, 'engage-dev', { stage: 'dev' });
    expect(stack.bundlingRequired).toBe(false);
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::Function', 4); // 3 + the bucket auto-delete handler
  });

  it('deploys the console with its CloudFront invalidation when web/dist exists', () => {
    const dist = fs.mkdtempSync(path.join(os.tmpdir(), 'engage-web-'));
    try {
      fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>engage</title>');
      const { template } = synth({ webDist: dist });
      template.resourceCountIs('Custom::CDKBucketDeployment', 1);
      template.hasResourceProperties('Custom::CDKBucketDeployment', {
        DistributionPaths: ['/*'],
        Prune: true,
      });
    } finally {
      fs.rmSync(dist, { recursive: true, force: true });
    }
  });

  it('apiRateLimit, apiBurstLimit and apiReservedConcurrency set the throttle and the reserved concurrency', () => {
    const { template } = synth({ apiRateLimit: 50, apiBurstLimit: '75', apiReservedConcurrency: 25 });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 75 },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 'dev-engage-api',
      ReservedConcurrentExecutions: 25,
    });
  });

  it.each([
    ['apiRateLimit', 0],
    ['apiRateLimit', 10_001],
    ['apiRateLimit', 'fast'],
    ['apiBurstLimit', 1.5],
    ['apiBurstLimit', 5_001],
    ['apiReservedConcurrency', 0],
    ['apiReservedConcurrency', ''],
    ['mailerMaxConcurrency', 1],
  ])('refuses %s=%j', (key, value) => {
    expect(() => synth({ [key]: value })).toThrow(new RegExp(`context "${key}" must be an integer from`));
  });

  it('the stack alone (no region known): no web ACL on the distribution, and a warning that says so', () => {
    const { stack, template } = synth();
    expect(distributionConfig(template).WebACLId).toBeUndefined();
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === 'aws:cdk:warning')
      .map((m) => String(m.data));
    expect(warnings.some((w) => /no WAF web ACL/.test(w))).toBe(true);
  });
});

describe('the app with a region: the edge stack (WAF, us-east-1)', () => {
  let edge: Template;
  let main: Template;
  let edgeStack: EdgeStack;

  beforeAll(() => {
    const app = new App({
      context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], webDist: NO_WEB_DIST, stage: 'prod' },
    });
    const stacks = engageApp(app, 'prod', { account: '123456789012', region: 'eu-west-1' });
    edgeStack = stacks.edge!;
    expect(stacks.main.stackName).toBe('engage-prod');
    edge = Template.fromStack(edgeStack);
    main = Template.fromStack(stacks.main);
  });

  it('engage-prod-edge is in us-east-1 and holds a CLOUDFRONT web ACL', () => {
    expect(edgeStack.stackName).toBe('engage-prod-edge');
    expect(edgeStack.region).toBe(EDGE_REGION);
    edge.hasResourceProperties('AWS::WAFv2::WebACL', {
      Name: 'prod-engage-cloudfront',
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
    });
  });

  it('rules: a rate limit per IP (2000 in 5 minutes, 429), then the IP reputation, common and known-bad-inputs groups', () => {
    const acl = Object.values(edge.findResources('AWS::WAFv2::WebACL'))[0] as Json;
    const rules = [...(acl.Properties.Rules as Json[])].sort((a, b) => a.Priority - b.Priority);
    expect(rules[0]).toMatchObject({
      Name: 'rate-per-ip',
      Action: { Block: { CustomResponse: { ResponseCode: 429 } } },
      Statement: { RateBasedStatement: { Limit: 2000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
    });
    const groups = rules.slice(1).map((r) => r.Statement.ManagedRuleGroupStatement);
    expect(groups.map((g) => g.Name)).toEqual([
      'AWSManagedRulesAmazonIpReputationList',
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
    ]);
    expect(groups.map((g) => g.Name)).toEqual(WAF_MANAGED_RULE_GROUPS.map((g) => g.name));
    for (const r of rules.slice(1)) expect(r.OverrideAction).toEqual({ None: {} });
    // Only count, never block: imports' large bodies, clients without a User-Agent.
    expect(groups[1].RuleActionOverrides).toEqual([
      { Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } },
      { Name: 'NoUserAgent_HEADER', ActionToUse: { Count: {} } },
    ]);
    // Log4Shell is blocked, not counted.
    expect(groups[2].RuleActionOverrides).toBeUndefined();
  });

  it('WAF logs blocked and counted requests, Authorization redacted, to aws-waf-logs-prod-engage (90 days)', () => {
    edge.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: 'aws-waf-logs-prod-engage', RetentionInDays: 90 });
    edge.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'authorization' } }],
      LoggingFilter: Match.objectLike({ DefaultBehavior: 'DROP' }),
    });
  });

  it("the distribution's WebACLId is the edge stack's web ACL, across regions", () => {
    const ref = JSON.stringify(distributionConfig(main).WebACLId);
    expect(ref).toContain('engage-prod-edge');
    expect(ref).toContain(EDGE_REGION);
    const output = Object.entries(edge.findOutputs('*')).find(([name]) => ref.includes(name));
    expect(output?.[1].Value).toEqual({ 'Fn::GetAtt': [Object.keys(edge.findResources('AWS::WAFv2::WebACL'))[0], 'Arn'] });
  });

  it('wafRateLimit sets the limit; an edge stack outside us-east-1 is refused', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, wafRateLimit: 500 } });
    const stack = new EdgeStack(app, 'edge', { stage: 'dev', env: { region: EDGE_REGION } });
    Template.fromStack(stack).hasResourceProperties('AWS::WAFv2::WebACL', {
      Rules: Match.arrayWith([
        Match.objectLike({ Statement: { RateBasedStatement: Match.objectLike({ Limit: 500 }) } }),
      ]),
    });
    expect(() => new EdgeStack(new App(), 'edge', { stage: 'dev', env: { region: 'eu-west-1' } })).toThrow(/us-east-1/);
    expect(
      () => new EdgeStack(new App({ context: { wafRateLimit: 10 } }), 'edge', { stage: 'dev', env: { region: EDGE_REGION } }),
    ).toThrow(/wafRateLimit/);
  });
});
