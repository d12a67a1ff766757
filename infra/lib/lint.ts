import { CfnResource, type IAspect } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** One checkov check skipped on one resource, and why (CloudFormation `Metadata`). */
export interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

/**
 * Skips the checkov check `id` on this resource only (its CloudFormation resource, or
 * the construct's default child), with the reason checkov prints beside it: the
 * template's `Metadata.checkov.skip`, which checkov reads. Checks that apply to no
 * resource of the stack are skipped for all in `infra/checkov.yaml` instead.
 */
export function skipCheckov(scope: IConstruct, id: string, comment: string): void {
  const resource = scope instanceof CfnResource ? scope : scope.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`${scope.node.path} has no CloudFormation resource to skip ${id} on`);
  }
  const meta = (resource.getMetadata('checkov') as { skip?: CheckovSkip[] } | undefined) ?? {};
  const skip = (meta.skip ?? []).filter((s) => s.id !== id);
  resource.addMetadata('checkov', { ...meta, skip: [...skip, { id, comment }] });
}

/** The checkov checks this resource skips (`skipCheckov`), for tests. */
export function checkovSkips(resource: { Metadata?: { checkov?: { skip?: CheckovSkip[] } } }): CheckovSkip[] {
  return resource.Metadata?.checkov?.skip ?? [];
}

/**
 * Skips, on the Lambda functions the CDK itself adds (the deploy-time handlers of
 * custom resources: emptying a dev bucket, copying the console's files), the checks
 * that apply to our functions only. They run when CloudFormation creates, updates or
 * deletes their resource, one invocation at a time.
 */
export class CdkHandlerSkips implements IAspect {
  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource) || node.cfnResourceType !== 'AWS::Lambda::Function') return;
    if (!/(^|\/)Custom::/.test(node.node.path)) return;
    skipCheckov(
      node,
      'CKV_AWS_115',
      "a deploy-time handler of the CDK (custom resource), invoked by CloudFormation once per change; reserving concurrency for it would only take it from the account's pool",
    );
  }
}
