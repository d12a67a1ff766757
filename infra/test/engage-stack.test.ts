// Assertion tests of the synthesized CloudFormation: no AWS account, no network, no
// Docker and no cargo-lambda (`aws:cdk:bundling-stacks: []` skips building the Rust
// functions; their code is never looked at).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { App } from 'aws-cdk-lib';
import { Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { EVENT_TYPES, MAILER_QUEUE_VISIBILITY, TIMEOUTS, stageFromContext } from '../lib/config';
import { EMAILS_INDEXES, LEDGER_INDEXES, type IndexSpec } from '../lib/data';
import { EngageStack } from '../lib/engage-stack';
import { API_PATHS } from '../lib/web';

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
 * The indexes `create_ledger_tables` (crates/aws/src/ledger.rs) creates, read from its
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
  const ledger = src('ledger.rs');
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

    it('the Emails and Ledger indexes are the specs, and the specs are create_ledger_tables in crates/aws/src/ledger.rs', () => {
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

    it('the allow-list is exactly EventType::as_str of crates/core/src/change.rs', () => {
      const rust = fs.readFileSync(path.join(ROOT, '..', 'crates', 'core', 'src', 'change.rs'), 'utf8');
      const body = rust.slice(rust.indexOf('pub fn as_str'));
      const names = [...body.slice(0, body.indexOf('\n    }\n')).matchAll(/EventType::\w+\s*=>\s*"([a-z_]+)"/g)].map(
        (m) => m[1],
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
          [{ 'Fn::GetAtt': [ids.users, 'StreamArn'] }, { Ref: ids.events }, arnOf(ids.streamDlq)].map((r) =>
            JSON.stringify(r),
          ),
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

  it('secrets: the OpenAI key (a placeholder), the unsubscribe key and the admin token, generated', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 3);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'dev/engage/openai-api-key',
      GenerateSecretString: Match.objectLike({}),
    });
    for (const slug of ['unsubscribe-key', 'admin-token']) {
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

  it('secrets, log groups and the bucket are retained; logs kept 90 days', () => {
    for (const type of ['AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup', 'AWS::S3::Bucket']) {
      for (const r of Object.values(template.findResources(type)) as Json[]) expect(r.DeletionPolicy, type).toBe('Retain');
    }
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
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
});
