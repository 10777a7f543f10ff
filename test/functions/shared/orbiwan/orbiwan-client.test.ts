import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  orbiwanAuth,
  type OrbiwanAuthMode,
} from '../../../../functions/shared/orbiwan/orbiwan-auth.js';
import {
  createOrbiwanClient,
  type DownlinkToEnqueue,
  type PushModeStart,
} from '../../../../functions/shared/orbiwan/orbiwan-client.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type Reply,
  type Responder,
} from '../../../helpers/fake-http-server.js';

const credentials = { username: 'app-user', password: 's3cret pass&word', clientId: 'connector' };
const downlink: DownlinkToEnqueue = {
  devEui: '70b3d57ed0001a2b',
  data: 'aabbcc',
  port: 20,
  confirmed: true,
  mode: 'enqueue_on_busy',
};
const accepted = {
  status: 200,
  body: '{"id":18014398509481985,"fcnt":57,"port":20,"transmissionStatus":0,"session_id":"s-1"}',
};

let orbiwan: FakeHttpServer;
let now: number;

beforeEach(async () => {
  orbiwan = await startFakeHttpServer();
  now = 1_000_000;
});

afterEach(async () => {
  await orbiwan.close();
});

function client(
  mode: OrbiwanAuthMode = 'basic',
  baseUrl = orbiwan.url,
  timeouts = { connectTimeoutMs: 500, timeoutMs: 1_000 },
) {
  const auth = orbiwanAuth({
    mode,
    baseUrl,
    credentials: () => Promise.resolve(credentials),
    ...timeouts,
    now: () => now,
  });
  return createOrbiwanClient({ baseUrl, auth, ...timeouts });
}

/** OrbiWAN with a token that expired mid-way: one 401, a renewed token, then `reply`. */
function renewedAfterOne401(reply: Reply): Responder {
  let first = true;
  return (request) => {
    if (request.path === '/rest/oauth2/token')
      return { status: 200, body: '{"access_token":"renewed","expires_in":600}' };
    if (first) {
      first = false;
      return { status: 401 };
    }
    return reply;
  };
}

const posts = () => orbiwan.requests.filter((request) => request.path.endsWith('/payloads/dl'));

