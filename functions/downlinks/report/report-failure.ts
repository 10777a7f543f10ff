import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { normaliseDevEui } from '../../shared/dev-eui.js';
import { logger } from '../../shared/logger.js';
import type { Publish } from '../../shared/publish.js';
import { stateMachineTask } from '../state-machine-task.js';
import { statusPublisher } from '../status-publisher.js';
import { errorCodeFor, type DownlinkErrorCode } from '../downlink-errors.js';
import { deviceLevel, requestIdOf, type Downlink } from '../downlink-request.js';
import { downlinkStatusTopic, topicPrefixFromEnv } from '../../shared/topics.js';
import { countDownlinkEnded } from '../downlink-outcomes.js';
import { failureStatus, type FinalState } from '../downlink-status.js';
import type { SentDownlink } from '../send/send-to-orbiwan.js';

/** A caught error as Step Functions passes it on (Catch with ResultPath $.failure). */
export interface Failure {
  Error: string;
  Cause?: string;
}

/** What the Report* states pass: the request as it came for an invalid one, the downlink otherwise. */
export type ReportInput = (
  | { outcome: 'invalid'; topic: string; payload: string; failure: Failure }
  | {
      outcome: 'rejected' | 'error' | 'timed_out';
      downlink: Downlink;
      orbiwan: Partial<SentDownlink>;
      failure: Failure;
      timeoutSeconds?: number;
    }
) & {
  /** $$.Execution.Name: the downlink's correlation id in logs and traces. */
  correlationId?: string;
};

const FINAL_STATE_BY_OUTCOME = {
  invalid: 'invalid',
  rejected: 'rejected',
  error: 'failed',
  timed_out: 'timed_out',
} as const satisfies Record<ReportInput['outcome'], FinalState>;

// Only a request that breaks the contract ended `invalid`: the connector failing on the
// ValidateDownlink path (a throttled Lambda after its retries: INTERNAL_ERROR) is a failure, which
// the DownlinksFailed alarm (finalState=failed) must see.
function finalStateOfFailure(outcome: ReportInput['outcome'], code: DownlinkErrorCode): FinalState {
  if (outcome === 'invalid' && code !== 'INVALID_DOWNLINK') return 'failed';
  return FINAL_STATE_BY_OUTCOME[outcome];
}

export interface ReportResult {
  topic: string;
  code: DownlinkErrorCode;
}

/**
 * States ReportInvalidDownlink, ReportRejection, ReportError and ReportTimeout: every way a
 * downlink can fail ends here, so that it always ends with a status message saying why.
 */
export async function reportFailure(
  input: ReportInput,
  { publish, topicPrefix }: { publish: Publish; topicPrefix: string },
): Promise<ReportResult> {
  const code = input.outcome === 'timed_out' ? 'TIMED_OUT' : errorCodeFor(input.failure.Error);
  const message =
    input.outcome === 'timed_out'
      ? `OrbiWAN reported no final status within ${String(input.timeoutSeconds ?? '?')} s of waiting`
      : failureMessage(input.failure, code);
  const failure =
    input.outcome === 'invalid'
      ? {
          topic: downlinkStatusTopic(input.topic),
          devEui: devEuiForReport(input.topic, topicPrefix),
          id: undefined,
          requestId: requestIdOf(input.payload),
          transmissionStatus: undefined,
        }
      : {
          topic: input.downlink.statusTopic,
          devEui: input.downlink.devEui,
          id: input.orbiwan.id,
          requestId: input.downlink.requestId,
          transmissionStatus: input.orbiwan.transmissionStatus,
        };
  const state = input.outcome === 'timed_out' ? 'timed_out' : 'error';
  await publish({
    topic: failure.topic,
    payload: failureStatus({
      ...failure,
      state,
      error: { code, message },
      correlationId: input.correlationId,
    }),
    qos: 1,
  });
  // Once published: a failed publish is retried, and must not be counted twice.
  countDownlinkEnded(finalStateOfFailure(input.outcome, code));
  logger.warn('downlink failed', {
    code,
    reason: message,
    outcome: input.outcome,
    devEui: failure.devEui,
    requestId: failure.requestId,
  });
  return { topic: failure.topic, code };
}

// Lambda errors arrive with a JSON Cause ({errorType, errorMessage, trace}); only the message is
// for apps, the trace stays in the logs.
function failureMessage({ Error: name, Cause: cause }: Failure, code: DownlinkErrorCode): string {
  if (code === 'INTERNAL_ERROR') return `the connector failed (${name}); see its logs`;
  try {
    const { errorMessage } = JSON.parse(cause ?? '') as { errorMessage?: unknown };
    if (typeof errorMessage === 'string') return errorMessage;
  } catch {
    // Not a Lambda error: use the cause as it is.
  }
  return (cause ?? name).slice(0, 300);
}

// An invalid request may name no valid DevEUI: keep the topic's level so the sender can match it.
function devEuiForReport(topic: string, prefix: string): string {
  const level = deviceLevel(topic, prefix) ?? topic.split('/').at(-2) ?? '';
  return normaliseDevEui(level) ?? level;
}

export function createReportFailureHandler(deps: { publish: Publish; topicPrefix: string }) {
  return stateMachineTask<ReportInput, ReportResult>((input) => reportFailure(input, deps));
}

export function reportFailureHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createReportFailureHandler({
    publish: statusPublisher(iotDataClient),
    topicPrefix: topicPrefixFromEnv(env),
  });
}
