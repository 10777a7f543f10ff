import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  startOrbiwanSimulator,
  type OrbiwanSimulator,
  type PushTarget,
  type SimulatorOptions,
} from '../../local/orbiwan-simulator/orbiwan-simulator.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type RecordedRequest,
  type Responder,
} from '../helpers/fake-http-server.js';

const CLASS_A = '70b3d5e75e000001';
const CLASS_C = '70b3d5e75e000002';
const CREDENTIALS = { username: 'app-user', password: 's3cret' };
const BASIC = `Basic ${Buffer.from('app-user:s3cret').toString('base64')}`;
const PUSH_TOKEN = 'push-token-123';
const ALL_TOPICS = [
  'payloads_ul',
  'payloads_ul_early',
  'payloads_dl',
  'joininfo',
  'nodeinfo',
  'location',
  'status',
  'alarm',
];

/** The fake connector: records pushes, answers as told, and lets a test await what it expects. */
interface Connector {
  server: FakeHttpServer;
  reply: (responder: Responder) => void;
  until: (condition: (requests: RecordedRequest[]) => boolean) => Promise<void>;
  callbacks: (path: string) => RecordedRequest[];
  target: (overrides?: Partial<PushTarget>) => PushTarget;
}

const opened: { close: () => Promise<void> }[] = [];

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(opened.splice(0).map((resource) => resource.close()));
});

