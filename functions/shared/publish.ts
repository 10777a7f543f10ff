import { PublishCommand, type IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { DependencyError } from './errors.js';

/** AWS IoT Core refuses messages over 128 KB. */
export const IOT_MAX_PAYLOAD_BYTES = 128 * 1024;

export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1;
  /** MQTT 5 message expiry: the broker drops the message for subscribers that are this late. */
  messageExpirySeconds?: number;
}

export type Publish = (message: MqttMessage) => Promise<void>;

/** Publishes through the IoT Data Plane API; resolves only once IoT Core accepted the message. */
export function iotPublisher(client: IoTDataPlaneClient): Publish {
  return async ({ topic, payload, qos, messageExpirySeconds }) => {
    try {
      await client.send(
        new PublishCommand({
          topic,
          payload,
          qos,
          contentType: 'application/json',
          ...(messageExpirySeconds === undefined ? {} : { messageExpiry: messageExpirySeconds }),
        }),
      );
    } catch (error) {
      const throttled = error instanceof Error && error.name === 'ThrottlingException';
      throw new DependencyError(
        throttled ? 'PUBLISH_THROTTLED' : 'PUBLISH_FAILED',
        throttled
          ? 'AWS IoT Core throttled the publish'
          : 'AWS IoT Core did not accept the publish',
        throttled,
        { cause: error },
      );
    }
  };
}

/**
 * The same publisher, calling `countFailure` for every message it could not publish (then failing
 * as before): the one way the connector counts its failed publishes, for the alarms.
 */
export function countingFailures(publish: Publish, countFailure: () => void): Publish {
  return async (message) => {
    try {
      await publish(message);
    } catch (error) {
      countFailure();
      throw error;
    }
  };
}
