import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { attachmentKey, type Attachment } from '../../../../functions/codecs/codec-attachments.js';
import {
  MAX_CODEC_SOURCE_BYTES,
  dynamoDbCodecStore,
  type CodecAdmin,
} from '../../../../functions/codecs/codec-store.js';
import { DependencyError } from '../../../../functions/shared/errors.js';
import type { AwsStandIns } from '../../../../local/aws/aws-stand-ins.js';
import { startCodecsTable, type CodecsTable } from '../../../helpers/codecs-table.js';

// The codec store against a real DynamoDB: dynalite behind the local stack's AWS endpoint, with
// the DeviceCodecsTable the template makes when PayloadCodecs is Enabled. Every test starts from
// an empty table.

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let codecsTable: CodecsTable;
let TABLE: string;
let aws: AwsStandIns;
let client: DynamoDBClient;
let store: CodecAdmin;
const clientFor = (options: { maxAttempts?: number } = {}) => codecsTable.client(options);

beforeAll(async () => {
  codecsTable = await startCodecsTable();
  ({ aws, table: TABLE } = codecsTable);
  client = clientFor();
  store = dynamoDbCodecStore(client, TABLE);
});

beforeEach(() => codecsTable.empty());

afterEach(() => {
  aws.faults.clear();
  vi.restoreAllMocks();
});

afterAll(async () => {
  client.destroy();
  await aws.close();
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Text that gzip cannot shrink much: random bytes in base64, `bytes` characters of it. */
const incompressible = (bytes: number) =>
  `// ${randomBytes(bytes)
    .toString('base64')
    .slice(0, bytes - 3)}`;

const UNICODE_SOURCE = `// Température en °C, 温度, Влажность 🌡️\u2028
function decodeUplink(input) {
  return { data: { label: 'Küche ☕', degrees: input.bytes[0] } };
}
`;

async function rawItem(kind: string, name: string) {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { kind: { S: kind }, name: { S: name } } }),
  );
  return Item;
}

/** How many Query requests the store sends while `call` runs. */
async function queriesDuring(call: () => Promise<unknown>): Promise<number> {
  const send = vi.spyOn(client, 'send');
  await call();
  const queries = send.mock.calls.filter(([command]) => command instanceof QueryCommand).length;
  send.mockRestore();
  return queries;
}

const attachmentSorter = (a: Attachment, b: Attachment) =>
  attachmentKey(a).localeCompare(attachmentKey(b));