async function startConnector(): Promise<Connector> {
  let responder: Responder = () => ({ status: 200 });
  const waiters = new Set<() => void>();
  const server = await startFakeHttpServer((request) => {
    for (const waiter of [...waiters]) waiter();
    return responder(request);
  });
  opened.push(server);
  const url = new URL(server.url);
  return {
    server,
    reply: (next) => {
      responder = next;
    },
    until: (condition) =>
      new Promise((resolve) => {
        const check = () => {
          if (!condition(server.requests)) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    callbacks: (path) =>
      server.requests.filter((request) => request.path === `/rest/callback/${path}`),
    target: (overrides = {}) => ({
      host: `${url.protocol}//${url.hostname}`,
      port: Number(url.port),
      pathPrefix: '',
      accessToken: PUSH_TOKEN,
      dataFormat: 'base64',
      subscriptions: ALL_TOPICS,
      ...overrides,
    }),
  };
}

async function startSimulator(options: Partial<SimulatorOptions> = {}): Promise<OrbiwanSimulator> {
  const simulator = await startOrbiwanSimulator({
    port: 0,
    credentials: CREDENTIALS,
    devices: [
      { devEui: CLASS_A, deviceClass: 'A' },
      { devEui: CLASS_C, deviceClass: 'C' },
    ],
    uplinkIntervalMs: 0,
    classCDelayMs: 5,
    outcomes: { nackRate: 0, errorRate: 0, cancelRate: 0 },
    seed: 42,
    ...options,
  });
  opened.push(simulator);
  return simulator;
}

function postDownlink(
  simulator: OrbiwanSimulator,
  query: string,
  body = 'AQID',
  devEui = CLASS_A,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${simulator.url}/rest/nodes/${devEui}/payloads/dl?${query}`, {
    method: 'POST',
    headers: { authorization: BASIC, 'content-type': 'text/plain', ...headers },
    body,
  });
}

function rest(
  simulator: OrbiwanSimulator,
  method: string,
  path: string,
  init: { authorization?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const authorization = init.authorization ?? BASIC;
  return fetch(`${simulator.url}${path}`, {
    method,
    headers: { ...(authorization === '' ? {} : { authorization }), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
}

function requestToken(simulator: OrbiwanSimulator, form: Record<string, string>, query = '') {
  return fetch(`${simulator.url}/rest/oauth2/token${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
}

/** The id as its JSON digits: JSON.parse would round it. */
function idDigits(jsonText: string): string {
  const match = /"id":(\d+)/.exec(jsonText);
  if (match?.[1] === undefined) throw new Error(`no numeric id in ${jsonText}`);
  return match[1];
}

function statusPushes(connector: Connector): { id: string; transmissionStatus: number }[] {
  return connector.callbacks('payloads/dl').map((request) => ({
    id: idDigits(request.body),
    transmissionStatus: (JSON.parse(request.body) as { transmissionStatus: number })
      .transmissionStatus,
  }));
}

function bodyOf(request: RecordedRequest | undefined): Record<string, unknown> {
  if (request === undefined) throw new Error('no such request');
  return JSON.parse(request.body) as Record<string, unknown>;
}

describe('OrbiWAN simulator: REST authentication', () => {
  it('accepts the configured Basic credentials and replies 401 to wrong or missing ones', async () => {
    const simulator = await startSimulator();
    const wrong = `Basic ${Buffer.from('app-user:wrong').toString('base64')}`;

    const accepted = await rest(simulator, 'GET', '/rest/pushmode/status');
    const rejected = await rest(simulator, 'GET', '/rest/pushmode/status', {
      authorization: wrong,
    });
    const missing = await rest(simulator, 'GET', '/rest/pushmode/status', { authorization: '' });

    expect(accepted.status).toBe(200);
    expect(rejected.status).toBe(401);
    expect(rejected.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(missing.status).toBe(401);
  });

  it('issues bearer tokens for the password grant and accepts them on the REST API', async () => {
    const simulator = await startSimulator();

    const reply = await requestToken(simulator, {
      grant_type: 'password',
      client_id: 'connector',
      ...CREDENTIALS,
    });
    const tokens = (await reply.json()) as Record<string, unknown>;
    const withToken = await rest(simulator, 'GET', '/rest/pushmode/status', {
      authorization: `Bearer ${String(tokens.access_token)}`,
    });
    const withJunk = await rest(simulator, 'GET', '/rest/pushmode/status', {
      authorization: 'Bearer not-a-token',
    });

    expect(reply.status).toBe(200);
    expect(tokens).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      expires_in: 3600,
      token_type: 'bearer',
    });
    expect(withToken.status).toBe(200);
    expect(withJunk.status).toBe(401);
  });

  it('refreshes tokens once per refresh token and replies 401 to an unknown one', async () => {
    const simulator = await startSimulator();
    const first = (await (
      await requestToken(simulator, { grant_type: 'password', ...CREDENTIALS })
    ).json()) as { refresh_token: string };

    const refreshed = await requestToken(simulator, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    });
    const { access_token: accessToken } = (await refreshed.json()) as { access_token: string };
    const reused = await requestToken(simulator, {
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
    });
    const unknown = await requestToken(simulator, {
      grant_type: 'refresh_token',
      refresh_token: 'never-issued',
    });
    const withNewToken = await rest(simulator, 'GET', '/rest/pushmode/status', {
      authorization: `Bearer ${accessToken}`,
    });

    expect(refreshed.status).toBe(200);
    expect(withNewToken.status).toBe(200);
    expect(reused.status).toBe(401);
    expect(unknown.status).toBe(401);
  });

  it('replies 401 to wrong credentials and 400 to credentials in the query string', async () => {
    const simulator = await startSimulator();
    const query = `?${new URLSearchParams({ grant_type: 'password', ...CREDENTIALS }).toString()}`;

    const wrong = await requestToken(simulator, {
      grant_type: 'password',
      username: CREDENTIALS.username,
      password: 'wrong',
    });
    const inQuery = await requestToken(simulator, {}, query);

    expect(wrong.status).toBe(401);
    expect(inQuery.status).toBe(400);
  });

  it('replies 401 to an access token past its expires_in', async () => {
    const simulator = await startSimulator();
    const { access_token: accessToken } = (await (
      await requestToken(simulator, { grant_type: 'password', ...CREDENTIALS })
    ).json()) as { access_token: string };
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3601 * 1000);

    const expired = await rest(simulator, 'GET', '/rest/pushmode/status', {
      authorization: `Bearer ${accessToken}`,
    });

    expect(expired.status).toBe(401);
  });

  it('answers errors as RFC 7807 JSON when the client asks for application/problem+json', async () => {
    const simulator = await startSimulator();

    const reply = await postDownlink(simulator, 'port=1', 'AQID', 'ffffffffffffffff', {
      accept: 'application/problem+json',
    });

    expect(reply.status).toBe(404);
    expect(reply.headers.get('content-type')).toBe('application/problem+json');
    expect(await reply.json()).toEqual({
      title: 'Not Found',
      detail: 'unknown device ffffffffffffffff',
      status: 404,
    });
  });
});

describe('OrbiWAN simulator: REST downlinks', () => {
  it('replies with increasing 64-bit ids beyond 2^53, written exactly as JSON numbers', async () => {
    const simulator = await startSimulator();

    const first = await (await postDownlink(simulator, 'port=10')).text();
    const second = await (await postDownlink(simulator, 'port=10')).text();

    const [firstId, secondId] = [idDigits(first), idDigits(second)];
    expect(BigInt(firstId)).toBeGreaterThan(2n ** 53n);
    expect(BigInt(secondId)).toBeGreaterThan(BigInt(firstId));
    // As doubles the two ids would be the same number.
    expect(Number(firstId)).toBe(Number(secondId));
    expect(JSON.parse(first)).toEqual({
      id: expect.any(Number),
      fcnt: 0,
      port: 10,
      transmissionStatus: 0,
      session_id: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
    });
    expect(JSON.parse(second)).toMatchObject({ fcnt: 1 });
    expect(simulator.downlinks().map((downlink) => downlink.id)).toEqual([firstId, secondId]);
  });

  it('defaults to confirmed and reads the body as Base64, or as hex with data_format=hex', async () => {
    const simulator = await startSimulator();

    await postDownlink(simulator, 'port=1', 'AQID');
    await postDownlink(simulator, 'port=2&confirmed=false&data_format=hex', '01a4FF');

    expect(simulator.downlinks()).toMatchObject([
      { devEui: CLASS_A, port: 1, data: '010203', confirmed: true, transmissionStatus: 0 },
      { devEui: CLASS_A, port: 2, data: '01a4ff', confirmed: false, transmissionStatus: 0 },
    ]);
    expect(simulator.stats().downlinkPosts).toBe(2);
  });

  it('accepts the DevEUI as plain hex, 0x-prefixed or dashed, in any case', async () => {
    const simulator = await startSimulator();
    const forms = ['70B3D5E75E000001', '0x70b3d5e75e000001', '70-B3-D5-E7-5E-00-00-01'];

    const statuses = [];
    for (const form of forms)
      statuses.push((await postDownlink(simulator, 'port=1', 'AQ==', form)).status);

    expect(statuses).toEqual([200, 200, 200]);
    expect(simulator.downlinks().map((downlink) => downlink.devEui)).toEqual([
      CLASS_A,
      CLASS_A,
      CLASS_A,
    ]);
  });

  it('replies 404 for an unknown device', async () => {
    const simulator = await startSimulator();

    const reply = await postDownlink(simulator, 'port=1', 'AQ==', '0000000000000000');

    expect(reply.status).toBe(404);
    expect(await reply.text()).toBe('unknown device 0000000000000000');
  });

  it('replies 400 for a bad port, confirmed, mode or payload, and for a payload over 242 bytes', async () => {
    const simulator = await startSimulator();
    const cases: [string, string][] = [
      ['', 'AQ=='],
      ['port=0', 'AQ=='],
      ['port=224', 'AQ=='],
      ['port=abc', 'AQ=='],
      ['port=1&confirmed=maybe', 'AQ=='],
      ['port=1&mode=whenever', 'AQ=='],
      ['port=1', 'not base64!'],
      ['port=1&data_format=hex', '0g'],
      ['port=1&data_format=hex', 'ab'.repeat(243)],
    ];

    const statuses = [];
    for (const [query, body] of cases)
      statuses.push((await postDownlink(simulator, query, body)).status);
    const largest = await postDownlink(simulator, 'port=1&data_format=hex', 'ab'.repeat(242));

    expect(statuses).toEqual(cases.map(() => 400));
    expect(largest.status).toBe(200);
    expect(simulator.downlinks()).toHaveLength(1);
  });

  it('enqueue_on_busy queues up to 10 downlinks, then replies 409', async () => {
    const simulator = await startSimulator();

    const statuses = [];
    for (let index = 0; index < 11; index += 1)
      statuses.push((await postDownlink(simulator, 'port=1&mode=enqueue_on_busy')).status);

    expect(statuses).toEqual([...Array<number>(10).fill(200), 409]);
    expect(simulator.downlinks()).toHaveLength(10);
  });

  it('fail_on_busy replies 409 while a downlink is queued', async () => {
    const simulator = await startSimulator();

    const first = await postDownlink(simulator, 'port=1&mode=fail_on_busy');
    const second = await postDownlink(simulator, 'port=1&mode=fail_on_busy');

    expect([first.status, second.status]).toEqual([200, 409]);
    expect(simulator.downlinks()).toHaveLength(1);
  });

  it('counts a POST that arrives while another for the same device is in flight and replies 409', async () => {
    const simulator = await startSimulator();
    // Expect: 100-continue lets the test know the server has the first POST before sending its body.
    const first = httpRequest(`${simulator.url}/rest/nodes/${CLASS_A}/payloads/dl?port=1`, {
      method: 'POST',
      headers: { authorization: BASIC, 'content-type': 'text/plain', expect: '100-continue' },
    });
    const firstStatus = new Promise<number>((resolve, reject) => {
      first.on('response', (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      first.on('error', reject);
    });
    const continued = new Promise((resolve) => first.once('continue', resolve));
    first.flushHeaders();
    await continued;

    const second = await postDownlink(simulator, 'port=1');
    first.end('AQ==');

    expect(second.status).toBe(409);
    expect(await firstStatus).toBe(200);
    expect(simulator.stats()).toMatchObject({ downlinkPosts: 2, parallelPostViolations: 1 });
    expect(simulator.downlinks()).toHaveLength(1);
  });

  it('reads one downlink by id, lists them, and deletes a pending one with a status 5 push', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target() });
    const posted = await (await postDownlink(simulator, 'port=7', 'AQID')).text();
    const id = idDigits(posted);
    const path = `/rest/nodes/${CLASS_A}/payloads/dl`;

    const one = await (await rest(simulator, 'GET', `${path}/${id}`)).text();
    const list = (await (await rest(simulator, 'GET', path)).json()) as unknown[];
    const deleted = await rest(simulator, 'DELETE', `${path}/${id}`);
    const afterDelete = await (
      await rest(simulator, 'GET', `${path}/${id}?data_format=hex`)
    ).text();
    const unknown = await rest(simulator, 'GET', `${path}/${(BigInt(id) + 1000n).toString()}`);
    await simulator.idle();

    expect(idDigits(one)).toBe(id);
    expect(JSON.parse(one)).toMatchObject({
      fcnt: 0,
      port: 7,
      transmissionStatus: 0,
      data: 'AQID',
    });
    expect(list).toHaveLength(1);
    expect(deleted.status).toBe(200);
    expect(JSON.parse(afterDelete)).toMatchObject({ transmissionStatus: 5, data: '010203' });
    expect(unknown.status).toBe(404);
    expect(statusPushes(connector)).toEqual([{ id, transmissionStatus: 5 }]);
  });
});

