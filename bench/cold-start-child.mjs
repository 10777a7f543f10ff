// One cold start: a fresh Node process loads a built bundle and serves its first invocation, as a
// Lambda container's init and first invoke. Prints JSON timings (ms since the process started).
// Usage: node cold-start-child.mjs <bundle> <export> <event.json>
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [file, exportName, eventFile] = process.argv.slice(2);
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const deadline = Date.now() + Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? 3) * 1000;
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:bench',
  memoryLimitInMB: '256',
  awsRequestId: '00000000-0000-4000-8000-000000000000',
  logGroupName: '/aws/lambda/bench',
  logStreamName: 'bench',
  // What sam local gives a function: its Timeout (AWS_LAMBDA_FUNCTION_TIMEOUT), from now.
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
const started = performance.now();
const module = await import(pathToFileURL(file).href);
const loaded = performance.now();
let failed;
try {
  await module[exportName](event, context);
} catch (error) {
  failed = `${error.name}: ${error.message}`;
}
const served = performance.now();
process.stdout.write(
  `${JSON.stringify({ bootMs: started, initMs: loaded - started, firstInvokeMs: served - loaded, totalMs: served, failed })}\n`,
);
