import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatAs, replaceBetween } from '../scripts/generated-text.js';
import { startBenchEnvironment } from './bench-environment.js';
import { startBenchOrbiwan } from './bench-orbiwan.js';
import { startConnectorProcess } from './connector-process.js';
import { measureCostModel, type CostModelResult } from './parts/cost-model.js';
import { BUNDLE_LIMIT_KIB, measureFunctions, type FunctionsResult } from './parts/functions.js';
import { measureLatency, RX1_BUDGET_MS, type LatencyResult } from './parts/latency.js';
import { measureThroughput, type ThroughputResult } from './parts/throughput.js';
import { measureWarmHandlers, type WarmHandlerResult } from './parts/warm-handler.js';
import { renderReport } from './report.js';

// `npm run bench`: what the connector costs in time, memory and money, each figure a median with
// its spread over repeated runs and each comparison a ratio measured in the same run.
// `npm run bench -- --quick`: the same parts, small (the test suite runs it so the bench cannot rot).

export interface BenchOptions {
  quick: boolean;
  resultsFile: string;
}

export interface BenchResult {
  mode: 'full' | 'quick';
  date: string;
  machine: { cpu: string; cores: number; memoryGiB: number; node: string; platform: string };
  settings: {
    coldStartRuns: number;
    warmInvocations: number;
    latencySamples: number;
    throughput: { count: number; concurrency: number };
  };
  functions: FunctionsResult;
  warmHandlers: WarmHandlerResult[];
  latency: LatencyResult;
  throughput: ThroughputResult;
  costModel: CostModelResult;
  targets: { name: string; target: string; measured: string; met: boolean }[];
}

const SIZES = {
  full: {
    coldStartRuns: 7,
    warmInvocations: 2000,
    latencySamples: 200,
    throughput: { count: 20_000, concurrency: 64 },
  },
  quick: {
    coldStartRuns: 1,
    warmInvocations: 100,
    latencySamples: 5,
    throughput: { count: 300, concurrency: 8 },
  },
};

export async function runBench(
  { quick, resultsFile }: BenchOptions,
  log: (line: string) => void = () => undefined,
): Promise<BenchResult> {
  const settings = quick ? SIZES.quick : SIZES.full;
  const orbiwan = await startBenchOrbiwan();
  try {
    log('1-2/8 bundle sizes and cold starts');
    const environment = await startBenchEnvironment(orbiwan.url);
    const functions = await measureFunctions(environment, { runs: settings.coldStartRuns }).finally(
      () => environment.close(),
    );

    log('3/8 warm handler cost');
    const warmHandlers = await measureWarmHandlers(environment.workDir, {
      invocations: settings.warmInvocations,
    });

    log('4-7/8 latency and throughput through the local stack');
    const token = 'bench-push-token';
    const connector = await startConnectorProcess({
      PUSH_TOKEN: token,
      ORBIWAN_URL: orbiwan.url,
      ORBIWAN_USERNAME: 'bench',
      ORBIWAN_PASSWORD: 'bench',
    });
    let latency: LatencyResult;
    let throughput: ThroughputResult;
    try {
      latency = await measureLatency(connector, orbiwan, {
        samples: settings.latencySamples,
        token,
      });
      throughput = await measureThroughput(connector, { ...settings.throughput, token });
    } finally {
      await connector.stop();
    }

    log('8/8 cost model');
    const uplinkLogBytes =
      warmHandlers.find((handler) => handler.type === 'uplink')?.logBytesPerInvocation ?? 0;
    const costModel = await measureCostModel({
      memoryMb: Number(environment.stack.parameters.FunctionMemorySize ?? 256),
      logBytesPerInvocation: uplinkLogBytes,
    });

    const result: BenchResult = {
      mode: quick ? 'quick' : 'full',
      date: new Date().toISOString(),
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        memoryGiB: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
      },
      settings,
      functions,
      warmHandlers,
      latency,
      throughput,
      costModel,
      targets: targetsOf(functions, latency, throughput, costModel),
    };
    mkdirSync(dirname(resultsFile), { recursive: true });
    writeFileSync(resultsFile, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    await orbiwan.close();
  }
}

/** USD per million downlinks (issue: lifecycle v2); Step Functions is most of it. */
const COST_TARGETS = { unconfirmed: 70, confirmed: 80 };

