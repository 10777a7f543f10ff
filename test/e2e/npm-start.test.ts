import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The README's run command itself, as a user runs it.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const started: ChildProcess[] = [];

function npmStart(env: Record<string, string>) {
  const child = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, CERTS_DIR: mkdtempSync(join(tmpdir(), 'npm-start-certs-')), ...env },
    detached: true,
  });
  started.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (stdout.includes('connector ready')) resolve(stdout);
    });
    child.on('exit', (code) => {
      reject(new Error(`npm start exited ${String(code)}: ${stderr}`));
    });
  });
  // A start that fails is what some tests want: not an unhandled rejection.
  ready.catch(() => undefined);
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on('exit', (code) => {
      resolve({ code, stderr });
    }),
  );
  return { ready, exited };
}

afterAll(() => {
  for (const child of started)
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
});

describe('npm start', () => {
  it('prints every endpoint, then "connector ready", and answers the health check', async () => {
    const { ready } = npmStart({
      PORT: '0',
      MQTT_PORT: '0',
      AWS_PORT: '0',
      IOT_HTTPS_PORT: '0',
      ORBIWAN_SIMULATOR_PORT: '0',
    });
    const output = await ready;

    for (const label of [
      'lifecycle page',
      'push API',
      'MQTT',
      'AWS services',
      'IoT HTTPS',
      'OrbiWAN',
    ])
      expect(output).toContain(label);
    expect(output).toContain('local-dev-push-token (development default; set PUSH_TOKEN)');
    const page = /lifecycle page\s+(\S+)/.exec(output)?.[1] ?? '';
    const health = await fetch(new URL('/_local/health', page));
    expect(health.status).toBe(200);
  }, 60_000);

  it.each([
    [
      'a malformed port',
      { PORT: 'eighty', DOWNLINK_TIMEOUT_SECONDS: '90' },
      'PORT="eighty": must be an integer from 0 to 65535',
    ],
    [
      "a template parameter outside the template's range",
      { DOWNLINK_TIMEOUT_SECONDS: '5' },
      'DOWNLINK_TIMEOUT_SECONDS="5": must be a whole number of seconds from 60 to 10368000 (120 days)',
    ],
  ])(
    'refuses %s with a message naming it, and exits',
    async (_, env, message) => {
      const { exited } = npmStart(env);
      const { code, stderr } = await exited;
      expect(code).toBe(2);
      expect(stderr).toContain(message);
    },
    60_000,
  );
});
