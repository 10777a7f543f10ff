import type { AddressInfo } from 'node:net';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createTemplateTables } from '../../../local/aws/dynamodb.js';
import { loadTemplate } from '../../../local/template/sam-template.js';
import { sampleStack } from '../../helpers/sample-stack.js';

// The downlinks table in memory (dynalite, as the local stack runs it), created from template.yaml:
// the conditional writes of the downlink modules are really evaluated, not assumed by a mock.

export type Item = Record<string, AttributeValue>;

export interface DownlinksTable {
  /** Where the table answers: for a client of the test's own, or AWS_ENDPOINT_URL_DYNAMODB. */
  endpoint: string;
  client: DynamoDBClient;
  tableName: string;
  /** The item as it is stored, or undefined. */
  item: (devEui: string, itemKey: string) => Promise<Item | undefined>;
  /** Every item, in no particular order. */
  items: () => Promise<Item[]>;
  /** Deletes every item: each test starts from an empty table. */
  clear: () => Promise<void>;
  close: () => Promise<void>;
}

export async function startDownlinksTable(): Promise<DownlinksTable> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const template = loadTemplate();
  const stack = sampleStack({}, template);
  await createTemplateTables(template, stack, client);
  const tableName = stack.refs.DownlinksTable;
  if (tableName === undefined) throw new Error('template.yaml has no DownlinksTable');
  const key = (devEui: string, itemKey: string) => ({
    devEui: { S: devEui },
    itemKey: { S: itemKey },
  });
  return {
    endpoint,
    client,
    tableName,
    item: async (devEui, itemKey) =>
      (
        await client.send(
          new GetItemCommand({
            TableName: tableName,
            Key: key(devEui, itemKey),
            ConsistentRead: true,
          }),
        )
      ).Item,
    items: async () =>
      (await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }))).Items ??
      [],
    clear: async () => {
      const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName }));
      for (const item of Items)
        await client.send(
          new DeleteItemCommand({
            TableName: tableName,
            Key: key(item.devEui?.S ?? '', item.itemKey?.S ?? ''),
          }),
        );
    },
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      });
    },
  };
}

/**
 * The client, failing the requests `fault` returns an error for and passing the rest on: DynamoDB
 * failing at one step, while the table really holds what the other steps wrote.
 */
export function withFaults(
  client: DynamoDBClient,
  fault: (command: object) => Error | undefined,
): DynamoDBClient {
  const send = (command: Parameters<DynamoDBClient['send']>[0]) => {
    const error = fault(command);
    return error === undefined ? client.send(command) : Promise.reject(error);
  };
  return { send } as unknown as DynamoDBClient;
}

/**
 * The downlinks table of a test file: started before its tests, emptied before each, closed after.
 * With `forFunctions`, the functions' own DynamoDB client reaches it too (AWS_ENDPOINT_URL_DYNAMODB).
 * What it returns stands for the table once started.
 */
export function useDownlinksTable({ forFunctions = false } = {}): DownlinksTable {
  let table: DownlinksTable | undefined;
  const started = () => {
    if (table === undefined) throw new Error('the downlinks table is used before its tests start');
    return table;
  };
  beforeAll(async () => {
    table = await startDownlinksTable();
    if (forFunctions) process.env.AWS_ENDPOINT_URL_DYNAMODB = table.endpoint;
  });
  afterAll(async () => {
    if (forFunctions) delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
    await table?.close();
  });
  beforeEach(async () => {
    await table?.clear();
  });
  return {
    get endpoint() {
      return started().endpoint;
    },
    get client() {
      return started().client;
    },
    get tableName() {
      return started().tableName;
    },
    item: (devEui, itemKey) => started().item(devEui, itemKey),
    items: () => started().items(),
    clear: () => started().clear(),
    close: () => started().close(),
  };
}