describe('OrbiWAN client: enqueue a downlink', () => {
  it('POSTs the raw hex to /rest/nodes/{DevEUI}/payloads/dl with port, confirmed, mode and data_format', async () => {
    orbiwan.respond(() => accepted);

    const result = await client().enqueueDownlink({ ...downlink, fcnt: 12 });

    const [post] = posts();
    expect(post?.method).toBe('POST');
    expect(post?.path).toBe('/rest/nodes/70b3d57ed0001a2b/payloads/dl');
    expect(Object.fromEntries(post?.query ?? [])).toEqual({
      port: '20',
      confirmed: 'true',
      mode: 'enqueue_on_busy',
      data_format: 'hex',
      fcnt: '12',
    });
    expect(post?.body).toBe('aabbcc');
    expect(post?.headers['content-type']).toBe('text/plain');
    expect(post?.headers.authorization).toBe(
      `Basic ${Buffer.from('app-user:s3cret pass&word').toString('base64')}`,
    );
    expect(result).toMatchObject({ id: '18014398509481985', fcnt: 57, transmissionStatus: 0 });
    expect(result.reply.toString()).toBe(accepted.body);
  });

  it('leaves fcnt out unless it is given', async () => {
    orbiwan.respond(() => accepted);
    await client().enqueueDownlink(downlink);
    expect(posts()[0]?.query.has('fcnt')).toBe(false);
  });

  it.each([
    [404, 'UnknownDeviceError', 'OrbiWAN does not know device 70b3d57ed0001a2b: no such node'],
    [409, 'DeviceBusyError', "OrbiWAN's downlink queue for 70b3d57ed0001a2b is busy: no such node"],
    [400, 'OrbiwanRejectedError', 'OrbiWAN refused the downlink (400): no such node'],
    [
      401,
      'OrbiwanRejectedError',
      "OrbiWAN refused the connector's credentials (401): no such node",
    ],
    [429, 'OrbiwanNotReachedError', 'OrbiWAN throttled the downlink POST: no such node'],
    [
      500,
      'OrbiwanUnavailableError',
      'OrbiWAN failed the downlink POST (500); it may have queued it: no such node',
    ],
    [503, 'OrbiwanUnavailableError', 'OrbiWAN failed the downlink POST (503)'],
  ])('maps %i to %s', async (status, name, message) => {
    orbiwan.respond(() => ({
      status,
      body: 'no such node',
      headers: { 'content-type': 'text/plain' },
    }));
    const error = await client()
      .enqueueDownlink(downlink)
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name, message: expect.stringContaining(message) });
    expect(posts()).toHaveLength(1);
  });

  it('takes the detail of an RFC 7807 problem', async () => {
    orbiwan.respond(() => ({
      status: 400,
      body: '{"title":"Bad Request","detail":"port out of range","status":400}',
      headers: { 'content-type': 'application/problem+json' },
    }));
    await expect(client().enqueueDownlink(downlink)).rejects.toThrow(
      'OrbiWAN refused the downlink (400): port out of range',
    );
  });

  it('reports a 200 without an id as unavailable, never as something to resend', async () => {
    orbiwan.respond(() => ({ status: 200, body: '{"fcnt":1}' }));
    await expect(client().enqueueDownlink(downlink)).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
    });
  });

  it('reports a 200 with an id but unreadable JSON as unavailable, never as something to resend', async () => {
    orbiwan.respond(() => ({ status: 200, body: '{"id":1, oops' }));
    await expect(client().enqueueDownlink(downlink)).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message: 'OrbiWAN accepted the downlink but its reply is not a JSON object: {"id":1, oops',
    });
    expect(posts()).toHaveLength(1);
  });

  it('reports a refused connection as not reached (safe to retry)', async () => {
    const closedPort = await freePort();
    await expect(
      client('basic', `http://127.0.0.1:${closedPort}`).enqueueDownlink(downlink),
    ).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('reports a TLS handshake that never completes as not reached', async () => {
    const silent = createTcpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      await expect(
        client('basic', `https://127.0.0.1:${port}`, {
          connectTimeoutMs: 100,
          timeoutMs: 2_000,
        }).enqueueDownlink(downlink),
      ).rejects.toMatchObject({
        name: 'OrbiwanNotReachedError',
        message: expect.stringContaining('CONNECT_TIMEOUT'),
      });
    } finally {
      silent.close();
    }
  });

  it('reports a POST that gets no answer as unavailable (it may have been queued)', async () => {
    orbiwan.respond(() => 'hang');
    await expect(
      client('basic', orbiwan.url, { connectTimeoutMs: 500, timeoutMs: 150 }).enqueueDownlink(
        downlink,
      ),
    ).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message: expect.stringContaining('RESPONSE_TIMEOUT'),
    });
    expect(posts()).toHaveLength(1);
  });
});

describe('OrbiWAN client: show a downlink', () => {
  it.each([
    ['not JSON', 'oops', "OrbiWAN's downlink 7 is not a JSON object: oops"],
    ['null', 'null', "OrbiWAN's downlink 7 is not a JSON object: null"],
    ['without a status', '{"id":7}', "OrbiWAN's downlink 7 has no transmissionStatus 0..5"],
  ])('reports a 200 that is %s as unavailable', async (_, body, message) => {
    orbiwan.respond(() => ({ status: 200, body }));
    await expect(client().downlinkAtOrbiwan(downlink.devEui, '7')).rejects.toMatchObject({
      name: 'OrbiwanUnavailableError',
      message: expect.stringContaining(message),
    });
  });

  it.each([
    [404, 'OrbiwanRejectedError', `OrbiWAN has no downlink 7 for ${downlink.devEui}: gone`],
    [403, 'OrbiwanRejectedError', 'OrbiWAN refused to show downlink 7 (403): gone'],
    [429, 'OrbiwanNotReachedError', 'OrbiWAN throttled the request: gone'],
    [500, 'OrbiwanUnavailableError', 'OrbiWAN failed to show downlink 7 (500): gone'],
  ])('maps %i to %s', async (status, name, message) => {
    orbiwan.respond(() => ({ status, body: 'gone', headers: { 'content-type': 'text/plain' } }));
    await expect(client().downlinkAtOrbiwan(downlink.devEui, '7')).rejects.toMatchObject({
      name,
      message,
    });
  });
});

