// The throughput part's load, from a process of its own: POSTs uplink notifications to the push
// API, `concurrency` at a time, each with a frame counter of its own, and reports which were
// answered 200 (JSON on stdout). Usage: node load-generator.mjs <url> <token> <count> <concurrency>
import http from 'node:http';

const [url, token, count, concurrency] = process.argv.slice(2);
const total = Number(count);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const target = new URL('/rest/callback/payloads/ul', url);
const ok = [];
const failures = {};
let next = 0;

function send(fcnt) {
  const devEui = (0x70b3d57ed0100000 + (fcnt % 100)).toString(16).padStart(16, '0');
  const body = JSON.stringify({
    DevEUI: devEui,
    early: false,
    dataFrame: 'AQIDBA==',
    port: 10,
    fcnt,
    id: fcnt,
    rssi: -80,
    snr: 7.5,
  });
  return new Promise((resolve) => {
    const request = http.request(
      target,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode === 200) ok.push(fcnt);
          else failures[response.statusCode] = (failures[response.statusCode] ?? 0) + 1;
          resolve();
        });
      },
    );
    request.on('error', (error) => {
      failures[error.code ?? 'error'] = (failures[error.code ?? 'error'] ?? 0) + 1;
      resolve();
    });
    request.end(body);
  });
}

async function worker() {
  while (next < total) await send(next++);
}

const started = performance.now();
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
const elapsedMs = performance.now() - started;
agent.destroy();
process.stdout.write(JSON.stringify({ ok, failures, elapsedMs }));
