import { rawOrbiwanId } from '../raw-json.js';
import {
  HttpRequestError,
  httpRequest as defaultHttpRequest,
  type HttpResponse,
} from './http-request.js';
import type { OrbiwanAuth } from './orbiwan-auth.js';
import {
  DeviceBusyError,
  OrbiwanNotReachedError,
  OrbiwanRejectedError,
  OrbiwanUnavailableError,
  UnknownDeviceError,
} from './orbiwan-errors.js';

/** What OrbiWAN does with a downlink for a device that has some pending: its `mode` parameter. */
export const DOWNLINK_MODES = ['enqueue_on_busy', 'fail_on_busy', 'replace_on_busy'] as const;

export type DownlinkMode = (typeof DOWNLINK_MODES)[number];

export interface DownlinkToEnqueue {
  /** 16 lowercase hex digits. */
  devEui: string;
  /** Hex payload, even length. */
  data: string;
  port: number;
  confirmed: boolean;
  mode: DownlinkMode;
  fcnt?: number | undefined;
}

export interface EnqueuedDownlink {
  /** OrbiWAN's 64-bit id, as the digits it sent. */
  id: string;
  fcnt: number | undefined;
  transmissionStatus: number;
  /** OrbiWAN's reply, byte for byte. */
  reply: Buffer;
}

export interface OrbiwanClientOptions {
  /** Without /rest and without a trailing slash. */
  baseUrl: string;
  auth: OrbiwanAuth;
  connectTimeoutMs: number;
  timeoutMs: number;
  httpRequest?: typeof defaultHttpRequest;
  now?: () => number;
}

/** A downlink as OrbiWAN reports it now (GET .../payloads/dl/{id}). */
export interface DownlinkAtOrbiwan {
  id: string;
  transmissionStatus: number;
  /** OrbiWAN's reply, byte for byte. */
  reply: Buffer;
}

/**
 * The body of PUT /rest/pushmode/start: OrbiWAN then calls
 * `{host}:{port}{path_prefix}/rest/callback/{path}` for every subscribed topic.
 */
export interface PushModeStart {
  /** With scheme, without path, e.g. https://abc.execute-api.eu-west-1.amazonaws.com. */
  host: string;
  port: number;
  path_prefix: string;
  /** OrbiWAN sends it as `Authorization: Bearer <token>` on every push. */
  push_auth_access_token: string;
  data_format: 'base64' | 'hex';
  /** Comma list of push topics (payloads_ul, joininfo, ...). */
  push_subscription: string;
  /** 0: OrbiWAN keeps what it could not push, for later, rather than retrying. */
  retry_policy: number;
}

export interface EnqueueOptions {
  /**
   * The latest time a second login and POST may start after OrbiWAN refused the token (401);
   * later, the POST fails with OrbiwanNotReachedError instead (a 401 queued nothing).
   */
  retryUntil?: number;
}

export interface OrbiwanClient {
  /** Has the credentials and, with OAuth2, a token ready, so a POST that follows need not wait. */
  logIn: () => Promise<void>;
  enqueueDownlink: (
    downlink: DownlinkToEnqueue,
    options?: EnqueueOptions,
  ) => Promise<EnqueuedDownlink>;
  /** Asks OrbiWAN where a downlink stands: for when its status pushes were lost. */
  downlinkAtOrbiwan: (devEui: string, id: string) => Promise<DownlinkAtOrbiwan>;
  /**
   * The name of the device's device profile, or undefined when it has none: GET
   * /rest/nodes/{DevEUI}?all=true for its device_profile_uuid, then GET /rest/device-profiles/{uuid}.
   */
  deviceProfileName: (devEui: string) => Promise<string | undefined>;
  /** PUT /rest/pushmode/start: from now on OrbiWAN pushes to the body's host. */
  startPushMode: (body: PushModeStart) => Promise<void>;
  /** PUT /rest/pushmode/stop: OrbiWAN pushes no more. */
  stopPushMode: () => Promise<void>;
}

