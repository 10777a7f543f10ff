import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fault } from '../../local/aws/fault-injection.js';
import type { ExecutionRecord } from '../../local/stepfunctions/local-step-functions.js';
import { PREFIX, startDownlinkHarness, type DownlinkHarness } from '../helpers/downlink-harness.js';
import type { RecordedRequest, Reply } from '../helpers/fake-http-server.js';

// The interleaving explorer: the real state machine on the local Step Functions, the real send,
// status, check and report functions on the AWS stand-ins, and a fake OrbiWAN. fast-check's
// scheduler decides the order of every step that can race: each request the functions make to
// DynamoDB, IoT Core and Step Functions, OrbiWAN's reply to the POST, each status OrbiWAN pushes
// (before, during or after its reply, repeated, in any order), the application repeating its
// request, and the wait's timeout. Each run adds at most one fault: an AWS service failing or slow,
// OrbiWAN refusing or failing the POST or the GET, or a push lost. Every run checks the contract
// (README: Delivery guarantees) on what the application saw and on OrbiWAN's POSTs.
//
// EXPLORER_RUNS sets the number of runs (default 500), EXPLORER_SEED replays a run's seed.

const RUNS = Number(process.env.EXPLORER_RUNS ?? 500);
const SEED = Number(process.env.EXPLORER_SEED ?? Date.now() % 2 ** 31);

let harness: DownlinkHarness;

beforeAll(async () => {
  // Thousands of metric lines would bury the report (the observability tests check them).
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  harness = await startDownlinkHarness();
});

afterAll(async () => {
  await harness.close();
});

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

type PostFault = '401' | '409' | '429' | '500' | 'reset';

type ScenarioFault =
  | { kind: 'none' }
  | { kind: 'aws'; fault: Fault }
  | { kind: 'post'; answer: PostFault }
  /** OrbiWAN fails the timeout's GET this many times (it is asked again for 2 s; the
   * downlink-timeout tests cover one that never answers). */
  | { kind: 'get'; status: number; times: number }
  | { kind: 'lost'; event: number; copy: number };

interface Scenario {
  confirmed: boolean;
  requestId: string | undefined;
  /** How many times the application publishes the same request again. */
  repeats: number;
  /** What happens to the downlink at OrbiWAN, in order: its transmissionStatus, one at a time. */
  events: number[];
  /** How many times OrbiWAN pushes each event. */
  copies: number[];
  fault: ScenarioFault;
}

const awsFault = fc
  .record({
    target: fc.constantFrom(
      { service: 'dynamodb', operation: 'UpdateItem' },
      { service: 'dynamodb', operation: 'PutItem' },
      { service: 'dynamodb', operation: 'GetItem' },
      { service: 'dynamodb', operation: 'DeleteItem' },
      { service: 'iot-data-plane', operation: 'Publish' },
      { service: 'step-functions', operation: 'SendTaskSuccess' },
      { service: 'step-functions', operation: 'SendTaskFailure' },
      { service: 'secrets-manager', operation: 'GetSecretValue' },
    ),
    effect: fc.oneof(
      // 1: the SDK's own retry gets through; 3 (IoT Core, Step Functions, Secrets Manager) or 4
      // (DynamoDB): the SDK gives up and the function sees it fail, once or more.
      fc.record({
        error: fc.constant('InternalServerError'),
        status: fc.constant(500),
        times: fc.constantFrom(1, 3, 4, 5),
      }),
      // Throttling once: the SDK backs off for long before it tries again, so once is enough.
      fc.record({
        error: fc.constant('ThrottlingException'),
        status: fc.constant(400),
        times: fc.constant(1),
      }),
      fc.record({ delayMs: fc.constant(30), times: fc.constantFrom(1, 3) }),
    ),
    after: fc.integer({ min: 0, max: 8 }),
  })
  .map(({ target, effect: { times, ...effect }, after }): ScenarioFault => {
    // A throttled DynamoDB says so in its own words.
    const dynamoThrottle =
      target.service === 'dynamodb' && 'error' in effect && effect.error === 'ThrottlingException'
        ? { error: 'ProvisionedThroughputExceededException', status: 400 }
        : effect;
    return { kind: 'aws', fault: { ...target, effect: dynamoThrottle, times, after } };
  });

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .record({
    confirmed: fc.boolean(),
    requestId: fc.option(fc.constant('order'), { freq: 5, nil: undefined }),
    repeats: fc.integer({ min: 0, max: 2 }),
  })
  .chain(({ confirmed, requestId, repeats }) =>
    fc
      .constantFrom(
        ...(confirmed
          ? [[1, 2], [1, 3], [2], [3], [4], [5], [1, 4], [1, 5], [1], []]
          : [[1], [4], [5], []]),
      )
      .chain((events) =>
        fc.record({
          confirmed: fc.constant(confirmed),
          requestId: fc.constant(requestId),
          repeats: fc.constant(requestId === undefined ? 0 : repeats),
          events: fc.constant(events),
          copies: fc.array(fc.integer({ min: 1, max: 2 }), {
            minLength: events.length,
            maxLength: events.length,
          }),
          fault: fc.oneof(
            { weight: 3, arbitrary: fc.constant<ScenarioFault>({ kind: 'none' }) },
            { weight: 6, arbitrary: awsFault },
            {
              weight: 2,
              arbitrary: fc
                .constantFrom<PostFault>('401', '409', '429', '500', 'reset')
                .map((answer): ScenarioFault => ({ kind: 'post', answer })),
            },
            {
              weight: 1,
              arbitrary: fc
                .constantFrom(1, 2)
                .map((times): ScenarioFault => ({ kind: 'get', status: 503, times })),
            },
            {
              weight: events.length === 0 ? 0 : 2,
              arbitrary: fc
                .record({
                  event: fc.integer({ min: 0, max: Math.max(0, events.length - 1) }),
                  copy: fc.integer({ min: 0, max: 1 }),
                })
                .map((lost): ScenarioFault => ({ kind: 'lost', ...lost })),
            },
          ),
        }),
      ),
  );

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

