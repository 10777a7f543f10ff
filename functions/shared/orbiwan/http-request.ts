import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';

// A small HTTP client over node:http that knows what fetch does not say: whether a failed request
// can have reached the server. A downlink POST that certainly did not (connection refused, name
// not resolved, connect timeout) may be retried; one that may have (reset or timed out after
// connecting) must not be, or OrbiWAN could queue it twice.

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: string;
  /** Time allowed to open the connection (TCP and TLS). */
  connectTimeoutMs: number;
  /** Time allowed for the whole exchange, connection included. */
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class HttpRequestError extends Error {
  override name = 'HttpRequestError';
  constructor(
    message: string,
    /** ECONNREFUSED, ENOTFOUND, CONNECT_TIMEOUT, RESPONSE_TIMEOUT, ECONNRESET, ... */
    readonly code: string,
    /** False only when the request certainly never reached the server. */
    readonly mayHaveReachedServer: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * How long an idle connection is kept for reuse when the server does not say how long it keeps
 * it. Servers close theirs after a while (5 s is a common default), and a POST written into a
 * connection the server has just closed fails after it was sent: a downlink that would then end
 * ORBIWAN_UNAVAILABLE, "may have been queued". So the connector lets go of an idle connection
 * before the server does.
 */
export const IDLE_CONNECTION_KEPT_MS = 4_000;

/** Kept back from what a server announces (Keep-Alive: timeout=N): a second, as Node does. */
const ANNOUNCED_TIMEOUT_MARGIN_MS = 1_000;

/** How long each idle connection may be reused, and since when it is idle. */
const idleConnections = new WeakMap<Duplex, { keptMs: number; idleSince: number }>();
/** What each connection's last response said of its keep-alive timeout, in ms. */
const announcedTimeouts = new WeakMap<Duplex, number>();

/**
 * An agent that keeps an idle connection for as long as the server announces it keeps it
 * (Keep-Alive: timeout=N, less a second), else IDLE_CONNECTION_KEPT_MS, so a warm function reuses
 * its connection (and TLS session) to OrbiWAN from one downlink to the next.
 */
function reusingAgent<A extends http.Agent>(agent: A): A {
  // Node's keepSocketAlive answers whether the connection may be kept (its typings say void).
  const keepSocketAlive: (socket: Duplex) => unknown = agent.keepSocketAlive.bind(agent);
  agent.keepSocketAlive = (socket) => {
    const announced = announcedTimeouts.get(socket);
    const keptMs =
      announced === undefined ? IDLE_CONNECTION_KEPT_MS : announced - ANNOUNCED_TIMEOUT_MARGIN_MS;
    if (keptMs <= 0 || keepSocketAlive(socket) === false) return false;
    (socket as Duplex & { setTimeout: (ms: number) => void }).setTimeout(keptMs);
    idleConnections.set(socket, { keptMs, idleSince: Date.now() });
    return true;
  };
  return agent;
}

// The agents' timeout only closes idle connections: a request in flight has its own timers below.
// An hour here lets the server's announcement decide (reusingAgent); without one, 4 s.
const agents = {
  'http:': reusingAgent(
    new http.Agent({ keepAlive: true, timeout: 3_600_000, scheduling: 'fifo' }),
  ),
  'https:': reusingAgent(
    new https.Agent({ keepAlive: true, timeout: 3_600_000, scheduling: 'fifo' }),
  ),
};

/**
 * Lets go of idle connections kept past their time. Their timers close them, but not while
 * Lambda has the function frozen between invocations: after a thaw, a connection the server closed
 * long ago would otherwise be the one a POST is written into.
 */
async function dropStaleConnections(agent: http.Agent): Promise<void> {
  let dropped = false;
  for (const sockets of Object.values(agent.freeSockets))
    for (const socket of sockets ?? []) {
      const idle = idleConnections.get(socket);
      if (idle === undefined || Date.now() - idle.idleSince < idle.keptMs) continue;
      socket.destroy();
      dropped = true;
    }
  // The agent forgets a destroyed connection once it has closed.
  if (dropped) await nextTurn();
}

export async function httpRequest(request: HttpRequest): Promise<HttpResponse> {
  const { url } = request;
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new HttpRequestError(`unsupported protocol ${url.protocol}`, 'EPROTO', false);
  await dropStaleConnections(agents[url.protocol]);
  return send(request, url.protocol === 'https:' ? https : http);
}

function send(request: HttpRequest, transport: typeof http | typeof https): Promise<HttpResponse> {
  const { url, method, headers = {}, body, connectTimeoutMs, timeoutMs } = request;
  return new Promise((resolve, reject) => {
    let connected = false;
    const outgoing = transport.request(url, {
      method,
      agent: agents[url.protocol as 'http:' | 'https:'],
      headers:
        body === undefined
          ? headers
          : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    const fail = (error: HttpRequestError) => {
      clearTimeout(overall);
      outgoing.destroy(error);
    };
    const overall = setTimeout(() => {
      fail(
        connected
          ? new HttpRequestError(`no answer within ${timeoutMs} ms`, 'RESPONSE_TIMEOUT', true)
          : new HttpRequestError(`no connection within ${timeoutMs} ms`, 'CONNECT_TIMEOUT', false),
      );
    }, timeoutMs);

    outgoing.on('socket', (socket) => {
      if (!socket.connecting) {
        connected = true;
        return;
      }
      const connectTimer = setTimeout(() => {
        fail(
          new HttpRequestError(
            `no connection within ${connectTimeoutMs} ms`,
            'CONNECT_TIMEOUT',
            false,
          ),
        );
      }, connectTimeoutMs);
      const ready = url.protocol === 'https:' ? 'secureConnect' : 'connect';
      socket.once(ready, () => {
        connected = true;
        clearTimeout(connectTimer);
      });
      socket.once('close', () => {
        clearTimeout(connectTimer);
      });
    });

    outgoing.on('response', (response) => {
      const keepAlive = response.headers['keep-alive'];
      const announced = /^timeout=(\d+)/.exec(typeof keepAlive === 'string' ? keepAlive : '')?.[1];
      if (announced !== undefined) announcedTimeouts.set(response.socket, Number(announced) * 1000);
      else announcedTimeouts.delete(response.socket);
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        clearTimeout(overall);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
        });
      });
      response.on('error', (error) => {
        clearTimeout(overall);
        reject(
          new HttpRequestError(`answer broken off: ${error.message}`, 'ECONNRESET', true, {
            cause: error,
          }),
        );
      });
    });

    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(overall);
      if (error instanceof HttpRequestError) {
        reject(error);
        return;
      }
      const code = error.code ?? 'EUNKNOWN';
      reject(
        new HttpRequestError(`${method} ${url.host} failed: ${code}`, code, connected, {
          cause: error,
        }),
      );
    });

    outgoing.end(body);
  });
}
