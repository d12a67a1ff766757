import * as path from 'node:path';
import { Construct } from 'constructs';
import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Architecture,
  EventSourceMapping,
  type Function as LambdaFunction,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { RustFunction } from 'cargo-lambda-cdk';
import { ENV, TIMEOUTS, type StageSettings } from './config';
import type { Data } from './data';
import { skipCheckov } from './lint';
import type { Messaging } from './messaging';

/** The Cargo workspace at the repository's root (`infra/../Cargo.toml`). */
export const MANIFEST_PATH = path.resolve(__dirname, '..', '..', 'Cargo.toml');
/** The workspace package with the `api`, `stream` and `mailer` binaries. */
export const LAMBDA_PACKAGE = 'engage-lambda';

export interface FunctionsProps {
  readonly settings: StageSettings;
  readonly data: Data;
  readonly messaging: Messaging;
  /** `https://…` base of links in emails (unsubscribe); the CloudFront URL by default. */
  readonly publicUrl: string;
  /** The `From` of engagement emails (`ENGAGE_FROM`); unset: engage's default. */
  readonly fromAddress?: string;
  /** The SES domain identity, when the stack verifies one (`-c sesDomain=…`). */
  readonly sesDomain?: string;
  /** At most this many mailer invocations at once per queue (SES rate, OpenAI limits). */
  readonly mailerMaxConcurrency: number;
  /**
   * Concurrency reserved for (and the most allowed to) the api function, so a flood
   * of API requests cannot take the account's concurrency from the mailer and stream.
   */
  readonly apiReservedConcurrency: number;
}

/**
 * The three Rust functions (cargo-lambda, `provided.al2023`, x86_64), their event
 * sources, the minute sweep, the secrets they read, and their least-privilege grants.
 */
export class Functions extends Construct {
  readonly api: RustFunction;
  readonly stream: RustFunction;
  readonly mailer: RustFunction;
  /** The OpenAI API key (a generated placeholder until an operator puts the real one). */
  readonly openAiKey: Secret;
  /** The HMAC key of unsubscribe links; losing it breaks every link already sent. */
  readonly unsubscribeKey: Secret;
  /** The admin API bearer token. */
  readonly adminToken: Secret;
  /**
   * The value CloudFront sends as `X-Origin-Verify` to the API origin; the api
   * function answers 403 without it (`ENGAGE_AWS__ORIGIN_SECRET_ARN`).
   */
  readonly originVerify: Secret;
  readonly streamMapping: EventSourceMapping;
  readonly sweep: Schedule;

  constructor(scope: Construct, id: string, props: FunctionsProps) {
    super(scope, id);
    const { settings, data, messaging } = props;
    const { prefix } = settings;

    // --- secrets -------------------------------------------------------------------
    const secret = (id: string, slug: string, description: string, length: number) =>
      new Secret(this, id, {
        secretName: `${settings.stage}/engage/${slug}`,
        description,
        generateSecretString: { passwordLength: length, excludePunctuation: true },
        removalPolicy: settings.removalPolicy,
      });
    this.openAiKey = secret(
      'OpenAiApiKey',
      'openai-api-key',
      'OpenAI API key for engage (a generated placeholder: put the real key with `aws secretsmanager put-secret-value`)',
      32,
    );
    this.unsubscribeKey = secret(
      'UnsubscribeKey',
      'unsubscribe-key',
      'HMAC-SHA-256 key of engage unsubscribe links (never delete: links already sent stop working)',
      64,
    );
    this.adminToken = secret('AdminToken', 'admin-token', 'engage admin API bearer token', 40);
    this.originVerify = secret(
      'OriginVerify',
      'origin-verify',
      'engage: the X-Origin-Verify header CloudFront sends to the API; requests without it get 403 (after changing it, deploy the stack again so CloudFront sends the new value)',
      48,
    );

    // --- the functions -------------------------------------------------------------
    const environment: Record<string, string> = {
      [ENV.backend]: 'aws',
      [ENV.logFormat]: 'json',
      [ENV.rustLog]: 'info',
      [ENV.publicUrl]: props.publicUrl,
      [ENV.usersTable]: data.users.tableName,
      [ENV.emailsTable]: data.emails.tableName,
      [ENV.ledgerTable]: data.ledger.tableName,
      [ENV.eventsTopicArn]: messaging.eventsTopic.topicArn,
      [ENV.emailQueueUrl]: messaging.emailQueue.queueUrl,
      [ENV.emailDlqUrl]: messaging.emailDlq.queueUrl,
      [ENV.emailQueueArn]: messaging.emailQueue.queueArn,
      [ENV.feedbackQueueArn]: messaging.feedbackQueue.queueArn,
      [ENV.openAiKeySecretArn]: this.openAiKey.secretArn,
      [ENV.unsubscribeSecretArn]: this.unsubscribeKey.secretArn,
      [ENV.adminTokenSecretArn]: this.adminToken.secretArn,
      [ENV.originSecretArn]: this.originVerify.secretArn,
      [ENV.mailSender]: 'ses',
      [ENV.sesConfigurationSet]: messaging.configurationSet.configurationSetName,
      [ENV.feedbackTopicArns]: Stack.of(this).toJsonString([messaging.feedbackTopic.topicArn]),
      ...(props.fromAddress ? { [ENV.from]: props.fromAddress } : {}),
    };

    const rust = (
      name: 'api' | 'stream' | 'mailer',
      id: string,
      timeout: Duration,
      reservedConcurrentExecutions?: number,
    ) => {
      const logGroup = new LogGroup(this, `${id}Logs`, {
        logGroupName: `/aws/lambda/${prefix}-${name}`,
        retention: settings.logRetention,
        removalPolicy: settings.removalPolicy,
      });
      return new RustFunction(this, id, {
        functionName: `${prefix}-${name}`,
        description: `engage ${name} (${settings.stage})`,
        manifestPath: MANIFEST_PATH,
        binaryName: name,
        runtime: 'provided.al2023',
        // cargo-lambda builds x86_64 here; arm64 is ~20 % cheaper per GB-s once the
        // build machine can cross-compile (`--arm64` with zig).
        architecture: Architecture.X86_64,
        // `[profile.lambda]` of the workspace: stripped, LTO, optimised for size.
        bundling: { cargoLambdaFlags: ['--package', LAMBDA_PACKAGE], profile: 'lambda' },
        memorySize: 256,
        timeout,
        environment,
        logGroup,
        reservedConcurrentExecutions,
      });
    };
    // Only the api function has reserved concurrency: its callers are the public. The
    // stream function runs at most one batch per shard, and the mailer at most
    // `mailerMaxConcurrency` per queue plus the sweep; a reserved limit below what
    // the SQS pollers use would throttle them, and a throttled message counts a
    // receive towards the DLQ.
    this.api = rust('api', 'Api', TIMEOUTS.api, props.apiReservedConcurrency);
    this.stream = rust('stream', 'Stream', TIMEOUTS.stream);
    this.mailer = rust('mailer', 'Mailer', TIMEOUTS.mailer);
    skipCheckov(
      this.stream,
      'CKV_AWS_115',
      'bounded by the Users stream: one batch at a time per shard; throttling it only ages the stream',
    );
    skipCheckov(
      this.mailer,
      'CKV_AWS_115',
      'bounded by the SQS event sources (maximumConcurrency per queue) and the one-a-minute sweep; a reserved limit below that throttles the pollers, and a throttled message counts a receive towards the DLQ',
    );

    // --- event sources -------------------------------------------------------------
    // Users stream → stream function. Written as a bare mapping (not
    // `DynamoEventSource`) so the grant below names the stream, not `*`.
    this.streamMapping = new EventSourceMapping(this, 'UsersStreamMapping', {
      target: this.stream,
      eventSourceArn: data.users.tableStreamArn!,
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      bisectBatchOnError: true,
      retryAttempts: 5,
      maxRecordAge: Duration.hours(1),
      reportBatchItemFailures: true,
      // Binds the destination and grants the function sqs:SendMessage on it.
      onFailure: new SqsDlq(messaging.streamDlq),
    });
    data.users.grantStream(
      this.stream,
      'dynamodb:DescribeStream',
      'dynamodb:GetRecords',
      'dynamodb:GetShardIterator',
      'dynamodb:ListStreams',
    );
    // The mapping must not be created before the role may read the stream.
    this.streamMapping.node.addDependency(this.stream.role!);

    // email queue and feedback queue → mailer (grants receive/delete/visibility).
    const sqsSource = (queue: Messaging['emailQueue']) =>
      new SqsEventSource(queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(5),
        reportBatchItemFailures: true,
        maxConcurrency: props.mailerMaxConcurrency,
      });
    this.mailer.addEventSource(sqsSource(messaging.emailQueue));
    this.mailer.addEventSource(sqsSource(messaging.feedbackQueue));

