import { beforeEach, describe, expect, it } from 'vitest';
import {
  HttpRequestError,
  type HttpRequest,
  type HttpResponse,
} from '../../../../../functions/shared/orbiwan/http-request.js';
import { orbiwanAuth } from '../../../../../functions/shared/orbiwan/orbiwan-auth.js';
import { createOrbiwanClient } from '../../../../../functions/shared/orbiwan/orbiwan-client.js';

// OrbiwanClient.deviceProfileName: GET /rest/nodes/{DevEUI}?all=true for the device's
// device_profile_uuid, then GET /rest/device-profiles/{uuid} for its profile_name. OrbiWAN is a
// fake httpRequest that records every request and answers as each test says.

const BASE_URL = 'https://orbiwan.example.com';
const DEV_EUI = '70b3d57ed0001a2b';
const UUID = '5b7e2f3c-1a2b-4c5d-8e9f-0a1b2c3d4e5f';
const CREDENTIALS = { username: 'app-user', password: 's3cret', clientId: 'connector' };
const BASIC = `Basic ${Buffer.from('app-user:s3cret').toString('base64')}`;

type Answer = { status: number; body?: string; headers?: Record<string, string> } | Error;

let requests: HttpRequest[];
let answer: (request: HttpRequest) => Answer;
let tokensIssued: number;

async function fakeHttpRequest(request: HttpRequest): Promise<HttpResponse> {
  requests.push(request);
  if (request.url.pathname === '/rest/oauth2/token') {
    tokensIssued += 1;
    return response({
      status: 200,
      body: JSON.stringify({ access_token: `token-${String(tokensIssued)}`, expires_in: 3600 }),
    });
  }
  const reply = answer(request);
  if (reply instanceof Error) throw reply;
  return Promise.resolve(response(reply));
}

function response({ status, body = '', headers = {} }: Exclude<Answer, Error>): HttpResponse {
  return {
    status,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  };
}

/** OrbiWAN knowing the device, with profile `uuid` named `name`. */
function orbiwanWith(
  node: Record<string, unknown> = { deveui: DEV_EUI, device_profile_uuid: UUID },
  profile: Record<string, unknown> = { device_profile_uuid: UUID, profile_name: 'Thermostats' },
): (request: HttpRequest) => Answer {
  return (request) =>
    request.url.pathname.startsWith('/rest/nodes/')
      ? { status: 200, body: JSON.stringify(node) }
      : { status: 200, body: JSON.stringify(profile) };
}

function client(mode: 'basic' | 'oauth2' = 'basic') {
  const timeouts = { connectTimeoutMs: 500, timeoutMs: 1_000 };
  const auth = orbiwanAuth({
    mode,
    baseUrl: BASE_URL,
    credentials: () => Promise.resolve(CREDENTIALS),
    httpRequest: fakeHttpRequest,
    ...timeouts,
  });
  return createOrbiwanClient({
    baseUrl: BASE_URL,
    auth,
    httpRequest: fakeHttpRequest,
    ...timeouts,
  });
}

const gets = () => requests.filter((request) => request.method === 'GET');

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error as Error,
  );
}

beforeEach(() => {
  requests = [];
  tokensIssued = 0;
  answer = orbiwanWith();
});

