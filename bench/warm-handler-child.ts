// Part 3, in a process of its own: each notification handler invoked in a loop, warm, with the
// publish answered at once and the push token cached: the time Lambda would bill for our code.
// Log lines are counted, not printed (they are part of the cost: CloudWatch Logs ingestion).
// Usage: node --import tsx warm-handler-child.ts <results.json> <invocations>
import { writeFileSync } from 'node:fs';

const [resultsFile = '', invocationsArgument = '2000'] = process.argv.slice(2);
let logBytes = 0;
process.stdout.write = (chunk: string | Uint8Array) => {
  logBytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
  return true;
};

const { NOTIFICATION_DEFINITIONS, NOTIFICATION_TYPES } =
  await import('../functions/notifications/notification-types.js');
const { createNotificationHandler } =
  await import('../functions/notifications/notification-handler.js');
const { sampleEvents } = await import('../test/helpers/api-events.js');
const { lambdaContext } = await import('../test/helpers/lambda-context.js');

const invocations = Number(invocationsArgument);
const BATCHES = 10;
const results: Record<
  string,
  { microsecondsPerInvocation: number[]; logBytesPerInvocation: number }
> = {};
for (const type of NOTIFICATION_TYPES) {
  const definition = NOTIFICATION_DEFINITIONS[type];
  const handler = createNotificationHandler(definition, {
    publish: () => Promise.resolve(),
    pushToken: () => Promise.resolve('sample-push-token'),
    settings: { topicPrefix: 'orbiwan/lorawan', messageExpirySeconds: 5 },
  });
  const [sample] = sampleEvents(type.replaceAll('_', '-')).filter(
    (candidate) => !/^(bad|unauthorized)-/.test(candidate.name),
  );
  if (sample === undefined) throw new Error(`no sample event for ${type}`);
  for (let index = 0; index < invocations; index++) await handler(sample.event, lambdaContext);
  const perBatch = invocations / BATCHES;
  const times: number[] = [];
  const bytesBefore = logBytes;
  for (let batch = 0; batch < BATCHES; batch++) {
    const started = performance.now();
    for (let index = 0; index < perBatch; index++) await handler(sample.event, lambdaContext);
    times.push(((performance.now() - started) / perBatch) * 1000);
  }
  results[type] = {
    microsecondsPerInvocation: times,
    logBytesPerInvocation: (logBytes - bytesBefore) / invocations,
  };
}
writeFileSync(resultsFile, JSON.stringify(results));
