import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeviceLockedError } from './downlink-errors.js';

// OrbiWAN does not support parallel downlink POSTs for one device. Executions run in parallel, so
// each POST holds a lease on its device in the downlinks table (sort key LOCK_ID). A lease that
// its holder never released (the function died) lapses after leaseMs.

export const LOCK_ID = '#post-lock';

export interface DeviceLocksOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Longer than one POST can take. */
  leaseMs: number;
  /** How long to wait for a busy device before giving up with DeviceLockedError. */
  maxWaitMs: number;
  pollMs?: number;
  now?: () => number;
  /** A failed release never fails the work that was done (the lease lapses anyway): report it here. */
  onReleaseFailure?: (error: unknown) => void;
}

export type WithDeviceLock = <T>(devEui: string, work: () => Promise<T>) => Promise<T>;

export function deviceLocks({
  client,
  tableName,
  leaseMs,
  maxWaitMs,
  pollMs = 50,
  now = Date.now,
  onReleaseFailure = () => undefined,
}: DeviceLocksOptions): WithDeviceLock {
  const key = (devEui: string) => ({ devEui: { S: devEui }, downlinkId: { S: LOCK_ID } });

  async function tryAcquire(devEui: string, owner: string): Promise<boolean> {
    const time = now();
    try {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            ...key(devEui),
            owner: { S: owner },
            leaseUntil: { N: String(time + leaseMs) },
            expiresAt: { N: String(Math.ceil((time + leaseMs) / 1000) + 60) },
          },
          ConditionExpression: 'attribute_not_exists(devEui) OR leaseUntil < :now',
          ExpressionAttributeValues: { ':now': { N: String(time) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async function release(devEui: string, owner: string): Promise<void> {
    try {
      await client.send(
        new DeleteItemCommand({
          TableName: tableName,
          Key: key(devEui),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': { S: owner } },
        }),
      );
    } catch (error) {
      // ConditionalCheckFailed: our lease lapsed and someone else holds the device, theirs to release.
      if (!(error instanceof ConditionalCheckFailedException)) onReleaseFailure(error);
    }
  }

  return async (devEui, work) => {
    const owner = randomUUID();
    const deadline = now() + maxWaitMs;
    while (!(await tryAcquire(devEui, owner))) {
      if (now() >= deadline) {
        throw new DeviceLockedError(
          `another downlink to ${devEui} was being sent to OrbiWAN for over ${maxWaitMs} ms`,
        );
      }
      await sleep(pollMs * (0.5 + Math.random()));
    }
    try {
      return await work();
    } finally {
      await release(devEui, owner);
    }
  };
}
