import type { Logger } from '@aws-lambda-powertools/logger';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  DependencyError,
  InvalidInputError,
  PayloadTooLargeError,
  UnauthorizedError,
  type InputIssue,
} from '../errors.js';

export interface ErrorBody {
  error: { code: string; message: string; issues?: InputIssue[] };
}

interface ErrorReply {
  statusCode: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/**
 * Turns any error into a JSON reply `{"error": {"code", "message"}}` with the right status code.
 * This is the one place that maps the connector's errors to HTTP; a reply never carries a stack
 * trace, and errors we did not foresee are logged in full but answered with a generic 500.
 */
export function jsonErrorResponses({
  logger,
  countFailure,
}: {
  logger: Logger;
  /** Told of every error reply, for metrics. */
  countFailure?: (statusCode: number, code: string) => void;
}): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: (request) => {
      const reply = errorReply(request.error);
      countFailure?.(reply.statusCode, reply.body.error.code);
      if (reply.statusCode >= 500) {
        logger.error('request failed', { code: reply.body.error.code, error: request.error });
      } else {
        const { code, message: reason, issues } = reply.body.error;
        // Not 'message': Powertools reserves that key for the log line's own message.
        logger.warn('request refused', { statusCode: reply.statusCode, code, reason, issues });
      }
      request.response = {
        statusCode: reply.statusCode,
        headers: { 'content-type': 'application/json', ...reply.headers },
        body: JSON.stringify(reply.body),
      };
    },
  };
}

function errorReply(error: unknown): ErrorReply {
  if (error instanceof UnauthorizedError) {
    return {
      statusCode: 401,
      body: { error: { code: error.code, message: error.message } },
      headers: { 'www-authenticate': 'Bearer' },
    };
  }
  if (error instanceof InvalidInputError) {
    const issues = error.issues.length > 0 ? { issues: error.issues } : {};
    return {
      statusCode: 400,
      body: { error: { code: error.code, message: error.message, ...issues } },
    };
  }
  if (error instanceof PayloadTooLargeError) {
    return { statusCode: 413, body: { error: { code: error.code, message: error.message } } };
  }
  if (error instanceof DependencyError) {
    return {
      statusCode: error.throttled ? 503 : 502,
      body: { error: { code: error.code, message: error.message } },
      ...(error.throttled ? { headers: { 'retry-after': '1' } } : {}),
    };
  }
  return {
    statusCode: 500,
    body: {
      error: { code: 'INTERNAL_ERROR', message: 'the connector failed to handle the request' },
    },
  };
}
