import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DataFormat } from './payload-encoding.js';
import type { PushDestination } from './push-destination.js';
import { PUSH_TOPICS, type PushTopic } from './push-topics.js';

// Sends pushes the way OrbiWAN does: once, never retried, whatever the answer.

const PUSH_TIMEOUT_MS = 10_000;

/** Builds the JSON text of a push; the encoding of payloads depends on the destination. */
export type PushBody = (dataFormat: DataFormat) => string;

export interface PushClient {
  destination: () => PushDestination | undefined;
  running: () => boolean;
  start: (destination: PushDestination) => void;
  stop: () => void;
  /** Resolves when answered (or failed); never rejects. Does nothing for unsubscribed topics. */
  push: (topic: PushTopic, body: PushBody) => Promise<void>;
  idle: () => Promise<void>;
  counts: () => { pushes: number; failedPushes: number };
  /** Abandons pushes in flight (they count as failed) and sends no more. */
  close: () => void;
}

export function createPushClient(initial: PushDestination | undefined): PushClient {
  let destination = initial;
  let running = initial !== undefined;
  let closed = false;
  let pushes = 0;
  let failedPushes = 0;
  const inFlight = new Set<Promise<void>>();
  const requests = new Set<ClientRequest>();

  const deliver = (target: PushDestination, topic: PushTopic, text: string): Promise<boolean> =>
    new Promise((resolve) => {
      const { method, path } = PUSH_TOPICS[topic];
      // The port field wins over one written in host (http://127.0.0.1:3000 is common).
      const url = new URL(target.host);
      url.port = String(target.port);
      url.pathname = `${target.pathPrefix}/rest/callback/${path}`;
      const headers: Record<string, string | number> = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      };
      if (target.authorization !== undefined) headers.authorization = target.authorization;
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      // A fresh connection per push: no idle keep-alive socket outlives close().
      const request = send(url, { method, headers, agent: false, timeout: PUSH_TIMEOUT_MS });
      requests.add(request);
      request.on('response', (response) => {
        response.on('error', () => {
          resolve(false);
        });
        response.on('close', () => {
          const status = response.statusCode ?? 0;
          resolve(response.complete && status >= 200 && status < 300);
        });
        response.resume();
      });
      request.on('timeout', () => request.destroy(new Error('push timed out')));
      request.on('error', () => {
        resolve(false);
      });
      request.on('close', () => requests.delete(request));
      request.end(text);
    });

  const push = (topic: PushTopic, body: PushBody): Promise<void> => {
    const target = destination;
    if (closed || !running || target === undefined || !target.subscriptions.has(topic))
      return Promise.resolve();
    const delivery: Promise<void> = deliver(target, topic, body(target.dataFormat))
      .catch(() => false)
      .then((ok) => {
        if (ok) pushes += 1;
        else failedPushes += 1;
        inFlight.delete(delivery);
      });
    inFlight.add(delivery);
    return delivery;
  };

  return {
    destination: () => destination,
    running: () => running,
    start: (next) => {
      destination = next;
      running = true;
    },
    stop: () => {
      running = false;
    },
    push,
    idle: async () => {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    counts: () => ({ pushes, failedPushes }),
    close: () => {
      closed = true;
      for (const request of requests) request.destroy();
    },
  };
}
