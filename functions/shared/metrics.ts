import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

// Embedded metric format: the metrics travel as log lines that CloudWatch turns into metrics, so
// they cost no API call and no permission. Namespace and service: POWERTOOLS_METRICS_NAMESPACE and
// POWERTOOLS_SERVICE_NAME (template.yaml, Globals).
export type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];
export { MetricUnit };

// One emitter per set of dimensions (a few dozen at most: types, final states, operations), each
// publishing every metric at once: nothing is kept between calls, so concurrent invocations (the
// local stack runs them in one process) cannot mix their dimensions.
const emitters = new Map<string, Metrics>();

/** Publishes one metric now, with the service's dimension and these. */
export function emitMetric(
  name: string,
  unit: Unit,
  value: number,
  dimensions: Record<string, string> = {},
): void {
  const key = JSON.stringify(dimensions);
  let emitter = emitters.get(key);
  if (emitter === undefined) {
    emitter = new Metrics({ singleMetric: true, defaultDimensions: dimensions });
    emitters.set(key, emitter);
  }
  emitter.addMetric(name, unit, value);
}

/** The connector's metrics, by name: the dashboard and alarms in template.yaml read these. */
export const METRIC = {
  /** A notification republished to IoT Core (dimension notificationType). */
  notificationsPublished: 'NotificationsPublished',
  /** A push refused for its Authorization header (dimension notificationType). */
  authFailures: 'AuthFailures',
  /** A push answered 5xx because IoT Core failed or throttled the publish (dimension notificationType). */
  publishFailures: 'PublishFailures',
  /** A downlink status the connector made that IoT Core did not accept (retried, or lost). */
  statusPublishFailures: 'DownlinkStatusPublishFailures',
  /** A downlink reached its final state (dimension finalState). */
  downlinksEnded: 'DownlinksEnded',
  /** From a push reaching the HTTP API to its notification published (dimension notificationType). */
  pushToPublishLatency: 'PushToPublishLatency',
  /** From the downlink request reaching IoT Core to OrbiWAN answering its POST. */
  downlinkAcceptanceLatency: 'DownlinkAcceptanceLatency',
  /** One call to OrbiWAN's REST API, answered or not (dimension operation). */
  orbiwanCallLatency: 'OrbiwanCallLatency',
  /** A call to OrbiWAN that failed: refused, unreachable, or an error status (dimension operation). */
  orbiwanErrors: 'OrbiwanErrors',
  /** The time one uplink took to decode, its codec loaded or not (device-state function). */
  decodeDuration: 'DecodeDuration',
  /** An uplink whose codec reported errors, threw, ran too long or returned garbage. */
  decodeErrors: 'DecodeErrors',
  /** A device shadow updated with what a message said. */
  shadowUpdates: 'ShadowUpdates',
  /** A message older than what the device's shadow holds: nothing written. */
  shadowStaleSkips: 'ShadowStaleSkips',
} as const;
