import type { DeviceStateEvent } from '../../../functions/device-state/device-messages.js';

// What the device-state rules hand the function: a message the connector published on a device's
// topic, as `encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt`.

export const PREFIX = 'orbiwan/lorawan';
export const DEV_EUI = '70b3d57ed0001a2b';
/** When the rule saw the message: 2026-12-05T10:00:00.123Z. */
export const RECEIVED_AT = Date.parse('2026-12-05T10:00:00.123Z');
export const RECEIVED_AT_ISO = '2026-12-05T10:00:00.123Z';
/** An OrbiWAN id beyond 2^53: JSON.parse would turn it into 18014398509481984. */
export const BIG_ID = '18014398509481985';

export function stateEvent(
  suffix: string,
  text: string,
  { prefix = PREFIX, device = DEV_EUI, receivedAt = RECEIVED_AT } = {},
): DeviceStateEvent {
  return {
    payload: Buffer.from(text, 'utf8').toString('base64'),
    topic: `${prefix}/${device}/${suffix}`,
    receivedAt,
  };
}

/** An uplink as the connector republishes it, with a 64-bit id written as OrbiWAN writes it. */
export interface UplinkOptions {
  dataFrame?: string;
  fcnt?: number;
  port?: number;
  /** null: none. */
  timestamp?: string | null;
  extra?: Record<string, unknown>;
}

export function uplinkText({
  dataFrame = 'AQhZNw2s',
  fcnt = 42,
  port = 1,
  timestamp = '2026-12-05T09:59:59.500Z',
  extra = {},
}: UplinkOptions = {}): string {
  const members = JSON.stringify({
    DevEUI: DEV_EUI.toUpperCase(),
    fcnt,
    port,
    dataFrame,
    ...(timestamp === null ? {} : { timestamp }),
    rssi: -87,
    snr: 7.5,
    ...extra,
  });
  return `{"id":${BIG_ID},${members.slice(1)}`;
}