/** What OrbiWAN did and answered during a run. */
interface OrbiwanLog {
  /** POSTs that OrbiWAN queued (its downlink ids). */
  queued: string[];
  /** The most POSTs for the device in flight at once. */
  mostInFlight: number;
  /** Every push and what the connector answered. */
  pushes: { id: string; transmissionStatus: number; answer: number }[];
  /** OrbiWAN's current status of each downlink it queued. */
  status: Map<string, number>;
  /** GETs of a downlink OrbiWAN was asked. */
  gets: number;
}

let run = 0;
let nextId = 36_028_797_018_963_968n;

async function playScenario(scenario: Scenario, scheduler: fc.Scheduler) {
  run += 1;
  const devEui = `70b3d57ed1${run.toString(16).padStart(6, '0')}`;
  const log: OrbiwanLog = { queued: [], mostInFlight: 0, pushes: [], status: new Map(), gets: 0 };
  const background: Promise<unknown>[] = [];
  const { cloud } = harness;

  // OrbiWAN: each POST may be answered before or after the statuses it pushes for it.
  let inFlight = 0;
  let posts = 0;
  harness.orbiwan.respond(async (request: RecordedRequest) => {
    if (request.method === 'GET') return answerGet(request, scenario, log);
    posts += 1;
    inFlight += 1;
    log.mostInFlight = Math.max(log.mostInFlight, inFlight);
    const fault = scenario.fault.kind === 'post' ? scenario.fault.answer : undefined;
    const refused =
      fault === '409' || ((fault === '401' || fault === '429') && posts === 1)
        ? Number(fault)
        : undefined;
    let reply: Reply | 'reset';
    if (refused !== undefined) {
      reply = { status: refused, body: 'refused', headers: { 'content-type': 'text/plain' } };
    } else {
      const id = (nextId++).toString();
      log.queued.push(id);
      log.status.set(id, 0);
      background.push(playOrbiwanEvents(id, devEui, scenario, scheduler, log));
      reply =
        fault === 'reset'
          ? 'reset'
          : {
              status: fault === '500' ? 500 : 200,
              body: `{"id":${id},"fcnt":7,"port":20,"transmissionStatus":0,"session_id":"s"}`,
            };
    }
    await scheduler.schedule(Promise.resolve(), 'OrbiWAN answers the POST');
    inFlight -= 1;
    return reply;
  });

  // Runs one after the other: whatever the stand-ins serve now is this run's.
  if (scenario.fault.kind === 'aws') cloud.faults.inject(scenario.fault.fault);
  const release = cloud.faults.hold((service, operation) =>
    scheduler.schedule(Promise.resolve(), `${service} ${operation}`),
  );

  const request = {
    data: 'a1b2',
    port: 20,
    confirmed: scenario.confirmed,
    ...(scenario.requestId === undefined ? {} : { requestId: scenario.requestId }),
  };
  const topic = `${PREFIX}/${devEui}/downlink`;
  const executions: ExecutionRecord[] = [harness.publishDownlink(request, topic)];
  const repeated = Array.from({ length: scenario.repeats }, (_, index) =>
    scheduler
      .schedule(Promise.resolve(), `the application repeats its request (${String(index + 1)})`)
      .then(() => {
        executions.push(harness.publishDownlink(request, topic));
      }),
  );

  // Every execution ends: once its send task waits, its timeout may come at any point.
  const ended = async () => {
    await Promise.all(repeated);
    await Promise.all(
      executions.map((execution) => timeOutWhenWaiting(execution.executionArn, scheduler)),
    );
  };
  try {
    await scheduler.waitFor(ended());
    await scheduler.waitFor(Promise.allSettled(background));
  } finally {
    release();
    cloud.faults.clear();
  }
  return { devEui, log, executions: executions.map((e) => harness.finished(e.executionArn)) };
}

