import type { BenchResult } from './run.js';
import type { PathCost } from './parts/cost-model.js';
import type { Comparison } from './parts/latency.js';
import type { Summary } from './stats.js';

// The bench's results as Markdown tables: what `npm run bench` prints and docs/performance.md shows.

const ms = ({ median, p25, p75 }: Summary) =>
  `${median.toFixed(1)} (${p25.toFixed(1)}–${p75.toFixed(1)})`;
const percentiles = ({ median, p90, p99 }: Summary) =>
  `${median.toFixed(2)} / ${p90.toFixed(2)} / ${p99.toFixed(2)}`;
const kib = (bytes: number) => (bytes / 1024).toFixed(0);
const usd = (value: number) => `$${value.toFixed(2)}`;
const change = (before: Summary, after: Summary) => {
  const relative = after.median / before.median - 1;
  return `${before.median.toFixed(2)} → ${after.median.toFixed(2)} ms (${relative >= 0 ? '+' : '−'}${Math.abs(relative * 100).toFixed(0)}%)`;
};
const us = ({ median, p90, p99 }: Summary) =>
  `${median.toFixed(0)} / ${p90.toFixed(0)} / ${p99.toFixed(0)}`;

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

/** What one path's unit asks of AWS, as part 8's last column says it. */
function countedPerUnit({ counts, perMillion }: PathCost): string {
  const shadows =
    counts.shadowRequests > 0
      ? `, ${String(counts.shadowRequests)} shadow requests metered as ${String(counts.shadowOperations)} operations (${usd(perMillion.iotDeviceShadow ?? 0)} of the IoT Core figure)`
      : '';
  const rules =
    counts.apiRequests === 0 && counts.rulesTriggered > 0
      ? `, ${String(counts.rulesTriggered)} rule + ${String(counts.actionsExecuted)} action`
      : '';
  return `${String(counts.invocations)} invocations${counts.lambdaTasksBeforePost === undefined ? '' : ` (${String(counts.lambdaTasksBeforePost)} before the POST)`}, ${String(counts.apiRequests)} API requests, ${String(counts.iotMessages)} IoT messages${rules}${shadows}, ${String(counts.stateTransitions)} transitions, ${String(counts.dynamoDbWrites)} writes + ${String(counts.dynamoDbReads)} reads`;
}

export function renderReport(result: BenchResult): string {
  const {
    machine,
    settings,
    functions,
    warmHandlers,
    decodeCost,
    latency,
    decodedPath,
    throughput,
    costModel,
  } = result;
  const { deviceState } = costModel;
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
    `**3b. Decode cost per uplink** (in process: DeviceCodecs over a codec store in memory, each codec in its QuickJS/WebAssembly sandbox; first decodes in ${String(settings.decodeCost.firstDecodeRuns)} fresh processes each, the function's code already loaded; warm: ${String(settings.decodeCost.warmDecodes)} decodes one by one)`,
    table(
      [
        'codec',
        'first decode in a fresh process (WebAssembly compiled, codec loaded)',
        'first decode of a second instance (WebAssembly compiled already)',
        'warm decode, µs p50 / p90 / p99',
      ],
      decodeCost.codecs.map(({ codec, firstDecodeMs, reloadMs, warmDecodeUs }) => [
        codec,
        ms(firstDecodeMs),
        ms(reloadMs),
        us(warmDecodeUs),
      ]),
    ),
    `The whole device-state function, warm (an uplink of the sample sensor decoded, published at once, written into a shadow in memory): ${ms(decodeCost.deviceStateInvocationUs)} µs per invocation, ${String(decodeCost.deviceStateLogBytesPerInvocation)} log bytes per invocation (its metrics).`,
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
    `**4b. Raw uplink with payload codecs and device shadows** (a second connector process, \`PAYLOAD_CODECS=Enabled DEVICE_SHADOWS=Enabled\`, the sample codec attached to the connector's and the relay's device, pushes of a frame it decodes; p50 / p90 / p99 of ${String(settings.latencySamples)} samples each, alternating with the bare relay on that process, as in part 4; each sample's decoded message and shadow update awaited before the next)`,
    table(
      ['path', 'connector', 'baseline', 'p50 ratio'],
      [
        comparisonRow(
          'OrbiWAN push → MQTT subscriber, uplink, codecs and shadows off (part 4)',
          latency.inbound.uplink,
        ),
        comparisonRow(
          'OrbiWAN push → MQTT subscriber, uplink, codecs and shadows on',
          decodedPath.rawUplink,
        ),
      ],
    ),
    `Medians, without → with codecs and shadows: connector ${change(latency.inbound.uplink.connector, decodedPath.rawUplink.connector)}, bare relay ${change(latency.inbound.uplink.baseline, decodedPath.rawUplink.baseline)}. Each ratio is against the relay on its own process, whose uplinks go through the same rules (with codecs and shadows on, the device-state function follows them too).`,
    table(
      ['asynchronous, from the OrbiWAN push (codecs and shadows on)', 'p50 / p90 / p99'],
      [
        [
          'decoded uplink on MQTT (rule → device-state function → decode → publish)',
          percentiles(decodedPath.decoded),
        ],
        [
          'shadow written (its update/documents message on MQTT)',
          percentiles(decodedPath.shadowUpdated),
        ],
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
          [
            'uplink with codecs and shadows (extra over a plain uplink)',
            deviceState.codecsAndShadows,
          ],
          ['uplink with codecs only (extra over a plain uplink)', deviceState.codecsOnly],
          [
            'uplink with shadows only, no codec (extra over a plain uplink)',
            deviceState.shadowsOnly,
          ],
        ] as const
      ).map(([name, cost]) => [
        name,
        `**${usd(cost.perMillionTotal)}**`,
        usd(cost.perMillion.lambda ?? 0),
        usd(cost.perMillion.apiGateway ?? 0),
        // AWS bills Device Shadow operations under IoT Core: they are in its figure.
        usd((cost.perMillion.iotCore ?? 0) + (cost.perMillion.iotDeviceShadow ?? 0)),
        usd(cost.perMillion.stepFunctions ?? 0),
        usd(cost.perMillion.dynamoDb ?? 0),
        usd(cost.perMillion.cloudWatchLogs ?? 0),
        countedPerUnit(cost),
      ]),
    ),
    `With codecs and shadows, an uplink's device-state invocation is counted in a container that has seen the device before: it reads the codecs table once a minute at most (one Query and one GetItem per container-minute, whatever its traffic), so ~0 DynamoDB reads per uplink in steady state. Each shadow request adds an IoT round trip (${String(costModel.assumptions.iotRoundTripMs)} ms) to the billed duration; shadow operations are metered in 1 KB increments of the document read or the request written; the decoded message goes to ${String(costModel.assumptions.subscribersPerTopic)} subscriber, the shadow service's own notifications to none.`,
  ];
  return sections.join('\n\n');
}
