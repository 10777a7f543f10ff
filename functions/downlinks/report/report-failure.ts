import { dynamoDbClient } from '../../shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { normaliseDevEui } from '../../shared/dev-eui.js';
import { logger } from '../../shared/logger.js';
import type { Publish } from '../../shared/publish.js';
import { downlinkStatusTopic, topicPrefixFromEnv } from '../../shared/topics.js';
import {
  INVALID_REQUEST_CODES,
  errorCodeFor,
  queuedIdOf,
  type DownlinkErrorCode,
} from '../downlink-errors.js';
import { countDownlinkEnded } from '../downlink-outcomes.js';
import { deviceLevel, parseDownlink, requestIdOf, type RuleInput } from '../downlink-request.js';
import { failureStatus, type FinalState } from '../downlink-status.js';
import { downlinksTableFromEnv } from '../downlink-table.js';
import { requestClaims, type RequestClaims } from '../request-claims.js';
import { stateMachineTask } from '../state-machine-task.js';
import { statusPublisher } from '../status-publisher.js';

/** A caught error as Step Functions passes it on (Catch with ResultPath $.failure). */
export interface Failure {
  Error: string;
  Cause?: string;
}

/**
 * What the Report* states pass: the request as it came, with the error the send task ended in
 * (and, for ReportTimeout, the rule's timeout and the error of the check that could not run).
 */
export interface ReportInput {
  outcome: 'invalid' | 'rejected' | 'error' | 'timed_out';
  request: RuleInput & { failure: Failure; timeoutSeconds?: number; checkFailure?: Failure };
  /** $$.Execution.Name: the downlink's correlation id in its statuses, logs and traces. */
  correlationId: string;
}

export interface ReportDeps {
  publish: Publish;
  topicPrefix: string;
  claims: RequestClaims;
}

const FINAL_STATE_BY_OUTCOME = {
  invalid: 'invalid',
  rejected: 'rejected',
  error: 'failed',
  timed_out: 'timed_out',
} as const satisfies Record<ReportInput['outcome'], FinalState>;

// Only a request that breaks the contract (or whose object no codec could encode) ended `invalid`,
// and only OrbiWAN's refusals (and a device busy with the connector's own downlinks) `rejected`:
// anything else is the connector or OrbiWAN failing, which the DownlinksFailed alarm
// (finalState=failed) must see.
function finalStateOfFailure(outcome: ReportInput['outcome'], code: DownlinkErrorCode): FinalState {
  if (outcome === 'invalid' && !INVALID_REQUEST_CODES.includes(code)) return 'failed';
  return FINAL_STATE_BY_OUTCOME[outcome];
}

export interface ReportResult {
  topic: string;
  code: DownlinkErrorCode;
  /** What the status says went wrong: the failed execution's cause. */
  message: string;
}

/**
 * States ReportInvalidDownlink, ReportRejection and ReportError: every way the send task can fail
 * ends here, so that the request always ends with a status message saying why. A valid request is
 * answered on its device's status topic, an invalid one on its own topic + /status. And state
 * ReportTimeout, the last resort when the timeout's check could not run at all.
 */
export async function reportFailure(
  { outcome, request, correlationId }: ReportInput,
  deps: ReportDeps,
): Promise<ReportResult> {
  const { failure } = request;
  const timedOut = outcome === 'timed_out';
  const code = timedOut ? 'TIMED_OUT' : errorCodeFor(failure.Error);
  const message = timedOut
    ? `OrbiWAN reported no final status within ${String(request.timeoutSeconds ?? '?')} s, and the connector could not ask it (${request.checkFailure?.Error ?? 'unknown error'})`
    : failureMessage(failure, code);
  const about = await aboutRequest(request, correlationId, deps);
  // Queued, but not recorded: the error itself says OrbiWAN's id, whatever the claim could keep.
  const downlinkId = about.downlinkId ?? queuedIdOf(message);
  await deps.publish({
    topic: about.topic,
    payload: failureStatus({
      devEui: about.devEui,
      id: downlinkId,
      requestId: about.requestId,
      transmissionStatus: undefined,
      state: timedOut ? 'timed_out' : 'error',
      error: { code, message },
      correlationId,
    }),
    qos: 1,
  });
  // Once published: a failed publish is retried, and must not be counted twice.
  countDownlinkEnded(finalStateOfFailure(outcome, code));
  logger.warn('downlink failed', {
    code,
    reason: message,
    outcome,
    devEui: about.devEui,
    requestId: about.requestId,
  });
  return { topic: about.topic, code, message };
}

/** Where to answer, and what identifies the downlink: its OrbiWAN id too, if it was queued. */
async function aboutRequest(request: RuleInput, execution: string, deps: ReportDeps) {
  try {
    const downlink = parseDownlink(request, { topicPrefix: deps.topicPrefix, ...ANY_DEFAULTS });
    const { downlinkId } = await deps.claims
      .posted({ devEui: downlink.devEui, requestId: downlink.requestId, execution })
      .catch((error: unknown) => {
        logger.warn('could not look up whether OrbiWAN queued the downlink', { error });
        return { downlinkId: undefined };
      });
    return {
      topic: downlink.statusTopic,
      devEui: downlink.devEui,
      requestId: downlink.requestId,
      downlinkId,
    };
  } catch {
    // Not a valid request: answer on its own topic, naming the device as it did.
    const level = deviceLevel(request.topic, deps.topicPrefix) ?? request.topic.split('/').at(-2);
    return {
      topic: downlinkStatusTopic(request.topic),
      devEui: normaliseDevEui(level ?? '') ?? level ?? '',
      requestId: requestIdOf(request.payload),
      downlinkId: undefined,
    };
  }
}

// Defaults do not change what identifies a request; parsing here only needs its device and id.
const ANY_DEFAULTS = { confirmed: true, mode: 'enqueue_on_busy' } as const;

// Lambda errors arrive with a JSON Cause ({errorType, errorMessage, trace}); only the message is
// for apps, the trace stays in the logs.
function failureMessage({ Error: name, Cause: cause }: Failure, code: DownlinkErrorCode): string {
  let message: string | undefined;
  try {
    const { errorMessage } = JSON.parse(cause ?? '') as { errorMessage?: unknown };
    if (typeof errorMessage === 'string') message = errorMessage;
  } catch {
    // Not a Lambda error: use the cause as it is.
  }
  if (code === 'INTERNAL_ERROR' && name !== 'DownlinkNotRecordedError')
    return `the connector failed (${name}); see its logs`;
  return (message ?? cause ?? name).slice(0, 1000);
}

export function createReportFailureHandler(deps: ReportDeps) {
  return stateMachineTask<ReportInput, ReportResult>((input) => reportFailure(input, deps));
}

export function reportFailureHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createReportFailureHandler({
    publish: statusPublisher(iotDataClient),
    topicPrefix: topicPrefixFromEnv(env),
    claims: requestClaims({
      client: dynamoDbClient,
      ...downlinksTableFromEnv(env),
      // Only read here, never claimed.
      windowMs: 0,
    }),
  });
}