/** OrbiWAN's lifecycle of a queued downlink: each event, then its pushes in any order. */
async function playOrbiwanEvents(
  id: string,
  devEui: string,
  scenario: Scenario,
  scheduler: fc.Scheduler,
  log: OrbiwanLog,
): Promise<void> {
  const deliveries: Promise<void>[] = [];
  for (const [index, transmissionStatus] of scenario.events.entries()) {
    await scheduler.schedule(Promise.resolve(), `OrbiWAN: downlink ${id} is ${transmissionStatus}`);
    log.status.set(id, transmissionStatus);
    for (let copy = 0; copy < (scenario.copies[index] ?? 1); copy++) {
      const lost =
        scenario.fault.kind === 'lost' &&
        scenario.fault.event === index &&
        scenario.fault.copy === copy;
      if (lost) continue;
      deliveries.push(
        scheduler
          .schedule(Promise.resolve(), `OrbiWAN pushes ${transmissionStatus} of ${id}`)
          .then(async () => {
            const reply = await harness.pushStatus(id, transmissionStatus, devEui);
            log.pushes.push({ id, transmissionStatus, answer: reply.statusCode ?? 0 });
          }),
      );
    }
  }
  await Promise.all(deliveries);
}

function answerGet(request: RecordedRequest, scenario: Scenario, log: OrbiwanLog): Reply {
  log.gets += 1;
  if (scenario.fault.kind === 'get' && log.gets <= scenario.fault.times)
    return { status: scenario.fault.status, body: 'unavailable' };
  const id = /\/payloads\/dl\/(\d+)$/.exec(request.path)?.[1] ?? '';
  const status = log.status.get(id);
  return status === undefined
    ? { status: 404, body: 'no such downlink', headers: { 'content-type': 'text/plain' } }
    : { status: 200, body: `{"id":${id},"fcnt":7,"port":20,"transmissionStatus":${status}}` };
}

/** Each time the execution's send task waits for its token, its timeout is scheduled. */
async function timeOutWhenWaiting(executionArn: string, scheduler: fc.Scheduler): Promise<void> {
  const { stepFunctions } = harness.cloud;
  const finished = stepFunctions.whenDone(executionArn);
  for (let attempt = 1; ; attempt++) {
    const waiting = harness.waitingForStatus(executionArn, attempt).then(() => 'waiting' as const);
    const outcome = await Promise.race([finished.then(() => 'done' as const), waiting]);
    if (outcome === 'done') return;
    await scheduler.schedule(Promise.resolve(), `the wait of ${executionArn} times out`);
    await stepFunctions.timeOutTask(executionArn);
  }
}

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

const FINAL_STATES = new Set([
  'acknowledged',
  'not_acknowledged',
  'error',
  'cancelled',
  'timed_out',
]);
/** Codes that tell the application to send its downlink again (or fix it). */
const RESEND_CODES = new Set([
  'INVALID_DOWNLINK',
  'UNKNOWN_DEVICE',
  'DEVICE_BUSY',
  'ORBIWAN_REJECTED',
]);
const RANK: Record<string, number> = { accepted: 0, pending: 0, sent: 1 };