export function createOrbiwanClient({
  baseUrl,
  auth,
  connectTimeoutMs,
  timeoutMs,
  httpRequest = defaultHttpRequest,
  now = Date.now,
}: OrbiwanClientOptions): OrbiwanClient {
  async function send(
    method: 'GET' | 'POST' | 'PUT',
    url: URL,
    body?: string,
    contentType = 'text/plain',
  ): Promise<HttpResponse> {
    try {
      return await httpRequest({
        method,
        url,
        headers: {
          authorization: await auth.authorization(),
          ...(body === undefined ? {} : { 'content-type': contentType }),
          accept: 'application/json',
        },
        ...(body === undefined ? {} : { body }),
        connectTimeoutMs,
        timeoutMs,
      });
    } catch (error) {
      if (!(error instanceof HttpRequestError)) throw error;
      throw error.mayHaveReachedServer
        ? new OrbiwanUnavailableError(
            method === 'POST'
              ? `OrbiWAN did not answer the downlink POST (${error.code}); it may have queued it`
              : `OrbiWAN did not answer (${error.code})`,
            { cause: error },
          )
        : new OrbiwanNotReachedError(`OrbiWAN could not be reached (${error.code})`, {
            cause: error,
          });
    }
  }

  // A 401 means OrbiWAN processed nothing: with a fresh token, one more try is safe.
  async function sendWithFreshTokenOn401(
    method: 'GET' | 'POST' | 'PUT',
    url: URL,
    body?: string,
    contentType?: string,
    retryUntil = Number.POSITIVE_INFINITY,
  ) {
    const response = await send(method, url, body, contentType);
    if (response.status !== 401 || !auth.rejected()) return response;
    if (now() > retryUntil)
      throw new OrbiwanNotReachedError(
        "OrbiWAN refused the connector's token (401), and there is no time left to log in again; nothing was queued",
      );
    return send(method, url, body, contentType);
  }

  return {
    logIn: async () => {
      await auth.authorization();
    },
    enqueueDownlink: async (downlink, { retryUntil } = {}) => {
      const response = await sendWithFreshTokenOn401(
        'POST',
        enqueueUrl(baseUrl, downlink),
        downlink.data,
        undefined,
        retryUntil,
      );
      return enqueuedDownlink(response, downlink.devEui);
    },
    downlinkAtOrbiwan: async (devEui, id) => {
      const url = new URL(`${baseUrl}/rest/nodes/${devEui}/payloads/dl/${id}`);
      return downlinkAtOrbiwan(await sendWithFreshTokenOn401('GET', url), devEui, id);
    },
    deviceProfileName: async (devEui) => {
      const node = new URL(`${baseUrl}/rest/nodes/${devEui}`);
      node.searchParams.set('all', 'true');
      const { device_profile_uuid: uuid } = readReply(
        await sendWithFreshTokenOn401('GET', node),
        `device ${devEui}`,
      );
      if (typeof uuid !== 'string' || uuid === '') return undefined;
      const profile = new URL(`${baseUrl}/rest/device-profiles/${encodeURIComponent(uuid)}`);
      const { profile_name: name } = readReply(
        await sendWithFreshTokenOn401('GET', profile),
        `device profile ${uuid}`,
      );
      return typeof name === 'string' ? name : undefined;
    },
    // Starting again replaces the target: both calls may be repeated safely.
    startPushMode: async (body) => {
      const url = new URL(`${baseUrl}/rest/pushmode/start`);
      const json = JSON.stringify(body);
      pushModeReply(await sendWithFreshTokenOn401('PUT', url, json, 'application/json'), 'start');
    },
    stopPushMode: async () => {
      const url = new URL(`${baseUrl}/rest/pushmode/stop`);
      pushModeReply(await sendWithFreshTokenOn401('PUT', url), 'stop');
    },
  };
}

/** POST /rest/nodes/{DevEUI}/payloads/dl?port=..&confirmed=..&mode=..&data_format=hex[&fcnt=..] */
export function enqueueUrl(
  baseUrl: string,
  { devEui, port, confirmed, mode, fcnt }: DownlinkToEnqueue,
): URL {
  const url = new URL(`${baseUrl}/rest/nodes/${devEui}/payloads/dl`);
  url.searchParams.set('port', String(port));
  url.searchParams.set('confirmed', String(confirmed));
  url.searchParams.set('mode', mode);
  url.searchParams.set('data_format', 'hex');
  if (fcnt !== undefined) url.searchParams.set('fcnt', String(fcnt));
  return url;
}

function enqueuedDownlink(response: HttpResponse, devEui: string): EnqueuedDownlink {
  const { status, body } = response;
  if (status !== 200 && status !== 201) {
    throw orbiwanError(
      response,
      {
        throttled: 'OrbiWAN throttled the downlink POST',
        refused: `OrbiWAN refused the downlink (${status})`,
        failed: `OrbiWAN failed the downlink POST (${status}); it may have queued it`,
      },
      {
        404: (detail) => new UnknownDeviceError(`OrbiWAN does not know device ${devEui}${detail}`),
        409: (detail) =>
          new DeviceBusyError(`OrbiWAN's downlink queue for ${devEui} is busy${detail}`),
      },
    );
  }
  // It was queued, but a reply the connector cannot read leaves it unable to follow the
  // downlink: reported as unavailable, never as something to resend.
  const text = body.toString('utf8');
  const id = rawOrbiwanId(text);
  if (id === undefined || !/^\d+$/.test(id)) {
    throw new OrbiwanUnavailableError(
      `OrbiWAN accepted the downlink but its reply has no id: ${excerpt(text)}`,
    );
  }
  const reply = successReply(text, 'OrbiWAN accepted the downlink but its reply');
  return {
    id,
    fcnt: typeof reply.fcnt === 'number' ? reply.fcnt : undefined,
    transmissionStatus: typeof reply.transmissionStatus === 'number' ? reply.transmissionStatus : 0,
    reply: body,
  };
}

