import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { iotDataClient } from '../shared/clients/iot-data-client.js';
import { secretsManagerClient } from '../shared/clients/secrets-manager-client.js';
import { cached } from '../shared/cached.js';
import { requireEnv, requireIntegerEnv, requireOneOfEnv } from '../shared/config.js';
import { readJsonBody } from '../shared/http/json-body.js';
import { jsonErrorResponses } from '../shared/http/json-error-responses.js';
import { requireBearerToken } from '../shared/http/require-bearer-token.js';
import { logger } from '../shared/logger.js';
import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import { boundByDeadline, observedHandler } from '../shared/observability.js';
import {
  IOT_MAX_PAYLOAD_BYTES,
  countingFailures,
  iotPublisher,
  type Publish,
} from '../shared/publish.js';
import { readSecretString } from '../shared/secrets.js';
import { topicPrefixFromEnv } from '../shared/topics.js';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
  type NotificationDefinition,
} from './notification-types.js';
import {
  notificationMessage,
  validateNotification,
  type CustomDelivery,
  type RepublishSettings,
} from './republish-notification.js';

// A rotated push token takes effect within this time without a redeploy.
const PUSH_TOKEN_MAX_AGE_MS = 5 * 60_000;

export interface NotificationHandlerDeps {
  publish: Publish;
  /** The token OrbiWAN must present, cached. */
  pushToken: () => Promise<string>;
  settings: RepublishSettings;
  /** For the type that does more than republish its body (downlink statuses). */
  delivery?: CustomDelivery;
}

export type NotificationHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** One OrbiWAN notification endpoint: authenticate, validate, republish to IoT Core, reply. */
export function createNotificationHandler(
  definition: NotificationDefinition,
  { publish, pushToken, settings, delivery }: NotificationHandlerDeps,
): NotificationHandler {
  const notificationType = definition.type;
  // What the alarms and dashboard count among the failed pushes: those refused for their
  // Authorization header, and those IoT Core did not take (answered 5xx).
  const publishCounted = countingFailures(publish, () => {
    emitMetric(METRIC.publishFailures, MetricUnit.Count, 1, { notificationType });
  });
  return observedHandler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>(
    (event) => event.requestContext.requestId,
  )
    .use({
      before: () => {
        logger.appendKeys({ notificationType });
      },
    })
    .use(
      jsonErrorResponses({
        logger,
        countFailure: (statusCode) => {
          if (statusCode === 401)
            emitMetric(METRIC.authFailures, MetricUnit.Count, 1, { notificationType });
        },
      }),
    )
    .use(requireBearerToken({ expectedToken: pushToken }))
    .handler(
      boundByDeadline(async (event: APIGatewayProxyEventV2) => {
        const body = readJsonBody(event, IOT_MAX_PAYLOAD_BYTES - (delivery?.addsAtMostBytes ?? 0));
        const facts = validateNotification(definition, body.json);
        if (facts.devEui !== undefined) logger.appendKeys({ devEui: facts.devEui });
        const message = notificationMessage(definition, facts, body.raw, settings);
        if (delivery === undefined) await publishCounted(message);
        else await delivery.deliver(facts, body, publishCounted);
        emitMetric(METRIC.notificationsPublished, MetricUnit.Count, 1, { notificationType });
        // The connector's own share of a push's way, from API Gateway's arrival time.
        const { timeEpoch } = event.requestContext;
        if (Number.isFinite(timeEpoch))
          emitMetric(
            METRIC.pushToPublishLatency,
            MetricUnit.Milliseconds,
            Math.max(0, Date.now() - timeEpoch),
            { notificationType },
          );
        logger.info('notification republished', {
          topic: message.topic,
          qos: message.qos,
          bytes: message.payload.byteLength,
        });
        return {
          statusCode: 200,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ published: message.topic }),
        };
      }),
    );
}

/**
 * Wires a handler from the function's environment (set by template.yaml) and the AWS clients.
 * `delivery` is for the one type that does more than republish its body (see NotificationDefinition.entryPoint).
 */
export function notificationHandlerFromEnv(
  env: NodeJS.ProcessEnv,
  delivery?: CustomDelivery,
): NotificationHandler {
  const type = requireOneOfEnv('NOTIFICATION_TYPE', NOTIFICATION_TYPES, env);
  const definition = NOTIFICATION_DEFINITIONS[type];
  const topicPrefix = topicPrefixFromEnv(env);
  const secretId = requireEnv('PUSH_TOKEN_SECRET_ARN', env);
  const messageExpirySeconds = definition.expires
    ? requireIntegerEnv('MESSAGE_EXPIRY_SECONDS', { min: 1, max: 3600 }, env)
    : undefined;
  return createNotificationHandler(definition, {
    publish: iotPublisher(iotDataClient),
    pushToken: cached(
      () => readSecretString(secretsManagerClient, secretId),
      PUSH_TOKEN_MAX_AGE_MS,
    ),
    settings: { topicPrefix, messageExpirySeconds },
    ...(delivery === undefined ? {} : { delivery }),
  });
}
