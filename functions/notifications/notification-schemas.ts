import { DEV_EUI_FORMS, normaliseDevEui } from '../shared/dev-eui.js';
import * as z from 'zod/mini';
import '../shared/zod.js';

// Schemas of the notification bodies OrbiWAN documents (docs/orbiwan-api.md: Notification bodies). They check the
// fields the connector and its subscribers rely on; unknown fields are allowed, because the body
// is republished as received and OrbiWAN may add fields at any release. A field whose type the
// documentation leaves open accepts a string or a number rather than guessing.

/** What validation yields: the device the notification is about, when it names one. */
export interface NotificationFacts {
  devEui: string | undefined;
}

export type NotificationSchema = z.ZodMiniType<NotificationFacts>;

const openScalar = z.union([z.string(), z.number()]);
const counter = z.int().check(z.minimum(0));
// 64-bit OrbiWAN ids can exceed JavaScript's safe integers: accept them without using the value.
const orbiwanId = z.union([z.number(), z.string()]);
// A downlink's id is what its statuses are matched on (the connector reads its digits from the raw
// body): a non-negative integer, or its digits in a string (some OrbiWAN versions).
const downlinkId = z.union([
  // Not z.int(): that stops at 2^53, and OrbiWAN's ids are 64-bit.
  z.number().check(z.minimum(0), z.multipleOf(1)),
  z.string().check(z.regex(/^\d{1,20}$/, 'expected the digits of a non-negative integer')),
]);
// dataFrame is Base64 by default and hex with data_format=hex; both use this alphabet.
const payload = z
  .string()
  .check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected a Base64 or hex payload'));

const uplinkFields = {
  dataFrame: payload,
  port: z.int().check(z.minimum(0), z.maximum(255)),
  fcnt: counter,
  early: z.optional(z.boolean()),
  id: z.optional(orbiwanId),
  timestamp: z.optional(z.string()),
  live: z.optional(z.boolean()),
  session_id: z.optional(z.string()),
  decrypted: z.optional(z.boolean()),
  confirmed: z.optional(z.boolean()),
  devaddr: z.optional(openScalar),
  decoded: z.nullish(z.record(z.string(), z.unknown())),
};

const radioFields = {
  rssi: z.optional(z.number()),
  snr: z.optional(z.number()),
  sf_used: z.optional(z.int()),
  freq: z.optional(z.number()),
  dr_used: z.optional(z.string()),
  cr_used: z.optional(z.string()),
  gtw_info: z.nullish(
    z.array(
      z.looseObject({
        gtw_id: z.optional(openScalar),
        rssi: z.optional(z.number()),
        snr: z.optional(z.number()),
      }),
    ),
  ),
  latitude: z.optional(z.number()),
  longitude: z.optional(z.number()),
  altitude: z.optional(z.number()),
};

type DevicePresence = 'required' | 'optional';

// Checked as a field, so a bad DevEUI is reported together with every other problem of the body.
const devEui = z.pipe(
  z.string(),
  z.transform((value: string, payload) => {
    const normalised = normaliseDevEui(value);
    if (normalised === undefined) {
      payload.issues.push({
        code: 'custom',
        input: value,
        message: `${quote(value)} is not a DevEUI: expected ${DEV_EUI_FORMS}`,
      });
      return z.NEVER;
    }
    return normalised;
  }),
);

/**
 * A notification about one device, named by `DevEUI` (release 6) or `deveui` (older releases).
 * The transform yields the DevEUI in its canonical form.
 */
function deviceNotification(
  shape: z.core.$ZodLooseShape,
  presence: DevicePresence,
): NotificationSchema {
  return z.pipe(
    z.looseObject({ ...shape, DevEUI: z.optional(devEui), deveui: z.optional(devEui) }),
    z.transform(
      ({ DevEUI, deveui }: { DevEUI?: string; deveui?: string }, payload): NotificationFacts => {
        const problem = (path: string, message: string) => {
          payload.issues.push({ code: 'custom', input: payload.value, path: [path], message });
        };
        if (DevEUI !== undefined && deveui !== undefined && DevEUI !== deveui) {
          problem('deveui', 'DevEUI and deveui name different devices');
        }
        if (DevEUI === undefined && deveui === undefined && presence === 'required') {
          problem('DevEUI', 'missing: expected DevEUI or deveui');
        }
        return { devEui: DevEUI ?? deveui };
      },
    ),
  );
}

function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

export const uplinkEarlySchema = deviceNotification(uplinkFields, 'required');

export const uplinkSchema = deviceNotification({ ...uplinkFields, ...radioFields }, 'required');

export const downlinkStatusSchema = deviceNotification(
  {
    id: downlinkId,
    transmissionStatus: z.int().check(z.minimum(0), z.maximum(5)),
    fcnt: z.optional(counter),
    port: z.optional(z.int().check(z.minimum(0), z.maximum(255))),
    session_id: z.optional(z.string()),
    data: z.optional(z.string()),
  },
  'required',
);

export const joinInfoSchema = deviceNotification(
  {
    join_status: z.string(),
    appeui: z.optional(z.string()),
    session_id: z.optional(z.string()),
  },
  'required',
);

export const nodeInfoSchema = deviceNotification(
  {
    device_status: z.optional(openScalar),
    last_reception: z.optional(openScalar),
    dl_fcnt: z.optional(counter),
    device_class: z.optional(openScalar),
    registration_status: z.optional(openScalar),
    expiry_time_uplink: z.optional(openScalar),
    expiry_time_downlink: z.optional(openScalar),
  },
  'required',
);

export const locationSchema = deviceNotification(
  {
    latitude: z.number().check(z.minimum(-90), z.maximum(90)),
    longitude: z.number().check(z.minimum(-180), z.maximum(180)),
    loraloc_time: z.optional(openScalar),
    loraloc_fcnt: z.optional(counter),
  },
  'required',
);

export const deviceStatusSchema = deviceNotification(
  {
    // 0 external power, 1..254 battery level, 255 unknown (LoRaWAN DevStatusAns).
    battery_status: z.int().check(z.minimum(0), z.maximum(255)),
    margin_status: z.optional(z.int()),
    timestamp_status: z.optional(openScalar),
    req_status: z.optional(z.int()),
  },
  'required',
);

export const alarmSchema = deviceNotification(
  {
    timestamp: z.optional(openScalar),
    severity: z.optional(openScalar),
    category: z.optional(openScalar),
    alarm_code: z.optional(openScalar),
    alarm_text: z.optional(z.string()),
    gtw_id: z.optional(openScalar),
  },
  'optional',
);

// Undocumented by OrbiWise: any JSON object, about no device in particular.
export const appChangeSchema: NotificationSchema = z.pipe(
  z.looseObject({}),
  z.transform((): NotificationFacts => ({ devEui: undefined })),
);
