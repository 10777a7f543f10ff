import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { METRIC } from '../../functions/shared/metrics.js';
import { findFunction } from '../../local/lambda/local-functions.js';
import { pushEvent, sampleEvent } from '../helpers/api-events.js';
import {
  acceptDownlinks,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../helpers/downlink-harness.js';
import { captureLogs, type CapturedLogs } from '../helpers/logs.js';

// What operators see: the metrics the dashboard and alarms read (embedded metric format lines),
// and one correlation id in every log line of an invocation. The functions run as the template
// builds them, on the local stack: the real state machine, the AWS stand-ins and a fake OrbiWAN.

// The functions' log lines, to read their correlation ids (the harness silences them otherwise).
process.env.HARNESS_LOG_LEVEL = 'INFO';

let harness: DownlinkHarness;
let logs: CapturedLogs;

beforeAll(async () => {
  harness = await startDownlinkHarness();
});

afterAll(async () => {
  await harness.close();
  delete process.env.HARNESS_LOG_LEVEL;
});

beforeEach(() => {
  harness.cloud.faults.clear();
  harness.orbiwan.respond(acceptDownlinks(harness.statusAtOrbiwan));
  logs = captureLogs();
});

interface MetricLine {
  name: string;
  value: unknown;
  unit: string;
  namespace: string;
  dimensions: Record<string, unknown>;
}

/** What the functions logged: Powertools' log lines and metrics, each a JSON object. */
const entries = () => logs.entries();

/** The metrics printed in embedded metric format, one entry per metric. */
function metricsPublished(): MetricLine[] {
  return entries().flatMap((entry) => {
    const metadata = entry._aws as
      | {
          CloudWatchMetrics: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Name: string; Unit: string }[];
          }[];
        }
      | undefined;
    if (metadata === undefined) return [];
    return metadata.CloudWatchMetrics.flatMap(({ Namespace, Dimensions, Metrics }) =>
      Metrics.map(({ Name, Unit }) => ({
        name: Name,
        value: entry[Name],
        unit: Unit,
        namespace: Namespace,
        dimensions: Object.fromEntries(
          (Dimensions[0] ?? []).map((dimension) => [dimension, entry[dimension]]),
        ),
      })),
    );
  });
}

const named = (name: string) => metricsPublished().filter((metric) => metric.name === name);

/** The log lines (not metrics) of one function of the template. */
const logLinesOf = (functionId: string) =>
  entries().filter(
    (entry) => entry._aws === undefined && String(entry.function_name).includes(functionId),
  );

/** How many downlinks were counted as ended, by final state. */
function endedCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const metric of named(METRIC.downlinksEnded)) {
    const state = String(metric.dimensions.finalState);
    counts[state] = (counts[state] ?? 0) + Number(metric.value);
  }
  return counts;
}

/** Publishes a downlink and waits until OrbiWAN has queued it; returns its execution and id. */
async function acceptedDownlink(request: Record<string, unknown> = { data: 'aabbcc', port: 20 }) {
  const execution = harness.publishDownlink(request);
  await harness.waitingForStatus(execution.executionArn);
  return { execution, id: harness.acceptedIds().at(-1) ?? '' };
}

