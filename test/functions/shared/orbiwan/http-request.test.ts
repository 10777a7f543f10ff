import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  IDLE_CONNECTION_KEPT_MS,
  httpRequest,
} from '../../../../functions/shared/orbiwan/http-request.js';

// The connection reuse of the OrbiWAN client: kept while it saves handshakes, let go of before a
// server's idle timeout could close it under a downlink POST.

let server: Server;
let url: URL;
const connections: Socket[] = [];

beforeAll(async () => {
  server = createServer((_, response) => response.end('ok'));
  // The server would keep the connection a minute: whoever closes it sooner is the client.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${String((server.address() as AddressInfo).port)}/`);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const post = () =>
  httpRequest({ method: 'POST', url, body: 'aa', connectTimeoutMs: 1_000, timeoutMs: 2_000 });

describe('httpRequest: connection reuse', () => {
  it('reuses a connection, and closes it once idle, sooner than a 5 s server keep-alive', async () => {
    expect(IDLE_CONNECTION_KEPT_MS).toBeLessThan(5_000);
    await post();
    await post();
    expect(connections).toHaveLength(1);
    const [connection] = connections;
    const idleSince = performance.now();

    await new Promise((resolve) => connection?.once('close', resolve));

    const idleMs = performance.now() - idleSince;
    expect(idleMs).toBeGreaterThanOrEqual(IDLE_CONNECTION_KEPT_MS - 100);
    expect(idleMs).toBeLessThan(5_000);
  }, 10_000);
});
