import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { DependencyError, UnauthorizedError } from '../errors.js';

const BEARER = /^Bearer +(\S+) *$/i;

export interface RequireBearerTokenOptions {
  /** The token callers must present; expected to be cached by the caller (see cached.ts). */
  expectedToken: () => Promise<string>;
}

/**
 * Refuses the request unless it carries `Authorization: Bearer <expected token>`, which is what
 * OrbiWAN sends when push mode is started with `push_auth_access_token`.
 */
export function requireBearerToken({
  expectedToken,
}: RequireBearerTokenOptions): MiddlewareObj<APIGatewayProxyEventV2> {
  return {
    before: async ({ event }) => {
      const header = headerValue(event.headers, 'authorization');
      if (header === undefined) {
        throw new UnauthorizedError('the Authorization header is missing');
      }
      const presented = BEARER.exec(header)?.[1];
      if (presented === undefined) {
        throw new UnauthorizedError('the Authorization header is not of the form "Bearer <token>"');
      }
      let expected: string;
      try {
        expected = await expectedToken();
      } catch (error) {
        throw new DependencyError(
          'AUTH_UNAVAILABLE',
          'the push token could not be read to check the request',
          false,
          { cause: error },
        );
      }
      if (!sameSecret(presented, expected)) {
        throw new UnauthorizedError('the bearer token is not the push token');
      }
    },
  };
}

// Hashing first gives both sides the same length, so the comparison takes the same time whatever
// the presented token is, and its length leaks nothing either.
function sameSecret(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), sha256(expected));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

// API Gateway lower-cases header names in payload 2.0, but hand-written events may not.
function headerValue(headers: APIGatewayProxyEventV2['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}
