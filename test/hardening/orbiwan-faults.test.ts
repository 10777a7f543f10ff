import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptDownlinks,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type RecordedRequest,
  type Reply,
} from '../helpers/fake-http-server.js';

// OrbiWAN failing in every way a downlink can meet, through the real state machine and functions,
// with OAuth2 (the harder mode): the right final status every time, at most one downlink queued,
// and a POST retried only when it certainly did not reach OrbiWAN.

let harness: DownlinkHarness;
let orbiwan: FakeHttpServer;
let port: number;
let tokens = 0;

/** OrbiWAN's token endpoint hands out a new access token each login; downlinks as the responder says. */
function withLogin(downlinks: (request: RecordedRequest) => Reply | 'hang' | 'reset') {
  return (request: RecordedRequest) =>
    request.path === '/rest/oauth2/token'
      ? {
          status: 200,
          body: JSON.stringify({
            access_token: `access-${String(++tokens)}`,
            refresh_token: 'refresh',
            expires_in: 43_200,
            token_type: 'bearer',
          }),
        }
      : downlinks(request);
}

beforeAll(async () => {
  orbiwan = await startFakeHttpServer(withLogin(acceptDownlinks()));
  port = Number(new URL(orbiwan.url).port);
  harness = await startDownlinkHarness({
    OrbiwanBaseUrl: orbiwan.url,
    OrbiwanAuthMode: 'oauth2',
  });
});

afterEach(() => {
  orbiwan.respond(withLogin(acceptDownlinks()));
});

afterAll(async () => {
  await harness.close();
  await orbiwan.close();
});

const downlinkPosts = () =>
  orbiwan.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/dl'));

async function downlinkEnding(requestId: string) {
  const before = downlinkPosts().length;
  const execution = harness.publishDownlink({ data: 'c0de', port: 5, requestId });
  const done = await harness.finished(execution.executionArn);
  const status = harness.statuses().filter((message) => message.requestId === requestId);
  return {
    done,
    statuses: status,
    posts: downlinkPosts().slice(before),
    states: harness.statesEntered(execution.executionArn),
  };
}

describe('OrbiWAN faults (OAuth2)', () => {
  it('logs in again and queues the downlink once when the token expires mid-way (401 to the POST)', async () => {
    let refusedOnce = false;
    const accept = acceptDownlinks();
    orbiwan.respond(
      withLogin((request) => {
        if (!refusedOnce && request.path.endsWith('/dl')) {
          refusedOnce = true;
          return { status: 401, body: 'token expired' };
        }
        return accept(request);
      }),
    );
    const requestId = 'token-expired';
    const execution = harness.publishDownlink({ data: 'c0de', port: 5, requestId });
    await harness.waitingForStatus(execution.executionArn);

    const posts = downlinkPosts().slice(-2);
    expect(posts.map((post) => post.headers.authorization)).toEqual([
      expect.stringMatching(/^Bearer access-\d+$/),
      `Bearer access-${String(tokens)}`,
    ]);
    expect(posts[0]?.headers.authorization).not.toBe(posts[1]?.headers.authorization);
    expect(harness.statuses().filter((status) => status.requestId === requestId)).toEqual([
      expect.objectContaining({ state: 'accepted' }),
    ]);
    harness.cloud.stepFunctions.stopExecution(execution.executionArn);
  });

  it('ends ORBIWAN_REJECTED when OrbiWAN keeps refusing the credentials, after one fresh login', async () => {
    orbiwan.respond(withLogin(() => ({ status: 401, body: 'not allowed' })));
    const { done, statuses, posts, states } = await downlinkEnding('revoked');

    expect(done).toMatchObject({ status: 'FAILED', error: 'OrbiwanRejectedError' });
    expect(states.at(-1)).toBe('Rejected');
    expect(posts).toHaveLength(2);
    expect(statuses).toEqual([
      expect.objectContaining({
        state: 'error',
        error: expect.objectContaining({ code: 'ORBIWAN_REJECTED' }),
      }),
    ]);
  });

  it('ends ORBIWAN_UNAVAILABLE, never POSTing twice, when OrbiWAN drops the connection after the POST', async () => {
    orbiwan.respond(
      withLogin((request) => (request.path.endsWith('/dl') ? 'reset' : { status: 404 })),
    );
    const { done, statuses, posts } = await downlinkEnding('reset');

    expect(done).toMatchObject({ status: 'FAILED', error: 'OrbiwanUnavailableError' });
    // It may have been queued: never resent.
    expect(posts).toHaveLength(1);
    expect(statuses).toEqual([
      expect.objectContaining({
        state: 'error',
        error: expect.objectContaining({
          code: 'ORBIWAN_UNAVAILABLE',
          message: expect.stringContaining('may have queued it'),
        }),
      }),
    ]);
  });

  it('retries while OrbiWAN refuses connections, then ends ORBIWAN_UNAVAILABLE with nothing queued', async () => {
    await orbiwan.close();
    try {
      const execution = harness.publishDownlink({ data: 'c0de', port: 5, requestId: 'refused' });
      const done = await harness.finished(execution.executionArn);

      expect(done).toMatchObject({ status: 'FAILED', error: 'OrbiwanNotReachedError' });
      // The first try and the three retries the state machine allows a POST that never landed.
      const attempts = done.history.filter(
        (event) => event.type === 'TaskStateEntered' && event.stateName === 'SendDownlink',
      );
      const failures = done.history.filter(
        (event) => event.type === 'TaskFailed' && event.stateName === 'SendDownlink',
      );
      expect(attempts).toHaveLength(1);
      expect(failures.map((event) => event.error)).toEqual(Array(4).fill('OrbiwanNotReachedError'));
      expect(harness.statuses().filter((status) => status.requestId === 'refused')).toEqual([
        expect.objectContaining({
          error: expect.objectContaining({ code: 'ORBIWAN_UNAVAILABLE' }),
        }),
      ]);
    } finally {
      orbiwan = await startFakeHttpServer(withLogin(acceptDownlinks()), port);
    }
    // Back up: the next downlink goes through, once.
    const execution = harness.publishDownlink({ data: 'c0de', port: 5, requestId: 'back-up' });
    await harness.waitingForStatus(execution.executionArn);
    expect(downlinkPosts()).toHaveLength(1);
    harness.cloud.stepFunctions.stopExecution(execution.executionArn);
  });

  it('ends ORBIWAN_UNAVAILABLE after its timeout, never POSTing twice, when OrbiWAN never answers', async () => {
    orbiwan.respond(
      withLogin((request) => (request.path.endsWith('/dl') ? 'hang' : { status: 404 })),
    );
    const { done, statuses, posts } = await downlinkEnding('hanging');

    expect(done).toMatchObject({ status: 'FAILED', error: 'OrbiwanUnavailableError' });
    expect(posts).toHaveLength(1);
    expect(statuses).toEqual([
      expect.objectContaining({ error: expect.objectContaining({ code: 'ORBIWAN_UNAVAILABLE' }) }),
    ]);
  }, 20_000);
});
