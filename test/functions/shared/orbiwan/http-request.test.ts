import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  IDLE_CONNECTION_KEPT_MS,
  httpRequest,
} from '../../../../functions/shared/orbiwan/http-request.js';

// The connection reuse of the OrbiWAN client: kept while it saves handshakes (as long as the
// server says it keeps it), let go of before the server could close it under a downlink POST.

interface TestServer {
  url: URL;
  connections: Socket[];
  close: () => Promise<void>;
}

/** A server keeping idle connections `keepAliveSeconds` (announced), or without announcing (0). */
async function startServer(keepAliveSeconds: number): Promise<TestServer> {
  const connections: Socket[] = [];
  const server: Server = createServer((_, response) => response.end('ok'));
  // 0: Node neither times idle connections out nor sends a Keep-Alive header.
  server.keepAliveTimeout = keepAliveSeconds * 1000;
  server.on('connection', (socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: new URL(`http://127.0.0.1:${String((server.address() as AddressInfo).port)}/`),
    connections,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let silent: TestServer;
let announcing: TestServer;

beforeAll(async () => {
  silent = await startServer(0);
  announcing = await startServer(2);
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await silent.close();
  await announcing.close();
});

const post = (url: URL) =>
  httpRequest({ method: 'POST', url, body: 'aa', connectTimeoutMs: 1_000, timeoutMs: 2_000 });

const closed = (socket: Socket | undefined) =>
  new Promise((resolve) => socket?.once('close', resolve));

describe('httpRequest: connection reuse', () => {
  it('reuses a connection, and closes it once idle, sooner than a 5 s server keep-alive, when the server does not say', async () => {
    expect(IDLE_CONNECTION_KEPT_MS).toBeLessThan(5_000);
    await post(silent.url);
    await post(silent.url);
    expect(silent.connections).toHaveLength(1);
    const idleSince = performance.now();

    await closed(silent.connections[0]);

    const idleMs = performance.now() - idleSince;
    expect(idleMs).toBeGreaterThanOrEqual(IDLE_CONNECTION_KEPT_MS - 100);
    expect(idleMs).toBeLessThan(5_000);
  }, 10_000);

  it('keeps a connection as long as the server announces (Keep-Alive: timeout=2), less a second', async () => {
    await post(announcing.url);
    const idleSince = performance.now();
    await post(announcing.url);
    expect(announcing.connections).toHaveLength(1);

    await closed(announcing.connections[0]);

    const idleMs = performance.now() - idleSince;
    expect(idleMs).toBeGreaterThanOrEqual(900);
    expect(idleMs).toBeLessThan(2_000);
  }, 10_000);

  it('opens a new connection after a pause its idle timer could not see (a frozen Lambda)', async () => {
    const before = silent.connections.length;
    await post(silent.url);
    // Lambda froze the function longer than the connection may be kept; its timer never ran.
    const now = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(now + IDLE_CONNECTION_KEPT_MS + 1);

    await post(silent.url);

    expect(silent.connections.length - before).toBe(2);
  });
});
