import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { deviceLocks } from '../../../functions/downlinks/device-lock.js';

const dynamoMock = mockClient(DynamoDBClient);
const held = () => new ConditionalCheckFailedException({ message: 'held', $metadata: {} });
const withLock = (options: { onReleaseFailure?: (error: unknown) => void } = {}) =>
  deviceLocks({
    client: new DynamoDBClient({}),
    tableName: 'downlinks',
    leaseMs: 10_000,
    maxWaitMs: 40,
    pollMs: 5,
    now: () => Date.now(),
    ...options,
  });

beforeEach(() => {
  dynamoMock.reset();
  dynamoMock.on(PutItemCommand).resolves({});
  dynamoMock.on(DeleteItemCommand).resolves({});
});

describe('deviceLocks', () => {
  it('holds a lapsing lease on the device while the work runs, and releases only its own', async () => {
    const result = await withLock()('0011223344556677', () => Promise.resolve('done'));

    expect(result).toBe('done');
    const put = dynamoMock.commandCalls(PutItemCommand)[0]?.args[0].input;
    const owner = put?.Item?.owner?.S;
    expect(put?.Item?.leaseUntil?.N).toMatch(/^\d+$/);
    expect(dynamoMock.commandCalls(DeleteItemCommand)[0]?.args[0].input).toMatchObject({
      Key: { devEui: { S: '0011223344556677' }, downlinkId: { S: '#post-lock' } },
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeValues: { ':owner': { S: owner } },
    });
  });

  it('gives up with DeviceLockedError once maxWaitMs has passed, without running the work', async () => {
    dynamoMock.on(PutItemCommand).rejects(held());
    const work = vi.fn(() => Promise.resolve());
    await expect(withLock()('0011223344556677', work)).rejects.toMatchObject({
      name: 'DeviceLockedError',
    });
    expect(work).not.toHaveBeenCalled();
    expect(dynamoMock.commandCalls(PutItemCommand).length).toBeGreaterThan(1);
  });

  it('releases the device when the work fails, and passes the failure on', async () => {
    await expect(
      withLock()('0011223344556677', () => Promise.reject(new Error('404'))),
    ).rejects.toThrow('404');
    expect(dynamoMock.commandCalls(DeleteItemCommand)).toHaveLength(1);
  });

  it('reports a failed release instead of failing work that was done', async () => {
    dynamoMock.on(DeleteItemCommand).rejects(new Error('table unavailable'));
    const onReleaseFailure = vi.fn();
    await expect(
      withLock({ onReleaseFailure })('0011223344556677', () => Promise.resolve('done')),
    ).resolves.toBe('done');
    expect(onReleaseFailure).toHaveBeenCalledWith(
      expect.objectContaining({ message: 'table unavailable' }),
    );
  });

  it('leaves a lease that is no longer its own to its new holder', async () => {
    dynamoMock.on(DeleteItemCommand).rejects(held());
    const onReleaseFailure = vi.fn();
    await withLock({ onReleaseFailure })('0011223344556677', () => Promise.resolve());
    expect(onReleaseFailure).not.toHaveBeenCalled();
  });
});