function targetsOf(
  functions: FunctionsResult,
  latency: LatencyResult,
  throughput: ThroughputResult,
  cost: CostModelResult,
): BenchResult['targets'] {
  const largest = Math.max(...functions.bundles.map((bundle) => bundle.minifiedBytes)) / 1024;
  const slowestRatio = Math.max(...functions.coldStarts.map((start) => start.totalRatio));
  const unconfirmed = cost.downlinkUnconfirmed.counts;
  const confirmed = cost.downlinkConfirmed.counts;
  const inboundRatio = Math.max(
    latency.inbound.uplink_early.p50Ratio,
    latency.inbound.uplink.p50Ratio,
  );
  return [
    {
      name: 'inbound overhead, p50 vs bare relay',
      target: '≤ 1.25x',
      measured: `${inboundRatio.toFixed(2)}x`,
      met: inboundRatio <= 1.25,
    },
    {
      name: 'early-reply loop p99',
      target: `≤ 10 ms (10% of ${String(RX1_BUDGET_MS)} ms)`,
      measured: `${latency.earlyReplyLoop.p99.toFixed(1)} ms`,
      met: latency.earlyReplyLoop.p99 <= RX1_BUDGET_MS / 10,
    },
    {
      name: 'largest function bundle',
      target: `≤ ${String(BUNDLE_LIMIT_KIB)} KiB`,
      measured: `${largest.toFixed(0)} KiB`,
      met: largest <= BUNDLE_LIMIT_KIB,
    },
    {
      name: 'cold start vs trivial handler',
      target: '≤ 2x',
      measured: `${slowestRatio.toFixed(2)}x (slowest)`,
      met: slowestRatio <= 2,
    },
    {
      name: 'throughput, none lost',
      target: '≥ 2,000/s, 0 lost',
      measured: `${String(throughput.notificationsPerSecond)}/s, ${String(throughput.lost)} lost`,
      met:
        throughput.notificationsPerSecond >= 2000 &&
        throughput.lost === 0 &&
        throughput.duplicated === 0,
    },
    {
      name: 'happy-path downlink state transitions',
      target: '≤ 2, confirmed and unconfirmed',
      measured: `${String(unconfirmed.stateTransitions)} unconfirmed, ${String(confirmed.stateTransitions)} confirmed`,
      met: unconfirmed.stateTransitions <= 2 && confirmed.stateTransitions <= 2,
    },
    {
      name: "Lambda tasks between the rule and OrbiWAN's POST",
      target: '1',
      measured: String(unconfirmed.lambdaTasksBeforePost ?? '?'),
      met: unconfirmed.lambdaTasksBeforePost === 1,
    },
    {
      name: 'cost per million downlinks',
      target: `≤ $${String(COST_TARGETS.unconfirmed)} unconfirmed, ≤ $${String(COST_TARGETS.confirmed)} confirmed`,
      measured: `$${cost.downlinkUnconfirmed.perMillionTotal.toFixed(2)}, $${cost.downlinkConfirmed.perMillionTotal.toFixed(2)}`,
      met:
        cost.downlinkUnconfirmed.perMillionTotal <= COST_TARGETS.unconfirmed &&
        cost.downlinkConfirmed.perMillionTotal <= COST_TARGETS.confirmed,
    },
  ];
}

/** The page that shows the bench results: `npm run bench` rewrites them there. */
export const PERFORMANCE_DOC = fileURLToPath(new URL('../docs/performance.md', import.meta.url));
export const BENCH_MARKERS = ['<!-- bench:start -->', '<!-- bench:end -->'] as const;

/**
 * The performance page with its figures (between the markers) replaced by the report, formatted
 * as `npm run lint` wants it.
 */
export async function docWithReport(doc: string, report: string): Promise<string> {
  return formatAs(
    PERFORMANCE_DOC,
    replaceBetween(doc, BENCH_MARKERS, `\n${report}\n`, 'docs/performance.md'),
  );
}

// Run as a command: npm run bench [-- --quick]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const resultsFile = fileURLToPath(
    new URL(quick ? './results/quick.json' : './results/latest.json', import.meta.url),
  );
  /* eslint-disable no-console -- the command's output */
  const result = await runBench({ quick, resultsFile }, (line) => {
    console.error(`bench: ${line}`);
  });
  const report = renderReport(result);
  console.log(report);
  console.error(`bench: results written to ${resultsFile}`);
  if (!quick) {
    writeFileSync(
      PERFORMANCE_DOC,
      await docWithReport(readFileSync(PERFORMANCE_DOC, 'utf8'), report),
    );
    console.error('bench: docs/performance.md figures updated');
  }
}
