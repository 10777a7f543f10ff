import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTemplate } from '../local/template/sam-template.js';

// The local stack as `npm start` runs it, in a process of its own: what the latency and throughput
// parts measure through, so that the process generating load or measuring is not the one measured.

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface ConnectorProcess {
  pid: number;
  http: string;
  mqtt: string;
  aws: string;
  /** The TopicPrefix it publishes under: TOPIC_PREFIX, or the template's default. */
  topicPrefix: string;
  /** The DeviceCodecsTable's name, with PAYLOAD_CODECS=Enabled (as its orbiwan-codec line says). */
  codecsTable: string | undefined;
  /** CPU time (user + system) the process has used so far, in ms. */
  cpuMs: () => number;
  /** The process's peak resident memory so far, in bytes. */
  peakRssBytes: () => number;
  stop: () => Promise<void>;
}

export async function startConnectorProcess(
  env: Record<string, string>,
  /** Extra node options, e.g. --cpu-prof to see where the time goes. */
  nodeOptions: string[] = [],
): Promise<ConnectorProcess> {
  const childEnv = {
    ...process.env,
    PORT: '0',
    MQTT_PORT: '0',
    AWS_PORT: '0',
    IOT_HTTPS_PORT: '0',
    ORBIWAN_SIMULATOR_PORT: '0',
    CERTS_DIR: mkdtempSync(join(tmpdir(), 'bench-certs-')),
    ...env,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    [...nodeOptions, '--import', 'tsx', 'local/main.ts'],
    { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = await new Promise<string>((resolve, reject) => {
    let text = '';
    let errors = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('connector ready')) resolve(text);
    });
    child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('exit', (code) => {
      reject(new Error(`the connector exited ${String(code)} before it was ready: ${errors}`));
    });
  });
  // Its function logs keep coming: read and drop them, or the pipe fills and the process stalls.
  child.stdout?.resume();
  child.stderr?.resume();
  const endpoint = (label: string) => {
    const found = new RegExp(`${label}\\s+(\\S+)`).exec(output)?.[1];
    if (found === undefined) throw new Error(`the connector printed no ${label}`);
    return found;
  };
  const pid = child.pid ?? 0;
  return {
    pid,
    http: endpoint('lifecycle page').replace(/\/$/, ''),
    mqtt: endpoint('MQTT'),
    aws: endpoint('AWS services'),
    topicPrefix: topicPrefixOf(childEnv),
    codecsTable: /orbiwan-codec list --table (\S+)/.exec(output)?.[1],
    cpuMs: () => {
      // /proc/<pid>/stat fields 14 and 15: user and system time, in clock ticks (100 per second).
      const fields =
        readFileSync(`/proc/${String(pid)}/stat`, 'utf8')
          .split(') ')[1]
          ?.split(' ') ?? [];
      return (Number(fields[11]) + Number(fields[12])) * 10;
    },
    peakRssBytes: () => {
      const peak = /VmHWM:\s+(\d+) kB/.exec(
        readFileSync(`/proc/${String(pid)}/status`, 'utf8'),
      )?.[1];
      return Number(peak) * 1024;
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => {
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

// As npm start reads it: an empty TOPIC_PREFIX counts as unset.
function topicPrefixOf(env: NodeJS.ProcessEnv): string {
  const given = env.TOPIC_PREFIX;
  if (given !== undefined && given !== '') return given;
  return String(loadTemplate().Parameters?.TopicPrefix?.Default ?? '');
}