describe('OrbiWAN simulator: push mode over REST', () => {
  it('starts pushing with the given token, reports its target without the token, and stops', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator();
    const target = connector.target();
    const start = {
      host: target.host,
      port: target.port,
      path_prefix: '',
      push_auth_access_token: 'rest-token',
      data_format: 'hex',
      push_subscription: 'payloads_ul,payloads_dl',
      retry_policy: 0,
    };

    const before = await (await rest(simulator, 'GET', '/rest/pushmode/status')).json();
    const started = await rest(simulator, 'PUT', '/rest/pushmode/start', {
      body: JSON.stringify(start),
      headers: { 'content-type': 'application/json' },
    });
    const statusText = await (await rest(simulator, 'GET', '/rest/pushmode/status')).text();
    await simulator.uplink(CLASS_A);
    const stopped = await rest(simulator, 'PUT', '/rest/pushmode/stop');
    const after = await (await rest(simulator, 'GET', '/rest/pushmode/status')).json();
    await simulator.uplink(CLASS_A);

    expect(before).toEqual({ running: false });
    expect(started.status).toBe(200);
    expect(JSON.parse(statusText)).toEqual({
      running: true,
      host: target.host,
      port: target.port,
      path_prefix: '',
      data_format: 'hex',
      push_subscription: 'payloads_ul,payloads_dl',
    });
    expect(statusText).not.toContain('rest-token');
    expect(stopped.status).toBe(200);
    expect(after).toMatchObject({ running: false });
    expect(connector.server.requests.map((request) => request.path)).toEqual([
      '/rest/callback/payloads/ul',
    ]);
    expect(connector.server.requests[0]?.headers.authorization).toBe('Bearer rest-token');
  });

  it('replies 400 to a pushmode start without a usable host or with an unknown topic', async () => {
    const simulator = await startSimulator();
    const put = (body: unknown) =>
      rest(simulator, 'PUT', '/rest/pushmode/start', { body: JSON.stringify(body) });

    const noHost = await put({ port: 80, push_subscription: 'payloads_ul' });
    const badTopic = await put({ host: 'http://x', port: 80, push_subscription: 'payloads_ux' });

    expect([noHost.status, badTopic.status]).toEqual([400, 400]);
  });
});