describe('Observability: notifications', () => {
  const uplinkFunction = () => {
    const found = findFunction(harness.cloud.functions, 'UplinkFunction');
    if (found === undefined) throw new Error('the template has no UplinkFunction');
    return found;
  };
  const push = async (event = sampleEvent('uplink', 'gateways-base64-payload')) =>
    (await uplinkFunction().invoke(event)) as APIGatewayProxyStructuredResultV2;

  it('counts a published notification by type, and times it from its arrival at the API, under the stack namespace and the service', async () => {
    const arrived = Date.now() - 250;
    const event = sampleEvent('uplink', 'gateways-base64-payload');
    event.requestContext.timeEpoch = arrived;

    const reply = await push(event);
    const handled = Date.now();

    expect(reply.statusCode).toBe(200);
    expect(metricsPublished()).toEqual([
      {
        name: METRIC.notificationsPublished,
        value: 1,
        unit: 'Count',
        namespace: 'OrbiwanConnector/test',
        dimensions: { service: 'orbiwan-connector', notificationType: 'uplink' },
      },
      {
        name: METRIC.pushToPublishLatency,
        value: expect.any(Number),
        unit: 'Milliseconds',
        namespace: 'OrbiwanConnector/test',
        dimensions: { service: 'orbiwan-connector', notificationType: 'uplink' },
      },
    ]);
    const latency = Number(named(METRIC.pushToPublishLatency)[0]?.value);
    expect(latency).toBeGreaterThanOrEqual(250);
    expect(latency).toBeLessThanOrEqual(handled - arrived);
  });

  it("carries the HTTP request's id as the correlation id of every log line", async () => {
    const event = sampleEvent('uplink', 'gateways-base64-payload');
    await push(event);

    const lines = logLinesOf('UplinkFunction');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.correlation_id).toBe(event.requestContext.requestId);
  });

  it('counts a push refused for its token as an auth failure, and publishes nothing', async () => {
    const before = harness.published.length;

    const reply = await push(
      pushEvent({ path: '/rest/callback/payloads/ul', body: '{}', authorization: 'Bearer wrong' }),
    );

    expect(reply.statusCode).toBe(401);
    expect(harness.published.length).toBe(before);
    expect(metricsPublished()).toEqual([
      expect.objectContaining({
        name: METRIC.authFailures,
        value: 1,
        dimensions: { service: 'orbiwan-connector', notificationType: 'uplink' },
      }),
    ]);
  });

  it('counts a push answered 5xx because IoT Core failed as a publish failure', async () => {
    harness.cloud.faults.inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'InternalFailureException', status: 500 },
    });

    const reply = await push();

    expect(reply.statusCode).toBeGreaterThanOrEqual(500);
    expect(metricsPublished().map((metric) => metric.name)).toEqual([METRIC.publishFailures]);
  });
});