describe('dynamoDbCodecStore: codecs', () => {
  it('gives back the source and sha256 a codec was stored with, unicode and all', async () => {
    const summary = await store.putCodec('unicode-codec', UNICODE_SOURCE);

    expect(summary).toEqual({
      name: 'unicode-codec',
      sha256: sha256(UNICODE_SOURCE),
      bytes: Buffer.byteLength(UNICODE_SOURCE),
      updatedAt: expect.stringMatching(ISO_TIME),
    });
    expect(summary.bytes).toBeGreaterThan(UNICODE_SOURCE.length);
    await expect(store.codec('unicode-codec')).resolves.toEqual({
      name: 'unicode-codec',
      source: UNICODE_SOURCE,
      sha256: sha256(UNICODE_SOURCE),
    });
  });

  it('stores the source gzipped', async () => {
    const source = `function decodeUplink(input) { return { data: {} }; }\n`.repeat(500);
    await store.putCodec('repetitive', source);

    const item = await rawItem('codec', 'repetitive');
    const stored = Buffer.from(item?.source?.B ?? new Uint8Array());
    expect([...stored.subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(stored.length).toBeLessThan(source.length / 10);
    expect(gunzipSync(stored).toString('utf8')).toBe(source);
    expect(item?.bytes?.N).toBe(String(source.length));
  });

  it('answers undefined for a codec that is not stored', async () => {
    await expect(store.codec('never-stored')).resolves.toBeUndefined();
  });

  it('replaces a codec stored again under its name, with the new sha256', async () => {
    await store.putCodec('replaced', 'var version = 1;');
    await store.putCodec('replaced', 'var version = 2;');

    await expect(store.codec('replaced')).resolves.toEqual({
      name: 'replaced',
      source: 'var version = 2;',
      sha256: sha256('var version = 2;'),
    });
    expect((await store.codecs()).map((codec) => codec.name)).toEqual(['replaced']);
  });

  it('lists every codec as a summary, without its source', async () => {
    await store.putCodec('beta', 'var b = 2;');
    await store.putCodec('alpha', UNICODE_SOURCE);

    const codecs = await store.codecs();

    expect(codecs).toEqual([
      {
        name: 'alpha',
        sha256: sha256(UNICODE_SOURCE),
        bytes: Buffer.byteLength(UNICODE_SOURCE),
        updatedAt: expect.stringMatching(ISO_TIME),
      },
      { name: 'beta', sha256: sha256('var b = 2;'), bytes: 10, updatedAt: expect.any(String) },
    ]);
    for (const codec of codecs) expect(Object.keys(codec).sort()).not.toContain('source');
  });

  it('lists no attachments among the codecs, nor codecs among the attachments', async () => {
    await store.putCodec('only-codec', 'var a;');
    await store.attach({ selector: { kind: 'prefix', value: '70b3' }, codec: 'only-codec' });

    expect((await store.codecs()).map((codec) => codec.name)).toEqual(['only-codec']);
    expect(await store.attachments()).toHaveLength(1);
  });

  it('refuses a source over 1 MiB with RangeError and stores nothing', async () => {
    const source = 'x'.repeat(MAX_CODEC_SOURCE_BYTES + 1);

    await expect(store.putCodec('huge', source)).rejects.toThrow(
      new RangeError(
        `the codec is ${String(MAX_CODEC_SOURCE_BYTES + 1)} bytes; at most ${String(MAX_CODEC_SOURCE_BYTES)} are stored`,
      ),
    );
    await expect(store.codec('huge')).resolves.toBeUndefined();
  });

  it('counts the 1 MiB in UTF-8 bytes, not characters', async () => {
    const source = 'é'.repeat(MAX_CODEC_SOURCE_BYTES / 2 + 1);

    await expect(store.putCodec('accents', source)).rejects.toBeInstanceOf(RangeError);
  });

  it('stores a source of exactly 1 MiB that gzips small', async () => {
    const source = `// ${'a'.repeat(MAX_CODEC_SOURCE_BYTES - 3)}`;

    await expect(store.putCodec('just-fits', source)).resolves.toMatchObject({
      bytes: MAX_CODEC_SOURCE_BYTES,
    });
    expect((await store.codec('just-fits'))?.source).toBe(source);
  });

  it('refuses a source whose gzip would not fit a table item, with RangeError', async () => {
    await expect(store.putCodec('random', incompressible(600 * 1024))).rejects.toThrow(
      /^the codec is \d+ bytes gzipped; a table item holds at most 358400$/,
    );
    await expect(store.codec('random')).resolves.toBeUndefined();
  });

  it('removes a codec: true the first time, false once it is gone', async () => {
    await store.putCodec('doomed', 'var a;');

    await expect(store.removeCodec('doomed')).resolves.toBe(true);
    await expect(store.codec('doomed')).resolves.toBeUndefined();
    await expect(store.removeCodec('doomed')).resolves.toBe(false);
  });

  it('reads every codec over more than one page of the query', async () => {
    // Four sources of ~330 KB gzipped: DynamoDB (and dynalite) stop a page at 1 MB read, which a
    // projection does not shrink.
    const names = ['big-1', 'big-2', 'big-3', 'big-4'];
    for (const name of names) await store.putCodec(name, incompressible(430 * 1024));

    let codecs: { name: string }[] = [];
    const queries = await queriesDuring(async () => {
      codecs = await store.codecs();
    });

    expect(codecs.map((codec) => codec.name)).toEqual(names);
    expect(queries).toBeGreaterThan(1);
  });
});

describe('dynamoDbCodecStore: attachments', () => {
  it('gives back attachments as attached: selectors parsed back, ports kept', async () => {
    const attachments: Attachment[] = [
      { selector: { kind: 'deveui', value: '70b3d57ed0001a2b' }, codec: 'thermostat' },
      { selector: { kind: 'prefix', value: '70b3d5' }, codec: 'maker', fPorts: [10, 3] },
      { selector: { kind: 'profile', value: 'Class A – Température' }, codec: 'by-profile' },
      { selector: { kind: 'profile', value: 'Class A – Température' }, codec: 'p2', fPorts: [2] },
    ];
    for (const attachment of attachments) await store.attach(attachment);

    const read = await store.attachments();

    expect([...read].sort(attachmentSorter)).toEqual([...attachments].sort(attachmentSorter));
  });

  it('keeps one attachment per selector and set of ports: attaching again replaces its codec', async () => {
    const selector = { kind: 'deveui', value: '70b3d57ed0001a2b' } as const;
    await store.attach({ selector, codec: 'first', fPorts: [1, 2] });
    await store.attach({ selector, codec: 'second', fPorts: [2, 1] });
    await store.attach({ selector, codec: 'any-port' });

    const read = await store.attachments();

    expect(read).toHaveLength(2);
    expect(read).toContainEqual({ selector, codec: 'second', fPorts: [2, 1] });
    expect(read).toContainEqual({ selector, codec: 'any-port' });
  });

  it('stores an attachment under its key, with the selector as written', async () => {
    const attachment: Attachment = {
      selector: { kind: 'prefix', value: 'abc' },
      codec: 'maker',
      fPorts: [7, 5],
    };
    await store.attach(attachment);

    const item = await rawItem('attachment', attachmentKey(attachment));
    expect(attachmentKey(attachment)).toBe('prefix:abc|5,7');
    expect(item).toMatchObject({
      selector: { S: 'prefix:abc' },
      codec: { S: 'maker' },
      fPorts: { L: [{ N: '7' }, { N: '5' }] },
      updatedAt: { S: expect.stringMatching(ISO_TIME) },
    });
  });

  it('detaches: true the first time, false once it is gone', async () => {
    const attachment: Attachment = { selector: { kind: 'prefix', value: '70' }, codec: 'c' };
    await store.attach(attachment);

    await expect(store.detach(attachmentKey(attachment))).resolves.toBe(true);
    await expect(store.attachments()).resolves.toEqual([]);
    await expect(store.detach(attachmentKey(attachment))).resolves.toBe(false);
  });

  it('answers no attachments for an empty table', async () => {
    await expect(store.attachments()).resolves.toEqual([]);
  });

  it('reads every attachment over more than one page of the query', async () => {
    // ~2 KB each (a 128-character profile name, every port): 600 of them are over 1 MB.
    const allPorts = Array.from({ length: 223 }, (_, index) => index + 1);
    const attachments: Attachment[] = Array.from({ length: 600 }, (_, index) => ({
      selector: {
        kind: 'profile',
        value: `profile-${String(index).padStart(4, '0')}-`.padEnd(128, 'p'),
      },
      codec: `codec-${String(index % 7)}`,
      fPorts: allPorts,
    }));
    for (const attachment of attachments) await store.attach(attachment);

    let read: Attachment[] = [];
    const queries = await queriesDuring(async () => {
      read = await store.attachments();
    });

    expect(queries).toBeGreaterThan(1);
    expect(read).toHaveLength(600);
    expect([...read].sort(attachmentSorter)).toEqual([...attachments].sort(attachmentSorter));
  });

  it('skips attachment items edited by hand that it cannot read, and reads the rest', async () => {
    const good: Attachment = {
      selector: { kind: 'deveui', value: '0011223344556677' },
      codec: 'ok',
    };
    await store.attach(good);
    const handMade = [
      { name: 'bad-deveui', selector: { S: 'deveui:not-hex' }, codec: { S: 'c' } },
      { name: 'bad-kind', selector: { S: 'model:acme' }, codec: { S: 'c' } },
      { name: 'no-selector', codec: { S: 'c' } },
      { name: 'no-codec', selector: { S: 'prefix:70' } },
      { name: 'number-selector', selector: { N: '7' }, codec: { S: 'c' } },
    ];
    for (const { name, ...rest } of handMade)
      await client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { kind: { S: 'attachment' }, name: { S: name }, ...rest },
        }),
      );

    await expect(store.attachments()).resolves.toEqual([good]);
  });

  // An attachment restricted to some ports that the store read as one for every port would run
  // its codec on payloads it was never meant for.
  it.each([
    ['a string', { S: '3' }],
    ['a number', { N: '3' }],
    ['a list of strings', { L: [{ S: '3' }] }],
    ['port 0', { L: [{ N: '3' }, { N: '0' }] }],
    ['port 224', { L: [{ N: '224' }] }],
    ['a fraction', { L: [{ N: '1.5' }] }],
    ['an empty list', { L: [] }],
  ])(
    'skips a hand-edited attachment whose fPorts are %s, rather than widen it to other ports',
    async (_, fPorts) => {
      await client.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: {
            kind: { S: 'attachment' },
            name: { S: 'deveui:0011223344556677|3' },
            selector: { S: 'deveui:0011223344556677' },
            codec: { S: 'c' },
            fPorts,
          },
        }),
      );

      await expect(store.attachments()).resolves.toEqual([]);
    },
  );

  it('reads a hand-written selector in the forms an operator may type', async () => {
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: {
          kind: { S: 'attachment' },
          name: { S: 'typed-by-hand' },
          selector: { S: 'deveui:70-B3-D5-7E-D0-00-1A-2B' },
          codec: { S: 'c' },
        },
      }),
    );

    await expect(store.attachments()).resolves.toEqual([
      { selector: { kind: 'deveui', value: '70b3d57ed0001a2b' }, codec: 'c' },
    ]);
  });
});

