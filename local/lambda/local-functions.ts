import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { handlerLocation, resourcesOfType, type CfnTemplate } from '../template/sam-template.js';
import type { LocalStack } from '../template/stack.js';
import {
  asyncRetryAttempts,
  functionEnvironment,
  functionName,
  timeoutSeconds,
} from './function-environment.js';
import { HANDLER_FACTORIES } from './handler-factories.js';

// Every function of the template, run in this process: its handler is built as its entry point
// builds it (handler-factories.ts, by the template's Handler), with the environment template.yaml
// gives it, and invoked the way Lambda would. The AWS SDK clients inside the handlers read AWS_ENDPOINT_URL_* from process.env, which the
// caller points at the local stand-ins before loading.

export interface LocalFunction {
  id: string;
  name: string;
  arn: string;
  environment: Record<string, string>;
  /** Retries of a failed asynchronous invocation (the template's EventInvokeConfig). */
  asyncRetryAttempts: number;
  invoke: (event: unknown) => Promise<unknown>;
}

/** A function error as Lambda reports it: errorType (the error's name) and errorMessage. */
export class LambdaFunctionError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
  ) {
    super(errorMessage);
    this.name = errorType;
  }
}

/**
 * Invocations running at once, across every function. Lambda gives each its own sandbox; one
 * process running a thousand at once starves its own sockets (the SDK's connect timeouts fire), so
 * the rest wait their turn, as throttled invocations would be retried.
 */
export const LOCAL_CONCURRENCY = 32;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/**
 * A function's handler as the template makes it: built by the factory its Handler's module uses,
 * from its template environment (with `overrides`, for tests that change some of it).
 */
export function loadHandler(
  template: CfnTemplate,
  stack: LocalStack,
  functionId: string,
  overrides: Record<string, string> = {},
): Handler {
  return handlerFactoryOf(
    template,
    functionId,
  )({
    ...functionEnvironment(template, stack, functionId),
    ...overrides,
  }) as Handler;
}

/** The factory of a function's handler, found by its Handler's module; an error names a missing one. */
export function handlerFactoryOf(
  template: CfnTemplate,
  functionId: string,
): (env: NodeJS.ProcessEnv) => unknown {
  const { module } = handlerLocation(template, functionId);
  const factory = HANDLER_FACTORIES[module];
  if (factory === undefined) {
    throw new Error(
      `${functionId}: no handler factory for ${module} in local/lambda/handler-factories.ts`,
    );
  }
  return factory;
}

export function loadLocalFunctions(template: CfnTemplate, stack: LocalStack): LocalFunction[] {
  const functions: LocalFunction[] = [];
  const turn = semaphore(LOCAL_CONCURRENCY);
  for (const [id] of resourcesOfType(template, 'AWS::Serverless::Function')) {
    const environment = functionEnvironment(template, stack, id);
    const name = functionName(stack, id);
    const handler = loadHandler(template, stack, id);
    const timeoutMs = timeoutSeconds(template, id) * 1000;
    functions.push({
      id,
      name,
      arn: stack.attributes[`${id}.Arn`] ?? name,
      environment,
      asyncRetryAttempts: asyncRetryAttempts(template, id),
      invoke: async (event) => {
        const done = await turn();
        try {
          const deadline = Date.now() + timeoutMs;
          return await withinTimeout(
            handler(event, lambdaContext(name, stack, deadline)),
            timeoutMs,
          );
        } catch (error) {
          if (error instanceof LambdaFunctionError) throw error;
          const { name: errorType, message } =
            error instanceof Error ? error : new Error(String(error));
          throw new LambdaFunctionError(errorType, message);
        } finally {
          done();
        }
      },
    });
  }
  return functions;
}

/** Finds a function by logical ID, name or ARN (qualified or not), as Lambda's FunctionName accepts the last two. */
export function findFunction(
  functions: LocalFunction[],
  reference: string,
): LocalFunction | undefined {
  return functions.find(
    (fn) =>
      fn.arn === reference ||
      fn.name === reference ||
      fn.id === reference ||
      // Qualified by an alias or a version: the one function here.
      reference.startsWith(`${fn.arn}:`),
  );
}

/**
 * The invocation's result, or Lambda's error once the function's Timeout is over. Lambda stops the
 * function then; here it runs on in the process, but its caller hears what Lambda would say.
 */
async function withinTimeout<T>(result: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new LambdaFunctionError(
          'Sandbox.Timedout',
          `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([result, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The context Lambda gives an invocation. Its deadline is the function's Timeout from now, as on
 * Lambda (the local stack does not stop a function at it; the functions stop themselves in time).
 */
function lambdaContext(functionName: string, stack: LocalStack, deadline: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${stack.region}:${stack.accountId}:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  } as Context;
}

/** Resolves, when one of `slots` is free, with the function that frees it again. */
function semaphore(slots: number): () => Promise<() => void> {
  let free = slots;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next === undefined) free += 1;
    else next();
  };
  return () => {
    if (free > 0) {
      free -= 1;
      return Promise.resolve(release);
    }
    return new Promise((resolve) =>
      waiting.push(() => {
        resolve(release);
      }),
    );
  };
}