describe('Observability: downlinks', () => {
  it("times the login and the POST to OrbiWAN, and the request-to-acceptance delay, with the execution's name in every log line", async () => {
    const published = Date.now();
    const { execution, id } = await acceptedDownlink();
    const accepted = Date.now();

    const calls = named(METRIC.orbiwanCallLatency);
    expect(calls.map((metric) => metric.dimensions)).toEqual([
      { service: 'orbiwan-connector', operation: 'logIn' },
      { service: 'orbiwan-connector', operation: 'enqueueDownlink' },
    ]);
    for (const call of calls) expect(call.unit).toBe('Milliseconds');
    const [acceptance] = named(METRIC.downlinkAcceptanceLatency);
    expect(acceptance?.dimensions).toEqual({ service: 'orbiwan-connector' });
    // Measured from the rule's receivedAt, when IoT Core took the request.
    expect(Number(acceptance?.value)).toBeGreaterThanOrEqual(0);
    expect(Number(acceptance?.value)).toBeLessThanOrEqual(accepted - published);
    expect(named(METRIC.orbiwanErrors)).toEqual([]);
    const lines = logLinesOf('SendDownlinkFunction');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.correlation_id).toBe(execution.name);

    await harness.pushStatus(id, 2);
    await harness.finished(execution.executionArn);
  });

  it('counts a downlink acknowledged once, however often OrbiWAN repeats its statuses', async () => {
    const { execution, id } = await acceptedDownlink();

    await harness.pushStatus(id, 1);
    await harness.pushStatus(id, 2);
    await harness.finished(execution.executionArn);
    await harness.pushStatus(id, 2);
    await harness.pushStatus(id, 1);

    expect(endedCounts()).toEqual({ acknowledged: 1 });
    expect(named(METRIC.downlinksEnded).map((metric) => metric.dimensions)).toEqual([
      { service: 'orbiwan-connector', finalState: 'acknowledged' },
    ]);
  });

  it('counts once a final status that came before the POST was recorded', async () => {
    // The send task's record of the POST (the one write with the task token) comes late.
    harness.cloud.faults.inject({
      service: 'dynamodb',
      operation: 'UpdateItem',
      bodyIncludes: 'taskToken',
      effect: { delayMs: 300 },
      times: 1,
    });
    const before = harness.acceptedIds().length;
    const execution = harness.publishDownlink({ data: 'aabbcc', port: 20 });
    const id = await vi.waitFor(() => {
      const ids = harness.acceptedIds();
      if (ids.length === before) throw new Error('OrbiWAN has not queued it yet');
      return ids.at(-1) ?? '';
    });

    await harness.pushStatus(id, 2);
    await harness.finished(execution.executionArn);

    expect(endedCounts()).toEqual({ acknowledged: 1 });
  });

  it('counts an unconfirmed downlink delivered once OrbiWAN reports it sent', async () => {
    const { execution, id } = await acceptedDownlink({
      data: 'aabbcc',
      port: 20,
      confirmed: false,
    });

    await harness.pushStatus(id, 1);
    await harness.finished(execution.executionArn);

    expect(endedCounts()).toEqual({ delivered: 1 });
  });

  it('counts a downlink the device did not acknowledge as not_acknowledged', async () => {
    const { execution, id } = await acceptedDownlink();

    await harness.pushStatus(id, 3);
    await harness.finished(execution.executionArn);

    expect(endedCounts()).toEqual({ not_acknowledged: 1 });
  });

  it('counts a request that breaks the contract as invalid, and OrbiWAN nothing', async () => {
    await harness.finished(harness.publishDownlink('not json').executionArn);

    expect(endedCounts()).toEqual({ invalid: 1 });
    expect(named(METRIC.orbiwanCallLatency)).toEqual([]);
  });

  it.each([
    ['an unknown device (404, which a wrong URL gives too)', 'rejected', 404, 1],
    ["a device's busy queue (409), the application's to handle,", 'rejected', 409, 0],
    ['OrbiWAN failing (503)', 'failed', 503, 1],
  ])(
    'counts %s as ended %s, and as OrbiWAN errors only what OrbiWAN failed',
    async (_, finalState, status, errors) => {
      harness.orbiwan.respond(() => ({ status, body: 'no' }));

      await harness.finished(harness.publishDownlink({ data: 'aabbcc', port: 20 }).executionArn);

      expect(endedCounts()).toEqual({ [finalState]: 1 });
      expect(named(METRIC.orbiwanErrors)).toEqual(
        Array.from(
          { length: errors },
          () =>
            expect.objectContaining({
              value: 1,
              dimensions: { service: 'orbiwan-connector', operation: 'enqueueDownlink' },
            }) as unknown,
        ),
      );
    },
  );

  it.each([
    ['still pending there, as timed_out', 0, 'timed_out'],
    ['acknowledged meanwhile, as acknowledged', 2, 'acknowledged'],
  ])(
    'asks OrbiWAN for a downlink whose wait timed out, timing the question, and counts one %s',
    async (_, atOrbiwan, finalState) => {
      const { execution, id } = await acceptedDownlink();
      harness.statusAtOrbiwan.set(id, atOrbiwan);

      await harness.timeOut(execution.executionArn);
      await harness.finished(execution.executionArn);

      expect(endedCounts()).toEqual({ [finalState]: 1 });
      expect(named(METRIC.orbiwanCallLatency).map((metric) => metric.dimensions)).toContainEqual({
        service: 'orbiwan-connector',
        operation: 'downlinkAtOrbiwan',
      });
    },
  );

  it('counts an accepted status IoT Core would not take, though the downlink goes on', async () => {
    // The SDK's three attempts of the first publish of accepted; the send task tries again.
    harness.cloud.faults.inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      bodyIncludes: '"state":"accepted"',
      effect: { error: 'InternalFailureException', status: 500 },
      times: 3,
    });

    const { execution, id } = await acceptedDownlink();

    expect(named(METRIC.statusPublishFailures)).toEqual([
      expect.objectContaining({ value: 1, dimensions: { service: 'orbiwan-connector' } }),
    ]);
    expect(id).not.toBe('');
    await harness.pushStatus(id, 2);
    await harness.finished(execution.executionArn);
    expect(endedCounts()).toEqual({ acknowledged: 1 });
  });

  it('counts every failure status IoT Core would not take, and not as ended a downlink whose ending never went out', async () => {
    harness.cloud.faults.inject({
      service: 'iot-data-plane',
      operation: 'Publish',
      effect: { error: 'InternalFailureException', status: 500 },
    });

    const done = await harness.finished(harness.publishDownlink('not json').executionArn);

    expect(done.status).toBe('FAILED');
    // Once per attempt of the Report state (it retries), each after the SDK's own retries.
    expect(named(METRIC.statusPublishFailures).length).toBeGreaterThan(1);
    expect(endedCounts()).toEqual({});
  });
});

describe('Observability: tracing', () => {
  async function freshTracer(env: Record<string, string>) {
    vi.resetModules();
    const saved = process.env;
    process.env = { ...saved, ...env };
    try {
      return (await import('../../functions/shared/tracer.js')).tracer;
    } finally {
      process.env = saved;
    }
  }

  it('loads the X-Ray tracer in Lambda with tracing on, and nowhere else', async () => {
    expect(await freshTracer({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' })).toBeDefined();
    expect(await freshTracer({})).toBeUndefined();
    expect(
      await freshTracer({
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        POWERTOOLS_TRACE_ENABLED: 'false',
      }),
    ).toBeUndefined();
    expect(
      await freshTracer({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', AWS_SAM_LOCAL: 'true' }),
    ).toBeUndefined();
  });
});
