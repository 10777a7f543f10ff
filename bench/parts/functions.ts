import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../../functions/notifications/notification-types.js';
import { samBuild, type BuiltFunction } from '../../local/build/sam-build.js';
import { resourcesOfType } from '../../local/template/sam-template.js';
import { sampleEvents, type SampleEvent } from '../../test/helpers/api-events.js';
import type { BenchEnvironment } from '../bench-environment.js';
import { ratio, round, summarize, type Summary } from '../stats.js';

// Parts 1 and 2: each function as `sam build` builds it, its size, and its cold start in a fresh
// Node process against the stand-ins, next to a trivial handler built the same way.

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../cold-start-child.mjs', import.meta.url));

export const BUNDLE_LIMIT_KIB = 200;

export interface BundleSize {
  functionId: string;
  minifiedBytes: number;
  gzippedBytes: number;
  /** Of the minified bytes: the AWS SDK (@aws-sdk, @smithy, @aws-crypto), and the project's own. */
  awsSdkBytes: number;
  ownBytes: number;
}

const AWS_SDK_PACKAGE = /^@(aws-sdk|smithy|aws-crypto)\//;

export interface ColdStart {
  functionId: string;
  init: Summary;
  firstInvoke: Summary;
  total: Summary;
  /** Median total against the trivial handler's, measured in the same run. */
  totalRatio: number;
  failures: string[];
}

export interface FunctionsResult {
  bundles: BundleSize[];
  trivial: { minifiedBytes: number; init: Summary; total: Summary };
  coldStarts: ColdStart[];
}

// Where each function's sample events are (events/ is shared with the tests): a notification
// function's under its type's name (uplink_early -> uplink-early), the others' listed.
const EVENT_DIRECTORIES: Record<string, string> = {
  ...Object.fromEntries(
    NOTIFICATION_TYPES.map((type) => [
      NOTIFICATION_DEFINITIONS[type].functionId,
      type.replaceAll('_', '-'),
    ]),
  ),
  SendDownlinkFunction: 'send-downlink',
  CheckDownlinkStatusFunction: 'check-downlink-status',
  ReportDownlinkFailureFunction: 'report-downlink-failure',
  PushModeFunction: 'pushmode',
  DeviceStateFunction: 'device-state',
};
// The event a function's cold start serves when not its directory's first: the device-state
// function's is an uplink of the sample sensor, decoded by its codec (attached in the environment)
// and written to its shadow, its most costly first invocation.
const COLD_START_EVENTS: Record<string, string> = {
  DeviceStateFunction: 'uplink-sample-sensor',
};

