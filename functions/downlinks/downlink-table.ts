import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { requireEnv, requireIntegerEnv } from '../shared/config.js';

// The downlinks table (template.yaml: DownlinksTable) holds four kinds of item per device, keyed
// (devEui, itemKey). Each kind has a prefix of its own, so nothing a client or OrbiWAN sends can
// name an item of another kind: an OrbiWAN id is digits only (checked before it gets here), a
// requestId lives under `request#`.
//
//   lease                  the device's POST lease (device-lease.ts)
//   request#{requestId}    a request's claim on its requestId, then OrbiWAN's id (request-claims.ts)
//   execution#{name}       the same for a request without requestId
//   downlink#{id}          where the POST, OrbiWAN's statuses and their publishing meet (downlink-record.ts)

export const LEASE_ITEM = 'lease';

export const requestItem = (requestId: string) => `request#${requestId}`;
export const executionItem = (executionName: string) => `execution#${executionName}`;
export const downlinkItem = (downlinkId: string) => `downlink#${downlinkId}`;

/** OrbiWAN's downlink ids are 64-bit integers: decimal digits, nothing else. */
export const ORBIWAN_ID = /^\d{1,20}$/;

export type Item = Record<string, AttributeValue>;

export const keyOf = (devEui: string, itemKey: string): Item => ({
  devEui: { S: devEui },
  itemKey: { S: itemKey },
});

/** Attribute readers for items as DynamoDB returns them. */
export const read = {
  string: (item: Item | undefined, name: string) => item?.[name]?.S,
  number: (item: Item | undefined, name: string) =>
    item?.[name]?.N === undefined ? undefined : Number(item[name].N),
  boolean: (item: Item | undefined, name: string) => item?.[name]?.BOOL,
};

export const stringValue = (value: string): AttributeValue => ({ S: value });
export const numberValue = (value: number): AttributeValue => ({ N: String(value) });

export interface DownlinksTableSettings {
  tableName: string;
  /** How long an item outlives its last write (DynamoDB TTL): two full waits and a day. */
  retentionSeconds: number;
}

/**
 * DownlinkTimeoutSeconds' range in template.yaml (a test holds them equal). At least a minute, so
 * the wait outlasts the send function (its longest path, then Lambda's own time to start it); at
 * most 120 days, so a downlink's wait and what follows fit in an execution's year.
 */
export const DOWNLINK_TIMEOUT_SECONDS_RANGE = { min: 60, max: 10_368_000 };

export function downlinkTimeoutSecondsFromEnv(env: NodeJS.ProcessEnv): number {
  return requireIntegerEnv('DOWNLINK_TIMEOUT_SECONDS', DOWNLINK_TIMEOUT_SECONDS_RANGE, env);
}

export function downlinksTableFromEnv(env: NodeJS.ProcessEnv): DownlinksTableSettings {
  return {
    tableName: requireEnv('DOWNLINKS_TABLE_NAME', env),
    retentionSeconds: 2 * downlinkTimeoutSecondsFromEnv(env) + 86_400,
  };
}

/** Seconds since the epoch when an item written now may expire. */
export function expiresAt(retentionSeconds: number, now: number): AttributeValue {
  return numberValue(Math.floor(now / 1000) + retentionSeconds);
}
