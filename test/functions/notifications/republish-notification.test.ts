import { describe, expect, it } from 'vitest';
import { NOTIFICATION_DEFINITIONS } from '../../../functions/notifications/notification-types.js';
import {
  notificationMessage,
  validateNotification,
} from '../../../functions/notifications/republish-notification.js';
import { InvalidInputError } from '../../../functions/shared/errors.js';

const settings = { topicPrefix: 'acme/lora', messageExpirySeconds: 4 };
const raw = Buffer.from('{"raw":true}');

describe('validateNotification', () => {
  it('yields the canonical DevEUI of a valid notification', () => {
    const facts = validateNotification(NOTIFICATION_DEFINITIONS.joininfo, {
      deveui: '0x70B3D57ED0001A2B',
      join_status: 'JOIN_ACCEPTED',
    });
    expect(facts).toEqual({ devEui: '70b3d57ed0001a2b' });
  });

  it('throws an InvalidInputError whose message and issues name each problem', () => {
    const error = (() => {
      try {
        validateNotification(NOTIFICATION_DEFINITIONS.location, { DevEUI: 'nope', latitude: 91 });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidInputError);
    const { code, message, issues } = error as InvalidInputError;
    expect(code).toBe('INVALID_NOTIFICATION');
    expect(message).toMatch(/^not a valid location notification: /);
    expect(issues.map((issue) => issue.path).sort()).toEqual(['DevEUI', 'latitude', 'longitude']);
  });

  it('accepts any JSON object as an application change', () => {
    expect(validateNotification(NOTIFICATION_DEFINITIONS.appchange, { anything: [1] })).toEqual({
      devEui: undefined,
    });
  });
});

describe('notificationMessage', () => {
  it('addresses a device notification to {prefix}/{deveui}/{suffix}', () => {
    const message = notificationMessage(
      NOTIFICATION_DEFINITIONS.downlink_status,
      { devEui: '0011223344556677' },
      raw,
      settings,
    );
    expect(message).toEqual({
      topic: 'acme/lora/0011223344556677/downlink/status',
      payload: raw,
      qos: 1,
    });
  });

  it('addresses a notification without a device to {prefix}/{suffix}', () => {
    const message = notificationMessage(
      NOTIFICATION_DEFINITIONS.alarm,
      { devEui: undefined },
      raw,
      settings,
    );
    expect(message.topic).toBe('acme/lora/alarm');
  });

  it('gives early uplinks QoS 0 and the message expiry', () => {
    const message = notificationMessage(
      NOTIFICATION_DEFINITIONS.uplink_early,
      { devEui: '0011223344556677' },
      raw,
      settings,
    );
    expect(message).toMatchObject({ qos: 0, messageExpirySeconds: 4 });
  });
});