export async function measureFunctions(
  environment: BenchEnvironment,
  { runs }: { runs: number },
): Promise<FunctionsResult> {
  const { template, workDir } = environment;
  const functionIds = resourcesOfType(template, 'AWS::Serverless::Function').map(([id]) => id);
  const built: BuiltFunction[] = [];
  for (const functionId of functionIds)
    built.push(await samBuild(template, functionId, join(workDir, 'build', functionId)));
  const bundles = built.map(({ functionId, file, bytesByPackage }) => {
    const code = readFileSync(file);
    const bytesFrom = (matches: (name: string) => boolean) =>
      Object.entries(bytesByPackage)
        .filter(([name]) => matches(name))
        .reduce((sum, [, bytes]) => sum + bytes, 0);
    return {
      functionId,
      minifiedBytes: code.length,
      gzippedBytes: gzipSync(code).length,
      awsSdkBytes: bytesFrom((name) => AWS_SDK_PACKAGE.test(name)),
      ownBytes: bytesFrom((name) => name === '(ours)'),
    };
  });

  const trivialFile = await buildTrivialHandler(workDir);
  const trivialEvent = join(workDir, 'trivial-event.json');
  writeFileSync(trivialEvent, '{}');

  const samples = new Map<
    string,
    { init: number[]; firstInvoke: number[]; total: number[]; failures: string[] }
  >();
  const sample = async (
    key: string,
    file: string,
    exportName: string,
    eventFile: string,
    env: Record<string, string>,
  ) => {
    const { stdout } = await run(process.execPath, [CHILD, file, exportName, eventFile], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    });
    const timings = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      initMs: number;
      firstInvokeMs: number;
      totalMs: number;
      failed?: string;
    };
    const entry = samples.get(key) ?? { init: [], firstInvoke: [], total: [], failures: [] };
    entry.init.push(timings.initMs);
    entry.firstInvoke.push(timings.firstInvokeMs);
    entry.total.push(timings.totalMs);
    if (timings.failed !== undefined) entry.failures.push(timings.failed);
    samples.set(key, entry);
  };

  // Interleaved rounds, so that a slow moment of the machine hits every function alike.
  for (let round = 0; round < runs; round++) {
    await sample('trivial', trivialFile, 'handler', trivialEvent, { PATH: process.env.PATH ?? '' });
    for (const { functionId, file, exportName } of built) {
      const event = sampleEvents(EVENT_DIRECTORIES[functionId] ?? '').find((candidate) =>
        functionId in COLD_START_EVENTS
          ? candidate.name === COLD_START_EVENTS[functionId]
          : !/^(bad|unauthorized)-/.test(candidate.name),
      );
      if (event === undefined) throw new Error(`no sample event for ${functionId}`);
      const env = {
        ...environment.environmentOf(functionId),
        ...built.find((fn) => fn.functionId === functionId)?.addedEnvironment,
      };
      await sample(functionId, file, exportName, eventFileFor(event, environment, round), env);
    }
  }

  const trivial = samples.get('trivial');
  if (trivial === undefined) throw new Error('the trivial handler was not measured');
  const trivialTotal = summarize(trivial.total);
  return {
    bundles,
    trivial: {
      minifiedBytes: readFileSync(trivialFile).length,
      init: summarize(trivial.init),
      total: trivialTotal,
    },
    coldStarts: functionIds.map((functionId) => {
      const entry = samples.get(functionId) ?? {
        init: [],
        firstInvoke: [],
        total: [],
        failures: [],
      };
      const total = summarize(entry.total);
      return {
        functionId,
        init: summarize(entry.init),
        firstInvoke: summarize(entry.firstInvoke),
        total,
        totalRatio: round(ratio(total.median, trivialTotal.median), 2),
        failures: [...new Set(entry.failures)],
      };
    }),
  };
}

// A custom resource answers CloudFormation at the request's pre-signed ResponseURL: the stand-in
// OrbiWAN answers that PUT too, so the cold start includes the answer, as in Lambda. An IoT rule's
// message (the device-state function's) carries a later frame each round: the shadow it updates
// never moves backwards, so the same frame again would be read and skipped, not written.
function eventFileFor(sample: SampleEvent, environment: BenchEnvironment, round: number): string {
  const event = sample.event as unknown as Record<string, unknown>;
  const file = join(environment.workDir, `${sample.name}-event.json`);
  if (typeof event.ResponseURL === 'string') {
    const orbiwanUrl = environment.stack.parameters.OrbiwanBaseUrl ?? '';
    writeFileSync(file, JSON.stringify({ ...event, ResponseURL: `${orbiwanUrl}/cloudformation` }));
    return file;
  }
  if (typeof event.payload !== 'string' || typeof event.topic !== 'string') return sample.file;
  // Edited as text: OrbiWAN's 64-bit id would not survive JSON.parse.
  const payload = Buffer.from(event.payload, 'base64')
    .toString('utf8')
    .replace(/"fcnt":(\d+)/, (_, fcnt: string) => `"fcnt":${String(Number(fcnt) + round)}`);
  writeFileSync(
    file,
    JSON.stringify({ ...event, payload: Buffer.from(payload).toString('base64') }),
  );
  return file;
}

// A handler that does nothing, built with the same options as the functions.
async function buildTrivialHandler(workDir: string): Promise<string> {
  const source = join(workDir, 'trivial.ts');
  writeFileSync(source, 'export const handler = async () => ({ statusCode: 200 });\n');
  const outfile = join(workDir, 'trivial.mjs');
  await build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'es2022',
    minify: true,
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}
