import {
  alarmSchema,
  appChangeSchema,
  deviceStatusSchema,
  downlinkStatusSchema,
  joinInfoSchema,
  locationSchema,
  nodeInfoSchema,
  uplinkEarlySchema,
  uplinkSchema,
  type NotificationSchema,
} from './notification-schemas.js';
import { DOWNLINK_STATUS_SUFFIX } from '../shared/topics.js';

/**
 * The one table of OrbiWAN notification types. Each entry drives its function's behaviour, and
 * the template checks hold `template.yaml` to it (routes, function, topic permission).
 */
export interface NotificationDefinition {
  /** Value of the function's NOTIFICATION_TYPE variable. */
  type: NotificationType;
  /** Logical ID of the function in template.yaml. */
  functionId: string;
  /** The function's entry point (its esbuild EntryPoints); only downlink statuses need more than the generic one. */
  entryPoint: string;
  /** OrbiWAN's callback path; the HTTP API routes POST and PUT on it to the function. */
  callbackPath: string;
  /** OrbiWAN's push_subscription topic, where OrbiWise documents one. */
  pushSubscription: string | undefined;
  schema: NotificationSchema;
  /** What it is, in a few words (the docs' topic table). */
  label: string;
  /** Its function's Description in template.yaml. */
  description: string;
  /** Published to `{prefix}/{deveui}/{topicSuffix}`, or `{prefix}/{topicSuffix}` without a device. */
  topicSuffix: string;
  /** Whether its notifications name a device: always, sometimes (then either topic), or never. */
  device: 'required' | 'optional' | 'none';
  qos: 0 | 1;
  /** Published with an MQTT message expiry (MESSAGE_EXPIRY_SECONDS): late is useless. */
  expires: boolean;
}

const GENERIC_ENTRY_POINT = 'functions/notifications/handler.ts';

export const NOTIFICATION_TYPES = [
  'uplink_early',
  'uplink',
  'downlink_status',
  'joininfo',
  'nodeinfo',
  'location',
  'status',
  'alarm',
  'appchange',
] as const;

export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const NOTIFICATION_DEFINITIONS: Record<NotificationType, NotificationDefinition> = {
  // An early uplink only matters while the device's receive windows are open: QoS 0 saves the
  // PUBACK round trip, and the expiry stops a reconnecting subscriber from acting on it too late.
  uplink_early: {
    type: 'uplink_early',
    functionId: 'UplinkEarlyFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/payloads/ul_early',
    pushSubscription: 'payloads_ul_early',
    schema: uplinkEarlySchema,
    label: 'early uplink',
    description:
      'Republishes early uplinks (no radio metadata, sent before the receive windows close) to {prefix}/{deveui}/uplink_early.',
    topicSuffix: 'uplink_early',
    device: 'required',
    qos: 0,
    expires: true,
  },
  uplink: {
    type: 'uplink',
    functionId: 'UplinkFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/payloads/ul',
    pushSubscription: 'payloads_ul',
    schema: uplinkSchema,
    label: 'uplink',
    description: 'Republishes uplinks to {prefix}/{deveui}/uplink.',
    topicSuffix: 'uplink',
    device: 'required',
    qos: 1,
    expires: false,
  },
  downlink_status: {
    type: 'downlink_status',
    functionId: 'DownlinkStatusFunction',
    entryPoint: 'functions/downlinks/status/handler.ts',
    callbackPath: '/rest/callback/payloads/dl',
    pushSubscription: 'payloads_dl',
    schema: downlinkStatusSchema,
    label: 'downlink status',
    description:
      "Publishes downlink status changes to {prefix}/{deveui}/downlink/status with requestId and state, in lifecycle order, and ends the downlink's execution on the final one.",
    topicSuffix: DOWNLINK_STATUS_SUFFIX,
    device: 'required',
    qos: 1,
    expires: false,
  },
  joininfo: {
    type: 'joininfo',
    functionId: 'JoinInfoFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/joininfo',
    pushSubscription: 'joininfo',
    schema: joinInfoSchema,
    label: 'join',
    description: 'Republishes join notifications to {prefix}/{deveui}/joininfo.',
    topicSuffix: 'joininfo',
    device: 'required',
    qos: 1,
    expires: false,
  },
  nodeinfo: {
    type: 'nodeinfo',
    functionId: 'NodeInfoFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/nodeinfo',
    pushSubscription: 'nodeinfo',
    schema: nodeInfoSchema,
    label: 'device information',
    description: 'Republishes device information changes to {prefix}/{deveui}/nodeinfo.',
    topicSuffix: 'nodeinfo',
    device: 'required',
    qos: 1,
    expires: false,
  },
  location: {
    type: 'location',
    functionId: 'LocationFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/location',
    pushSubscription: 'location',
    schema: locationSchema,
    label: 'location',
    description: 'Republishes network-computed locations to {prefix}/{deveui}/location.',
    topicSuffix: 'location',
    device: 'required',
    qos: 1,
    expires: false,
  },
  status: {
    type: 'status',
    functionId: 'DeviceStatusFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/status',
    pushSubscription: 'status',
    schema: deviceStatusSchema,
    label: 'device status',
    description: 'Republishes device status answers (battery, margin) to {prefix}/{deveui}/status.',
    topicSuffix: 'status',
    device: 'required',
    qos: 1,
    expires: false,
  },
  alarm: {
    type: 'alarm',
    functionId: 'AlarmFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/alarm',
    pushSubscription: 'alarm',
    schema: alarmSchema,
    label: 'alarm',
    description:
      'Republishes alarms to {prefix}/{deveui}/alarm, or {prefix}/alarm when no device is named.',
    topicSuffix: 'alarm',
    device: 'optional',
    qos: 1,
    expires: false,
  },
  appchange: {
    type: 'appchange',
    functionId: 'AppChangeFunction',
    entryPoint: GENERIC_ENTRY_POINT,
    callbackPath: '/rest/callback/appchange',
    pushSubscription: undefined,
    schema: appChangeSchema,
    label: 'application change',
    description: 'Republishes application changes to {prefix}/appchange.',
    topicSuffix: 'appchange',
    device: 'none',
    qos: 1,
    expires: false,
  },
};