describe('OrbiWAN client: OAuth2', () => {
  const tokenRequests = () =>
    orbiwan.requests.filter((request) => request.path === '/rest/oauth2/token');
  const form = (index: number) =>
    Object.fromEntries(new URLSearchParams(tokenRequests()[index]?.body));
  let issued: number;

  beforeEach(() => {
    issued = 0;
    orbiwan.respond((request) => {
      if (request.path === '/rest/oauth2/token') {
        issued += 1;
        return {
          status: 200,
          body: JSON.stringify({
            access_token: `access-${issued}`,
            refresh_token: `refresh-${issued}`,
            expires_in: 43_200,
            token_type: 'bearer',
          }),
        };
      }
      return accepted;
    });
  });

  it('logs in with a form body (never the URL) and sends the bearer token', async () => {
    await client('oauth2').enqueueDownlink(downlink);

    expect(tokenRequests()).toHaveLength(1);
    expect(tokenRequests()[0]?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect([...(tokenRequests()[0]?.query ?? [])]).toEqual([]);
    expect(form(0)).toEqual({
      grant_type: 'password',
      username: 'app-user',
      password: 's3cret pass&word',
      client_id: 'connector',
    });
    expect(posts()[0]?.headers.authorization).toBe('Bearer access-1');
  });

  it('reuses the token until shortly before it expires, then refreshes it', async () => {
    const orbiwanClient = client('oauth2');
    await orbiwanClient.enqueueDownlink(downlink);
    now += 43_200_000 - 120_000;
    await orbiwanClient.enqueueDownlink(downlink);
    now += 61_000;
    await orbiwanClient.enqueueDownlink(downlink);

    expect(tokenRequests()).toHaveLength(2);
    expect(form(1)).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'refresh-1',
      client_id: 'connector',
    });
    expect(posts().map((post) => post.headers.authorization)).toEqual([
      'Bearer access-1',
      'Bearer access-1',
      'Bearer access-2',
    ]);
  });

  it('logs in again when the refresh token is refused', async () => {
    const orbiwanClient = client('oauth2');
    await orbiwanClient.enqueueDownlink(downlink);
    orbiwan.respond((request) => {
      if (request.path !== '/rest/oauth2/token') return accepted;
      if (new URLSearchParams(request.body).get('grant_type') === 'refresh_token')
        return { status: 401 };
      return { status: 200, body: '{"access_token":"fresh","refresh_token":"r","expires_in":60}' };
    });
    now += 43_200_000;

    await orbiwanClient.enqueueDownlink(downlink);

    expect(tokenRequests().map((_, index) => form(index).grant_type)).toEqual([
      'password',
      'refresh_token',
      'password',
    ]);
    expect(posts()[1]?.headers.authorization).toBe('Bearer fresh');
  });

  it('logs in again and retries once when a POST gets 401 (the token expired mid-way)', async () => {
    const orbiwanClient = client('oauth2');
    await orbiwanClient.enqueueDownlink(downlink);
    orbiwan.respond(renewedAfterOne401(accepted));

    const result = await orbiwanClient.enqueueDownlink(downlink);

    expect(result.id).toBe('18014398509481985');
    expect(posts().map((post) => post.headers.authorization)).toEqual([
      'Bearer access-1',
      'Bearer access-1',
      'Bearer renewed',
    ]);
  });

  it('logs in again and asks once more when a status GET gets 401', async () => {
    const orbiwanClient = client('oauth2');
    await orbiwanClient.enqueueDownlink(downlink);
    orbiwan.respond(
      renewedAfterOne401({ status: 200, body: '{"id":18014398509481985,"transmissionStatus":2}' }),
    );

    const current = await orbiwanClient.downlinkAtOrbiwan(downlink.devEui, '18014398509481985');

    expect(current).toMatchObject({ id: '18014398509481985', transmissionStatus: 2 });
    const gets = orbiwan.requests.filter((request) => request.method === 'GET');
    expect(gets.map((get) => get.headers.authorization)).toEqual([
      'Bearer access-1',
      'Bearer renewed',
    ]);
    expect(gets[0]?.path).toBe(`/rest/nodes/${downlink.devEui}/payloads/dl/18014398509481985`);
  });

  it('gives up after one retry when OrbiWAN keeps answering 401', async () => {
    orbiwan.respond((request) =>
      request.path === '/rest/oauth2/token'
        ? { status: 200, body: '{"access_token":"t","expires_in":600}' }
        : { status: 401 },
    );
    await expect(client('oauth2').enqueueDownlink(downlink)).rejects.toMatchObject({
      name: 'OrbiwanRejectedError',
    });
    expect(posts()).toHaveLength(2);
  });

  it('reports refused credentials as rejected and sends no downlink', async () => {
    orbiwan.respond(() => ({ status: 401, body: 'bad credentials' }));
    const error = await client('oauth2')
      .enqueueDownlink(downlink)
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      name: 'OrbiwanRejectedError',
      message: 'OrbiWAN refused the OAuth2 password grant (401)',
    });
    expect((error as Error).message).not.toContain(credentials.password);
    expect(posts()).toHaveLength(0);
  });

  it('reports an unreachable token endpoint as not reached (the downlink was not sent)', async () => {
    orbiwan.respond(() => ({ status: 502 }));
    await expect(client('oauth2').enqueueDownlink(downlink)).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
    });
    expect(posts()).toHaveLength(0);
  });

  it('shares one login between concurrent downlinks', async () => {
    const orbiwanClient = client('oauth2');
    await Promise.all([
      orbiwanClient.enqueueDownlink(downlink),
      orbiwanClient.enqueueDownlink({ ...downlink, devEui: '70b3d57ed0001a2c' }),
    ]);
    expect(tokenRequests()).toHaveLength(1);
  });
});

