import type { PushTarget } from './orbiwan-simulator.js';
import { RestError } from './http-messages.js';
import type { DataFormat } from './payload-encoding.js';
import { isPushTopic, PUSH_TOPICS, type PushTopic } from './push-topics.js';

// A push target as the simulator uses it, whichever way it was set: from the options, or from a
// PUT /rest/pushmode/start body with any of OrbiWAN's three auth options.

export interface PushDestination {
  host: string;
  port: number;
  pathPrefix: string;
  /** The Authorization header value, if any. */
  authorization: string | undefined;
  dataFormat: DataFormat;
  subscriptions: ReadonlySet<PushTopic>;
}

export function destinationFromTarget(target: PushTarget): PushDestination {
  if (!URL.canParse(target.host) || !/^https?:$/.test(new URL(target.host).protocol))
    throw new Error(`push host ${target.host} is not an http(s) URL`);
  return {
    host: target.host,
    port: target.port,
    pathPrefix: target.pathPrefix,
    authorization: `Bearer ${target.accessToken}`,
    dataFormat: target.dataFormat,
    subscriptions: new Set(target.subscriptions.filter(isPushTopic)),
  };
}

export function destinationFromPushmodeStart(body: unknown): PushDestination {
  if (typeof body !== 'object' || body === null) throw badRequest('the body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const { host, path_prefix: pathPrefix = '', data_format: dataFormat = 'base64' } = fields;
  if (typeof host !== 'string' || !/^https?:\/\/[^/]+$/.test(host))
    throw badRequest('host must be a scheme and a host name, e.g. https://example.com');
  const port = Number(fields.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw badRequest('port must be 1..65535');
  if (typeof pathPrefix !== 'string') throw badRequest('path_prefix must be a string');
  if (dataFormat !== 'base64' && dataFormat !== 'hex')
    throw badRequest('data_format must be base64 or hex');
  return {
    host,
    port,
    pathPrefix,
    authorization: authorizationOf(fields),
    dataFormat,
    subscriptions: subscriptionsOf(fields.push_subscription),
  };
}

/** What GET /rest/pushmode/status shows: never the credentials. */
export function pushmodeStatus(
  destination: PushDestination | undefined,
  running: boolean,
): Record<string, unknown> {
  if (destination === undefined) return { running };
  return {
    running,
    host: destination.host,
    port: destination.port,
    path_prefix: destination.pathPrefix,
    data_format: destination.dataFormat,
    push_subscription: [...destination.subscriptions].join(','),
  };
}

function authorizationOf(fields: Record<string, unknown>): string | undefined {
  const {
    push_auth_access_token: token,
    push_auth_username: user,
    push_auth_password: password,
  } = fields;
  if (typeof token === 'string') return `Bearer ${token}`;
  if (typeof user === 'string' && typeof password === 'string')
    return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  return typeof fields.auth_string === 'string' ? fields.auth_string : undefined;
}

function subscriptionsOf(value: unknown): ReadonlySet<PushTopic> {
  // OrbiWAN's default when none is given is not documented: push everything.
  if (value === undefined) return new Set(Object.keys(PUSH_TOPICS).filter(isPushTopic));
  if (typeof value !== 'string') throw badRequest('push_subscription must be a comma list');
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !isPushTopic(name));
  if (unknown.length > 0)
    throw badRequest(`unknown push_subscription topics: ${unknown.join(',')}`);
  return new Set(names.filter(isPushTopic));
}

function badRequest(message: string): RestError {
  return new RestError(400, message);
}