describe('OrbiWAN client: deviceProfileName', () => {
  it("GETs the device, then its profile, with the connector's credentials, and answers the profile's name", async () => {
    await expect(client().deviceProfileName(DEV_EUI)).resolves.toBe('Thermostats');

    expect(gets().map((request) => request.url.href)).toEqual([
      `${BASE_URL}/rest/nodes/${DEV_EUI}?all=true`,
      `${BASE_URL}/rest/device-profiles/${UUID}`,
    ]);
    for (const request of gets()) {
      expect(request.headers).toEqual({ authorization: BASIC, accept: 'application/json' });
      expect(request.body).toBeUndefined();
      expect(request).toMatchObject({ connectTimeoutMs: 500, timeoutMs: 1_000 });
    }
  });

  it('sends the bearer token with both GETs under OAuth2', async () => {
    await expect(client('oauth2').deviceProfileName(DEV_EUI)).resolves.toBe('Thermostats');

    expect(gets().map((request) => request.headers?.authorization)).toEqual([
      'Bearer token-1',
      'Bearer token-1',
    ]);
  });

  it('URL-encodes the profile uuid into one path segment', async () => {
    answer = orbiwanWith({ device_profile_uuid: '../nodes/x?all=true#frag ment/é' });

    await client().deviceProfileName(DEV_EUI);

    const profileGet = gets()[1];
    expect(profileGet?.url.pathname).toBe(
      '/rest/device-profiles/..%2Fnodes%2Fx%3Fall%3Dtrue%23frag%20ment%2F%C3%A9',
    );
    expect(profileGet?.url.search).toBe('');
    expect(profileGet?.url.hash).toBe('');
  });

  it.each([
    ['no device_profile_uuid', {}],
    ['an empty device_profile_uuid', { device_profile_uuid: '' }],
    ['a null device_profile_uuid', { device_profile_uuid: null }],
    ['a numeric device_profile_uuid', { device_profile_uuid: 42 }],
  ])('answers undefined without a second GET for a device with %s', async (_, node) => {
    answer = orbiwanWith({ deveui: DEV_EUI, ...node });

    await expect(client().deviceProfileName(DEV_EUI)).resolves.toBeUndefined();
    expect(gets()).toHaveLength(1);
  });

  it.each([
    ['no profile_name', {}],
    ['a numeric profile_name', { profile_name: 7 }],
  ])('answers undefined for a profile with %s', async (_, profile) => {
    answer = orbiwanWith(undefined, profile);

    await expect(client().deviceProfileName(DEV_EUI)).resolves.toBeUndefined();
    expect(gets()).toHaveLength(2);
  });

  it('answers an empty profile name as it is', async () => {
    answer = orbiwanWith(undefined, { profile_name: '' });

    await expect(client().deviceProfileName(DEV_EUI)).resolves.toBe('');
  });

  it('fails with OrbiwanRejectedError when OrbiWAN does not know the device (404), asking no profile', async () => {
    answer = () => ({
      status: 404,
      body: 'node not found',
      headers: { 'content-type': 'text/plain' },
    });

    const error = await failure(client().deviceProfileName(DEV_EUI));

    expect(error).toMatchObject({
      name: 'OrbiwanRejectedError',
      message: `OrbiWAN refused to show device ${DEV_EUI} (404): node not found`,
    });
    expect(gets()).toHaveLength(1);
  });

  it('fails with OrbiwanRejectedError when the profile is gone (404)', async () => {
    answer = (request) =>
      request.url.pathname.startsWith('/rest/nodes/')
        ? { status: 200, body: JSON.stringify({ device_profile_uuid: UUID }) }
        : {
            status: 404,
            body: '{"title":"Not Found","detail":"no such profile"}',
            headers: { 'content-type': 'application/problem+json' },
          };

    await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanRejectedError',
      message: `OrbiWAN refused to show device profile ${UUID} (404): no such profile`,
    });
  });

  it.each([500, 502, 503])(
    'fails with OrbiwanUnavailableError when OrbiWAN answers %i',
    async (status) => {
      answer = () => ({ status, body: 'down' });

      await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
        name: 'OrbiwanUnavailableError',
        message: `OrbiWAN failed to show device ${DEV_EUI} (${String(status)}): down`,
      });
    },
  );

  it('fails with OrbiwanUnavailableError when the profile GET answers 500', async () => {
    answer = (request) =>
      request.url.pathname.startsWith('/rest/nodes/')
        ? { status: 200, body: JSON.stringify({ device_profile_uuid: UUID }) }
        : { status: 500 };

    await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message: `OrbiWAN failed to show device profile ${UUID} (500)`,
    });
  });

  it('fails with OrbiwanNotReachedError when OrbiWAN throttles (429)', async () => {
    answer = () => ({ status: 429 });

    await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
      message: `OrbiWAN throttled the request for device ${DEV_EUI}`,
    });
  });

  it.each([
    ['text that is not JSON', '<html>maintenance</html>'],
    ['JSON null', 'null'],
    ['a JSON string', '"Thermostats"'],
    ['an empty body', ''],
  ])(
    'fails with OrbiwanUnavailableError when the device GET answers 200 with %s',
    async (_, body) => {
      answer = () => ({ status: 200, body });

      await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
        name: 'OrbiwanUnavailableError',
        message: expect.stringContaining(`OrbiWAN's device ${DEV_EUI} is not a JSON object`),
      });
      expect(gets()).toHaveLength(1);
    },
  );

  it('fails with OrbiwanUnavailableError when the profile GET answers with text that is not JSON', async () => {
    answer = (request) =>
      request.url.pathname.startsWith('/rest/nodes/')
        ? { status: 200, body: JSON.stringify({ device_profile_uuid: UUID }) }
        : { status: 200, body: 'Thermostats' };

    await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message: `OrbiWAN's device profile ${UUID} is not a JSON object: Thermostats`,
    });
  });

  it('fails with OrbiwanNotReachedError when OrbiWAN cannot be reached', async () => {
    answer = () => new HttpRequestError('connect ECONNREFUSED', 'ECONNREFUSED', false);

    await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
      message: 'OrbiWAN could not be reached (ECONNREFUSED)',
    });
  });

  it('fails with OrbiwanUnavailableError when OrbiWAN does not answer in time', async () => {
    answer = () => new HttpRequestError('timed out', 'RESPONSE_TIMEOUT', true);

    await expect(client().deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message: 'OrbiWAN did not answer (RESPONSE_TIMEOUT)',
    });
  });
});

