import * as fs from 'node:fs';
import { Construct } from 'constructs';
import { Fn, RemovalPolicy } from 'aws-cdk-lib';
import { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  type BehaviorOptions,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import type { StageSettings } from './config';

/** The paths CloudFront sends to the HTTP API; everything else is the web console. */
export const API_PATHS = ['/api/*', '/u/*', '/webhooks/*', '/health', '/openapi.json'] as const;

export interface WebProps {
  readonly settings: StageSettings;
  readonly apiFunction: IFunction;
  /** The built web console; deployed to the bucket only when the directory exists. */
  readonly webDist: string;
}

/**
 * The HTTP API (API Gateway v2, `$default` → the `api` function, payload 2.0 for
 * `lambda_http`), and one CloudFront distribution in front of both the console's S3
 * bucket (through Origin Access Control; the bucket is never public) and the API.
 */
export class Web extends Construct {
  readonly httpApi: HttpApi;
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly deployment?: BucketDeployment;

  constructor(scope: Construct, id: string, props: WebProps) {
    super(scope, id);
    const { settings } = props;

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: `${settings.prefix}-api`,
      description: 'engage HTTP API',
      defaultIntegration: new HttpLambdaIntegration('Api', props.apiFunction),
    });

    const dev = settings.removalPolicy === RemovalPolicy.DESTROY;
    this.bucket = new Bucket(this, 'Console', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: !dev,
      removalPolicy: settings.removalPolicy,
      // dev: empty the bucket on `cdk destroy` (a small custom resource does it).
      autoDeleteObjects: dev,
    });

    // `https://{id}.execute-api.{region}.amazonaws.com` → the host name.
    const apiDomain = Fn.select(2, Fn.split('/', this.httpApi.apiEndpoint));
    const apiBehavior: BehaviorOptions = {
      origin: new HttpOrigin(apiDomain, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY }),
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      // Never cached; every header (Authorization too: allowed with caching off),
      // cookie and query string but Host reaches the API (API Gateway routes on its
      // own host name).
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
    };

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `engage ${settings.stage}`,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: ResponseHeadersPolicy.SECURITY_HEADERS,
        compress: true,
      },
      additionalBehaviors: Object.fromEntries(API_PATHS.map((p) => [p, apiBehavior])),
      defaultRootObject: 'index.html',
      // No errorResponses: they would apply to the API's 403/404 answers too.
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
    });

    if (fs.existsSync(props.webDist) && fs.statSync(props.webDist).isDirectory()) {
      this.deployment = new BucketDeployment(this, 'ConsoleAssets', {
        sources: [Source.asset(props.webDist)],
        destinationBucket: this.bucket,
        distribution: this.distribution,
        distributionPaths: ['/*'],
        prune: true,
      });
    }
  }
}