    // The sweep: every minute, `{"sweep": true}` straight to the mailer (due scheduled
    // emails, stranded and stuck ones, rescores). A missed minute is not retried: the
    // next one does the same work.
    this.sweep = new Schedule(this, 'Sweep', {
      scheduleName: `${prefix}-sweep`,
      description: 'engage: the mailer sweep, every minute',
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      target: new LambdaInvoke(this.mailer, {
        input: ScheduleTargetInput.fromObject({ sweep: true }),
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });

    // --- grants (least privilege) --------------------------------------------------
    // stream: reads the Users stream (above), publishes domain events.
    messaging.eventsTopic.grantPublish(this.stream);

    // api: the client records, emails and ledger; its secrets (the origin header's
    // too, to compare with each request's).
    for (const t of [data.users, data.emails, data.ledger]) t.grantReadWriteData(this.api);
    for (const s of [this.openAiKey, this.unsubscribeKey, this.adminToken, this.originVerify]) {
      s.grantRead(this.api);
    }
    // api: `/health` reads the email queue's depth; `/api/v1/dead-letters` looks at
    // the email DLQ (receive, then visible again), and a redrive sends the event to
    // the email queue and deletes it from the DLQ.
    messaging.emailQueue.grant(this.api, 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl');
    messaging.emailQueue.grantSendMessages(this.api);
    messaging.emailDlq.grantConsumeMessages(this.api);

    // mailer: reads clients; reads and writes emails and the ledger; consumes its
    // queues (the event sources); publishes the sweep's rescore_due events; sends
    // through SES with the configuration set; reads the OpenAI key and the
    // unsubscribe key (to sign links).
    data.users.grantReadData(this.mailer);
    data.emails.grantReadWriteData(this.mailer);
    data.ledger.grantReadWriteData(this.mailer);
    messaging.eventsTopic.grantPublish(this.mailer);
    this.openAiKey.grantRead(this.mailer);
    this.unsubscribeKey.grantRead(this.mailer);
    const stack = Stack.of(this);
    this.mailer.addToRolePolicy(
      new PolicyStatement({
        sid: 'SendThroughSes',
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [
          stack.formatArn({
            service: 'ses',
            resource: 'identity',
            resourceName: props.sesDomain ?? '*',
          }),
          stack.formatArn({
            service: 'ses',
            resource: 'configuration-set',
            resourceName: messaging.configurationSet.configurationSetName,
          }),
        ],
      }),
    );
  }

  get all(): LambdaFunction[] {
    return [this.api, this.stream, this.mailer];
  }
}
