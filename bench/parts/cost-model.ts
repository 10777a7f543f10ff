import { readFileSync } from 'node:fs';
import type { Context } from 'aws-lambda';
import {
  findFunction,
  handlerFactoryOf,
  type LocalFunction,
} from '../../local/lambda/local-functions.js';
import type { InvocationRecord } from '../../local/usage-meter.js';
import { sampleEvent, sampleEvents } from '../../test/helpers/api-events.js';
import {
  acceptDownlinks,
  startDownlinkHarness,
  type DownlinkHarness,
} from '../../test/helpers/downlink-harness.js';
import { lambdaContext } from '../../test/helpers/lambda-context.js';
import { attachSampleCodec, DEVICE_STATE_PARAMETERS, SAMPLE_DEVICE } from '../bench-environment.js';
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
  iotDeviceShadow: { operationsPerMillion: number; meteredOperationBytes: number };
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
    shadowNotificationSubscribers: number;
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
  /** Device Shadow requests (GetThingShadow, UpdateThingShadow). */
  shadowRequests: number;
  /** What they are metered as: 1 KB increments of the document read or the request written. */
  shadowOperations: number;
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
  /**
   * What an uplink costs besides when the device-state function follows it (an IoT rule on
   * {prefix}/+/uplink): with the device's codec and its shadow, the codec alone, the shadow alone.
   */
  deviceState: { codecsAndShadows: PathCost; codecsOnly: PathCost; shadowsOnly: PathCost };
  /** From aws-prices.json, for the report's notes. */
  assumptions: { iotRoundTripMs: number; subscribersPerTopic: number };
}

export const PRICES_FILE = new URL('../aws-prices.json', import.meta.url);

export async function measureCostModel({
  memoryMb,
  logBytesPerInvocation,
  deviceStateLogBytesPerInvocation,
}: {
  memoryMb: number;
  /** Of a notification function (part 3); every function but the device-state one is counted so. */
  logBytesPerInvocation: number;
  /** Of the device-state function (part 3b). */
  deviceStateLogBytesPerInvocation: number;
}): Promise<CostModelResult> {
  const prices = JSON.parse(readFileSync(PRICES_FILE, 'utf8')) as Prices;
  const price = (observed: Observed) =>
    priced(observed, prices, memoryMb, (functionId) =>
      functionId === 'DeviceStateFunction'
        ? deviceStateLogBytesPerInvocation
        : logBytesPerInvocation,
    );
  // One stack for every path, with the opt-in features on: a process hosts one local cloud (its
  // functions share their SDK clients). The uplink and downlink paths do not reach the device-state
  // function: their functions are invoked directly, and the harness applies no rule to what they
  // publish.
  const harness = await startDownlinkHarness(DEVICE_STATE_PARAMETERS);
  let paths: Awaited<ReturnType<typeof measureNotificationPaths>>;
  let deviceState: Awaited<ReturnType<typeof measureDeviceState>>;
  try {
    paths = await measureNotificationPaths(harness);
    deviceState = await measureDeviceState(harness);
  } finally {
    await harness.close();
  }
  return {
    pricesAsOf: prices.asOf,
    region: prices.region,
    memoryMb,
    uplink: price(paths.uplink),
    downlinkUnconfirmed: price(paths.unconfirmed),
    downlinkConfirmed: price(paths.confirmed),
    deviceState: {
      codecsAndShadows: price(deviceState.codecsAndShadows),
      codecsOnly: price(deviceState.codecsOnly),
      shadowsOnly: price(deviceState.shadowsOnly),
    },
    assumptions: {
      iotRoundTripMs: prices.assumptions.roundTripMs.iotPublish,
      subscribersPerTopic: prices.assumptions.subscribersPerTopic,
    },
  };
}

