import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseSelector } from '../../functions/codecs/codec-attachments.js';
import { dynamoDbCodecStore } from '../../functions/codecs/codec-store.js';
import { transmissionState } from '../../functions/downlinks/downlink-status.js';
import { findFunction } from '../../local/lambda/local-functions.js';
import type { Fault } from '../../local/aws/fault-injection.js';
import type { ExecutionRecord } from '../../local/stepfunctions/local-step-functions.js';
import { PREFIX, startDownlinkHarness, type DownlinkHarness } from '../helpers/downlink-harness.js';
import type { RecordedRequest, Reply } from '../helpers/fake-http-server.js';

// The interleaving explorer: the real state machine on the local Step Functions, the real send,
// status, check and report functions on the AWS stand-ins, and a fake OrbiWAN. Each run sends one
// to three downlinks to one device at once. fast-check's scheduler decides the order of every step
// that can race: each request the functions make to DynamoDB, IoT Core and Step Functions,
// OrbiWAN's reply to each POST, each status OrbiWAN pushes (before, during or after its reply,
// repeated, in any order), the application repeating a request, and each wait's timeout. Each run
// adds at most one fault: an AWS service failing or slow, OrbiWAN refusing or failing the first
// POST or the GET, or a push lost. Every run checks the contract (docs/reliability.md: Delivery guarantees) on
// what the application saw and on OrbiWAN's POSTs. A request may carry `object` instead of `data`
// (PayloadCodecs): the send task hands it to EncodeObject, which encodes it with the codec attached
// to the explorer's devices, and runs again; its DynamoDB reads and Lambda hop race like the rest.
//
// EXPLORER_RUNS sets the number of runs (default 500). EXPLORER_SEED replays a run's scenarios; its
// schedules also depend on which real requests are in flight when the scheduler picks, so a
// failure may take a few replays (or a few seeds) to show again.

const RUNS = Number(process.env.EXPLORER_RUNS ?? 500);
const SEED = Number(process.env.EXPLORER_SEED ?? Date.now() % 2 ** 31);

let harness: DownlinkHarness;

/** The explorer's devices' codec: `{"plan": n}` is the bytes of that plan's data, on port 20. */
const PLAN_CODEC = `
function encodeDownlink(input) {
  return { bytes: [0xa1, 0xb2, input.data.plan], fPort: 20 };
}
`;
/** Every device of the explorer has a DevEUI that starts so. */
const DEVICE_PREFIX = '70b3d57ed1';