function downlinkAtOrbiwan(response: HttpResponse, devEui: string, id: string): DownlinkAtOrbiwan {
  const { status, body } = response;
  if (status !== 200) {
    throw orbiwanError(
      response,
      {
        throttled: 'OrbiWAN throttled the request',
        refused: `OrbiWAN refused to show downlink ${id} (${status})`,
        failed: `OrbiWAN failed to show downlink ${id} (${status})`,
      },
      {
        404: (detail) =>
          new OrbiwanRejectedError(`OrbiWAN has no downlink ${id} for ${devEui}${detail}`),
      },
    );
  }
  const text = body.toString('utf8');
  const { transmissionStatus } = successReply(text, `OrbiWAN's downlink ${id}`);
  if (
    typeof transmissionStatus !== 'number' ||
    !Number.isInteger(transmissionStatus) ||
    transmissionStatus < 0 ||
    transmissionStatus > 5
  )
    throw new OrbiwanUnavailableError(
      `OrbiWAN's downlink ${id} has no transmissionStatus 0..5: ${excerpt(text)}`,
    );
  return { id, transmissionStatus, reply: body };
}

/** The JSON object a GET answered with. */
function readReply(response: HttpResponse, what: string): Record<string, unknown> {
  if (response.status !== 200)
    throw orbiwanError(response, {
      throttled: `OrbiWAN throttled the request for ${what}`,
      refused: `OrbiWAN refused to show ${what} (${response.status})`,
      failed: `OrbiWAN failed to show ${what} (${response.status})`,
    });
  return successReply(response.body.toString('utf8'), `OrbiWAN's ${what}`);
}

function pushModeReply(response: HttpResponse, action: 'start' | 'stop'): void {
  const { status } = response;
  if (status >= 200 && status < 300) return;
  throw orbiwanError(response, {
    throttled: `OrbiWAN throttled the push mode ${action}`,
    refused: `OrbiWAN refused to ${action} push mode (${status})`,
    failed: `OrbiWAN failed to ${action} push mode (${status})`,
  });
}

/** How one operation words its failures; the status's detail is appended to each. */
interface FailureWording {
  /** For a 429. */
  throttled: string;
  /** For a 4xx the operation has no particular error for. */
  refused: string;
  /** For anything else: a 5xx, or a status the operation does not expect. */
  failed: string;
}

/** The errors an operation has for particular statuses (404, 409), given the status's detail. */
type ParticularErrors = Partial<Record<number, (detail: string) => Error>>;

/**
 * The typed error for a reply that is not the operation's success, which is what the state
 * machine's Retry and Catch act on: refused (never retried), not reached (safe to retry), or
 * unavailable (OrbiWAN may have acted).
 */
function orbiwanError(
  response: HttpResponse,
  wording: FailureWording,
  particular: ParticularErrors = {},
): Error {
  const { status } = response;
  const detail = errorDetail(response);
  const particularError = particular[status];
  if (particularError !== undefined) return particularError(detail);
  if (status === 401)
    return new OrbiwanRejectedError(`OrbiWAN refused the connector's credentials (401)${detail}`);
  if (status === 429) return new OrbiwanNotReachedError(`${wording.throttled}${detail}`);
  if (status >= 400 && status < 500) return new OrbiwanRejectedError(`${wording.refused}${detail}`);
  return new OrbiwanUnavailableError(`${wording.failed}${detail}`);
}

/**
 * The members of a success reply. One that is not a JSON object means OrbiWAN acted but the
 * connector cannot tell how: OrbiwanUnavailableError, like any other unreadable outcome.
 */
function successReply(text: string, whatIsRead: string): Record<string, unknown> {
  let reply: unknown;
  try {
    reply = JSON.parse(text);
  } catch {
    reply = undefined;
  }
  if (typeof reply !== 'object' || reply === null)
    throw new OrbiwanUnavailableError(`${whatIsRead} is not a JSON object: ${excerpt(text)}`);
  return reply as Record<string, unknown>;
}

// OrbiWAN answers errors in text/plain, or RFC 7807 JSON when asked: either way, a short excerpt.
function errorDetail({ body, headers }: HttpResponse): string {
  const text = body.toString('utf8').trim();
  if (text === '') return '';
  if ((headers['content-type'] ?? '').includes('json')) {
    try {
      const problem = JSON.parse(text) as { detail?: unknown; title?: unknown };
      const message = problem.detail ?? problem.title;
      if (typeof message === 'string') return `: ${excerpt(message)}`;
    } catch {
      // Not JSON after all: use the text.
    }
  }
  return `: ${excerpt(text)}`;
}

function excerpt(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}