describe('OrbiWAN client: push mode', () => {
  const start: PushModeStart = {
    host: 'https://abc.execute-api.eu-west-1.amazonaws.com',
    port: 443,
    path_prefix: '',
    push_auth_access_token: 'push-token',
    data_format: 'base64',
    push_subscription: 'payloads_ul,joininfo',
    retry_policy: 0,
  };

  it('PUTs the start body as JSON to /rest/pushmode/start', async () => {
    orbiwan.respond(() => ({ status: 200, body: '{"running":true}' }));

    await client().startPushMode(start);

    const [request] = orbiwan.requests;
    expect(`${request?.method ?? ''} ${request?.path ?? ''}`).toBe('PUT /rest/pushmode/start');
    expect(request?.headers['content-type']).toBe('application/json');
    expect(request?.headers.authorization).toMatch(/^Basic /);
    expect(JSON.parse(request?.body ?? '')).toEqual(start);
  });

  it('PUTs an empty body to /rest/pushmode/stop', async () => {
    orbiwan.respond(() => ({ status: 204 }));

    await client().stopPushMode();

    const [request] = orbiwan.requests;
    expect(`${request?.method ?? ''} ${request?.path ?? ''}`).toBe('PUT /rest/pushmode/stop');
    expect(request?.body).toBe('');
  });

  it.each([
    [400, 'OrbiwanRejectedError', 'OrbiWAN refused to start push mode (400): host is required'],
    [401, 'OrbiwanRejectedError', "OrbiWAN refused the connector's credentials (401)"],
    [429, 'OrbiwanNotReachedError', 'OrbiWAN throttled the push mode start'],
    [500, 'OrbiwanUnavailableError', 'OrbiWAN failed to start push mode (500)'],
  ])('reports a start answered %i as %s', async (status, name, message) => {
    orbiwan.respond(() => ({
      status,
      body: status === 400 ? 'host is required' : '',
      headers: { 'content-type': 'text/plain' },
    }));

    await expect(client().startPushMode(start)).rejects.toMatchObject({ name, message });
  });

  it('logs in again and starts once more when the OAuth2 token was refused', async () => {
    let starts = 0;
    orbiwan.respond((request) => {
      if (request.path === '/rest/oauth2/token')
        return { status: 200, body: `{"access_token":"token-${String(starts)}","expires_in":600}` };
      starts += 1;
      return starts === 1 ? { status: 401 } : { status: 200 };
    });

    await client('oauth2').startPushMode(start);

    expect(
      orbiwan.requests
        .filter((request) => request.path === '/rest/pushmode/start')
        .map((request) => request.headers.authorization),
    ).toEqual(['Bearer token-0', 'Bearer token-1']);
  });

  it('reports an unreachable OrbiWAN as not reached', async () => {
    const closed = `http://127.0.0.1:${String(await freePort())}`;

    await expect(client('basic', closed).stopPushMode()).rejects.toMatchObject({
      name: 'OrbiwanNotReachedError',
      message: 'OrbiWAN could not be reached (ECONNREFUSED)',
    });
  });
});

async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
  return port;
}
