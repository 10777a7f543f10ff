import type { BenchResult } from './run.js';
import type { Comparison } from './parts/latency.js';
import type { Summary } from './stats.js';

// The bench's results as Markdown tables: what `npm run bench` prints and docs/performance.md shows.

const ms = ({ median, p25, p75 }: Summary) =>
  `${median.toFixed(1)} (${p25.toFixed(1)}–${p75.toFixed(1)})`;
const percentiles = ({ median, p90, p99 }: Summary) =>
  `${median.toFixed(2)} / ${p90.toFixed(2)} / ${p99.toFixed(2)}`;
const kib = (bytes: number) => (bytes / 1024).toFixed(0);
const usd = (value: number) => `$${value.toFixed(2)}`;

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

function comparisonRow(name: string, { connector, baseline, p50Ratio }: Comparison): string[] {
  return [name, percentiles(connector), percentiles(baseline), `${p50Ratio.toFixed(2)}x`];
}

export function renderReport(result: BenchResult): string {
  const { machine, settings, functions, warmHandlers, latency, throughput, costModel } = result;
  const sections = [
    `Measured ${result.date.slice(0, 10)} (${result.mode} run) on ${machine.cpu}, ${String(machine.cores)} cores, ${String(machine.memoryGiB)} GiB, Node ${machine.node} (${machine.platform}). Medians with the interquartile range in brackets; times in ms unless marked.`,
    '**Targets**',
    table(
      ['target', 'aim', 'measured', 'met'],
      result.targets.map(({ name, target, measured, met }) => [
        name,
        target,
        measured,
        met ? 'yes' : '**no**',
      ]),
    ),
    `**1-2. Bundles and cold starts** (${String(settings.coldStartRuns)} cold starts each; a fresh Node process loads the bundle as \`sam build\` makes it and serves one sample event against the local stand-ins; trivial handler: ${String(functions.trivial.minifiedBytes)} bytes, total ${ms(functions.trivial.total)})`,
    table(
      [
        'function',
        'minified KiB',
        'of it AWS SDK / ours',
        'gzipped KiB',
        'init',
        'first invocation',
        'total from process start',
        'vs trivial',
      ],
      functions.coldStarts.map(({ functionId, init, firstInvoke, total, totalRatio }) => {
        const bundle = functions.bundles.find((candidate) => candidate.functionId === functionId);
        return [
          functionId,
          kib(bundle?.minifiedBytes ?? 0),
          `${kib(bundle?.awsSdkBytes ?? 0)} / ${kib(bundle?.ownBytes ?? 0)}`,
          kib(bundle?.gzippedBytes ?? 0),
          ms(init),
          ms(firstInvoke),
          ms(total),
          `${totalRatio.toFixed(2)}x`,
        ];
      }),
    ),
    `**3. Warm handler cost** (per invocation, in process, publish answered at once, token cached; ${String(settings.warmInvocations)} invocations in 10 batches)`,
    table(
      ['notification', 'µs per invocation', 'log bytes per invocation'],
      warmHandlers.map(({ type, perInvocationUs, logBytesPerInvocation }) => [
        type,
        ms(perInvocationUs),
        String(logBytesPerInvocation),
      ]),
    ),
    `**4-5. Latency through the local stack** (p50 / p90 / p99; ${String(settings.latencySamples)} samples each, alternating with the baseline)`,
    table(
      ['path', 'connector', 'baseline', 'p50 ratio'],
      [
        comparisonRow(
          'OrbiWAN push → MQTT subscriber, uplink_early (baseline: bare relay)',
          latency.inbound.uplink_early,
        ),
        comparisonRow(
          'OrbiWAN push → MQTT subscriber, uplink (baseline: bare relay)',
          latency.inbound.uplink,
        ),
        comparisonRow(
          'MQTT downlink → OrbiWAN POST (baseline: subscriber that POSTs)',
          latency.outbound,
        ),
      ],
    ),
    `Between the IoT rule and OrbiWAN's POST the state machine runs ${String(costModel.downlinkUnconfirmed.counts.lambdaTasksBeforePost ?? '?')} Lambda task (counted in part 8's run).`,
    `**6. Early-reply loop**: uplink_early pushed → application publishes a downlink → OrbiWAN receives the POST: p50 ${latency.earlyReplyLoop.median.toFixed(2)} ms, p99 ${latency.earlyReplyLoop.p99.toFixed(2)} ms = ${(latency.earlyReplyLoop.p99ShareOfBudget * 100).toFixed(1)}% of the ~100 ms RX1 budget.`,
    `**7. Throughput**: ${String(throughput.sent)} uplink notifications, ${String(throughput.concurrency)} at a time from a separate process: ${String(throughput.notificationsPerSecond)}/s sustained; ${String(throughput.accepted)} answered 200, ${String(throughput.received)} received on MQTT, ${String(throughput.lost)} lost, ${String(throughput.duplicated)} duplicated${Object.keys(throughput.refused).length > 0 ? `, refused: ${JSON.stringify(throughput.refused)}` : ''}; connector process at ${String(throughput.connectorCpuPercent)}% of one core, peak RSS ${String(throughput.connectorPeakRssMiB)} MiB.`,
    `**8. Cost on AWS** (${costModel.region} list prices of ${costModel.pricesAsOf}, bench/aws-prices.json; ${String(costModel.memoryMb)} MB functions; USD per million)`,
    table(
      [
        'per million',
        'total',
        'Lambda',
        'API Gateway',
        'IoT Core',
        'Step Functions',
        'DynamoDB',
        'CloudWatch Logs',
        'counted per unit',
      ],
      (
        [
          ['uplinks (early + normal push)', costModel.uplink],
          ['downlinks, unconfirmed', costModel.downlinkUnconfirmed],
          ['downlinks, confirmed', costModel.downlinkConfirmed],
        ] as const
      ).map(([name, cost]) => [
        name,
        `**${usd(cost.perMillionTotal)}**`,
        usd(cost.perMillion.lambda ?? 0),
        usd(cost.perMillion.apiGateway ?? 0),
        usd(cost.perMillion.iotCore ?? 0),
        usd(cost.perMillion.stepFunctions ?? 0),
        usd(cost.perMillion.dynamoDb ?? 0),
        usd(cost.perMillion.cloudWatchLogs ?? 0),
        `${String(cost.counts.invocations)} invocations${cost.counts.lambdaTasksBeforePost === undefined ? '' : ` (${String(cost.counts.lambdaTasksBeforePost)} before the POST)`}, ${String(cost.counts.apiRequests)} API requests, ${String(cost.counts.iotMessages)} IoT messages, ${String(cost.counts.stateTransitions)} transitions, ${String(cost.counts.dynamoDbWrites)} writes + ${String(cost.counts.dynamoDbReads)} reads`,
      ]),
    ),
  ];
  return sections.join('\n\n');
}
