import type { Context } from 'aws-lambda';

/**
 * The one fake Lambda context every test uses. The deprecated callback-style methods (done, fail,
 * succeed) are left out on purpose: a handler that calls them fails its test.
 */
export const lambdaContext = {
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
} as Context;
