import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderReport } from '../../bench/report.js';
import { runBench, type BenchResult } from '../../bench/run.js';
import { NOTIFICATION_TYPES } from '../../functions/notifications/notification-types.js';
import { loadTemplate, resourcesOfType } from '../../local/template/sam-template.js';

// `npm run bench -- --quick` in the suite, so the bench cannot rot: every part runs and its counts
// add up. Timings are only checked to be measured, never against a limit (the machines are noisy).

const functionIds = resourcesOfType(loadTemplate(), 'AWS::Serverless::Function').map(([id]) => id);
let result: BenchResult;
let resultsFile: string;

beforeAll(async () => {
  resultsFile = join(mkdtempSync(join(tmpdir(), 'bench-quick-')), 'quick.json');
  result = await runBench({ quick: true, resultsFile });
}, 180_000);

const measured = (value: number) => Number.isFinite(value) && value > 0;

describe('npm run bench -- --quick', () => {
  it('writes what it returns to the results file', () => {
    expect(JSON.parse(readFileSync(resultsFile, 'utf8'))).toEqual(
      JSON.parse(JSON.stringify(result)),
    );
    expect(result.mode).toBe('quick');
  });

  it('1. sizes every function as sam build builds it, and says how much is the AWS SDK', () => {
    expect(result.functions.bundles.map((bundle) => bundle.functionId).sort()).toEqual(
      [...functionIds].sort(),
    );
    for (const bundle of result.functions.bundles) {
      expect(bundle.gzippedBytes).toBeGreaterThan(0);
      expect(bundle.gzippedBytes).toBeLessThan(bundle.minifiedBytes);
      expect(bundle.ownBytes).toBeGreaterThan(0);
      expect(bundle.awsSdkBytes + bundle.ownBytes).toBeLessThanOrEqual(bundle.minifiedBytes);
    }
  });

  it('2. cold-starts every function and serves its first invocation without an error', () => {
    expect(result.functions.coldStarts).toHaveLength(functionIds.length);
    for (const start of result.functions.coldStarts) {
      expect(start.failures, start.functionId).toEqual([]);
      expect(start.total.n).toBe(result.settings.coldStartRuns);
      expect(measured(start.totalRatio), start.functionId).toBe(true);
    }
    expect(measured(result.functions.trivial.total.median)).toBe(true);
  });

  it('3. times every notification handler warm', () => {
    expect(result.warmHandlers.map((handler) => handler.type).sort()).toEqual(
      [...NOTIFICATION_TYPES].sort(),
    );
    for (const handler of result.warmHandlers) {
      expect(measured(handler.perInvocationUs.median), handler.type).toBe(true);
      // Every notification logs one structured line, and it is counted in the cost model.
      expect(handler.logBytesPerInvocation, handler.type).toBeGreaterThan(0);
    }
  });

  it('3b. times the first and the warm decodes of both codecs, and the device-state function', () => {
    const { codecs, deviceStateInvocationUs, deviceStateLogBytesPerInvocation } = result.decodeCost;
    expect(codecs.map((codec) => codec.codec)).toEqual([
      'orbiwan-sample-sensor',
      'laird-rs1xx-temp-rh-sensor',
    ]);
    for (const { codec, firstDecodeMs, reloadMs, warmDecodeUs } of codecs) {
      expect(firstDecodeMs.n, codec).toBe(result.settings.decodeCost.firstDecodeRuns);
      expect(measured(firstDecodeMs.median), codec).toBe(true);
      expect(measured(reloadMs.median), codec).toBe(true);
      expect(warmDecodeUs.n, codec).toBe(result.settings.decodeCost.warmDecodes);
      expect(measured(warmDecodeUs.median), codec).toBe(true);
      // Loading the sandbox is what the first decode pays for; a warm decode only runs the codec.
      expect(firstDecodeMs.median * 1000, codec).toBeGreaterThan(warmDecodeUs.median);
    }
    expect(measured(deviceStateInvocationUs.median)).toBe(true);
    // The decode and shadow metrics go out as log lines (embedded metric format).
    expect(deviceStateLogBytesPerInvocation).toBeGreaterThan(0);
  });

  it('4-6. measures every latency path against its baseline, with every sample counted', () => {
    const { inbound, outbound, earlyReplyLoop } = result.latency;
    for (const comparison of [inbound.uplink_early, inbound.uplink, outbound]) {
      expect(comparison.connector.n).toBe(result.settings.latencySamples);
      expect(comparison.baseline.n).toBe(result.settings.latencySamples);
      expect(measured(comparison.p50Ratio)).toBe(true);
    }
    expect(earlyReplyLoop.n).toBe(result.settings.latencySamples);
    expect(earlyReplyLoop.p99ShareOfBudget).toBeCloseTo(earlyReplyLoop.p99 / 100, 3);
  });

  it('4b. measures the raw uplink with codecs and shadows on, and the decoded path behind it', () => {
    const { rawUplink, decoded, shadowUpdated } = result.decodedPath;
    expect(rawUplink.connector.n).toBe(result.settings.latencySamples);
    expect(rawUplink.baseline.n).toBe(result.settings.latencySamples);
    expect(measured(rawUplink.p50Ratio)).toBe(true);
    // Asynchronous, behind the raw uplink: rule, function, decode, publish; then the shadow.
    expect(decoded.n).toBe(result.settings.latencySamples);
    expect(decoded.median).toBeGreaterThan(rawUplink.connector.median);
    expect(shadowUpdated.n).toBe(result.settings.latencySamples);
    expect(measured(shadowUpdated.median)).toBe(true);
  });

  it('7. matches every 200 with exactly one MQTT message under load', () => {
    const { throughput, settings } = result;
    expect(throughput).toMatchObject({
      sent: settings.throughput.count,
      accepted: settings.throughput.count,
      refused: {},
      received: settings.throughput.count,
      lost: 0,
      duplicated: 0,
    });
    expect(measured(throughput.notificationsPerSecond)).toBe(true);
    expect(measured(throughput.connectorPeakRssMiB)).toBe(true);
  });

  it('8. prices what each path was seen to ask of AWS', () => {
    const { uplink, downlinkUnconfirmed, downlinkConfirmed } = result.costModel;
    // An uplink is two pushes (uplink_early, uplink), each one request, one invocation, one publish.
    expect(uplink.counts).toMatchObject({ apiRequests: 2, invocations: 2, stateTransitions: 0 });
    // One send task waits; the status push that ends it is the only other invocation. A happy
    // downlink enters two states (SendDownlink, Delivered), one Lambda task before OrbiWAN's POST.
    expect(downlinkUnconfirmed.counts).toMatchObject({
      apiRequests: 1,
      invocations: 2,
      stateTransitions: 2,
      rulesTriggered: 1,
      lambdaTasksBeforePost: 1,
    });
    // Confirmed: `sent` then `acknowledged`, so one more push and invocation, no more states.
    expect(downlinkConfirmed.counts).toMatchObject({
      apiRequests: 2,
      invocations: 3,
      stateTransitions: 2,
    });
    // What the device-state function adds to an uplink: its invocation, behind one rule and one
    // action; with a codec, the decoded message (in and out to one subscriber); with shadows, a
    // read and an update of the device's shadow. Attachments and codec are cached: no reads.
    const { codecsAndShadows, codecsOnly, shadowsOnly } = result.costModel.deviceState;
    expect(codecsAndShadows.counts).toMatchObject({
      apiRequests: 0,
      invocations: 1,
      rulesTriggered: 1,
      actionsExecuted: 1,
      iotMessages: 2,
      shadowRequests: 2,
      shadowOperations: 2,
      dynamoDbReads: 0,
      dynamoDbWrites: 0,
    });
    expect(codecsOnly.counts).toMatchObject({ invocations: 1, iotMessages: 2, shadowRequests: 0 });
    expect(shadowsOnly.counts).toMatchObject({ invocations: 1, iotMessages: 0, shadowRequests: 2 });
    for (const path of [codecsAndShadows, codecsOnly, shadowsOnly])
      expect(path.perMillion.lambda).toBeGreaterThan(0);
    expect(codecsAndShadows.perMillion.iotDeviceShadow).toBeGreaterThan(0);
    expect(codecsOnly.perMillion.iotDeviceShadow).toBe(0);
    for (const path of [
      uplink,
      downlinkUnconfirmed,
      downlinkConfirmed,
      codecsAndShadows,
      codecsOnly,
      shadowsOnly,
    ]) {
      const sum = Object.values(path.perMillion).reduce((total, value) => total + value, 0);
      // Each service's figure is rounded to the cent on its own.
      expect(path.perMillionTotal).toBeCloseTo(sum, 1);
      expect(path.perMillionTotal).toBeGreaterThan(0);
    }
  });

  it('prints every part and the targets in its report', () => {
    const report = renderReport(result);
    for (const heading of [
      '**Targets**',
      '**1-2. Bundles and cold starts**',
      '**3. Warm handler cost**',
      '**3b. Decode cost per uplink**',
      '**4-5. Latency through the local stack**',
      '**4b. Raw uplink with payload codecs and device shadows**',
      '**6. Early-reply loop**',
      '**7. Throughput**',
      '**8. Cost on AWS**',
    ])
      expect(report).toContain(heading);
    expect(result.targets.map((target) => target.name)).toHaveLength(9);
    expect(result.targets.map((target) => target.name)).toEqual(
      expect.arrayContaining([
        'raw uplink with codecs and shadows, p50 vs bare relay',
        'happy-path downlink state transitions',
        "Lambda tasks between the rule and OrbiWAN's POST",
      ]),
    );
  });
});
