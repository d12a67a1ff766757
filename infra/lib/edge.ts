import { Construct } from 'constructs';
import { ArnFormat, Stack, type StackProps, Tags, Token } from 'aws-cdk-lib';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnLoggingConfiguration, CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { intContext, stageSettings, type Stage } from './config';

/** CloudFront's web ACLs must live in us-east-1, whatever the region of the rest. */
export const EDGE_REGION = 'us-east-1';

/** Requests one client IP may make in 5 minutes before WAF blocks it (`-c wafRateLimit=…`). */
export const DEFAULT_WAF_RATE_LIMIT = 2000;

/**
 * The AWS managed rule groups of the web ACL, in order, and the rules of each that
 * only count (a match is logged, not blocked) because engage's own traffic trips them.
 */
export const WAF_MANAGED_RULE_GROUPS = [
  { name: 'AWSManagedRulesAmazonIpReputationList', countOnly: [] },
  {
    name: 'AWSManagedRulesCommonRuleSet',
    // Bodies over 8 KB are normal (`POST /api/v1/users/import`); API clients such as
    // scripts may send no User-Agent. The API checks its own limits.
    countOnly: ['SizeRestrictions_BODY', 'NoUserAgent_HEADER'],
  },
  // Log4Shell and other known-bad inputs.
  { name: 'AWSManagedRulesKnownBadInputsRuleSet', countOnly: [] },
] as const;

export interface EdgeStackProps extends StackProps {
  readonly stage: Stage;
}

/**
 * What must be in us-east-1 for the distribution: its WAF web ACL (scope CLOUDFRONT),
 * `engage-{stage}-edge`. Rules, in order: a rate limit per client IP (HTTP 429 above
 * `wafRateLimit` requests in 5 minutes; the API stage's throttle is one budget for all
 * clients, so this keeps one client from spending it), Amazon's IP reputation list,
 * the common rule set and the known-bad-inputs rule set. Blocked and counted requests
 * are logged (Authorization redacted) to `aws-waf-logs-{prefix}`, kept as long as the
 * stage keeps logs; every request is in CloudFront's own logs already.
 */
export class EdgeStack extends Stack {
  readonly webAcl: CfnWebACL;
  readonly logs: LogGroup;

  constructor(scope: Construct, id: string, props: EdgeStackProps) {
    super(scope, id, props);
    if (!Token.isUnresolved(this.region) && this.region !== EDGE_REGION) {
      throw new Error(`the edge stack must be in ${EDGE_REGION}, not ${this.region}`);
    }
    const settings = stageSettings(props.stage);
    const { prefix } = settings;
    Tags.of(this).add('project', 'engage');
    Tags.of(this).add('stage', settings.stage);
    const rateLimit = intContext(this.node, 'wafRateLimit', DEFAULT_WAF_RATE_LIMIT, 100, 2_000_000_000);

    const visibility = (name: string): CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${prefix}-${name}`,
      sampledRequestsEnabled: true,
    });
    const managed: CfnWebACL.RuleProperty[] = WAF_MANAGED_RULE_GROUPS.map((group, i) => ({
      name: group.name,
      priority: i + 1,
      overrideAction: { none: {} },
      statement: {
        managedRuleGroupStatement: {
          vendorName: 'AWS',
          name: group.name,
          ...(group.countOnly.length > 0
            ? { ruleActionOverrides: group.countOnly.map((name) => ({ name, actionToUse: { count: {} } })) }
            : {}),
        },
      },
      visibilityConfig: visibility(group.name),
    }));

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      name: `${prefix}-cloudfront`,
      description: `engage ${settings.stage}, rules of the CloudFront distribution`,
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      visibilityConfig: visibility('web-acl'),
      rules: [
        {
          name: 'rate-per-ip',
          priority: 0,
          action: { block: { customResponse: { responseCode: 429 } } },
          statement: { rateBasedStatement: { limit: rateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
          visibilityConfig: visibility('rate-per-ip'),
        },
        ...managed,
      ],
    });

    this.logs = new LogGroup(this, 'WafLogs', {
      // WAF writes only to log groups whose names begin with `aws-waf-logs-`.
      logGroupName: `aws-waf-logs-${prefix}`,
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    new CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: this.webAcl.attrArn,
      // The log group's ARN without the `:*` that `logGroupArn` ends with.
      logDestinationConfigs: [
        this.formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: this.logs.logGroupName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      ],
      redactedFields: [{ singleHeader: { Name: 'authorization' } }],
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: [{ ActionCondition: { Action: 'BLOCK' } }, { ActionCondition: { Action: 'COUNT' } }],
          },
        ],
      },
    });
  }
}
