import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
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
