import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  ListNamedShadowsForThingCommand,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAwsStandIns, type AwsStandIns } from '../../local/aws/aws-stand-ins.js';
import type { PublishedMessage } from '../../local/aws/iot-data-plane.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { sampleStack } from '../helpers/sample-stack.js';

// The Device Shadow REST API of the local IoT Data Plane, as the unmodified SDK client and the
// stock AWS CLI reach it: what AWS documents it to accept, refuse and answer.

const run = promisify(execFile);
const workDir = mkdtempSync(join(tmpdir(), 'iot-shadows-'));
const published: PublishedMessage[] = [];
let aws: AwsStandIns;
let client: IoTDataPlaneClient;
// Each test its own thing: shadows outlive a test, as they do in AWS.
let thingName: string;
let things = 0;

beforeAll(async () => {
  aws = await startAwsStandIns({
    template: loadTemplate(),
    stack: sampleStack(),
    secrets: {},
    onPublish: (message) => void published.push(message),
  });
  client = new IoTDataPlaneClient({
    endpoint: aws.endpoint.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

beforeEach(() => {
  things += 1;
  thingName = `0011223344aa00${String(things).padStart(2, '0')}`;
  published.length = 0;
});

afterAll(async () => {
  client.destroy();
  await aws.close();
  rmSync(workDir, { recursive: true, force: true });
});

type Document = Record<string, unknown> & {
  state: Record<string, unknown>;
  metadata: Record<string, unknown>;
  version: number;
  timestamp: number;
};

async function update(payload: unknown, shadowName?: string): Promise<Document> {
  const { payload: answer } = await client.send(
    new UpdateThingShadowCommand({
      thingName,
      ...(shadowName === undefined ? {} : { shadowName }),
      payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    }),
  );
  return JSON.parse(Buffer.from(answer ?? []).toString('utf8')) as Document;
}

async function get(shadowName?: string): Promise<Document> {
  const { payload } = await client.send(
    new GetThingShadowCommand({
      thingName,
      ...(shadowName === undefined ? {} : { shadowName }),
    }),
  );
  return JSON.parse(Buffer.from(payload ?? []).toString('utf8')) as Document;
}

/** The error the SDK throws for the call, as a plain object to match. */
async function failureOf(call: Promise<unknown>) {
  const error = await call.then(
    () => undefined,
    (thrown: unknown) => thrown as Error & { $metadata: { httpStatusCode?: number } },
  );
  return {
    name: error?.name,
    status: error?.$metadata.httpStatusCode,
    message: error?.message,
  };
}

/** Objects nested `levels` deep under the section, the innermost holding {"leaf": 1}. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let level = levels - 1; level > 0; level -= 1) value = { [`level${level}`]: value };
  return value;
}

describe('updating a shadow', () => {
  it('creates it at version 1 on its first update, without the thing being registered', async () => {
    const accepted = await update({ state: { reported: { battery: 91 } }, clientToken: 'token-1' });

    expect(accepted).toEqual({
      state: { reported: { battery: 91 } },
      metadata: { reported: { battery: { timestamp: expect.any(Number) } } },
      version: 1,
      timestamp: expect.any(Number),
      clientToken: 'token-1',
    });
    expect(await get()).toEqual({
      state: { reported: { battery: 91 } },
      metadata: { reported: { battery: { timestamp: accepted.timestamp } } },
      version: 1,
      timestamp: expect.any(Number),
    });
  });

  it('merges objects, deletes attributes set to null and replaces arrays whole', async () => {
    await update({
      state: { reported: { radio: { rssi: -80, snr: 7 }, channels: [1, 2, 3], firmware: '1.0' } },
    });
    const accepted = await update({
      state: { reported: { radio: { snr: null, sf: 9 }, channels: [4], firmware: null } },
    });

    expect(accepted.version).toBe(2);
    expect(accepted.metadata).toEqual({
      reported: {
        radio: { snr: { timestamp: accepted.timestamp }, sf: { timestamp: accepted.timestamp } },
        channels: [{ timestamp: accepted.timestamp }],
        firmware: { timestamp: accepted.timestamp },
      },
    });
    const shadow = await get();
    expect(shadow.state).toEqual({ reported: { radio: { rssi: -80, sf: 9 }, channels: [4] } });
    expect(shadow.metadata).toEqual({
      reported: {
        radio: { rssi: { timestamp: expect.any(Number) }, sf: { timestamp: accepted.timestamp } },
        channels: [{ timestamp: accepted.timestamp }],
      },
    });
    expect(aws.shadows.get(thingName)?.state).toEqual(shadow.state);
  });

  it('removes a whole section set to null, and the whole state with a null state', async () => {
    await update({ state: { desired: { led: 'on' }, reported: { led: 'off' } } });

    await update({ state: { desired: null } });
    expect((await get()).state).toEqual({ reported: { led: 'off' } });

    const cleared = await update({ state: null });
    expect(cleared.version).toBe(3);
    expect(await get()).toEqual({
      state: {},
      metadata: {},
      version: 3,
      timestamp: expect.any(Number),
    });
  });

  it('refuses an update carrying another version than the current one: 409 ConflictException', async () => {
    await update({ state: { desired: { interval: 60 } } });
    await update({ state: { desired: { interval: 120 } }, version: 1 });

    expect(await failureOf(update({ state: { desired: { interval: 300 } }, version: 1 }))).toEqual({
      name: 'ConflictException',
      status: 409,
      message: 'Version conflict',
    });
    expect(await get()).toMatchObject({ state: { desired: { interval: 120 } }, version: 2 });
  });

  it('refuses a version for a shadow that does not exist: there is none to match', async () => {
    expect(await failureOf(update({ state: { desired: { a: 1 } }, version: 1 }))).toMatchObject({
      name: 'ConflictException',
      status: 409,
    });
    expect(aws.shadows.get(thingName)).toBeUndefined();
  });

  it('limits desired and reported to 8 KB of compact JSON, metadata and whitespace not counted', async () => {
    // {"blob":"…"} is 11 bytes around the string.
    const exactly8Kb = { state: { reported: { blob: 'x'.repeat(8192 - 11) } } };
    expect((await update(JSON.stringify(exactly8Kb, null, 4))).version).toBe(1);

    const oneByteMore = { state: { reported: { blob: 'x'.repeat(8192 - 10) } } };
    expect(await failureOf(update(oneByteMore))).toEqual({
      name: 'RequestEntityTooLargeException',
      status: 413,
      message: 'The payload exceeds the maximum size allowed',
    });
    expect((await get()).version).toBe(1);
  });

  it('counts the document as it would be after the update, not the request alone', async () => {
    await update({ state: { desired: { a: 'x'.repeat(4000) } } });

    expect(await failureOf(update({ state: { reported: { b: 'x'.repeat(4200) } } }))).toMatchObject(
      { name: 'RequestEntityTooLargeException', status: 413 },
    );
    expect(
      (await update({ state: { desired: { a: null }, reported: { b: 'x'.repeat(4200) } } }))
        .version,
    ).toBe(2);
  });

  it('accepts 6 levels of nesting in a section and refuses 7: 400 InvalidRequestException', async () => {
    expect((await update({ state: { desired: nested(6) } })).version).toBe(1);

    expect(await failureOf(update({ state: { reported: nested(7) } }))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
      message: 'JSON contains too many levels of nesting; maximum is 6',
    });
  });

  it.each([
    ['a body that is not JSON', '{"state": {'],
    ['a document without state', { desired: { a: 1 } }],
    ['a state that is not an object', { state: 'on' }],
    ['a desired section that is not an object', { state: { desired: [1] } }],
    ['a state with another node than desired and reported', { state: { wanted: { a: 1 } } }],
    ['a version that is not a whole number', { state: { desired: { a: 1 } }, version: '1' }],
    ['a client token over 64 bytes', { state: { desired: { a: 1 } }, clientToken: 't'.repeat(65) }],
    ['an array holding null', { state: { desired: { colors: [null, 'RED'] } } }],
  ])('refuses %s: 400 InvalidRequestException', async (_, payload) => {
    expect(await failureOf(update(payload))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
    expect(aws.shadows.get(thingName)).toBeUndefined();
  });

  it('refuses thing and shadow names outside the API constraints', async () => {
    thingName = 'not.a.thing';
    expect(await failureOf(update({ state: { desired: { a: 1 } } }))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
    thingName = 't'.repeat(129);
    expect(await failureOf(get())).toMatchObject({ name: 'InvalidRequestException', status: 400 });
    thingName = 't'.repeat(128);
    expect(await failureOf(get('s'.repeat(65)))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
  });

  it('answers 405 MethodNotAllowedException to a method the shadow URI does not take', async () => {
    const response = await fetch(`${aws.endpoint.url}/things/${thingName}/shadow`, {
      method: 'PUT',
      body: '{"state": {"desired": {"a": 1}}}',
    });

    expect(response.status).toBe(405);
    expect(response.headers.get('x-amzn-errortype')).toBe('MethodNotAllowedException');
    expect(aws.shadows.get(thingName)).toBeUndefined();
  });

  it('publishes previous and current documents on the shadow topic after an accepted update', async () => {
    await update({ state: { desired: { interval: 60 } } }, 'orbiwan');
    const accepted = await update(
      { state: { reported: { interval: 60 } }, clientToken: 'c-2' },
      'orbiwan',
    );
    await failureOf(update({ state: { reported: { interval: 90 } }, version: 1 }, 'orbiwan'));

    expect(published.map((message) => message.topic)).toEqual([
      `$aws/things/${thingName}/shadow/name/orbiwan/update/documents`,
      `$aws/things/${thingName}/shadow/name/orbiwan/update/documents`,
    ]);
    expect(JSON.parse(published[1]?.payload.toString() ?? '')).toEqual({
      previous: {
        state: { desired: { interval: 60 } },
        metadata: { desired: { interval: { timestamp: expect.any(Number) } } },
        version: 1,
      },
      current: {
        state: { desired: { interval: 60 }, reported: { interval: 60 } },
        metadata: {
          desired: { interval: { timestamp: expect.any(Number) } },
          reported: { interval: { timestamp: accepted.timestamp } },
        },
        version: 2,
      },
      timestamp: accepted.timestamp,
      clientToken: 'c-2',
    });
  });
});

describe('reading a shadow', () => {
  it('answers 404 ResourceNotFoundException for a shadow never created', async () => {
    expect(await failureOf(get())).toEqual({
      name: 'ResourceNotFoundException',
      status: 404,
      message: `No shadow exists with name: '${thingName}'`,
    });
    expect(await failureOf(get('orbiwan'))).toEqual({
      name: 'ResourceNotFoundException',
      status: 404,
      message: "No shadow exists with name: 'orbiwan'",
    });
  });

  it('gives the delta: desired attributes reported lacks or differs on, down to nested ones', async () => {
    await update({
      state: {
        desired: { mode: 'eco', radio: { sf: 9, power: 14 }, channels: [1, 2], same: true },
      },
    });
    await update({
      state: { reported: { mode: 'eco', radio: { sf: 7, power: 14 }, channels: [1], extra: 1 } },
    });

    expect((await get()).state.delta).toEqual({ radio: { sf: 9 }, channels: [1, 2], same: true });
    await update({ state: { reported: { radio: { sf: 9 }, channels: [1, 2], same: true } } });
    expect((await get()).state).not.toHaveProperty('delta');
  });

  it('keeps the classic shadow and each named shadow apart', async () => {
    await update({ state: { reported: { shadow: 'classic' } } });
    await update({ state: { reported: { shadow: 'orbiwan' } } }, 'orbiwan');
    await update({ state: { reported: { shadow: 'other' } } }, 'other');
    await update({ state: { reported: { more: true } } }, 'orbiwan');

    expect(await get()).toMatchObject({ state: { reported: { shadow: 'classic' } }, version: 1 });
    expect(await get('orbiwan')).toMatchObject({
      state: { reported: { shadow: 'orbiwan', more: true } },
      version: 2,
    });
    expect(aws.shadows.get(thingName, 'other')).toMatchObject({
      state: { reported: { shadow: 'other' } },
      version: 1,
    });
  });
});

describe('deleting a shadow', () => {
  it('answers its version, then reads 404, and a new shadow of that name goes on from the version', async () => {
    await update({ state: { reported: { a: 1 } } }, 'orbiwan');
    await update({ state: { reported: { a: 2 } } }, 'orbiwan');

    const { payload } = await client.send(
      new DeleteThingShadowCommand({ thingName, shadowName: 'orbiwan' }),
    );
    expect(JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual({
      version: 2,
      timestamp: expect.any(Number),
    });
    expect(await failureOf(get('orbiwan'))).toMatchObject({
      name: 'ResourceNotFoundException',
    });
    expect(
      await failureOf(
        client.send(new DeleteThingShadowCommand({ thingName, shadowName: 'orbiwan' })),
      ),
    ).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    expect((await update({ state: { reported: { a: 3 } } }, 'orbiwan')).version).toBe(3);
  });
});

describe('listing named shadows', () => {
  it('lists the named shadows only, a page at a time', async () => {
    await update({ state: { reported: { a: 1 } } });
    for (const name of ['gamma', 'alpha', 'beta'])
      await update({ state: { reported: { a: 1 } } }, name);
    await client.send(new DeleteThingShadowCommand({ thingName, shadowName: 'beta' }));

    const first = await client.send(
      new ListNamedShadowsForThingCommand({ thingName, pageSize: 1 }),
    );
    expect(first.results).toEqual(['alpha']);
    const second = await client.send(
      new ListNamedShadowsForThingCommand({ thingName, pageSize: 1, nextToken: first.nextToken }),
    );
    expect(second.results).toEqual(['gamma']);
    expect(second.nextToken).toBeUndefined();
  });

  it('answers an empty list for a thing without named shadows', async () => {
    const { results, timestamp } = await client.send(
      new ListNamedShadowsForThingCommand({ thingName }),
    );
    expect(results).toEqual([]);
    expect(timestamp).toEqual(expect.any(Number));
  });
});

describe('the stock AWS CLI', () => {
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_DEFAULT_REGION: 'eu-west-1',
    AWS_PAGER: '',
  };
  const getThingShadow = (outfile: string) =>
    run(
      'aws',
      [
        'iot-data',
        'get-thing-shadow',
        '--thing-name',
        thingName,
        '--shadow-name',
        'orbiwan',
        '--endpoint-url',
        aws.endpoint.url,
        outfile,
      ],
      { env },
    );

  it('reads a named shadow into its outfile with aws iot-data get-thing-shadow', async () => {
    await update({ state: { desired: { interval: 60 }, reported: { interval: 30 } } }, 'orbiwan');
    const outfile = join(workDir, 'shadow.json');

    await getThingShadow(outfile);

    expect(JSON.parse(readFileSync(outfile, 'utf8'))).toEqual({
      state: { desired: { interval: 60 }, reported: { interval: 30 }, delta: { interval: 60 } },
      metadata: {
        desired: { interval: { timestamp: expect.any(Number) } },
        reported: { interval: { timestamp: expect.any(Number) } },
      },
      version: 1,
      timestamp: expect.any(Number),
    });
  });

  it('reports a missing shadow as ResourceNotFoundException', async () => {
    const failure = await getThingShadow(join(workDir, 'missing.json')).then(
      () => undefined,
      (error: unknown) => error as { code: number; stderr: string },
    );

    expect(failure?.code).not.toBe(0);
    expect(failure?.stderr).toContain(
      "An error occurred (ResourceNotFoundException) when calling the GetThingShadow operation: No shadow exists with name: 'orbiwan'",
    );
  });
});
