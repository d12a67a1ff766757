import { Construct } from 'constructs';
import { Duration, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { SubscriptionFilter, Topic, type TopicProps } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import {
  ConfigurationSet,
  EmailIdentity,
  EmailSendingEvent,
  EventDestination,
  Identity,
} from 'aws-cdk-lib/aws-ses';
import {
  EVENT_TYPES,
  EVENT_TYPE_ATTRIBUTE,
  MAILER_QUEUE_VISIBILITY,
  MAX_RECEIVE_COUNT,
  type StageSettings,
} from './config';

/**
 * What every topic of the stack is: KMS-encrypted with `key`, TLS only, and signing
 * its deliveries with SHA-256 (`SignatureVersion` 2; 1 is SHA-1).
 */
export function topicProps(topicName: string, key: Key): TopicProps {
  return { topicName, masterKey: key, enforceSSL: true, signatureVersion: '2' };
}

export interface MessagingProps {
  readonly settings: StageSettings;
  /** A domain to verify in SES (Easy DKIM); none: verify the sender yourself. */
  readonly sesDomain?: string;
}

/**
 * The topics and queues between the functions, and SES's feedback path:
 *
 * ```text
 * Users stream ─▶ stream fn ─▶ SNS events ──(filter: event_type)──▶ SQS email ─▶ mailer
 *                     │ on failure                                     │ 5 receives
 *                     ▼                                                ▼
 *                 SQS stream-dlq                                   SQS email-dlq
 * mailer ─▶ SES (configuration set) ─▶ SNS ses-feedback ─▶ SQS feedback ─▶ mailer
 *                                                              │ 5 receives
 *                                                              ▼
 *                                                          SQS feedback-dlq
 * ```
 *
 * Queues use SSE-SQS (no key to manage) and refuse requests without TLS.
 *
 * Every topic (these two and the alarm topic, `Alarms`) is encrypted with one
 * customer-managed KMS key (`topicKey`, rotated yearly), refuses requests without TLS,
 * and signs what it delivers with SHA-256 (`SignatureVersion` 2, which engage's SNS
 * verifier checks). The AWS-managed SNS key would not do: its policy cannot be
 * changed, so SES and CloudWatch could not publish. The key policy lets exactly those
 * two services of this account use the key to publish; the functions that publish
 * (stream and mailer, to `events`) get `kms:GenerateDataKey*` and `kms:Decrypt` with
 * their `sns:Publish` grant.
 *
 * SNS → SQS delivery needs no grant on this key: SNS decrypts its own messages, and
 * the queues use SSE-SQS (SQS-owned keys), so SNS needs no key of theirs either. A
 * queue moved to a customer-managed key would need that key to allow
 * `sns.amazonaws.com`.
 */
export class Messaging extends Construct {
  readonly eventsTopic: Topic;
  readonly emailQueue: Queue;
  readonly emailDlq: Queue;
  readonly streamDlq: Queue;
  readonly feedbackTopic: Topic;
  readonly feedbackQueue: Queue;
  readonly feedbackDlq: Queue;
  readonly configurationSet: ConfigurationSet;
  readonly identity?: EmailIdentity;
  /** The customer-managed key of every topic (the alarm topic's too). */
  readonly topicKey: Key;

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    const { prefix } = props.settings;

    // --- the topics' key -------------------------------------------------------------
    this.topicKey = new Key(this, 'TopicKey', {
      alias: `alias/${prefix}-sns`,
      description: `engage ${props.settings.stage}: the SNS topics (events, SES feedback, alarms)`,
      enableKeyRotation: true,
      removalPolicy: props.settings.removalPolicy,
    });
    // Beside the account's own administration of the key (CDK's default statement):
    // the AWS services that publish to our topics, from this account only.
    // CloudWatch publishes alarm state changes to the alarm topic, SES its bounces,
    // complaints and deliveries to ses-feedback.
    const account = Stack.of(this).account;
    for (const [sid, service] of [
      ['CloudWatchAlarmsPublish', 'cloudwatch.amazonaws.com'],
      ['SesFeedbackPublish', 'ses.amazonaws.com'],
    ] as const) {
      this.topicKey.addToResourcePolicy(
        new PolicyStatement({
          sid,
          effect: Effect.ALLOW,
          principals: [new ServicePrincipal(service)],
          actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          resources: ['*'], // in a key policy, "*" is this key
          conditions: { StringEquals: { 'aws:SourceAccount': account } },
        }),
      );
    }
    const topic = (id: string, name: string) =>
      new Topic(this, id, topicProps(`${prefix}-${name}`, this.topicKey));

    const queue = (name: string, extra: QueueProps = {}) =>
      new Queue(this, name, {
        queueName: `${prefix}-${name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()}`,
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        ...extra,
      });
    // Dead-letter queues keep messages for the longest SQS allows, time for an
    // operator to look and redrive (`aws sqs start-message-move-task`).
    const dlq = (name: string) => queue(name, { retentionPeriod: Duration.days(14) });

    // --- domain events -------------------------------------------------------------
    this.eventsTopic = topic('Events', 'events');

    this.emailDlq = dlq('EmailDlq');
    this.emailQueue = queue('Email', {
      visibilityTimeout: MAILER_QUEUE_VISIBILITY,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.emailDlq, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    // The publisher sets the String message attribute `event_type`; SNS delivers only
    // the listed types (a message without the attribute is dropped). Raw delivery is
    // off: the mailer reads the SNS envelope, the same shape as the feedback queue's.
    this.eventsTopic.addSubscription(
      new SqsSubscription(this.emailQueue, {
        rawMessageDelivery: false,
        filterPolicy: {
          [EVENT_TYPE_ATTRIBUTE]: SubscriptionFilter.stringFilter({ allowlist: [...EVENT_TYPES] }),
        },
      }),
    );

    // The stream function's on-failure destination: after its retries the event
    // source mapping sends the failed batch's *metadata* (shard, sequence numbers)
    // here. The records themselves stay in the stream for 24 hours only.
    this.streamDlq = dlq('StreamDlq');

    // --- SES feedback ----------------------------------------------------------------
    this.feedbackTopic = topic('SesFeedback', 'ses-feedback');
    this.feedbackDlq = dlq('FeedbackDlq');
    this.feedbackQueue = queue('Feedback', {
      visibilityTimeout: MAILER_QUEUE_VISIBILITY,
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.feedbackDlq, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    // Raw delivery off: the queue receives the signed SNS envelope, which engage
    // verifies (`engage_feedback::handle_sqs_body`) before believing it.
    this.feedbackTopic.addSubscription(
      new SqsSubscription(this.feedbackQueue, { rawMessageDelivery: false }),
    );

    this.configurationSet = new ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName: prefix,
      reputationMetrics: true,
    });
    // Adds the topic policy that lets SES (this account, this configuration set)
    // publish to the topic.
    this.configurationSet.addEventDestination('Feedback', {
      configurationSetEventDestinationName: 'feedback',
      destination: EventDestination.snsTopic(this.feedbackTopic),
      events: [
        EmailSendingEvent.BOUNCE,
        EmailSendingEvent.COMPLAINT,
        EmailSendingEvent.DELIVERY,
        EmailSendingEvent.REJECT,
      ],
    });

    if (props.sesDomain) {
      // Easy DKIM: publish the three CNAMEs from the stack's outputs (or the console).
      this.identity = new EmailIdentity(this, 'Identity', {
        identity: Identity.domain(props.sesDomain),
        configurationSet: this.configurationSet,
      });
    }
  }
}
