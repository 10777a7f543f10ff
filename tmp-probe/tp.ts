import { startBenchOrbiwan } from '../bench/bench-orbiwan.js';
import { startConnectorProcess } from '../bench/connector-process.js';
import { measureThroughput } from '../bench/parts/throughput.js';
const orbiwan = await startBenchOrbiwan();
const profile = process.argv.includes('--prof');
const c = await startConnectorProcess({ PUSH_TOKEN: 't', ORBIWAN_URL: orbiwan.url, ORBIWAN_USERNAME: 'b', ORBIWAN_PASSWORD: 'b', LOG_LEVEL: process.env.LL ?? 'INFO' }, profile ? ['--cpu-prof', '--cpu-prof-dir=/tmp/cprof-tp', '--cpu-prof-interval=200'] : []);
const r = await measureThroughput(c, { count: Number(process.env.N ?? 10000), concurrency: 64, token: 't' });
console.log(JSON.stringify(r));
await c.stop(); await orbiwan.close();
