import * as fs from 'node:fs';
import { Construct } from 'constructs';
import { Annotations, Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  type BehaviorOptions,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { StageSettings } from './config';
import { skipCheckov } from './lint';

/** The paths CloudFront sends to the HTTP API; everything else is the web console. */
export const API_PATHS = ['/api/*', '/u/*', '/webhooks/*', '/health', '/openapi.json'] as const;

/**
 * The header CloudFront adds to every request to the API origin, with the value of
 * the `origin-verify` secret; the api function answers 403 to a request without it
 * (a call to the execute-api endpoint around CloudFront).
 */
export const ORIGIN_VERIFY_HEADER = 'X-Origin-Verify';

/**
 * The console's Content-Security-Policy: exactly `CONTENT_SECURITY_POLICY` of
 * `crates/engage/src/console.rs`, which `engage serve` sends with the same files
 * (`test/engage-stack.test.ts` compares the two).
 */
export const CONSOLE_CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
  "frame-ancestors 'none'";

/** Where the log bucket keeps each kind of log (prefixes). */
export const LOG_PREFIXES = { cloudFront: 'cloudfront/', consoleBucket: 's3/console/' } as const;

/** The HTTP API stage's throttle, for all routes together. */
export interface ApiThrottle {
  /** Requests per second, sustained. */
  readonly rateLimit: number;
  /** Requests at once above the rate (the token bucket's size). */
  readonly burstLimit: number;
}

export interface WebProps {
  readonly settings: StageSettings;
  readonly apiFunction: IFunction;
  /** The built web console; deployed to the bucket only when the directory exists. */
  readonly webDist: string;
  /** Its value goes to the API origin as `X-Origin-Verify`. */
  readonly originSecret: ISecret;
  readonly throttle: ApiThrottle;
  /** A WAF web ACL (scope CLOUDFRONT, in us-east-1) for the distribution, if any. */
  readonly webAclArn?: string;
}

/**
 * The HTTP API (API Gateway v2, `$default` → the `api` function, payload 2.0 for
 * `lambda_http`), and one CloudFront distribution in front of both the console's S3
 * bucket (through Origin Access Control; the bucket is never public) and the API.
 *
 * - The API's `$default` stage is throttled (`throttle`) and writes an access log
 *   (JSON, one line a request) to `/aws/apigateway/{prefix}-api`.
 * - The execute-api endpoint is public (an HTTP API has no resource policy), so
 *   CloudFront proves itself to the api function with a secret header.
 * - The console's pages carry the same security headers as `engage serve`'s.
 * - CloudFront's standard logs and the console bucket's server access logs go to a
 *   private log bucket, kept as long as the stage keeps logs.
 */
export class Web extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly bucket: Bucket;
  readonly logBucket: Bucket;
  readonly consoleHeaders: ResponseHeadersPolicy;
  readonly apiHeaders: ResponseHeadersPolicy;
  readonly distribution: Distribution;
  readonly deployment?: BucketDeployment;

  constructor(scope: Construct, id: string, props: WebProps) {
    super(scope, id);
    const { settings } = props;
    const dev = settings.removalPolicy === RemovalPolicy.DESTROY;

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: `${settings.prefix}-api`,
      description: 'engage HTTP API',
      defaultIntegration: new HttpLambdaIntegration('Api', props.apiFunction),
      // Made below, with its throttle and access log (the same id, so the same
      // logical id as the stage HttpApi would make).
      createDefaultStage: false,
    });
    this.accessLogs = new LogGroup(this, 'ApiAccessLogs', {
      logGroupName: `/aws/apigateway/${settings.prefix}-api`,
      retention: settings.logRetention,
      removalPolicy: settings.removalPolicy,
    });
    this.stage = this.httpApi.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // No headers: Authorization never reaches the log.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            method: '$context.httpMethod',
            path: '$context.path',
            protocol: '$context.protocol',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            userAgent: '$context.identity.userAgent',
          }),
        ),
      },
    });

    // --- logs ------------------------------------------------------------------------
    this.logBucket = new Bucket(this, 'Logs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      // CloudFront's standard logging writes its files with an ACL granting the bucket
      // owner full control, so ACLs must stay enabled; the owner owns every object.
      // (S3 server access logs use the bucket policy CDK adds for logging.s3.)
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [
        {
          id: 'expire-logs',
          expiration: Duration.days(settings.logRetention),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      removalPolicy: settings.removalPolicy,
      autoDeleteObjects: dev,
    });
    skipCheckov(
      this.logBucket,
      'CKV_AWS_18',
      'the log bucket is where the access logs go; logging its own accesses into itself would log every delivery, without end',
    );

    this.bucket = new Bucket(this, 'Console', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      // Each deploy replaces the console's files; their old versions go after 30 days.
      lifecycleRules: [{ id: 'expire-old-versions', noncurrentVersionExpiration: Duration.days(30) }],
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: LOG_PREFIXES.consoleBucket,
      removalPolicy: settings.removalPolicy,
      // dev: empty the bucket on `cdk destroy` (a small custom resource does it).
      autoDeleteObjects: dev,
    });

    // --- response headers ------------------------------------------------------------
    const hsts = { accessControlMaxAge: Duration.days(365), includeSubdomains: true };
    this.consoleHeaders = new ResponseHeadersPolicy(this, 'ConsoleHeaders', {
      responseHeadersPolicyName: `${settings.prefix}-console`,
      comment: 'engage console: the headers engage serve sends (CSP, nosniff, no-referrer), HSTS, no framing',
      securityHeadersBehavior: {
        contentSecurityPolicy: { contentSecurityPolicy: CONSOLE_CONTENT_SECURITY_POLICY, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        strictTransportSecurity: { ...hsts, override: true },
      },
    });
    // The API sets its own headers (its pages, /u/…, have their own policy); these
    // are added only where it sent none.
    this.apiHeaders = new ResponseHeadersPolicy(this, 'ApiHeaders', {
      responseHeadersPolicyName: `${settings.prefix}-api`,
      comment: 'engage API: HSTS, nosniff and no framing where the API sent none',
      securityHeadersBehavior: {
        contentTypeOptions: { override: false },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: false },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: false },
        strictTransportSecurity: { ...hsts, override: false },
      },
    });

    // --- the distribution ----------------------------------------------------------
    // `https://{id}.execute-api.{region}.amazonaws.com` → the host name.
    const apiDomain = Fn.select(2, Fn.split('/', this.httpApi.apiEndpoint));
    const apiBehavior: BehaviorOptions = {
      origin: new HttpOrigin(apiDomain, {
        protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
        // The secret's value as a CloudFormation dynamic reference
        // (`{{resolve:secretsmanager:…}}`): the template holds the reference, never the
        // value, and CloudFormation resolves it at deploy time. Secrets Manager dynamic
        // references are accepted in any resource property, CloudFront's
        // `OriginCustomHeaders` included (the AWS CloudFormation User Guide, "Get a
        // secret or secret value from Secrets Manager"); CloudFront then stores the
        // value in the distribution's configuration, readable by whoever may call
        // `cloudfront:GetDistributionConfig`. It is resolved again only when the
        // distribution changes: after putting a new value, deploy a change to it.
        // CloudFront replaces a viewer's own `X-Origin-Verify` with this one.
        customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originSecret.secretValue.unsafeUnwrap() },
      }),
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      // Never cached; every header (Authorization too: allowed with caching off),
      // cookie and query string but Host reaches the API (API Gateway routes on its
      // own host name).
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: this.apiHeaders,
    };

    if (!props.webAclArn) {
      Annotations.of(this).addWarningV2(
        'engage:no-waf',
        'the distribution has no WAF web ACL: the app makes one (stack engage-{stage}-edge, us-east-1) only when it knows the region (CDK_DEFAULT_REGION)',
      );
    }

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `engage ${settings.stage}`,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.consoleHeaders,
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(API_PATHS.map((p) => [p, apiBehavior])),
      defaultRootObject: 'index.html',
      // No errorResponses: they would apply to the API's 403/404 answers too.
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      // Standard logging: one line a request (no cookies), in the log bucket.
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: LOG_PREFIXES.cloudFront,
      logIncludesCookies: false,
      webAclId: props.webAclArn,
    });

    if (fs.existsSync(props.webDist) && fs.statSync(props.webDist).isDirectory()) {
      this.deployment = new BucketDeployment(this, 'ConsoleAssets', {
        sources: [Source.asset(props.webDist)],
        destinationBucket: this.bucket,
        distribution: this.distribution,
        distributionPaths: ['/*'],
        prune: true,
      });
      // The CDK's copy handler may write to the console bucket only, but it is allowed
      // cloudfront:CreateInvalidation on "*" (its statement is the CDK's own).
      const policy = this.deployment.handlerRole.node.tryFindChild('DefaultPolicy');
      if (policy) {
        skipCheckov(
          policy,
          'CKV_AWS_111',
          "the CDK's BucketDeployment: cloudfront:CreateInvalidation and GetInvalidation on *, to invalidate this distribution after copying the console; its writes are to the console bucket only",
        );
      }
    }
  }
}