beforeAll(async () => {
  // Thousands of metric lines would bury the report (the observability tests check them).
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  harness = await startDownlinkHarness({ PayloadCodecs: 'Enabled' });
  const table =
    findFunction(harness.cloud.functions, 'DeviceStateFunction')?.environment.DEVICE_CODECS_TABLE ??
    '';
  const codecs = dynamoDbCodecStore(
    new DynamoDBClient({
      endpoint: harness.cloud.endpoint.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    }),
    table,
  );
  await codecs.putCodec('plan-codec', PLAN_CODEC);
  await codecs.attach({ selector: parseSelector(`prefix:${DEVICE_PREFIX}`), codec: 'plan-codec' });
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
  | { kind: 'lost'; plan: number; event: number; copy: number };

/** One downlink request of a run, and what becomes of it at OrbiWAN. */
interface Plan {
  confirmed: boolean;
  /** Sent as `object`, for the device's codec to encode, rather than as `data`. */
  object: boolean;
  requestId: string | undefined;
  /** How many times the application publishes the same request again. */
  repeats: number;
  /** What happens to the downlink at OrbiWAN, in order: its transmissionStatus, one at a time. */
  events: number[];
  /** How many times OrbiWAN pushes each event. */
  copies: number[];
}

interface Scenario {
  /** The downlinks sent to the device at once (the first may be repeated). */
  plans: Plan[];
  fault: ScenarioFault;
}

const awsFault = fc
  .record({
    target: fc.constantFrom(
      { service: 'dynamodb', operation: 'UpdateItem' },
      { service: 'dynamodb', operation: 'PutItem' },
      { service: 'dynamodb', operation: 'GetItem' },
      { service: 'dynamodb', operation: 'DeleteItem' },
      // The codecs' attachments (EncodeObject), read once a minute per function instance.
      { service: 'dynamodb', operation: 'Query' },
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

const planArbitrary = (index: number): fc.Arbitrary<Plan> =>
  fc
    .record({
      confirmed: fc.boolean(),
      object: fc.boolean(),
      withRequestId: fc.boolean(),
      repeats: fc.integer({ min: 0, max: 2 }),
    })
    .chain(({ confirmed, object, withRequestId, repeats }) =>
      fc
        .constantFrom(
          ...(confirmed
            ? [[1, 2], [1, 3], [2], [3], [4], [5], [1, 4], [1, 5], [1], []]
            : [[1], [4], [5], []]),
        )
        .chain((events) =>
          fc.record({
            confirmed: fc.constant(confirmed),
            object: fc.constant(object),
            requestId: fc.constant(withRequestId ? `order-${String(index)}` : undefined),
            // Only the first is repeated: a repeat of the others is the same story again.
            repeats: fc.constant(withRequestId && index === 0 ? repeats : 0),
            events: fc.constant(events),
            copies: fc.array(fc.integer({ min: 1, max: 2 }), {
              minLength: events.length,
              maxLength: events.length,
            }),
          }),
        ),
    );

const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .integer({ min: 1, max: 3 })
  .chain((count) => fc.tuple(...Array.from({ length: count }, (_, index) => planArbitrary(index))))
  .chain((plans) =>
    fc.record({
      plans: fc.constant(plans),
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
          weight: 2,
          arbitrary: fc
            .record({
              plan: fc.integer({ min: 0, max: plans.length - 1 }),
              event: fc.integer({ min: 0, max: 1 }),
              copy: fc.integer({ min: 0, max: 1 }),
            })
            .map((lost): ScenarioFault => ({ kind: 'lost', ...lost })),
        },
      ),
    }),
  );

// ---------------------------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------------------------

/** What OrbiWAN did and answered during a run. */
interface OrbiwanLog {
  /** The downlink id OrbiWAN queued for each plan, by plan. */
  queued: Map<number, string>;
  /** The most POSTs for the device in flight at once. */
  mostInFlight: number;
  /** Every push and what the connector answered. */
  pushes: { id: string; transmissionStatus: number; answer: number }[];
  /** OrbiWAN's current status of each downlink it queued. */
  status: Map<string, number>;
  /** What OrbiWAN answered each GET of a downlink: its status then, by id. */
  answered: Map<string, number[]>;
  /** GETs of a downlink OrbiWAN was asked. */
  gets: number;
}

let run = 0;
let nextId = 36_028_797_018_963_968n;

/** Each plan's payload, so OrbiWAN can tell which request a POST is. */
const dataOf = (index: number) => `a1b2${index.toString(16).padStart(2, '0')}`;

async function playScenario(scenario: Scenario, scheduler: fc.Scheduler) {
  run += 1;
  const devEui = `${DEVICE_PREFIX}${run.toString(16).padStart(6, '0')}`;
  const log: OrbiwanLog = {
    queued: new Map(),
    mostInFlight: 0,
    pushes: [],
    status: new Map(),
    answered: new Map(),
    gets: 0,
  };
  const background: Promise<unknown>[] = [];
  const { cloud } = harness;

  // OrbiWAN: each POST may be answered before or after the statuses it pushes for it. A fault of
  // the POST is the first POST's; 401 and 429 are answered once, then the POST goes through.
  let inFlight = 0;
  let posts = 0;
  harness.orbiwan.respond(async (request: RecordedRequest) => {
    if (request.method === 'GET') return answerGet(request, scenario, log);
    posts += 1;
    inFlight += 1;
    log.mostInFlight = Math.max(log.mostInFlight, inFlight);
    const plan = scenario.plans.findIndex((_, index) => dataOf(index) === request.body);
    const fault = scenario.fault.kind === 'post' && posts === 1 ? scenario.fault.answer : undefined;
    let reply: Reply | 'reset';
    if (fault === '409' || fault === '401' || fault === '429') {
      reply = { status: Number(fault), body: 'refused', headers: { 'content-type': 'text/plain' } };
    } else {
      const id = (nextId++).toString();
      log.queued.set(plan, id);
      log.status.set(id, 0);
      background.push(playOrbiwanEvents(id, devEui, scenario, plan, scheduler, log));
      reply =
        fault === 'reset'
          ? 'reset'
          : {
              status: fault === '500' ? 500 : 200,
              body: `{"id":${id},"fcnt":7,"port":20,"transmissionStatus":0,"session_id":"s"}`,
            };
    }
    await scheduler.schedule(Promise.resolve(), `OrbiWAN answers the POST of plan ${String(plan)}`);
    inFlight -= 1;
    return reply;
  });

  // Runs one after the other: whatever the stand-ins serve now is this run's.
  if (scenario.fault.kind === 'aws') cloud.faults.inject(scenario.fault.fault);
  const release = cloud.faults.hold((service, operation) =>
    scheduler.schedule(Promise.resolve(), `${service} ${operation}`),
  );

  const topic = `${PREFIX}/${devEui}/downlink`;
  const requestOf = (plan: Plan, index: number) => ({
    ...(plan.object ? { object: { plan: index } } : { data: dataOf(index), port: 20 }),
    confirmed: plan.confirmed,
    ...(plan.requestId === undefined ? {} : { requestId: plan.requestId }),
  });
  // Each plan's executions: its request's, then its repeats'.
  const executions = scenario.plans.map((plan, index) => [
    harness.publishDownlink(requestOf(plan, index), topic),
  ]);
  const repeated = scenario.plans.flatMap((plan, index) =>
    Array.from({ length: plan.repeats }, (_, repeat) =>
      scheduler
        .schedule(
          Promise.resolve(),
          `the application repeats request ${String(index)} (${String(repeat + 1)})`,
        )
        .then(() => {
          executions[index]?.push(harness.publishDownlink(requestOf(plan, index), topic));
        }),
    ),
  );

  // Every execution ends: once its send task waits, its timeout may come at any point.
  const ended = async () => {
    await Promise.all(repeated);
    await Promise.all(
      executions.flat().map((execution) => timeOutWhenWaiting(execution.executionArn, scheduler)),
    );
  };
  try {
    await scheduler.waitFor(ended());
    await scheduler.waitFor(Promise.allSettled(background));
  } finally {
    release();
    cloud.faults.clear();
  }
  return {
    devEui,
    log,
    executions: await Promise.all(
      executions.map((ofPlan) =>
        Promise.all(ofPlan.map((execution) => harness.finished(execution.executionArn))),
      ),
    ),
  };
}

/** OrbiWAN's lifecycle of a queued downlink: each event, then its pushes in any order. */
async function playOrbiwanEvents(
  id: string,
  devEui: string,
  scenario: Scenario,
  planIndex: number,
  scheduler: fc.Scheduler,
  log: OrbiwanLog,
): Promise<void> {
  const plan = scenario.plans[planIndex];
  if (plan === undefined) return;
  const deliveries: Promise<void>[] = [];
  for (const [index, transmissionStatus] of plan.events.entries()) {
    await scheduler.schedule(Promise.resolve(), `OrbiWAN: downlink ${id} is ${transmissionStatus}`);
    log.status.set(id, transmissionStatus);
    for (let copy = 0; copy < (plan.copies[index] ?? 1); copy++) {
      const { fault } = scenario;
      const lost =
        fault.kind === 'lost' &&
        fault.plan === planIndex &&
        fault.event === index &&
        fault.copy === copy;
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
  if (status === undefined)
    return { status: 404, body: 'no such downlink', headers: { 'content-type': 'text/plain' } };
  log.answered.set(id, [...(log.answered.get(id) ?? []), status]);
  return { status: 200, body: `{"id":${id},"fcnt":7,"port":20,"transmissionStatus":${status}}` };
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
  id?: unknown;
  requestId?: string;
  correlationId?: string;
  transmissionStatus?: number;
  error?: { code: string };
}

const isFinal = (status: Status, confirmed: boolean) =>
  FINAL_STATES.has(status.state) || (status.state === 'sent' && !confirmed);

const isFinalStatus = (transmissionStatus: number, confirmed: boolean) =>
  transmissionStatus >= 2 || (transmissionStatus === 1 && !confirmed);

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

type Played = Awaited<ReturnType<typeof playScenario>>;

function checkContract(scenario: Scenario, { devEui, log, executions }: Played): void {
  const all = harness.published
    .filter((message) => message.topic === `${PREFIX}/${devEui}/downlink/status`)
    .map((message) => JSON.parse(message.payload.toString('utf8')) as Status);
  const named = (execution: ExecutionRecord) => execution.executionArn.split(':').at(-1);

  // P4: never two POSTs to the device at once, whatever the downlinks do.
  expect(log.mostInFlight).toBeLessThanOrEqual(1);

  for (const [index, plan] of scenario.plans.entries()) {
    const context = `plan ${String(index)}`;
    const ofPlan = executions[index] ?? [];

    // P6: one execution follows the downlink; its repeats end Duplicate, having published nothing.
    const following = ofPlan.filter((execution) =>
      all.some((status) => status.correlationId === named(execution)),
    );
    expect(following, context).toHaveLength(1);
    const [execution] = following as [ExecutionRecord];
    // An object went through EncodeObject before anything was sent.
    if (plan.object)
      expect(harness.statesEntered(execution.executionArn), context).toContain('EncodeObject');
    for (const repeat of ofPlan.filter((candidate) => candidate !== execution)) {
      expect(repeat, context).toMatchObject({ status: 'SUCCEEDED' });
      expect(harness.statesEntered(repeat.executionArn).at(-1), context).toBe('Duplicate');
    }

    // What the application sees of its request: statuses with its requestId, or its correlation id.
    const mine = all.filter((status) =>
      plan.requestId === undefined
        ? status.correlationId === named(execution)
        : status.requestId === plan.requestId,
    );
    for (const status of mine) expect(status.correlationId, context).toBe(named(execution));

    // P1: exactly one final status, and nothing but stale ones after it; the execution agrees.
    const fresh = mine.filter((status) => status.stale !== true);
    const finals = fresh.filter((status) => isFinal(status, plan.confirmed));
    expect(finals, context).toHaveLength(1);
    const [final] = finals as [Status];
    expect(fresh.at(-1), context).toBe(final);
    const after = mine.slice(mine.indexOf(final) + 1);
    expect(
      after.every((status) => status.stale === true),
      context,
    ).toBe(true);
    expect(execution, context).toMatchObject(expectedEnding(final, plan.confirmed));

    // P2: accepted (or the error that refuses it) first; then only forward.
    expect(['accepted', 'error'], context).toContain(fresh[0]?.state);
    const ranks = fresh.map((status) => RANK[status.state] ?? 2);
    expect(ranks, context).toEqual([...ranks].sort((a, b) => a - b));
    expect(
      fresh.filter((status) => status.state === 'accepted').length,
      context,
    ).toBeLessThanOrEqual(1);

    const queuedId = log.queued.get(index);
    if (queuedId !== undefined && final.error === undefined) {
      // P3: every status OrbiWAN had answered 200 reached the application ...
      const seen = new Set(mine.map((status) => status.transmissionStatus));
      for (const push of log.pushes.filter((p) => p.id === queuedId && p.answer === 200))
        expect(seen.has(push.transmissionStatus), context).toBe(true);
      // ... and a final status OrbiWAN gave when asked is how it ended.
      const answeredFinal = (log.answered.get(queuedId) ?? []).find((status) =>
        isFinalStatus(status, plan.confirmed),
      );
      if (answeredFinal !== undefined)
        expect(final.state, context).toBe(transmissionState(answeredFinal));
    }

    // P5: a downlink OrbiWAN queued never ends in a code that invites sending it again; an
    // INTERNAL_ERROR says it was queued (its id).
    if (queuedId !== undefined && final.error !== undefined) {
      expect(RESEND_CODES.has(final.error.code), context).toBe(false);
      if (final.error.code === 'INTERNAL_ERROR') expect(final.id, context).toBeDefined();
    }
  }
}

/** A failed run's observable outcome: OrbiWAN's log, the statuses published, the executions. */
function whatCameOf({ devEui, log, executions }: Played) {
  return {
    orbiwan: {
      ...log,
      queued: [...log.queued],
      status: [...log.status],
      answered: [...log.answered],
    },
    statuses: harness.published
      .filter((message) => message.topic === `${PREFIX}/${devEui}/downlink/status`)
      .map((message) => message.payload.toString('utf8')),
    executions: executions.map((ofPlan) =>
      ofPlan.map(({ executionArn, status, error }) => ({
        name: executionArn.split(':').at(-1),
        status,
        error,
        states: harness.statesEntered(executionArn),
      })),
    ),
  };
}

describe('Downlink lifecycle: interleavings and single faults', () => {
  it(`holds the contract over ${String(RUNS)} explored schedules (seed ${String(SEED)})`, async () => {
    console.log(`interleaving explorer: ${String(RUNS)} runs, seed ${String(SEED)}`);
    await fc.assert(
      fc.asyncProperty(scenarioArbitrary, fc.scheduler(), async (scenario, scheduler) => {
        const played = await playScenario(scenario, scheduler);
        try {
          checkContract(scenario, played);
        } catch (error) {
          // fast-check prints the scenario and the schedule; this is what came of them.
          console.log(`what the run saw: ${JSON.stringify(whatCameOf(played), null, 1)}`);
          throw error;
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
  }, 600_000);
});