describe('OrbiWAN simulator: pushes', () => {
  it('pushes joininfo for every device at startup', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target() });

    await simulator.idle();

    const joins = connector.callbacks('joininfo').map(bodyOf);
    expect(joins.map((body) => body.DevEUI)).toEqual([
      CLASS_A.toUpperCase(),
      CLASS_C.toUpperCase(),
    ]);
    expect(joins[0]).toEqual({
      DevEUI: CLASS_A.toUpperCase(),
      appeui: expect.stringMatching(/^[0-9A-F]{16}$/),
      join_status: 'JOIN_ACCEPTED',
      session_id: expect.any(String),
    });
    expect(connector.callbacks('joininfo')[0]?.method).toBe('PUT');
  });

  it('pushes an early uplink, then the uplink with the same id and the documented fields', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target() });
    await simulator.idle();
    const before = connector.server.requests.length;

    await simulator.uplink(CLASS_A);

    const [early, normal] = connector.server.requests.slice(before);
    expect([early?.method, early?.path]).toEqual(['POST', '/rest/callback/payloads/ul_early']);
    expect([normal?.method, normal?.path]).toEqual(['POST', '/rest/callback/payloads/ul']);
    for (const request of [early, normal]) {
      expect(request?.headers.authorization).toBe(`Bearer ${PUSH_TOKEN}`);
      expect(request?.headers['content-type']).toBe('application/json');
    }
    expect(idDigits(early?.body ?? '')).toBe(idDigits(normal?.body ?? ''));
    expect(BigInt(idDigits(normal?.body ?? ''))).toBeGreaterThan(2n ** 53n);
    const common = {
      DevEUI: CLASS_A.toUpperCase(),
      dataFrame: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/),
      port: expect.any(Number),
      fcnt: 0,
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      id: expect.any(Number),
      live: true,
      session_id: expect.any(String),
      decrypted: true,
    };
    expect(bodyOf(early)).toMatchObject({ ...common, early: true });
    expect(bodyOf(early)).not.toHaveProperty('rssi');
    expect(bodyOf(normal)).toMatchObject({
      ...common,
      early: false,
      rssi: expect.any(Number),
      snr: expect.any(Number),
      sf_used: expect.any(Number),
      dr_used: expect.stringMatching(/^SF\d+BW125$/),
      freq: expect.any(Number),
      gtw_info: [{ gtw_id: expect.any(String), rssi: expect.any(Number), snr: expect.any(Number) }],
    });
    expect(bodyOf(early).dataFrame).toBe(bodyOf(normal).dataFrame);
  });

  it('pushes under path_prefix, to a host given with its port', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({
      push: connector.target({ host: connector.server.url, pathPrefix: '/orbiwan' }),
    });

    await simulator.idle();

    expect(connector.server.requests.map((request) => request.path)).toEqual([
      '/orbiwan/rest/callback/joininfo',
      '/orbiwan/rest/callback/joininfo',
    ]);
  });

  it('writes dataFrame in hex when the push target asks for hex', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target({ dataFormat: 'hex' }) });

    await simulator.uplink(CLASS_A);

    expect(bodyOf(connector.callbacks('payloads/ul')[0]).dataFrame).toMatch(/^([0-9a-f]{2})+$/);
  });

  it('pushes status, nodeinfo and location every 5th uplink', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target() });

    for (let index = 0; index < 4; index += 1) await simulator.uplink(CLASS_A);
    const afterFour = connector.callbacks('status').length;
    await simulator.uplink(CLASS_A);

    expect(afterFour).toBe(0);
    expect(bodyOf(connector.callbacks('status')[0])).toEqual({
      DevEUI: CLASS_A.toUpperCase(),
      battery_status: expect.any(Number),
      margin_status: expect.any(Number),
      timestamp_status: expect.any(String),
      req_status: 3,
    });
    const battery = bodyOf(connector.callbacks('status')[0]).battery_status as number;
    expect(battery).toBeGreaterThanOrEqual(1);
    expect(battery).toBeLessThanOrEqual(254);
    expect(bodyOf(connector.callbacks('nodeinfo')[0])).toMatchObject({
      DevEUI: CLASS_A.toUpperCase(),
      device_class: 0,
      dl_fcnt: 0,
    });
    expect(bodyOf(connector.callbacks('location')[0])).toEqual({
      DevEUI: CLASS_A.toUpperCase(),
      latitude: expect.any(Number),
      longitude: expect.any(Number),
      loraloc_time: expect.any(String),
      loraloc_fcnt: 4,
    });
    expect(connector.callbacks('location')[0]?.method).toBe('PUT');
  });

  it('pushes only the subscribed topics', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({
      push: connector.target({ subscriptions: ['payloads_ul'] }),
    });
    await postDownlink(simulator, 'port=1&confirmed=false');

    for (let index = 0; index < 5; index += 1) await simulator.uplink(CLASS_A);
    await simulator.idle();

    expect(new Set(connector.server.requests.map((request) => request.path))).toEqual(
      new Set(['/rest/callback/payloads/ul']),
    );
    expect(connector.server.requests).toHaveLength(5);
    expect(simulator.downlinks()[0]?.transmissionStatus).toBe(1);
  });

  it('counts a failed push and does not retry it', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({
      push: connector.target({ subscriptions: ['payloads_ul_early', 'payloads_ul'] }),
    });
    connector.reply(() => ({ status: 500 }));

    await simulator.uplink(CLASS_A);
    await simulator.idle();

    expect(connector.server.requests).toHaveLength(2);
    expect(simulator.stats()).toMatchObject({ pushes: 0, failedPushes: 2 });
  });

  it('close() abandons a push the connector never answers and counts it failed', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({
      push: connector.target({ subscriptions: ['payloads_ul_early', 'payloads_ul'] }),
    });
    connector.reply(() => 'hang');
    const uplink = simulator.uplink(CLASS_A);
    await connector.until((requests) => requests.length === 1);

    await simulator.close();
    await uplink;

    expect(simulator.stats()).toMatchObject({ pushes: 0, failedPushes: 1 });
    expect(connector.server.requests).toHaveLength(1);
  });

  it('makes devices uplink on their own every uplinkIntervalMs', async () => {
    const connector = await startConnector();
    await startSimulator({ push: connector.target(), uplinkIntervalMs: 5 });

    await connector.until((requests) =>
      [CLASS_A, CLASS_C].every(
        (devEui) =>
          requests.filter(
            (request) =>
              request.path === '/rest/callback/payloads/ul' &&
              request.body.includes(devEui.toUpperCase()),
          ).length >= 2,
      ),
    );

    const fcnts = connector
      .callbacks('payloads/ul')
      .map(bodyOf)
      .filter((body) => body.DevEUI === CLASS_A.toUpperCase())
      .map((body) => body.fcnt);
    expect(fcnts.slice(0, 2)).toEqual([0, 1]);
  });
});

