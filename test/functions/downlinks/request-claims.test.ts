import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { requestItem, executionItem } from '../../../functions/downlinks/downlink-table.js';
import {
  requestClaims,
  type RequestClaims,
  type RequestRef,
} from '../../../functions/downlinks/request-claims.js';
import { DEV_EUI, DOWNLINK_ID, RETENTION_SECONDS, orbiwanDownlink } from './downlink-fixtures.js';
import { useDownlinksTable } from './downlinks-table.js';

// Claims on requestIds, on a real (in-memory) table: its conditions are DynamoDB's to judge.

const WINDOW_MS = 600_000;
const REPLY = orbiwanDownlink(DOWNLINK_ID, 0);

const table = useDownlinksTable();

function claims(now: () => number = Date.now): RequestClaims {
  return requestClaims({
    client: table.client,
    tableName: table.tableName,
    windowMs: WINDOW_MS,
    retentionSeconds: RETENTION_SECONDS,
    now,
  });
}

const by = (execution: string, requestId = 'order-42'): RequestRef => ({
  devEui: DEV_EUI,
  requestId,
  execution,
});
const anonymous = (execution: string): RequestRef => ({
  devEui: DEV_EUI,
  requestId: undefined,
  execution,
});

describe('requestClaims', () => {
  it("claims a new requestId for the execution, under the device's request# key", async () => {
    await expect(claims().claim(by('execution-a'))).resolves.toEqual({ kind: 'new' });

    expect((await table.item(DEV_EUI, requestItem('order-42')))?.execution).toEqual({
      S: 'execution-a',
    });
  });

  it('names the holder of a requestId another execution claimed within the window', async () => {
    await claims().claim(by('execution-a'));

    await expect(claims().claim(by('execution-b'))).resolves.toEqual({
      kind: 'duplicate',
      of: 'execution-a',
    });
  });

  it("answers 'again' to the same execution, without an id until one is noted, then with it", async () => {
    await claims().claim(by('execution-a'));

    await expect(claims().claim(by('execution-a'))).resolves.toEqual({
      kind: 'again',
      downlinkId: undefined,
      reply: undefined,
    });

    await claims().notePosted(by('execution-a'), { downlinkId: DOWNLINK_ID, reply: REPLY });

    await expect(claims().claim(by('execution-a'))).resolves.toEqual({
      kind: 'again',
      downlinkId: DOWNLINK_ID,
      reply: REPLY,
    });
  });

  it('lets another execution take over a claim past its window, which is then a duplicate for the first', async () => {
    let time = 1_000_000;
    const clock = () => time;
    await claims(clock).claim(by('execution-a'));

    time += WINDOW_MS;
    await expect(claims(clock).claim(by('execution-b'))).resolves.toMatchObject({
      kind: 'duplicate',
    });

    time += 1;
    await expect(claims(clock).claim(by('execution-b'))).resolves.toEqual({ kind: 'new' });
    await expect(claims(clock).claim(by('execution-a'))).resolves.toEqual({
      kind: 'duplicate',
      of: 'execution-b',
    });
  });

  it("answers 'again' to the same execution even past the window", async () => {
    let time = 1_000_000;
    const clock = () => time;
    await claims(clock).claim(by('execution-a'));
    time += WINDOW_MS + 1;

    await expect(claims(clock).claim(by('execution-a'))).resolves.toMatchObject({
      kind: 'again',
    });
  });

  it("answers what was posted for the execution's own claim, and nothing for another's", async () => {
    await claims().claim(by('execution-a'));
    await claims().notePosted(by('execution-a'), { downlinkId: DOWNLINK_ID, reply: REPLY });

    await expect(claims().posted(by('execution-a'))).resolves.toEqual({
      downlinkId: DOWNLINK_ID,
      reply: REPLY,
    });
    await expect(claims().posted(by('execution-b'))).resolves.toEqual({
      downlinkId: undefined,
      reply: undefined,
    });
    await expect(claims().posted(by('execution-a', 'order-99'))).resolves.toEqual({
      downlinkId: undefined,
      reply: undefined,
    });
  });

  it("refuses to note an id on another execution's claim", async () => {
    await claims().claim(by('execution-a'));

    await expect(
      claims().notePosted(by('execution-b'), { downlinkId: '1', reply: '{"id":1}' }),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);

    expect((await table.item(DEV_EUI, requestItem('order-42')))?.downlinkId).toBeUndefined();
  });

  it('keys a request without requestId by its execution: never a duplicate, again for itself', async () => {
    await expect(claims().claim(anonymous('execution-a'))).resolves.toEqual({ kind: 'new' });
    await expect(claims().claim(anonymous('execution-b'))).resolves.toEqual({ kind: 'new' });
    await claims().notePosted(anonymous('execution-a'), {
      downlinkId: DOWNLINK_ID,
      reply: REPLY,
    });

    await expect(claims().claim(anonymous('execution-a'))).resolves.toMatchObject({
      kind: 'again',
      downlinkId: DOWNLINK_ID,
    });
    expect(await table.item(DEV_EUI, executionItem('execution-a'))).toMatchObject({
      downlinkId: { S: DOWNLINK_ID },
    });
    await expect(claims().posted(anonymous('execution-b'))).resolves.toEqual({
      downlinkId: undefined,
      reply: undefined,
    });
  });

  it('keeps the same requestId of different devices apart', async () => {
    await claims().claim(by('execution-a'));

    await expect(
      claims().claim({
        devEui: '0011223344556677',
        requestId: 'order-42',
        execution: 'execution-b',
      }),
    ).resolves.toEqual({ kind: 'new' });
  });
});
