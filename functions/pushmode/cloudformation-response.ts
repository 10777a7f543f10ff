import type {
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceResponse,
} from 'aws-lambda';
import { HttpRequestError, httpRequest } from '../shared/orbiwan/http-request.js';

// A custom resource answers CloudFormation by a PUT of its result to the pre-signed S3 URL in the
// request (ResponseURL), not by what the function returns. Until that PUT arrives the stack waits
// (up to the resource's ServiceTimeout), so every request must end with exactly one answer.

/** What the work on a request came to; the response adds the request's identifiers. */
export interface CustomResourceOutcome {
  status: 'SUCCESS' | 'FAILED';
  /** Shown in the stack's events: for a failure, what went wrong and what to do. */
  reason: string;
  /** Stays the same across updates; a different one would make CloudFormation delete the old. */
  physicalResourceId: string;
}

// CloudFormation refuses responses over 4096 bytes; the Reason is the only part that can grow.
const MAX_REASON_LENGTH = 1_000;
const CONNECT_TIMEOUT_MS = 2_000;
const TIMEOUT_MS = 4_000;
const ATTEMPTS = 2;

export class CloudFormationResponseError extends Error {
  override name = 'CloudFormationResponseError';
}

export function cloudFormationResponse(
  event: CloudFormationCustomResourceEvent,
  outcome: CustomResourceOutcome,
  logStreamName: string,
): CloudFormationCustomResourceResponse {
  const reason = `${outcome.reason} (log stream ${logStreamName})`;
  return {
    Status: outcome.status,
    Reason:
      reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH - 3)}...` : reason,
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
}

export type SendResponse = (
  responseUrl: string,
  response: CloudFormationCustomResourceResponse,
) => Promise<void>;

/**
 * PUTs the response to the pre-signed URL, once more if S3 could not be reached or failed. The
 * URL is a credential for this one answer: it is never logged, and neither is the body.
 */
export const sendCloudFormationResponse: SendResponse = async (responseUrl, response) => {
  const body = JSON.stringify(response);
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    try {
      const reply = await httpRequest({
        method: 'PUT',
        url: new URL(responseUrl),
        // The URL is signed without a content type: S3 refuses one it was not signed with.
        headers: { 'content-type': '' },
        body,
        connectTimeoutMs: CONNECT_TIMEOUT_MS,
        timeoutMs: TIMEOUT_MS,
      });
      if (reply.status >= 200 && reply.status < 300) return;
      last = `answered ${reply.status}`;
      if (reply.status < 500) break;
    } catch (error) {
      if (!(error instanceof HttpRequestError)) throw error;
      last = `could not be reached (${error.code})`;
    }
  }
  throw new CloudFormationResponseError(
    `CloudFormation's response URL ${last}; Lambda retries the request, and the stack gives up after the resource's ServiceTimeout`,
  );
};
