import { Construct } from 'constructs';
import { Duration } from 'aws-cdk-lib';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
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
 * Queues use SSE-SQS (no key to manage) and refuse requests without TLS. Topics are
 * not KMS-encrypted: SES and CloudWatch cannot publish to a topic under the AWS-managed
 * SNS key, and a customer-managed key is a cost for messages that carry ids and SES
 * notifications only; switch to one if your policy requires it.
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

  constructor(scope: Construct, id: string, props: MessagingProps) {
    super(scope, id);
    const { prefix } = props.settings;

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
    this.eventsTopic = new Topic(this, 'Events', {
      topicName: `${prefix}-events`,
      enforceSSL: true,
    });

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
    this.feedbackTopic = new Topic(this, 'SesFeedback', {
      topicName: `${prefix}-ses-feedback`,
      enforceSSL: true,
    });
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