interface Status {
  state: string;
  stale?: boolean;
  requestId?: string;
  correlationId?: string;
  transmissionStatus?: number;
  error?: { code: string };
}

const isFinal = (status: Status, confirmed: boolean) =>
  FINAL_STATES.has(status.state) || (status.state === 'sent' && !confirmed);

/** How the execution should have ended for the final status the application got. */
function expectedEnding(final: Status, confirmed: boolean): { status: string; error?: string } {
  if (final.state === 'acknowledged' || (final.state === 'sent' && !confirmed))
    return { status: 'SUCCEEDED' };
  if (final.state === 'not_acknowledged') return { status: 'FAILED', error: 'NotAcknowledged' };
  if (final.state === 'cancelled') return { status: 'FAILED', error: 'Cancelled' };
  if (final.state === 'timed_out') return { status: 'FAILED', error: 'TimedOut' };
  if (final.error === undefined) return { status: 'FAILED', error: 'TransmissionError' };
  return { status: 'FAILED' };
}

async function checkContract(scenario: Scenario, result: Awaited<ReturnType<typeof playScenario>>) {
  const { devEui, log } = result;
  const executions = await Promise.all(result.executions);
  const all = harness.published
    .filter((message) => message.topic === `${PREFIX}/${devEui}/downlink/status`)
    .map((message) => JSON.parse(message.payload.toString('utf8')) as Status);

  // P6: one execution follows the downlink; its repeats end Duplicate, having published nothing.
  const named = (execution: ExecutionRecord) => execution.executionArn.split(':').at(-1);
  const following = executions.filter((execution) =>
    all.some((status) => status.correlationId === named(execution)),
  );
  expect(following).toHaveLength(1);
  const [execution] = following as [ExecutionRecord];
  for (const repeat of executions.filter((candidate) => candidate !== execution)) {
    expect(repeat).toMatchObject({ status: 'SUCCEEDED' });
    expect(harness.statesEntered(repeat.executionArn).at(-1)).toBe('Duplicate');
  }
  expect(log.queued.length).toBeLessThanOrEqual(1);

  // P4: never two POSTs to the device at once.
  expect(log.mostInFlight).toBeLessThanOrEqual(1);

  // The application's view of its request: statuses with its requestId, or its correlation id.
  const mine = all.filter((status) =>
    scenario.requestId === undefined
      ? status.correlationId === named(execution)
      : status.requestId === scenario.requestId,
  );
  for (const status of mine) expect(status.correlationId).toBe(named(execution));

  // P1: exactly one final status, and nothing but stale ones after it; the execution agrees.
  const fresh = mine.filter((status) => status.stale !== true);
  const finals = fresh.filter((status) => isFinal(status, scenario.confirmed));
  expect(finals).toHaveLength(1);
  const [final] = finals as [Status];
  expect(fresh.at(-1)).toBe(final);
  expect(mine.slice(mine.indexOf(final) + 1).every((status) => status.stale === true)).toBe(true);
  expect(execution).toMatchObject(expectedEnding(final, scenario.confirmed));

  // P2: accepted (or the error that refuses it) first; then only forward.
  expect(['accepted', 'error']).toContain(fresh[0]?.state);
  const ranks = fresh.map((status) => RANK[status.state] ?? 2);
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  expect(fresh.filter((status) => status.state === 'accepted').length).toBeLessThanOrEqual(1);

  // P3: every status OrbiWAN had answered 200 reached the application.
  const queuedId = log.queued[0];
  if (queuedId !== undefined && final.error === undefined) {
    const seenStates = new Set(mine.map((status) => status.transmissionStatus));
    for (const push of log.pushes.filter((candidate) => candidate.answer === 200))
      expect(seenStates.has(push.transmissionStatus)).toBe(true);
  }

  // P5: a downlink OrbiWAN queued never ends in a code that invites sending it again.
  if (log.queued.length > 0 && final.error !== undefined)
    expect(RESEND_CODES.has(final.error.code)).toBe(false);
}

describe('Downlink lifecycle: interleavings and single faults', () => {
  it(`holds the contract over ${String(RUNS)} explored schedules (seed ${String(SEED)})`, async () => {
    console.log(`interleaving explorer: ${String(RUNS)} runs, seed ${String(SEED)}`);
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, fc.scheduler(), async (scenario, scheduler) => {
        const result = await playScenario(scenario, scheduler);
        await checkContract(scenario, result);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
