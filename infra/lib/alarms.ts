import { Construct } from 'constructs';
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { StageSettings } from './config';
import type { Functions } from './functions';
import { topicProps, type Messaging } from './messaging';

export interface AlarmsProps {
  readonly settings: StageSettings;
  readonly functions: Functions;
  readonly messaging: Messaging;
  /** Subscribed to the alarm topic when set (`-c alarmEmail=…`); confirm the email. */
  readonly alarmEmail?: string;
}

/** Stream iterator age above which the stream function is falling behind. */
export const ITERATOR_AGE_THRESHOLD = Duration.seconds(60);
/** The oldest message in the email queue above which emails are late. */
export const EMAIL_QUEUE_AGE_THRESHOLD = Duration.minutes(5);

/**
 * What pages someone, all to one SNS topic (alarm and recovery):
 *
 * | alarm | metric | fires when |
 * | --- | --- | --- |
 * | `{prefix}-email-dlq-not-empty` (and stream, feedback) | SQS `ApproximateNumberOfMessagesVisible` (max, 1 min) | > 0 |
 * | `{prefix}-{api,stream,mailer}-errors` | Lambda `Errors` (sum, 5 min) | > 0 |
 * | `{prefix}-stream-iterator-age` | Lambda `IteratorAge` (max, 1 min) | > 60 s, 3 of 3 minutes |
 * | `{prefix}-email-queue-oldest-message` | SQS `ApproximateAgeOfOldestMessage` (max, 1 min) | > 5 min, 3 of 3 minutes |
 *
 * Missing data (no traffic) is not breaching.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const { prefix } = props.settings;
    const { functions, messaging } = props;

    // Encrypted with the messaging topics' key, whose policy lets CloudWatch publish.
    this.topic = new Topic(this, 'Topic', topicProps(`${prefix}-alarms`, messaging.topicKey));
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);

    const alarm = (
      name: string,
      description: string,
      metric: IMetric,
      threshold: number,
      evaluationPeriods = 1,
    ) => {
      const a = new Alarm(this, name, {
        alarmName: `${prefix}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        datapointsToAlarm: evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    const dlqs = [
      ['email-dlq', messaging.emailDlq, 'emails failed 5 times; see docs/deploy-aws.md, "Dead letters"'],
      ['stream-dlq', messaging.streamDlq, 'stream batches failed after retries; the records leave the stream after 24 h'],
      ['feedback-dlq', messaging.feedbackDlq, 'SES notifications failed 5 times (bounces/complaints not recorded)'],
    ] as const;
    for (const [name, queue, why] of dlqs) {
      alarm(
        `${name}-not-empty`,
        `${prefix}-${name}: ${why}`,
        queue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: 'Maximum',
        }),
        0,
      );
    }

    for (const [name, fn] of [
      ['api', functions.api],
      ['stream', functions.stream],
      ['mailer', functions.mailer],
    ] as const) {
      alarm(
        `${name}-errors`,
        `the ${name} function failed (unhandled error, timeout or crash)`,
        fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        0,
      );
    }

    alarm(
      'stream-iterator-age',
      'the stream function is behind the Users stream by more than 60 s',
      functions.stream.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }),
      ITERATOR_AGE_THRESHOLD.toMilliseconds(),
      3,
    );

    alarm(
      'email-queue-oldest-message',
      'an event has waited more than 5 minutes in the email queue',
      messaging.emailQueue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      EMAIL_QUEUE_AGE_THRESHOLD.toSeconds(),
      3,
    );
  }
}
