import * as z from 'zod';
import { DEV_EUI_FORMS, normaliseDevEui } from '../shared/dev-eui.js';

// Schemas of the notification bodies OrbiWAN documents (see shared ORBIWAN.md). They check the
// fields the connector and its subscribers rely on; unknown fields are allowed, because the body
// is republished as received and OrbiWAN may add fields at any release. A field whose type the
// documentation leaves open accepts a string or a number rather than guessing.

/** What validation yields: the device the notification is about, when it names one. */
export interface NotificationFacts {
  devEui: string | undefined;
}

export type NotificationSchema = z.ZodType<NotificationFacts>;

const openScalar = z.union([z.string(), z.number()]);
const counter = z.int().nonnegative();
// 64-bit OrbiWAN ids can exceed JavaScript's safe integers: accept them without using the value.
const orbiwanId = z.union([z.number(), z.string()]);
// dataFrame is Base64 by default and hex with data_format=hex; both use this alphabet.
const payload = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected a Base64 or hex payload');

const uplinkFields = {
  dataFrame: payload,
  port: z.int().min(0).max(255),
  fcnt: counter,
  early: z.boolean().optional(),
  id: orbiwanId.optional(),
  timestamp: z.string().optional(),
  live: z.boolean().optional(),
  session_id: z.string().optional(),
  decrypted: z.boolean().optional(),
  confirmed: z.boolean().optional(),
  devaddr: openScalar.optional(),
  decoded: z.record(z.string(), z.unknown()).nullish(),
};

const radioFields = {
  rssi: z.number().optional(),
  snr: z.number().optional(),
  sf_used: z.int().optional(),
  freq: z.number().optional(),
  dr_used: z.string().optional(),
  cr_used: z.string().optional(),
  gtw_info: z
    .array(
      z.looseObject({
        gtw_id: openScalar.optional(),
        rssi: z.number().optional(),
        snr: z.number().optional(),
      }),
    )
    .nullish(),
  latitude: z.number().optional(),
  longitude: z.number().optional(),
  altitude: z.number().optional(),
};

type DevicePresence = 'required' | 'optional';

// Checked as a field, so a bad DevEUI is reported together with every other problem of the body.
const devEui = z.string().transform((value, ctx) => {
  const normalised = normaliseDevEui(value);
  if (normalised === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `${quote(value)} is not a DevEUI: expected ${DEV_EUI_FORMS}`,
    });
    return z.NEVER;
  }
  return normalised;
});

/**
 * A notification about one device, named by `DevEUI` (release 6) or `deveui` (older releases).
 * The transform yields the DevEUI in its canonical form.
 */
function deviceNotification(shape: z.ZodRawShape, presence: DevicePresence): NotificationSchema {
  return z
    .looseObject({ ...shape, DevEUI: devEui.optional(), deveui: devEui.optional() })
    .transform((body, ctx): NotificationFacts => {
      const { DevEUI, deveui } = body;
      if (DevEUI !== undefined && deveui !== undefined && DevEUI !== deveui) {
        ctx.addIssue({
          code: 'custom',
          path: ['deveui'],
          message: 'DevEUI and deveui name different devices',
        });
      }
      if (DevEUI === undefined && deveui === undefined && presence === 'required') {
        ctx.addIssue({
          code: 'custom',
          path: ['DevEUI'],
          message: 'missing: expected DevEUI or deveui',
        });
      }
      return { devEui: DevEUI ?? deveui };
    });
}

function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

export const uplinkEarlySchema = deviceNotification(uplinkFields, 'required');

export const uplinkSchema = deviceNotification({ ...uplinkFields, ...radioFields }, 'required');

export const downlinkStatusSchema = deviceNotification(
  {
    id: orbiwanId,
    transmissionStatus: z.int().min(0).max(5),
    fcnt: counter.optional(),
    port: z.int().min(0).max(255).optional(),
    session_id: z.string().optional(),
    data: z.string().optional(),
  },
  'required',
);

export const joinInfoSchema = deviceNotification(
  {
    join_status: z.string(),
    appeui: z.string().optional(),
    session_id: z.string().optional(),
  },
  'required',
);

export const nodeInfoSchema = deviceNotification(
  {
    device_status: openScalar.optional(),
    last_reception: openScalar.optional(),
    dl_fcnt: counter.optional(),
    device_class: openScalar.optional(),
    registration_status: openScalar.optional(),
    expiry_time_uplink: openScalar.optional(),
    expiry_time_downlink: openScalar.optional(),
  },
  'required',
);

export const locationSchema = deviceNotification(
  {
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    loraloc_time: openScalar.optional(),
    loraloc_fcnt: counter.optional(),
  },
  'required',
);

export const deviceStatusSchema = deviceNotification(
  {
    // 0 external power, 1..254 battery level, 255 unknown (LoRaWAN DevStatusAns).
    battery_status: z.int().min(0).max(255),
    margin_status: z.int().optional(),
    timestamp_status: openScalar.optional(),
    req_status: z.int().optional(),
  },
  'required',
);

export const alarmSchema = deviceNotification(
  {
    timestamp: openScalar.optional(),
    severity: openScalar.optional(),
    category: openScalar.optional(),
    alarm_code: openScalar.optional(),
    alarm_text: z.string().optional(),
    gtw_id: openScalar.optional(),
  },
  'optional',
);

// Undocumented by OrbiWise: any JSON object, about no device in particular.
export const appChangeSchema: NotificationSchema = z
  .looseObject({})
  .transform((): NotificationFacts => ({ devEui: undefined }));
