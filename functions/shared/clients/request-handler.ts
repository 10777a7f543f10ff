import { AsyncLocalStorage } from 'node:async_hooks';
import { NodeHttpHandler } from '@smithy/node-http-handler';

// Every AWS SDK client of the connector sends through this handler, so that no AWS call outlives
// the work it is for: each attempt ends after its timeouts (an error, not a warning), and every
// call made within `withDeadline` is aborted at that deadline. A function that runs out of time
// then fails with a clear error of its own, before Lambda stops it mid-way.

const deadlines = new AsyncLocalStorage<number>();

/** Runs `work` with every AWS call it makes ended by `deadline` (ms since the epoch) at the latest. */
export function withDeadline<T>(deadline: number, work: () => T): T {
  return deadlines.run(deadline, work);
}

const CONNECTION_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 5_000;

class DeadlineBoundHandler extends NodeHttpHandler {
  override handle(...[request, options = {}]: Parameters<NodeHttpHandler['handle']>) {
    const deadline = deadlines.getStore();
    const left = deadline === undefined ? Infinity : deadline - Date.now();
    // An attempt that its own timeouts end before the deadline needs no timer of its own: the
    // usual case, and the only one on a push's path (a timer per call, each living to the deadline,
    // would cost every uplink).
    if (left > CONNECTION_TIMEOUT_MS + REQUEST_TIMEOUT_MS) return super.handle(request, options);
    const timeLeft = AbortSignal.timeout(Math.max(0, left));
    const abortSignal =
      options.abortSignal === undefined
        ? timeLeft
        : AbortSignal.any([options.abortSignal as AbortSignal, timeLeft]);
    return super.handle(request, { ...options, abortSignal });
  }
}

/** A handler for one client: connect within 2 s, each attempt answered within 5 s. */
export function requestHandler(): NodeHttpHandler {
  return new DeadlineBoundHandler({
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  });
}
