// Synthesises the app's templates for `make infra-lint` (cfn-lint and checkov),
// offline: no CDK CLI (so no notices or telemetry over the network), no AWS account,
// no cargo-lambda or Docker (`aws:cdk:bundling-stacks: []`, as the tests do).
//
//   npx ts-node scripts/synth-lint.ts [out dir]     (default: cdk.out/lint)
//
// Both stages, as `cdk deploy` makes them in a region other than us-east-1 (so the
// edge stack and the cross-region reference to its web ACL are linted too): dev on
// the defaults, prod with an SES domain, an alarm email and a stand-in console build
// (so the console's deployment is linted as well). The out dir then holds the four
// templates and nothing else; their paths are printed, one a line.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Annotations, App } from 'aws-cdk-lib';
import { engageApp } from '../lib/app';
import { STAGES } from '../lib/config';

/** A stand-in account and region: a deploy's are the CLI's. */
const ENV = { account: '123456789012', region: 'eu-west-1' };

const root = path.resolve(__dirname, '..');
const out = path.resolve(process.argv[2] ?? path.join(root, 'cdk.out', 'lint'));
const flags = JSON.parse(fs.readFileSync(path.join(root, 'cdk.json'), 'utf8')).context;

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'engage-synth-lint-'));
try {
  const webDist = path.join(work, 'web-dist');
  fs.mkdirSync(webDist);
  fs.writeFileSync(path.join(webDist, 'index.html'), '<!doctype html><title>engage</title>');

  for (const stage of STAGES) {
    const prod = stage === 'prod';
    const app = new App({
      outdir: path.join(work, 'assembly', stage),
      context: {
        ...flags,
        'aws:cdk:bundling-stacks': [],
        webDist: prod ? webDist : path.join(work, 'no-web-dist'),
        ...(prod ? { sesDomain: 'mail.example.com', alarmEmail: 'ops@example.com' } : {}),
      },
    });
    const { main, edge } = engageApp(app, stage, ENV);
    // Known and meant: these templates are linted, never deployed.
    Annotations.of(main).acknowledgeWarning('engage:no-bundling');
    const assembly = app.synth();
    for (const stack of [edge!, main]) {
      const file = path.join(out, `${stack.stackName}.template.json`);
      fs.copyFileSync(assembly.getStackArtifact(stack.artifactId).templateFullPath, file);
      console.log(file);
    }
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
