import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { round, summarize, type Summary } from '../stats.js';

// Part 3: see warm-handler-child.ts.

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('../warm-handler-child.ts', import.meta.url));

export interface WarmHandlerResult {
  type: string;
  /** Time per warm invocation, in µs: median and spread over batches. */
  perInvocationUs: Summary;
  logBytesPerInvocation: number;
}

export async function measureWarmHandlers(
  workDir: string,
  { invocations }: { invocations: number },
): Promise<WarmHandlerResult[]> {
  const resultsFile = join(workDir, 'warm-handlers.json');
  await run(process.execPath, ['--import', 'tsx', CHILD, resultsFile, String(invocations)], {
    env: {
      ...process.env,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_SERVICE_NAME: 'orbiwan-connector',
      POWERTOOLS_DEV: '',
    },
    maxBuffer: 16 * 1024 * 1024,
  });
  const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<
    string,
    { microsecondsPerInvocation: number[]; logBytesPerInvocation: number }
  >;
  return Object.entries(results).map(
    ([type, { microsecondsPerInvocation, logBytesPerInvocation }]) => ({
      type,
      perInvocationUs: summarize(microsecondsPerInvocation),
      logBytesPerInvocation: round(logBytesPerInvocation, 0),
    }),
  );
}
