import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { DependencyError } from '../shared/errors.js';
import {
  attachmentKey,
  fPortSchema,
  parseSelector,
  selectorText,
  type Attachment,
} from './codec-attachments.js';

// Codecs and their attachments live in the stack's DeviceCodecsTable (docs/device-state.md says
// why a table and not S3), as two kinds of item under one partition key each:
//
//   kind=codec       name=<codec name>      source (gzip), sha256, bytes, updatedAt
//   kind=attachment  name=<attachment key>  selector, codec, fPorts, updatedAt
//
// A function reads every attachment with one Query (a few hundred bytes each, never a codec's
// source), and a codec's source only when its attachments first need it.

type Item = Record<string, AttributeValue>;

export interface StoredCodec {
  name: string;
  source: string;
  /** Of the source: what tells a cached, loaded codec from a replaced one. */
  sha256: string;
}

export interface CodecSummary {
  name: string;
  sha256: string;
  bytes: number;
  updatedAt: string;
}

/** What the functions read. */
export interface CodecStore {
  attachments(): Promise<Attachment[]>;
  codec(name: string): Promise<StoredCodec | undefined>;
}

/** What the orbiwan-codec CLI does besides. */
export interface CodecAdmin extends CodecStore {
  putCodec(name: string, source: string): Promise<CodecSummary>;
  removeCodec(name: string): Promise<boolean>;
  codecs(): Promise<CodecSummary[]>;
  attach(attachment: Attachment): Promise<void>;
  detach(key: string): Promise<boolean>;
}

/**
 * A DynamoDB item holds 400 KB; a gzipped codec of this size still fits with room to spare. The
 * largest codecs in The Things Network's device repository are a few tens of KB.
 */
export const MAX_CODEC_SOURCE_BYTES = 1024 * 1024;
const MAX_STORED_SOURCE_BYTES = 350 * 1024;

export function dynamoDbCodecStore(client: DynamoDBClient, tableName: string): CodecAdmin {
  const query = async (kind: string, projection?: string): Promise<Item[]> => {
    const items: Item[] = [];
    let startKey: Item | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: '#kind = :kind',
          ExpressionAttributeNames: {
            '#kind': 'kind',
            ...(projection === undefined ? {} : { '#name': 'name' }),
          },
          ExpressionAttributeValues: { ':kind': { S: kind } },
          ...(projection === undefined ? {} : { ProjectionExpression: projection }),
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return items;
  };
  const key = (kind: 'codec' | 'attachment', name: string): Item => ({
    kind: { S: kind },
    name: { S: name },
  });
  const remove = async (kind: 'codec' | 'attachment', name: string) => {
    const { Attributes } = await client.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: key(kind, name),
        ReturnValues: 'ALL_OLD',
      }),
    );
    return Attributes !== undefined;
  };

  return {
    attachments: () =>
      dependency('read the codec attachments', async () =>
        (await query('attachment')).flatMap((item) => attachmentOf(item)),
      ),
    codec: (name) =>
      dependency(`read codec ${name}`, async () => {
        const { Item: item } = await client.send(
          new GetItemCommand({
            TableName: tableName,
            Key: key('codec', name),
            ConsistentRead: false,
          }),
        );
        const stored = item?.source?.B;
        if (item === undefined || stored === undefined) return undefined;
        return {
          name,
          source: gunzipSync(stored).toString('utf8'),
          sha256: item.sha256?.S ?? '',
        };
      }),
    putCodec: async (name, source) => {
      const bytes = Buffer.byteLength(source);
      if (bytes > MAX_CODEC_SOURCE_BYTES)
        throw new RangeError(
          `the codec is ${bytes} bytes; at most ${MAX_CODEC_SOURCE_BYTES} are stored`,
        );
      const compressed = gzipSync(source, { level: 9 });
      if (compressed.byteLength > MAX_STORED_SOURCE_BYTES)
        throw new RangeError(
          `the codec is ${compressed.byteLength} bytes gzipped; a table item holds at most ${MAX_STORED_SOURCE_BYTES}`,
        );
      const summary = {
        name,
        sha256: createHash('sha256').update(source).digest('hex'),
        bytes,
        updatedAt: new Date().toISOString(),
      };
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            ...key('codec', name),
            source: { B: compressed },
            sha256: { S: summary.sha256 },
            bytes: { N: String(bytes) },
            updatedAt: { S: summary.updatedAt },
          },
        }),
      );
      return summary;
    },
    removeCodec: (name) => remove('codec', name),
    codecs: async () =>
      (await query('codec', '#name, sha256, bytes, updatedAt')).map((item) => ({
        name: item.name?.S ?? '',
        sha256: item.sha256?.S ?? '',
        bytes: Number(item.bytes?.N ?? 0),
        updatedAt: item.updatedAt?.S ?? '',
      })),
    attach: async (attachment) => {
      await client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            ...key('attachment', attachmentKey(attachment)),
            selector: { S: selectorText(attachment.selector) },
            codec: { S: attachment.codec },
            ...(attachment.fPorts === undefined
              ? {}
              : { fPorts: { L: attachment.fPorts.map((port) => ({ N: String(port) })) } }),
            updatedAt: { S: new Date().toISOString() },
          },
        }),
      );
    },
    detach: (attachmentName) => remove('attachment', attachmentName),
  };
}

/** An attachment item; one the connector cannot read (edited by hand) is skipped, not fatal. */
function attachmentOf(item: Item): Attachment[] {
  const codec = item.codec?.S;
  const selector = item.selector?.S;
  if (codec === undefined || selector === undefined) return [];
  try {
    // Ports it cannot read are skipped with the item: read as absent, they would mean every port.
    const fPorts = item.fPorts === undefined ? undefined : portsOf(item.fPorts);
    return [
      { selector: parseSelector(selector), codec, ...(fPorts === undefined ? {} : { fPorts }) },
    ];
  } catch {
    return [];
  }
}

function portsOf(value: AttributeValue): number[] {
  const ports = value.L?.map((port) => Number(port.N));
  if (
    ports === undefined ||
    ports.length === 0 ||
    !ports.every((port) => fPortSchema.safeParse(port).success)
  )
    throw new RangeError('fPorts: expected a list of FPorts 1..223');
  return ports;
}

async function dependency<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const throttled =
      error instanceof Error &&
      /Throttl|ProvisionedThroughputExceeded|RequestLimitExceeded/.test(error.name);
    throw new DependencyError('CODEC_STORE_FAILED', `could not ${what}`, throttled, {
      cause: error,
    });
  }
}