/** The uplink and downlink paths. */
async function measureNotificationPaths(
  harness: DownlinkHarness,
): Promise<Record<'uplink' | 'unconfirmed' | 'confirmed', Observed>> {
  const uplink = await observe(harness, async () => {
    for (const [functionId, directory, name] of [
      ['UplinkEarlyFunction', 'uplink-early', 'base64-payload'],
      ['UplinkFunction', 'uplink', 'gateways-base64-payload'],
    ] as const) {
      await findFunction(harness.cloud.functions, functionId)?.invoke(sampleEvent(directory, name));
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
  return { uplink, unconfirmed, confirmed };
}

// The devices of the three variants: each its own shadow.
const DEVICE_STATE_DEVICES = {
  codecsAndShadows: SAMPLE_DEVICE,
  codecsOnly: '70b3d57ed0001a2c',
  shadowsOnly: '70b3d57ed0001a2d',
};

/**
 * The device-state function following one uplink, as the IoT rule invokes it, in a container that
 * has seen the device before: a first uplink loads what it caches (the codec attachments and
 * source for a minute, the loaded codec for as long as its source is unchanged) and creates the
 * device's shadow; the second is observed. In steady state a container reads the codecs table once
 * a minute at most (a Query and a GetItem), whatever its traffic: ~0 reads per uplink. The stack's
 * function has codecs and shadows; the other variants are the function as a stack with one of
 * them would make it (its factory given that stack's environment), metered alike.
 */
async function measureDeviceState(
  harness: DownlinkHarness,
): Promise<Record<keyof typeof DEVICE_STATE_DEVICES, Observed>> {
  const { cloud } = harness;
  const deviceState = findFunction(cloud.functions, 'DeviceStateFunction');
  if (deviceState === undefined) throw new Error('the stack has no DeviceStateFunction');
  const { DEVICE_CODECS_TABLE: table = '', SHADOW_NAME: shadowName = '' } = deviceState.environment;
  // Before the function's first invocation: it reads the attachments once a minute.
  await attachSampleCodec(cloud.endpoint.url, table, [
    DEVICE_STATE_DEVICES.codecsAndShadows,
    DEVICE_STATE_DEVICES.codecsOnly,
  ]);
  const variant = (environment: Record<string, string>): LocalFunction => {
    const handler = handlerFactoryOf(
      cloud.template,
      deviceState.id,
    )({
      ...deviceState.environment,
      ...environment,
    }) as (event: unknown, context: Context) => Promise<unknown>;
    return cloud.usage.countInvocations({
      ...deviceState,
      invoke: (event) => handler(event, lambdaContext),
    });
  };
  const observeOne = async (fn: LocalFunction, devEui: string): Promise<Observed> => {
    await fn.invoke(uplinkRuleEvent(devEui, 1));
    // The Device Shadow service meters a read by the document it answers, an update by the
    // request; the update's request is at most the state it leaves (the same sections, replaced).
    const shadowBytes = () => {
      const shadow = cloud.shadows.get(devEui, shadowName);
      return {
        document: shadow === undefined ? 0 : Buffer.byteLength(JSON.stringify(shadow)),
        state: shadow === undefined ? 0 : Buffer.byteLength(JSON.stringify(shadow.state)),
      };
    };
    const before = shadowBytes();
    const observed = await observe(harness, async () => {
      await fn.invoke(uplinkRuleEvent(devEui, 2));
      // The rule that invoked it, and its one action: the uplink's own messages are the uplink's.
      return { apiRequests: 0, stateTransitions: 0, inboundMessages: 0, rules: 1 };
    });
    const after = shadowBytes();
    const units = (bytes: number) => Math.max(1, Math.ceil(bytes / 1024));
    const { GetThingShadow: reads = 0, UpdateThingShadow: updates = 0 } = observed.shadowRequests;
    return {
      ...observed,
      shadowOperations: reads * units(before.document) + updates * units(after.state),
    };
  };
  return {
    codecsAndShadows: await observeOne(deviceState, DEVICE_STATE_DEVICES.codecsAndShadows),
    codecsOnly: await observeOne(variant({ SHADOW_NAME: '' }), DEVICE_STATE_DEVICES.codecsOnly),
    shadowsOnly: await observeOne(
      variant({ DEVICE_CODECS_TABLE: '' }),
      DEVICE_STATE_DEVICES.shadowsOnly,
    ),
  };
}

/**
 * What the IoT rule on {prefix}/+/uplink hands the device-state function: the sample sensor's
 * uplink (events/device-state), as the n-th of its frames.
 */
function uplinkRuleEvent(
  devEui: string,
  frame: number,
): { payload: string; topic: string; receivedAt: number } {
  const sample = sampleEvents('device-state').find(({ name }) => name === 'uplink-sample-sensor');
  const event = sample?.event as unknown as { payload: string; topic: string } | undefined;
  if (event === undefined) throw new Error('no events/device-state/uplink-sample-sensor.json');
  // Edited as text: OrbiWAN's 64-bit id would not survive JSON.parse.
  const uplink = Buffer.from(event.payload, 'base64')
    .toString('utf8')
    .replace(/"DevEUI":"[0-9A-Fa-f]{16}"/, `"DevEUI":"${devEui.toUpperCase()}"`)
    .replace(/"fcnt":\d+/, `"fcnt":${String(frame)}`);
  return {
    payload: Buffer.from(uplink).toString('base64'),
    topic: event.topic.replace(/\/[0-9a-f]{16}\//, `/${devEui}/`),
    receivedAt: Date.now(),
  };
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
  /** Device Shadow requests, by operation. */
  shadowRequests: Record<string, number>;
  /** Their metered operations (1 KB increments); observeDeviceState sizes them. */
  shadowOperations: number;
  apiRequests: number;
  stateTransitions: number;
  inboundMessages: number;
  rules: number;
}

const SHADOW_OPERATIONS = ['GetThingShadow', 'UpdateThingShadow', 'DeleteThingShadow'];

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
  const total = (requests: Record<string, number>, operations: string[]) =>
    operations.reduce((sum, operation) => sum + (requests[operation] ?? 0), 0);
  const writes = () => total(counts.dynamoDbRequests, ['PutItem', 'UpdateItem', 'DeleteItem']);
  const reads = () => total(counts.dynamoDbRequests, ['GetItem', 'Query']);
  const shadowRequests = () =>
    Object.fromEntries(
      SHADOW_OPERATIONS.map((operation) => [operation, counts.iotDataRequests[operation] ?? 0]),
    );
  const [writesBefore, readsBefore, shadowsBefore] = [writes(), reads(), shadowRequests()];
  const { result: counted, invocations } = await usage.record(run);
  const shadowsAfter = shadowRequests();
  const shadowDelta = Object.fromEntries(
    SHADOW_OPERATIONS.map((operation) => [
      operation,
      (shadowsAfter[operation] ?? 0) - (shadowsBefore[operation] ?? 0),
    ]),
  );
  return {
    ...counted,
    invocations,
    publishedBytes: harness.published
      .slice(publishedStart)
      // The Device Shadow service's notifications are its own, not the connector's publishes.
      .filter((message) => !message.topic.startsWith('$aws/'))
      .map((message) => message.payload.length + message.topic.length),
    dynamoDbWrites: writes() - writesBefore,
    dynamoDbReads: reads() - readsBefore,
    shadowRequests: shadowDelta,
    // One 1 KB unit each unless sized (a path that makes shadow requests sizes them).
    shadowOperations: total(shadowDelta, SHADOW_OPERATIONS),
  };
}

function priced(
  observed: Observed,
  prices: Prices,
  memoryMb: number,
  logBytesPerInvocationOf: (functionId: string) => number,
): PathCost {
  const { roundTripMs, subscribersPerTopic, lambdaPlatformLogBytesPerInvocation } =
    prices.assumptions;
  // Shadow requests are not in the invocation records: the device-state function makes them all.
  const shadowRequests = Object.values(observed.shadowRequests).reduce((a, b) => a + b, 0);
  const deviceStateInvocations = observed.invocations.filter(
    ({ functionId }) => functionId === 'DeviceStateFunction',
  ).length;
  // Billed duration: what ran here, plus the round trips the local stand-ins answer at once.
  const billedMs = observed.invocations.map(
    ({ functionId, durationMs, dynamoDbRequests, publishes, stepFunctionsRequests }) =>
      Math.ceil(
        durationMs +
          dynamoDbRequests * roundTripMs.dynamoDb +
          publishes * roundTripMs.iotPublish +
          stepFunctionsRequests * roundTripMs.stepFunctions +
          (functionId === 'SendDownlinkFunction' ? roundTripMs.orbiwanPost : 0) +
          (functionId === 'DeviceStateFunction'
            ? (shadowRequests / deviceStateInvocations) * roundTripMs.iotPublish
            : 0),
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
    shadowRequests,
    shadowOperations: observed.shadowOperations,
    logBytes: observed.invocations.reduce(
      (sum, { functionId }) =>
        sum + logBytesPerInvocationOf(functionId) + lambdaPlatformLogBytesPerInvocation,
      0,
    ),
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
    iotDeviceShadow: counts.shadowOperations * prices.iotDeviceShadow.operationsPerMillion,
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
