import { dynamoDbClient } from '../../shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { logger } from '../../shared/logger.js';
import { observedHandler } from '../../shared/observability.js';
import type { OrbiwanClient } from '../../shared/orbiwan/orbiwan-client.js';
import { orbiwanClientFromEnv } from '../../shared/orbiwan/orbiwan-from-env.js';
import type { Publish } from '../../shared/publish.js';
import { statusPublisher } from '../status-publisher.js';
import { withMembers } from '../../shared/raw-json.js';
import { downlinkRecords, type DownlinkRecords } from '../downlink-records.js';
import type { Downlink } from '../downlink-request.js';
import { downlinksTableFromEnv } from '../downlink-settings.js';
import { countDownlinkEnded } from '../downlink-outcomes.js';
import {
  finalStateOf,
  isFinalStatus,
  lifecycleRank,
  republishedStatus,
} from '../downlink-status.js';
import type { SentDownlink } from '../send/send-to-orbiwan.js';

export interface CheckInput {
  downlink: Downlink;
  /** What the execution knows: OrbiWAN's id and the last status it saw. */
  orbiwan: SentDownlink;
  /** $$.Execution.Name: the downlink's correlation id in logs and traces. */
  correlationId?: string;
}

/** What the state machine keeps as $.orbiwan: the status to end with, if `final`. */
export interface CheckedDownlink {
  id: string;
  transmissionStatus: number;
  final: boolean;
}

export interface CheckDeps {
  orbiwan: OrbiwanClient;
  records: DownlinkRecords;
  publish: Publish;
}

/**
 * State CheckStatusAtOrbiwan, when the wait timed out: OrbiWAN does not retry a status push that
 * failed, so before the downlink is declared timed out, ask OrbiWAN where it stands. A status
 * nobody has published yet is recorded and published as a push would have been; the execution
 * then ends with it if it is final.
 */
export async function checkStatusAtOrbiwan(
  { downlink, orbiwan, correlationId }: CheckInput,
  deps: CheckDeps,
): Promise<CheckedDownlink> {
  const current = await deps.orbiwan.downlinkAtOrbiwan(downlink.devEui, orbiwan.id);
  const note = await deps.records.noteStatus(
    { devEui: downlink.devEui, downlinkId: orbiwan.id },
    current.transmissionStatus,
  );
  // A push may have been recorded meanwhile (and published by the status function): end with the
  // furthest status either way, and publish only news: further than any status recorded, and
  // than the execution knew (its accepted status said pending already).
  const transmissionStatus = note.advanced
    ? current.transmissionStatus
    : (note.record.lastStatus ?? current.transmissionStatus);
  const news =
    note.advanced && lifecycleRank(transmissionStatus) > lifecycleRank(orbiwan.transmissionStatus);
  if (news) {
    await deps.publish({
      topic: downlink.statusTopic,
      payload: republishedStatus(withMembers(current.reply, { DevEUI: downlink.devEui }), {
        transmissionStatus,
        requestId: downlink.requestId,
        stale: false,
        correlationId,
      }),
      qos: 1,
    });
  }
  const final = isFinalStatus(transmissionStatus, downlink.confirmed);
  // Counted here only if this answer is what ended it; a push recorded meanwhile was counted.
  const finalState = news ? finalStateOf(transmissionStatus, downlink.confirmed) : undefined;
  if (finalState !== undefined) countDownlinkEnded(finalState);
  logger.info('asked OrbiWAN for the status of a downlink whose wait timed out', {
    transmissionStatus,
    final,
    published: news,
  });
  return { id: orbiwan.id, transmissionStatus, final };
}

export function createCheckStatusHandler(deps: CheckDeps) {
  return observedHandler<CheckInput, CheckedDownlink>((input) => input.correlationId).handler(
    (input) => {
      logger.appendKeys({
        devEui: input.downlink.devEui,
        requestId: input.downlink.requestId,
        downlinkId: input.orbiwan.id,
      });
      return checkStatusAtOrbiwan(input, deps);
    },
  );
}

export function checkStatusHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createCheckStatusHandler({
    orbiwan: orbiwanClientFromEnv(env),
    records: downlinkRecords({ client: dynamoDbClient, ...downlinksTableFromEnv(env) }),
    publish: statusPublisher(iotDataClient),
  });
}
