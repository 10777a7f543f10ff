// Runs in a fresh Node process, as a Lambda container would: loads a built bundle and invokes
// its handler with each event in turn, recording what it returned or the error it threw (as Lambda
// reports it: errorType and errorMessage).
// Usage: node invoke-bundle.mjs <bundle> <export> <events.json> <results.json>
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [file, exportName, eventsFile, resultsFile] = process.argv.slice(2);
const events = JSON.parse(readFileSync(eventsFile, 'utf8'));
const deadline = Date.now() + Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? 3) * 1000;
const context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  awsRequestId: '00000000-0000-4000-8000-000000000000',
  logGroupName: `/aws/lambda/${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
  logStreamName: 'local',
  // What sam local gives a function: its Timeout (AWS_LAMBDA_FUNCTION_TIMEOUT), from now.
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
const module = await import(pathToFileURL(file).href);
const handler = module[exportName];
if (typeof handler !== 'function')
  throw new Error(`${file} does not export a function ${exportName}`);
const results = [];
for (const event of events) {
  try {
    results.push({ result: (await handler(event, context)) ?? null });
  } catch (error) {
    results.push({ error: { errorType: error.name, errorMessage: error.message } });
  }
}
writeFileSync(resultsFile, JSON.stringify(results));
