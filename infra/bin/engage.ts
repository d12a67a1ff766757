#!/usr/bin/env node
// The CDK app: per stage (`-c stage=…`), `engage-dev` or `engage-prod`, and its
// `engage-{stage}-edge` in us-east-1 (the CloudFront web ACL).
import { App } from 'aws-cdk-lib';
import { engageApp } from '../lib/app';
import { stageFromContext } from '../lib/config';

const app = new App();
engageApp(app, stageFromContext(app.node), {
  // Account and region from the CLI's credentials/profile; unset: an
  // environment-agnostic template without the edge stack (`cdk synth` works
  // without credentials).
  account: process.env.CDK_DEFAULT_ACCOUNT,
  region: process.env.CDK_DEFAULT_REGION,
});
