import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceLockedError } from './downlink-errors.js';
import { LEASE_ITEM, keyOf, numberValue, read, stringValue } from './downlink-table.js';

// OrbiWAN does not support two downlink POSTs for one device at once, and executions run in
// parallel: each POST holds its device's lease. A lease runs until its holder's Lambda deadline
// and a margin for clock skew, so it cannot lapse while its holder lives, however long any step
// takes; a holder that died frees the device when its deadline has passed.
//
// A status OrbiWAN pushes while a POST to its device is in flight may be for that POST, whose id
// the connector does not know yet: the status function leaves its id with the lease (defer), and
// the holder, once it has recorded its own downlink, hands back the ids that were not its own.

/** Clocks of two Lambda functions may differ by this much. */
export const LEASE_MARGIN_MS = 5_000;

export interface DeviceLeaseOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
  pollMs?: number;
}

export interface HeldLease {
  /**
   * Gives the device back; answers the ids of statuses deferred to the holder meanwhile (and to a
   * holder that died, whose lapsed lease this one replaced).
   */
  release: () => Promise<string[]>;
}

export interface DeviceLease {
  /**
   * Takes the device's lease for `owner` (an execution's name) until `deadline` (ms, the holder's
   * Lambda deadline), waiting for another holder until `waitUntil`, then DeviceLockedError.
   * `previousAttempt` is true when the lease was already this owner's: an earlier attempt of the
   * same execution took it and never gave it back, so it may have posted.
   */
  acquire: (
    devEui: string,
    owner: string,
    times: { deadline: number; waitUntil: number },
  ) => Promise<{ lease: HeldLease; previousAttempt: boolean }>;
  /** Leaves a status's downlink id with the device's holder; false when nobody holds it. */
  defer: (devEui: string, downlinkId: string) => Promise<boolean>;
}

export function deviceLease({
  client,
  tableName,
  now = Date.now,
  pollMs = 50,
}: DeviceLeaseOptions): DeviceLease {
  const key = (devEui: string) => keyOf(devEui, LEASE_ITEM);

  async function tryAcquire(devEui: string, owner: string, deadline: number) {
    const time = now();
    const leaseUntil = deadline + LEASE_MARGIN_MS;
    try {
      const { Attributes } = await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            ...key(devEui),
            owner: stringValue(owner),
            leaseUntil: numberValue(leaseUntil),
            expiresAt: numberValue(Math.ceil(leaseUntil / 1000) + 60),
          },
          ConditionExpression: 'attribute_not_exists(devEui) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': numberValue(time) },
          // A lapsed lease of our own: an earlier attempt died holding it.
          ReturnValues: 'ALL_OLD',
        }),
      );
      // A lapsed lease's deferred statuses: its holder died, they are the new holder's to settle.
      const inherited = Attributes?.deferredIds?.SS ?? [];
      return read.string(Attributes, 'owner') === owner
        ? { outcome: 'mine' as const, inherited }
        : { outcome: 'acquired' as const, inherited };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tableName, Key: key(devEui), ConsistentRead: true }),
    );
    return {
      outcome: read.string(Item, 'owner') === owner ? ('mine' as const) : ('busy' as const),
      inherited: [],
    };
  }

  function held(devEui: string, owner: string, inherited: string[]): HeldLease {
    return {
      release: async () => [...inherited, ...(await releaseOwn(devEui, owner))],
    };
  }

  async function releaseOwn(devEui: string, owner: string): Promise<string[]> {
    try {
      const { Attributes } = await client.send(
        new DeleteItemCommand({
          TableName: tableName,
          Key: key(devEui),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': stringValue(owner) },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return Attributes?.deferredIds?.SS ?? [];
    } catch (error) {
      // Not ours any more: it lapsed and another took it (never while we lived).
      if (error instanceof ConditionalCheckFailedException) return [];
      throw error;
    }
  }

  return {
    acquire: async (devEui, owner, { deadline, waitUntil }) => {
      for (;;) {
        const { outcome, inherited } = await tryAcquire(devEui, owner, deadline);
        if (outcome !== 'busy')
          return { lease: held(devEui, owner, inherited), previousAttempt: outcome === 'mine' };
        if (now() >= waitUntil) {
          throw new DeviceLockedError(
            `another downlink to ${devEui} is being sent to OrbiWAN; OrbiWAN takes one at a time`,
          );
        }
        await sleep(pollMs * (0.5 + Math.random()));
      }
    },
    defer: async (devEui, downlinkId) => {
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: key(devEui),
            UpdateExpression: 'ADD deferredIds :ids',
            // Held until leaseUntil, inclusive, as acquire sees it.
            ConditionExpression: 'leaseUntil >= :now',
            ExpressionAttributeValues: { ':ids': { SS: [downlinkId] }, ':now': numberValue(now()) },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
  };
}
