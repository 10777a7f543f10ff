import { InvalidInputError } from '../shared/errors.js';
import type { MqttMessage, Publish } from '../shared/publish.js';
import { deviceTopic, prefixTopic } from '../shared/topics.js';
import { issuesOf } from '../shared/zod.js';
import type { NotificationFacts } from './notification-schemas.js';
import type { JsonBody } from '../shared/http/json-body.js';
import type { NotificationDefinition } from './notification-types.js';

export interface RepublishSettings {
  topicPrefix: string;
  /** Expiry for definitions that expire (early uplinks). */
  messageExpirySeconds: number | undefined;
}

/** Checks a parsed body against its type's schema; throws InvalidInputError naming each problem. */
export function validateNotification(
  definition: NotificationDefinition,
  json: unknown,
): NotificationFacts {
  const result = definition.schema.safeParse(json);
  if (result.success) return result.data;
  const issues = issuesOf(result.error);
  const summary = issues.map(({ path, message }) => (path ? `${path}: ${message}` : message));
  throw new InvalidInputError(
    'INVALID_NOTIFICATION',
    `not a valid ${definition.type} notification: ${summary.join('; ')}`,
    issues,
  );
}

/**
 * For a type that does more than republish its body as received (downlink statuses): it delivers
 * the notification itself, through `publish`, and resolves once the notification is safely in hand.
 */
export interface CustomDelivery {
  /** The most bytes it adds to a body: such bodies may be that much under IoT Core's limit. */
  addsAtMostBytes: number;
  deliver: (facts: NotificationFacts, body: JsonBody, publish: Publish) => Promise<void>;
}

/** The MQTT message that republishes a notification: by default its body as received, byte for byte. */
export function notificationMessage(
  definition: NotificationDefinition,
  { devEui }: NotificationFacts,
  payload: Uint8Array,
  { topicPrefix, messageExpirySeconds }: RepublishSettings,
): MqttMessage {
  const topic =
    devEui === undefined
      ? prefixTopic(topicPrefix, definition.topicSuffix)
      : deviceTopic(topicPrefix, devEui, definition.topicSuffix);
  const expiry =
    definition.expires && messageExpirySeconds !== undefined ? { messageExpirySeconds } : {};
  return { topic, payload, qos: definition.qos, ...expiry };
}
