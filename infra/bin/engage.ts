#!/usr/bin/env node
// The CDK app: one stack per stage, `engage-dev` or `engage-prod` (`-c stage=…`).
import { App } from 'aws-cdk-lib';
import { stageFromContext } from '../lib/config';
import { EngageStack } from '../lib/engage-stack';

const app = new App();
const stage = stageFromContext(app.node);
new EngageStack(app, `engage-${stage}`, {
  stage,
  description: `engage (${stage}): Rust Lambdas over DynamoDB Streams, SNS, SQS and SES`,
  // Account and region from the CLI's credentials/profile; unset: an
  // environment-agnostic template (`cdk synth` works without credentials).
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: process.env.CDK_DEFAULT_REGION,
  },
});
