import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { withDeadline } from './clients/request-handler.js';
import { logger } from './logger.js';
import { tracer } from './tracer.js';

/**
 * The start of every handler's Middy chain: a trace segment, and the Lambda context and a
 * correlation id in every log line (metrics are published as they happen: shared/metrics.ts).
 * The correlation id is the HTTP request's id for OrbiWAN's pushes, and the execution's name for
 * a downlink (the IoT rule starts one execution per downlink request), passed to every task.
 */
export function observedHandler<Event, Result>(
  correlationIdOf: (event: Event) => string | undefined,
) {
  const handler = middy<Event, Result>();
  if (tracer !== undefined) handler.use(captureLambdaHandler(tracer, { captureResponse: false }));
  return handler
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(correlationId(correlationIdOf));
}

function correlationId<Event, Result>(
  correlationIdOf: (event: Event) => string | undefined,
): MiddlewareObj<Event, Result> {
  return {
    before: (request) => {
      const id = correlationIdOf(request.event);
      if (id === undefined) return;
      logger.setCorrelationId(id);
      tracer?.putAnnotation('correlationId', id);
    },
  };
}

/** Kept back from Lambda's deadline: time for the handler to report the error of a call cut short. */
const CALLS_END_BEFORE_DEADLINE_MS = 500;

/**
 * The handler, with every AWS call it makes ended before its invocation runs out of time: a call
 * that would outlast it fails (aborted) while the handler can still answer, rather than Lambda (or
 * Middy's own timeout) stopping it mid-way.
 */
export function boundByDeadline<Event, Result>(
  handler: (event: Event, context: Context) => Promise<Result>,
): (event: Event, context: Context) => Promise<Result> {
  return (event, context) =>
    withDeadline(
      Date.now() + context.getRemainingTimeInMillis() - CALLS_END_BEFORE_DEADLINE_MS,
      () => handler(event, context),
    );
}
