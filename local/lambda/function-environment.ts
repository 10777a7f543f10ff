import { resolveIntrinsics } from '../template/intrinsics.js';
import { functionProperties, type CfnTemplate } from '../template/sam-template.js';
import type { LocalStack } from '../template/stack.js';

// What a function finds in process.env on Lambda: its template variables (Globals merged,
// intrinsics resolved, every value a string), and what Lambda adds around them.

/** The variables the AWS SDK clients read their endpoint from: one per service the functions use. */
export const ENDPOINT_VARIABLES = [
  'AWS_ENDPOINT_URL_IOT_DATA_PLANE',
  'AWS_ENDPOINT_URL_SECRETS_MANAGER',
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_SFN',
] as const;

/** Environment.Variables as Lambda gets them: Globals merged, intrinsics resolved, strings. */
export function functionEnvironment(
  template: CfnTemplate,
  stack: LocalStack,
  functionId: string,
): Record<string, string> {
  const { Environment } = functionProperties(template, functionId) as {
    Environment?: { Variables?: Record<string, unknown> };
  };
  const variables = resolveIntrinsics(Environment?.Variables ?? {}, stack) as Record<
    string,
    unknown
  >;
  return Object.fromEntries(Object.entries(variables).map(([key, value]) => [key, String(value)]));
}

/** The function's name as the stack deployed it (what AWS_LAMBDA_FUNCTION_NAME says). */
export function functionName(stack: LocalStack, functionId: string): string {
  return stack.refs[functionId] ?? functionId;
}

/** A function's Timeout (its own, or the Globals'), in seconds; Lambda's default is 3. */
export function timeoutSeconds(template: CfnTemplate, functionId: string): number {
  const { Timeout } = functionProperties(template, functionId);
  return typeof Timeout === 'number' ? Timeout : 3;
}

/**
 * How many times Lambda retries a failed asynchronous invocation of the function: its
 * EventInvokeConfig's MaximumRetryAttempts, else Lambda's default, 2.
 */
export function asyncRetryAttempts(template: CfnTemplate, functionId: string): number {
  const { EventInvokeConfig } = functionProperties(template, functionId);
  const attempts = (EventInvokeConfig as { MaximumRetryAttempts?: unknown } | undefined)
    ?.MaximumRetryAttempts;
  return typeof attempts === 'number' ? attempts : 2;
}

/** Every AWS_ENDPOINT_URL_* the functions read, pointed at one endpoint (the stand-ins). */
export function awsEndpointVariables(url: string): Record<string, string> {
  return Object.fromEntries(ENDPOINT_VARIABLES.map((variable) => [variable, url]));
}

export interface AwsAccess {
  /** The stand-ins' URL. */
  endpointUrl: string;
  /** Anything: the stand-ins do not check signatures, but the SDK must have some to sign with. */
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/**
 * The whole environment of a function in a process of its own (sam local invoke, a cold start):
 * what Lambda gives it (region, credentials, name), the endpoints of the stand-ins, and its
 * template variables, which win.
 */
export function lambdaEnvironment(
  template: CfnTemplate,
  stack: LocalStack,
  functionId: string,
  { endpointUrl, credentials }: AwsAccess,
): Record<string, string> {
  return {
    AWS_REGION: stack.region,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    ...awsEndpointVariables(endpointUrl),
    AWS_LAMBDA_FUNCTION_NAME: functionName(stack, functionId),
    // What sam local sets too: a function's Timeout, for the context's getRemainingTimeInMillis.
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(timeoutSeconds(template, functionId)),
    ...functionEnvironment(template, stack, functionId),
  };
}
