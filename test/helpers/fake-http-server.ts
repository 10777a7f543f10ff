import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A scriptable HTTP server for tests that play the part of OrbiWAN: it records every request and
// answers with whatever the test's responder says (or never answers, to test timeouts, or drops
// the connection, as a crash or a reset would).

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

type Answer = Reply | 'hang' | 'reset';
export type Responder = (request: RecordedRequest) => Answer | Promise<Answer>;

export interface FakeHttpServer {
  url: string;
  requests: RecordedRequest[];
  respond: (responder: Responder) => void;
  close: () => Promise<void>;
}

export async function startFakeHttpServer(
  responder: Responder = () => ({ status: 200 }),
  /** A port of the test's choosing (to come back on after a close); any free one by default. */
  port = 0,
): Promise<FakeHttpServer> {
  let current = responder;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const recorded = {
        method: request.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      void Promise.resolve(current(recorded)).then((reply) => {
        if (reply === 'hang') return;
        if (reply === 'reset') {
          request.socket.resetAndDestroy();
          return;
        }
        response
          .writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers })
          .end(reply.body ?? '');
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: listening } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(listening)}`,
    requests,
    respond: (next) => {
      current = next;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