describe('OrbiWAN client: deviceProfileName when the token expires (401)', () => {
  /** OrbiWAN answering 401 to the GET whose path starts with `path`, once, then as usual. */
  function one401On(path: string): (request: HttpRequest) => Answer {
    const usual = orbiwanWith();
    let refused = false;
    return (request) => {
      if (!refused && request.url.pathname.startsWith(path)) {
        refused = true;
        return { status: 401 };
      }
      return usual(request);
    };
  }

  it('logs in again and repeats the device GET once with the fresh token', async () => {
    const orbiwan = client('oauth2');
    answer = one401On('/rest/nodes/');

    await expect(orbiwan.deviceProfileName(DEV_EUI)).resolves.toBe('Thermostats');

    expect(gets().map((request) => [request.url.pathname, request.headers?.authorization])).toEqual(
      [
        [`/rest/nodes/${DEV_EUI}`, 'Bearer token-1'],
        [`/rest/nodes/${DEV_EUI}`, 'Bearer token-2'],
        [`/rest/device-profiles/${UUID}`, 'Bearer token-2'],
      ],
    );
  });

  it('logs in again and repeats the profile GET once with the fresh token', async () => {
    answer = one401On('/rest/device-profiles/');

    await expect(client('oauth2').deviceProfileName(DEV_EUI)).resolves.toBe('Thermostats');

    expect(gets().map((request) => [request.url.pathname, request.headers?.authorization])).toEqual(
      [
        [`/rest/nodes/${DEV_EUI}`, 'Bearer token-1'],
        [`/rest/device-profiles/${UUID}`, 'Bearer token-1'],
        [`/rest/device-profiles/${UUID}`, 'Bearer token-2'],
      ],
    );
  });

  it('gives up with OrbiwanRejectedError when the fresh token is refused too', async () => {
    answer = () => ({ status: 401, body: 'expired' });

    await expect(client('oauth2').deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanRejectedError',
      message: "OrbiWAN refused the connector's credentials (401): expired",
    });
    expect(gets()).toHaveLength(2);
    expect(tokensIssued).toBe(2);
  });

  it('does not ask again with Basic credentials, which a retry cannot change', async () => {
    answer = () => ({ status: 401 });

    await expect(client('basic').deviceProfileName(DEV_EUI)).rejects.toMatchObject({
      name: 'OrbiwanRejectedError',
    });
    expect(gets()).toHaveLength(1);
  });
});
