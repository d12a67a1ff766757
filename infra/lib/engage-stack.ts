import * as path from 'node:path';
import { Construct } from 'constructs';
import { Annotations, AspectPriority, Aspects, CfnOutput, Lazy, Stack, type StackProps, Tags } from 'aws-cdk-lib';
import { Alarms } from './alarms';
import { intContext, optionalContext, stageSettings, type Stage } from './config';
import { Data } from './data';
import { Functions } from './functions';
import { CdkHandlerSkips } from './lint';
import { Messaging } from './messaging';
import { Web } from './web';

/** The built web console, by default `web/dist` at the repository's root. */
export const DEFAULT_WEB_DIST = path.resolve(__dirname, '..', '..', 'web', 'dist');

/** The HTTP API stage's defaults (`-c apiRateLimit=…`, `-c apiBurstLimit=…`). */
export const DEFAULT_API_THROTTLE = { rateLimit: 100, burstLimit: 200 } as const;
/** The api function's reserved concurrency by default (`-c apiReservedConcurrency=…`). */
export const DEFAULT_API_RESERVED_CONCURRENCY = 10;

export interface EngageStackProps extends StackProps {
  readonly stage: Stage;
  /**
   * The WAF web ACL (scope CLOUDFRONT) of the distribution: `engageApp` passes the
   * edge stack's. Unset: no WAF, and a warning.
   */
  readonly webAclArn?: string;
}

/**
 * engage on AWS: three Rust Lambdas over DynamoDB (with Streams), SNS, SQS and SES,
 * behind an HTTP API and CloudFront. Optional context:
 *
 * - `sesDomain`: a domain to verify in SES (Easy DKIM; the CNAMEs are outputs);
 * - `fromAddress`: the `From` of engagement emails (`ENGAGE_FROM`);
 * - `publicUrl`: the base of links in emails (default: the CloudFront URL);
 * - `alarmEmail`: an address subscribed to the alarm topic;
 * - `mailerMaxConcurrency`: mailer invocations at once per queue (default 5);
 * - `apiRateLimit`, `apiBurstLimit`: the HTTP API stage's throttle, requests per
 *   second and burst, for all clients together (default 100 and 200);
 * - `apiReservedConcurrency`: concurrency reserved for the api function, also its
 *   most (default 10), so the API cannot take the mailer's;
 * - `wafRateLimit` (the edge stack): requests per client IP in 5 minutes (default 2000);
 * - `webDist`: the built web console (default `../web/dist`; skipped when missing);
 * - `bundle=false`: do not build the Rust functions (an offline synth: no cargo-lambda,
 *   no Docker). The CLI refuses `-c aws:cdk:bundling-stacks=[]` (user context may not
 *   use `aws:` keys), which is what this stands in for; tests set that key directly.
 */
export class EngageStack extends Stack {
  readonly data: Data;
  readonly messaging: Messaging;
  readonly functions: Functions;
  readonly web: Web;
  readonly alarms: Alarms;

  /**
   * Whether assets with a build step (the Rust functions) are built: as CDK decides
   * (`aws:cdk:bundling-stacks`), unless the context says `bundle=false`.
   */
  override get bundlingRequired(): boolean {
    const bundle = this.node.tryGetContext('bundle');
    if (bundle === false || bundle === 'false') return false;
    return super.bundlingRequired;
  }

  constructor(scope: Construct, id: string, props: EngageStackProps) {
    super(scope, id, props);
    const settings = stageSettings(props.stage);
    const node = this.node;
    Tags.of(this).add('project', 'engage');
    Tags.of(this).add('stage', settings.stage);
    Aspects.of(this).add(new CdkHandlerSkips(), { priority: AspectPriority.MUTATING });
    if (!this.bundlingRequired) {
      Annotations.of(this).addWarningV2(
        'engage:no-bundling',
        'the Rust functions are not built (bundle=false or aws:cdk:bundling-stacks): this template is for inspection and tests; do not deploy it',
      );
    }

    const sesDomain = optionalContext(node, 'sesDomain');
    const maxConcurrency = intContext(node, 'mailerMaxConcurrency', 5, 2, 1000);
    // API Gateway's account quotas per region are 10,000 requests/s and a burst of 5,000.
    const throttle = {
      rateLimit: intContext(node, 'apiRateLimit', DEFAULT_API_THROTTLE.rateLimit, 1, 10_000),
      burstLimit: intContext(node, 'apiBurstLimit', DEFAULT_API_THROTTLE.burstLimit, 1, 5_000),
    };
    const apiReservedConcurrency = intContext(
      node,
      'apiReservedConcurrency',
      DEFAULT_API_RESERVED_CONCURRENCY,
      1,
      1000,
    );

    this.data = new Data(this, 'Data', settings);
    this.messaging = new Messaging(this, 'Messaging', { settings, sesDomain });

    // The functions' public URL is the distribution's, which fronts the API whose
    // integration names the api function: no cycle, since the distribution refers to
    // the API resource only, not to its routes.
    const webDist = optionalContext(node, 'webDist') ?? DEFAULT_WEB_DIST;
    let web: Web | undefined;
    const publicUrl =
      optionalContext(node, 'publicUrl') ??
      Lazy.string({ produce: () => `https://${web!.distribution.distributionDomainName}` });

    this.functions = new Functions(this, 'Functions', {
      settings,
      data: this.data,
      messaging: this.messaging,
      publicUrl,
      fromAddress:
        optionalContext(node, 'fromAddress') ??
        (sesDomain ? `engage <engage@${sesDomain}>` : undefined),
      sesDomain,
      mailerMaxConcurrency: maxConcurrency,
      apiReservedConcurrency,
    });
    web = new Web(this, 'Web', {
      settings,
      apiFunction: this.functions.api,
      webDist,
      originSecret: this.functions.originVerify,
      throttle,
      webAclArn: props.webAclArn,
    });
    this.web = web;

    this.alarms = new Alarms(this, 'Alarms', {
      settings,
      functions: this.functions,
      messaging: this.messaging,
      alarmEmail: optionalContext(node, 'alarmEmail'),
    });

    // --- outputs ----------------------------------------------------------------------
    const out = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    out('ApiUrl', this.web.httpApi.apiEndpoint, 'the HTTP API (execute-api) endpoint');
    out('CloudFrontUrl', `https://${this.web.distribution.distributionDomainName}`, 'the console and API through CloudFront');
    out('UsersTableName', this.data.users.tableName, 'DynamoDB Users table');
    out('EmailsTableName', this.data.emails.tableName, 'DynamoDB Emails table');
    out('LedgerTableName', this.data.ledger.tableName, 'DynamoDB Ledger table');
    out('EventsTopicArn', this.messaging.eventsTopic.topicArn, 'SNS topic of domain events');
    out('EmailQueueUrl', this.messaging.emailQueue.queueUrl, 'SQS email queue');
    out('SesConfigurationSet', this.messaging.configurationSet.configurationSetName, 'SES configuration set');
    out('OpenAiSecretArn', this.functions.openAiKey.secretArn, 'put the OpenAI API key here');
    out('AdminTokenSecretArn', this.functions.adminToken.secretArn, 'the admin API bearer token');
    out('AlarmTopicArn', this.alarms.topic.topicArn, 'SNS topic of the alarms');
    const identity = this.messaging.identity;
    if (identity) {
      identity.dkimRecords.forEach((r, i) =>
        out(`DkimRecord${i + 1}`, `${r.name} CNAME ${r.value}`, `Easy DKIM record ${i + 1} for ${sesDomain}`),
      );
    }
  }
}
