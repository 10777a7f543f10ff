import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { round, summarize, type Summary } from '../stats.js';

// Part 3b: see decode-cost-child.ts.

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../decode-cost-child.ts', import.meta.url));
/** The codecs measured: the sample sensor's (a few lines) and a maker's real one (3,500 lines). */
export const DECODE_CODECS = ['orbiwan-sample-sensor', 'laird-rs1xx-temp-rh-sensor'] as const;

export interface CodecDecodeCost {
  codec: string;
  /** A fresh process's first decode: WebAssembly compiled, codec loaded, one call; ms per run. */
  firstDecodeMs: Summary;
  /** A second codec instance's first decode in that process (WebAssembly already compiled), ms. */
  reloadMs: Summary;
  /** One decode once loaded, in µs, call by call. */
  warmDecodeUs: Summary;
}

export interface DecodeCostResult {
  codecs: CodecDecodeCost[];
  /** The device-state function invoked warm: sample codec, shadow in memory, publish at once. */
  deviceStateInvocationUs: Summary;
  deviceStateLogBytesPerInvocation: number;
}

const childEnv = {
  ...process.env,
  // As part 3: the functions log at the template's level, their lines counted.
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_SERVICE_NAME: 'orbiwan-connector',
  POWERTOOLS_DEV: '',
};

export async function measureDecodeCost(
  workDir: string,
  { runs, calls }: { runs: number; calls: number },
): Promise<DecodeCostResult> {
  const child = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      env: childEnv,
      maxBuffer: 16 * 1024 * 1024,
    });
  const first = new Map<string, { firstMs: number[]; reloadMs: number[] }>();
  // Interleaved, so that a slow moment of the machine hits both codecs alike.
  for (let index = 0; index < runs; index++) {
    for (const codec of DECODE_CODECS) {
      const { stdout } = await child(['first', codec]);
      const timings = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        firstMs: number;
        reloadMs: number;
      };
      const entry = first.get(codec) ?? { firstMs: [], reloadMs: [] };
      entry.firstMs.push(timings.firstMs);
      entry.reloadMs.push(timings.reloadMs);
      first.set(codec, entry);
    }
  }
  const resultsFile = join(workDir, 'decode-cost.json');
  await child(['warm', resultsFile, String(calls)]);
  const warm = JSON.parse(readFileSync(resultsFile, 'utf8')) as {
    decodes: Record<string, number[]>;
    deviceState: { microsecondsPerInvocation: number[]; logBytesPerInvocation: number };
  };
  return {
    codecs: DECODE_CODECS.map((codec) => ({
      codec,
      firstDecodeMs: summarize(first.get(codec)?.firstMs ?? []),
      reloadMs: summarize(first.get(codec)?.reloadMs ?? []),
      warmDecodeUs: summarize(warm.decodes[codec] ?? []),
    })),
    deviceStateInvocationUs: summarize(warm.deviceState.microsecondsPerInvocation),
    deviceStateLogBytesPerInvocation: round(warm.deviceState.logBytesPerInvocation, 0),
  };
}