describe('OrbiWAN simulator: downlink lifecycle', () => {
  async function classADownlink(
    query: string,
    outcomes: SimulatorOptions['outcomes'] = { nackRate: 0, errorRate: 0, cancelRate: 0 },
  ) {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target(), outcomes });
    const id = idDigits(await (await postDownlink(simulator, query)).text());
    await simulator.idle();
    return { connector, simulator, id };
  }

  it('class A: an unconfirmed downlink is sent (status 1) after the next uplink, and ends there', async () => {
    const { connector, simulator, id } = await classADownlink('port=1&confirmed=false');
    const beforeUplink = statusPushes(connector);

    await simulator.uplink(CLASS_A);
    await simulator.uplink(CLASS_A);

    expect(beforeUplink).toEqual([]);
    expect(statusPushes(connector)).toEqual([{ id, transmissionStatus: 1 }]);
    expect(simulator.downlinks()[0]?.history.map((entry) => entry.transmissionStatus)).toEqual([
      0, 1,
    ]);
    const paths = connector.server.requests.map((request) => request.path);
    expect(paths.indexOf('/rest/callback/payloads/dl')).toBeGreaterThan(
      paths.indexOf('/rest/callback/payloads/ul'),
    );
  });

  it('class A: a confirmed downlink is sent, then acknowledged (2) at the following uplink', async () => {
    const { connector, simulator, id } = await classADownlink('port=1');

    await simulator.uplink(CLASS_A);
    const afterFirst = statusPushes(connector);
    await simulator.uplink(CLASS_A);

    expect(afterFirst).toEqual([{ id, transmissionStatus: 1 }]);
    expect(statusPushes(connector)).toEqual([
      { id, transmissionStatus: 1 },
      { id, transmissionStatus: 2 },
    ]);
  });

  it('class A: with nackRate 1 a confirmed downlink ends not acknowledged (3)', async () => {
    const { connector, simulator, id } = await classADownlink('port=1', {
      nackRate: 1,
      errorRate: 0,
      cancelRate: 0,
    });

    await simulator.uplink(CLASS_A);
    await simulator.uplink(CLASS_A);

    expect(statusPushes(connector)).toEqual([
      { id, transmissionStatus: 1 },
      { id, transmissionStatus: 3 },
    ]);
  });

  it('class A: with errorRate 1 the transmission ends in error (4)', async () => {
    const { connector, simulator, id } = await classADownlink('port=1', {
      nackRate: 0,
      errorRate: 1,
      cancelRate: 0,
    });

    await simulator.uplink(CLASS_A);
    await simulator.uplink(CLASS_A);

    expect(statusPushes(connector)).toEqual([{ id, transmissionStatus: 4 }]);
  });

  it('class A: with cancelRate 1 the downlink is cancelled (5) instead of sent', async () => {
    const { connector, simulator, id } = await classADownlink('port=1', {
      nackRate: 0,
      errorRate: 0,
      cancelRate: 1,
    });

    await simulator.uplink(CLASS_A);

    expect(statusPushes(connector)).toEqual([{ id, transmissionStatus: 5 }]);
    expect(simulator.downlinks()[0]?.transmissionStatus).toBe(5);
  });

  it('class A: sends one queued downlink per uplink, in order', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target() });
    const first = idDigits(await (await postDownlink(simulator, 'port=1&confirmed=false')).text());
    const second = idDigits(await (await postDownlink(simulator, 'port=1&confirmed=false')).text());

    await simulator.uplink(CLASS_A);
    await simulator.uplink(CLASS_A);

    expect(statusPushes(connector)).toEqual([
      { id: first, transmissionStatus: 1 },
      { id: second, transmissionStatus: 1 },
    ]);
  });

  it('class C: a confirmed downlink is sent and acknowledged on its own, classCDelayMs apart', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target(), classCDelayMs: 20 });

    const id = idDigits(await (await postDownlink(simulator, 'port=3', 'AQ==', CLASS_C)).text());
    await connector.until(() => statusPushes(connector).length >= 2);

    expect(statusPushes(connector)).toEqual([
      { id, transmissionStatus: 1 },
      { id, transmissionStatus: 2 },
    ]);
    expect(connector.callbacks('payloads/ul')).toHaveLength(0);
    const [queued, sent, acknowledged] = simulator.downlinks()[0]?.history ?? [];
    // Timers may fire a little early by the wall clock: allow a few ms.
    expect(sent?.at.getTime()).toBeGreaterThanOrEqual((queued?.at.getTime() ?? 0) + 15);
    expect(acknowledged?.at.getTime()).toBeGreaterThanOrEqual((sent?.at.getTime() ?? 0) + 15);
  });

  it('replace_on_busy cancels the queued downlink with a status 5 push and queues the new one', async () => {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target() });
    const replaced = idDigits(await (await postDownlink(simulator, 'port=1')).text());

    const reply = await postDownlink(simulator, 'port=2&mode=replace_on_busy');
    await simulator.idle();

    expect(reply.status).toBe(200);
    expect(statusPushes(connector)).toEqual([{ id: replaced, transmissionStatus: 5 }]);
    expect(simulator.downlinks().map((downlink) => downlink.transmissionStatus)).toEqual([5, 0]);
  });
});

describe('OrbiWAN simulator: determinism', () => {
  async function uplinkPayloads(seed: number): Promise<unknown[]> {
    const connector = await startConnector();
    const simulator = await startSimulator({ push: connector.target(), seed });
    for (let index = 0; index < 3; index += 1) await simulator.uplink(CLASS_A);
    return connector.callbacks('payloads/ul').map((request) => {
      const { dataFrame, session_id: sessionId, rssi } = bodyOf(request);
      return { dataFrame, sessionId, rssi };
    });
  }

  it('replays the same payloads from the same seed, and others from another seed', async () => {
    const first = await uplinkPayloads(7);
    const replay = await uplinkPayloads(7);
    const other = await uplinkPayloads(8);

    expect(first).toHaveLength(3);
    expect(replay).toEqual(first);
    expect(other).not.toEqual(first);
  });
});
