import { readFileSync } from 'node:fs';
import { findFunction } from '../../local/lambda/local-functions.js';
import type { InvocationRecord } from '../../local/usage-meter.js';
import { sampleEvent } from '../../test/helpers/api-events.js';
import {
  acceptDownlinks,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../../test/helpers/downlink-harness.js';
import { round } from '../stats.js';

// Part 8: what the connector costs on AWS per million uplinks and per million downlinks. The
// counts come from running each path once through the real functions and state machine and
// counting what they ask of AWS; the prices and what cannot be measured here, from aws-prices.json.

export interface Prices {
  asOf: string;
  region: string;
  lambda: { requestsPerMillion: number; gbSecondArm64: number };
  apiGatewayHttpApi: { requestsPerMillion: number };
  iotCore: {
    messagesPerMillion: number;
    meteredMessageBytes: number;
    rulesTriggeredPerMillion: number;
    actionsExecutedPerMillion: number;
  };
  stepFunctionsStandard: { stateTransitionsPerThousand: number };
  dynamoDbOnDemand: { writeRequestUnitsPerMillion: number; readRequestUnitsPerMillion: number };
  cloudWatchLogs: { ingestionPerGb: number };
  assumptions: {
    roundTripMs: {
      iotPublish: number;
      dynamoDb: number;
      stepFunctions: number;
      orbiwanPost: number;
    };
    subscribersPerTopic: number;
    lambdaPlatformLogBytesPerInvocation: number;
  };
}

/** What one unit (an uplink, a downlink) asks of AWS. */
export interface PathCounts {
  apiRequests: number;
  invocations: number;
  billedGbSeconds: number;
  iotMessages: number;
  rulesTriggered: number;
  actionsExecuted: number;
  stateTransitions: number;
  dynamoDbWrites: number;
  dynamoDbReads: number;
  logBytes: number;
  /** Lambda tasks that ran between the IoT rule and OrbiWAN's POST (downlinks only). */
  lambdaTasksBeforePost?: number;
}

export interface PathCost {
  counts: PathCounts;
  /** USD per million units, by service. */
  perMillion: Record<string, number>;
  perMillionTotal: number;
}

export interface CostModelResult {
  pricesAsOf: string;
  region: string;
  memoryMb: number;
  uplink: PathCost;
  downlinkUnconfirmed: PathCost;
  downlinkConfirmed: PathCost;
}

export const PRICES_FILE = new URL('../aws-prices.json', import.meta.url);

export async function measureCostModel({
  memoryMb,
  logBytesPerInvocation,
}: {
  memoryMb: number;
  logBytesPerInvocation: number;
}): Promise<CostModelResult> {
  const prices = JSON.parse(readFileSync(PRICES_FILE, 'utf8')) as Prices;
  const harness = await startDownlinkHarness();
  try {
    const uplink = await observe(harness, async () => {
      for (const [functionId, directory, name] of [
        ['UplinkEarlyFunction', 'uplink-early', 'base64-payload'],
        ['UplinkFunction', 'uplink', 'gateways-base64-payload'],
      ] as const) {
        await findFunction(harness.cloud.functions, functionId)?.invoke(
          sampleEvent(directory, name),
        );
      }
      return { apiRequests: 2, stateTransitions: 0, inboundMessages: 0, rules: 0 };
    });
    const downlink = (confirmed: boolean) =>
      observe(harness, async () => {
        const tasksBeforePost = lambdaTasksBeforePost(harness);
        const execution = harness.publishDownlink({ data: 'aabbcc', port: 20, confirmed });
        await harness.waitingForStatus(execution.executionArn);
        const id = harness.acceptedIds().at(-1) ?? '';
        await harness.pushStatus(id, 1);
        if (confirmed) await harness.pushStatus(id, 2);
        const done = await harness.finished(execution.executionArn);
        const transitions = done.history.filter((event) =>
          event.type.endsWith('StateEntered'),
        ).length;
        return {
          apiRequests: confirmed ? 2 : 1,
          stateTransitions: transitions,
          inboundMessages: 1,
          rules: 1,
          lambdaTasksBeforePost: await tasksBeforePost,
        };
      });
    const unconfirmed = await downlink(false);
    const confirmed = await downlink(true);
    const price = (observed: Observed) => priced(observed, prices, memoryMb, logBytesPerInvocation);
    return {
      pricesAsOf: prices.asOf,
      region: prices.region,
      memoryMb,
      uplink: price(uplink),
      downlinkUnconfirmed: price(unconfirmed),
      downlinkConfirmed: price(confirmed),
    };
  } finally {
    await harness.close();
  }
}

/**
 * How many Lambda tasks the state machine runs between the IoT rule and OrbiWAN's POST: the
 * invocations started (the status function's aside) when the fake OrbiWAN receives it.
 */
function lambdaTasksBeforePost(harness: DownlinkHarness): Promise<number> {
  const { invocations } = harness.cloud.usage.counts;
  const tasks = () =>
    Object.entries(invocations)
      .filter(([functionId]) => functionId !== 'DownlinkStatusFunction')
      .reduce((sum, [, count]) => sum + count, 0);
  const before = tasks();
  return new Promise((resolve) => {
    const accept = acceptDownlinks(harness.statusAtOrbiwan);
    harness.orbiwan.respond((request) => {
      if (request.method === 'POST') {
        resolve(tasks() - before);
        harness.orbiwan.respond(accept);
      }
      return accept(request);
    });
  });
}

interface Observed {
  lambdaTasksBeforePost?: number;
  invocations: InvocationRecord[];
  publishedBytes: number[];
  dynamoDbWrites: number;
  dynamoDbReads: number;
  apiRequests: number;
  stateTransitions: number;
  inboundMessages: number;
  rules: number;
}

async function observe(
  harness: DownlinkHarness,
  run: () => Promise<{
    apiRequests: number;
    stateTransitions: number;
    inboundMessages: number;
    rules: number;
    lambdaTasksBeforePost?: number;
  }>,
): Promise<Observed> {
  const { usage } = harness.cloud;
  const { counts } = usage;
  const publishedStart = harness.published.length;
  const writes = () =>
    ['PutItem', 'UpdateItem', 'DeleteItem'].reduce(
      (sum, operation) => sum + (counts.dynamoDbRequests[operation] ?? 0),
      0,
    );
  const reads = () => counts.dynamoDbRequests.GetItem ?? 0;
  const [writesBefore, readsBefore] = [writes(), reads()];
  const { result: counted, invocations } = await usage.record(run);
  return {
    ...counted,
    invocations,
    publishedBytes: harness.published
      .slice(publishedStart)
      .map((message) => message.payload.length + message.topic.length),
    dynamoDbWrites: writes() - writesBefore,
    dynamoDbReads: reads() - readsBefore,
  };
}

function priced(
  observed: Observed,
  prices: Prices,
  memoryMb: number,
  logBytesPerInvocation: number,
): PathCost {
  const { roundTripMs, subscribersPerTopic, lambdaPlatformLogBytesPerInvocation } =
    prices.assumptions;
  // Billed duration: what ran here, plus the round trips the local stand-ins answer at once.
  const billedMs = observed.invocations.map(
    ({ functionId, durationMs, dynamoDbRequests, publishes, stepFunctionsRequests }) =>
      Math.ceil(
        durationMs +
          dynamoDbRequests * roundTripMs.dynamoDb +
          publishes * roundTripMs.iotPublish +
          stepFunctionsRequests * roundTripMs.stepFunctions +
          (functionId === 'SendDownlinkFunction' ? roundTripMs.orbiwanPost : 0),
      ),
  );
  const messages = (bytes: number) =>
    Math.max(1, Math.ceil(bytes / prices.iotCore.meteredMessageBytes));
  const counts: PathCounts = {
    apiRequests: observed.apiRequests,
    invocations: observed.invocations.length,
    billedGbSeconds: billedMs.reduce((sum, ms) => sum + (ms / 1000) * (memoryMb / 1024), 0),
    // Each publish is a message in and one out per subscriber; an app's downlink request is one in.
    iotMessages:
      observed.publishedBytes.reduce(
        (sum, bytes) => sum + messages(bytes) * (1 + subscribersPerTopic),
        0,
      ) + observed.inboundMessages,
    rulesTriggered: observed.rules,
    actionsExecuted: observed.rules,
    stateTransitions: observed.stateTransitions,
    dynamoDbWrites: observed.dynamoDbWrites,
    dynamoDbReads: observed.dynamoDbReads,
    logBytes:
      observed.invocations.length * (logBytesPerInvocation + lambdaPlatformLogBytesPerInvocation),
    ...(observed.lambdaTasksBeforePost === undefined
      ? {}
      : { lambdaTasksBeforePost: observed.lambdaTasksBeforePost }),
  };
  const million = 1_000_000;
  const perMillion = {
    lambda:
      counts.invocations * prices.lambda.requestsPerMillion +
      counts.billedGbSeconds * million * prices.lambda.gbSecondArm64,
    apiGateway: counts.apiRequests * prices.apiGatewayHttpApi.requestsPerMillion,
    iotCore:
      counts.iotMessages * prices.iotCore.messagesPerMillion +
      counts.rulesTriggered * prices.iotCore.rulesTriggeredPerMillion +
      counts.actionsExecuted * prices.iotCore.actionsExecutedPerMillion,
    stepFunctions:
      counts.stateTransitions * 1000 * prices.stepFunctionsStandard.stateTransitionsPerThousand,
    dynamoDb:
      counts.dynamoDbWrites * prices.dynamoDbOnDemand.writeRequestUnitsPerMillion +
      counts.dynamoDbReads * prices.dynamoDbOnDemand.readRequestUnitsPerMillion,
    cloudWatchLogs:
      ((counts.logBytes * million) / 1024 ** 3) * prices.cloudWatchLogs.ingestionPerGb,
  };
  const rounded = Object.fromEntries(
    Object.entries(perMillion).map(([service, usd]) => [service, round(usd, 2)]),
  );
  return {
    counts: { ...counts, billedGbSeconds: round(counts.billedGbSeconds, 6) },
    perMillion: rounded,
    perMillionTotal: round(
      Object.values(perMillion).reduce((a, b) => a + b, 0),
      2,
    ),
  };
}
