import type { App, Environment } from 'aws-cdk-lib';
import type { Stage } from './config';
import { EDGE_REGION, EdgeStack } from './edge';
import { EngageStack } from './engage-stack';

/**
 * The app's stacks for one stage: `engage-{stage}` in `env`, and, when the region is
 * known, `engage-{stage}-edge` in us-east-1 with the distribution's WAF web ACL, whose
 * ARN reaches the main stack as a cross-region reference (CDK keeps it in an SSM
 * parameter of the main stack's region). Without a region (a synth without
 * credentials) there is no edge stack, and the template warns that it has no WAF.
 */
export function engageApp(app: App, stage: Stage, env: Environment = {}): { main: EngageStack; edge?: EdgeStack } {
  const edge = env.region
    ? new EdgeStack(app, `engage-${stage}-edge`, {
        stage,
        description: `engage (${stage}): the CloudFront web ACL (WAF), in ${EDGE_REGION}`,
        env: { account: env.account, region: EDGE_REGION },
        crossRegionReferences: true,
      })
    : undefined;
  const main = new EngageStack(app, `engage-${stage}`, {
    stage,
    description: `engage (${stage}): Rust Lambdas over DynamoDB Streams, SNS, SQS and SES`,
    env,
    crossRegionReferences: edge !== undefined,
    webAclArn: edge?.webAcl.attrArn,
  });
  return { main, edge };
}
