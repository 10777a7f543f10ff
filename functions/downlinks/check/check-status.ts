import { dynamoDbClient } from '../../shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { logger } from '../../shared/logger.js';
import type { OrbiwanClient } from '../../shared/orbiwan/orbiwan-client.js';
import {
  OrbiwanNotReachedError,
  OrbiwanRejectedError,
  OrbiwanUnavailableError,
} from '../../shared/orbiwan/orbiwan-errors.js';
import { orbiwanClientFromEnv } from '../../shared/orbiwan/orbiwan-from-env.js';
import type { Publish } from '../../shared/publish.js';
import { withMembers } from '../../shared/raw-json.js';
import { topicPrefixFromEnv } from '../../shared/topics.js';
import { countDownlinkEnded, OUTCOME_ERRORS, type DownlinkOutcome } from '../downlink-outcomes.js';
import { downlinkRecords, type DownlinkRecords } from '../downlink-record.js';
import { parseDownlink, type DownlinkDefaults, type RuleInput } from '../downlink-request.js';
import { downlinkDefaultsFromEnv } from '../downlink-settings.js';
import { failureStatus, lifecycleRank } from '../downlink-status.js';
import { downlinksTableFromEnv } from '../downlink-table.js';
import { requestClaims, type RequestClaims } from '../request-claims.js';
import { retrying } from '../retrying.js';
import { stateMachineTask } from '../state-machine-task.js';
import { statusPublisher } from '../status-publisher.js';
import { PUBLISHER_LEASE_MS, statusPublishing } from '../status-publishing.js';

/** How long to keep asking OrbiWAN, while it cannot answer, before ending without its answer. */
const ASK_FOR_MS = 2_000;

export interface CheckInput {
  /** The request as the rule passed it (with the wait's timeout), and the timeout's error. */
  request: RuleInput & { timeoutSeconds?: number };
  /** $$.Execution.Name: the downlink's correlation id in its statuses, logs and traces. */
  correlationId: string;
}

/** What the state machine ends with: Delivered's output, or the cause of the failure state. */
export interface CheckResult {
  outcome: DownlinkOutcome;
  failure: { Error: string; Cause: string };
}

export interface CheckDeps {
  defaults: DownlinkDefaults;
  orbiwan: OrbiwanClient;
  claims: RequestClaims;
  records: DownlinkRecords;
  publish: Publish;
}

/**
 * State CheckStatusAtOrbiwan, once the send task's wait timed out. OrbiWAN does not retry a status
 * push that failed, so before the downlink ends, ask OrbiWAN where it stands, and publish every
 * status the application has not seen: what OrbiWAN answers, and what was reported but not
 * published (a publish that failed). The downlink ends with its final status if it has one, else
 * `timed_out`, published under the same lock as every other status, so it is the only ending.
 */
export async function checkStatusAtOrbiwan(
  { request, correlationId }: CheckInput,
  deps: CheckDeps,
): Promise<CheckResult> {
  const downlink = parseDownlink(request, deps.defaults);
  const { devEui, requestId } = downlink;
  const waited = `OrbiWAN reported no final status within ${String(request.timeoutSeconds ?? '?')} s`;
  const { downlinkId } = await deps.claims.posted({ devEui, requestId, execution: correlationId });
  if (downlinkId === undefined) {
    // The send task could not record OrbiWAN's id: nothing to ask about, nothing to follow.
    const reason = `${waited}, and the connector does not know OrbiWAN's id for it`;
    await deps.publish({
      topic: downlink.statusTopic,
      payload: failureStatus({
        devEui,
        id: undefined,
        requestId,
        transmissionStatus: undefined,
        state: 'timed_out',
        error: { code: 'TIMED_OUT', message: reason },
        correlationId,
      }),
      qos: 1,
    });
    countDownlinkEnded('timed_out');
    return result({ finalState: 'timed_out', devEui, downlinkId, requestId, statuses: [] });
  }
  logger.appendKeys({ downlinkId });

  let reason = `${waited}, nor when asked`;
  try {
    // A GET changes nothing at OrbiWAN: asked again while it cannot answer, for a while.
    const current = await retrying(
      () => deps.orbiwan.downlinkAtOrbiwan(devEui, downlinkId),
      Date.now() + ASK_FOR_MS,
      {
        retryable: (error) =>
          error instanceof OrbiwanNotReachedError || error instanceof OrbiwanUnavailableError,
      },
    );
    // OrbiWAN's answer, as a push of it would have come (with the device).
    await deps.records.recordReport(devEui, downlinkId, {
      rank: lifecycleRank(current.transmissionStatus),
      transmissionStatus: current.transmissionStatus,
      body: withMembers(current.reply, { DevEUI: devEui }).toString('utf8'),
    });
    logger.info('asked OrbiWAN for a downlink whose wait timed out', {
      transmissionStatus: current.transmissionStatus,
    });
  } catch (error) {
    const orbiwanFailed = [
      OrbiwanNotReachedError,
      OrbiwanUnavailableError,
      OrbiwanRejectedError,
    ].some((type) => error instanceof type);
    if (!orbiwanFailed) throw error;
    reason = `${waited}, and OrbiWAN could not be asked: ${(error as Error).message}`;
    logger.warn('could not ask OrbiWAN for a downlink whose wait timed out', { error });
  }

  // The send task is over: nothing to complete, the state machine goes on with what this returns.
  const publishing = statusPublishing({
    ...deps,
    complete: undefined,
    topicPrefix: deps.defaults.topicPrefix,
  });
  const { finalState, view } = await publishing.endNow(devEui, downlinkId, reason);
  return result({
    finalState: finalState ?? 'timed_out',
    devEui,
    downlinkId,
    requestId,
    statuses: view.published,
  });
}

function result(outcome: DownlinkOutcome): CheckResult {
  return {
    outcome,
    failure: { Error: OUTCOME_ERRORS[outcome.finalState] ?? '', Cause: JSON.stringify(outcome) },
  };
}

export function createCheckStatusHandler(deps: CheckDeps) {
  return stateMachineTask<CheckInput, CheckResult>((input) => checkStatusAtOrbiwan(input, deps));
}

export function checkStatusHandlerFromEnv(env: NodeJS.ProcessEnv) {
  const table = downlinksTableFromEnv(env);
  return createCheckStatusHandler({
    defaults: { topicPrefix: topicPrefixFromEnv(env), ...downlinkDefaultsFromEnv(env) },
    orbiwan: orbiwanClientFromEnv(env),
    // Only read here, never claimed.
    claims: requestClaims({ client: dynamoDbClient, ...table, windowMs: 0 }),
    records: downlinkRecords({
      client: dynamoDbClient,
      ...table,
      publisherLeaseMs: PUBLISHER_LEASE_MS,
    }),
    publish: statusPublisher(iotDataClient),
  });
}
