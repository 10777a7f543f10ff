import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestHandler, withDeadline } from '../../../functions/shared/clients/request-handler.js';

// Every AWS call made within withDeadline ends by the deadline, even one whose own timeouts would
// run past it; a call with time to spare runs under its own timeouts only.

let server: Server;
let client: DynamoDBClient;

beforeAll(async () => {
  // A dependency that accepts the request and never answers.
  server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    requestHandler: requestHandler(),
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const getItem = () => client.send(new GetItemCommand({ TableName: 't', Key: { k: { S: 'v' } } }));

describe('requestHandler', () => {
  it('aborts a call at the deadline, long before its own 5 s request timeout', async () => {
    const started = Date.now();

    await expect(withDeadline(started + 300, getItem)).rejects.toThrow();

    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('leaves a call with time to spare to its own request timeout', async () => {
    const started = Date.now();

    await expect(withDeadline(started + 60_000, getItem)).rejects.toThrow();

    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
  });
});