describe('dynamoDbCodecStore: a failing table', () => {
  it('reports a missing table as DependencyError CODEC_STORE_FAILED from attachments()', async () => {
    const missing = dynamoDbCodecStore(client, 'no-such-table');

    const error: unknown = await missing.attachments().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({
      code: 'CODEC_STORE_FAILED',
      message: 'could not read the codec attachments',
      throttled: false,
      cause: expect.objectContaining({ name: 'ResourceNotFoundException' }),
    });
  });

  it('reports a missing table as DependencyError CODEC_STORE_FAILED from codec()', async () => {
    const missing = dynamoDbCodecStore(client, 'no-such-table');

    await expect(missing.codec('thermostat')).rejects.toMatchObject({
      name: 'DependencyError',
      code: 'CODEC_STORE_FAILED',
      message: 'could not read codec thermostat',
      throttled: false,
    });
  });

  it('marks a throttled read as throttled', async () => {
    const once = clientFor({ maxAttempts: 1 });
    aws.faults.inject({
      service: 'dynamodb',
      operation: 'Query',
      effect: { error: 'ProvisionedThroughputExceededException', status: 400 },
    });
    try {
      await expect(dynamoDbCodecStore(once, TABLE).attachments()).rejects.toMatchObject({
        code: 'CODEC_STORE_FAILED',
        throttled: true,
      });
    } finally {
      once.destroy();
    }
  });

  it('lets the admin methods fail with the SDK error itself', async () => {
    const missing = dynamoDbCodecStore(client, 'no-such-table');

    await expect(missing.putCodec('c', 'var a;')).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(missing.codecs()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
