import type { Context } from 'aws-lambda';

/** The one fake Lambda context every test uses. */
export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'orbiwan-connector-UplinkFunction-AbCdEf123456',
  functionVersion: '$LATEST',
  invokedFunctionArn:
    'arn:aws:lambda:eu-west-1:123456789012:function:orbiwan-connector-UplinkFunction-AbCdEf123456',
  memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/orbiwan-connector-UplinkFunction-AbCdEf123456',
  logStreamName: '2026/11/26/[$LATEST]0123456789abcdef0123456789abcdef',
  getRemainingTimeInMillis: () => 15_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};
