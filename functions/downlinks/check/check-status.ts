import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { logger } from '../../shared/logger.js';
import type { OrbiwanClient } from '../../shared/orbiwan/orbiwan-client.js';
import { orbiwanClientFromEnv } from '../../shared/orbiwan/orbiwan-from-env.js';
import type { Publish } from '../../shared/publish.js';
import { stateMachineTask } from '../state-machine-task.js';
import { statusPublisher } from '../status-publisher.js';
import { downlinkRecordsFromEnv, type DownlinkRecords } from '../downlink-records.js';
import type { Downlink } from '../downlink-request.js';
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
 * nobody has published yet is published and recorded as a push would have been; the execution
 * then ends with it if it is final.
 */
export async function checkStatusAtOrbiwan(
  { downlink, orbiwan, correlationId }: CheckInput,
  deps: CheckDeps,
): Promise<CheckedDownlink> {
  const current = await deps.orbiwan.downlinkAtOrbiwan(downlink.devEui, orbiwan.id);
  const key = { devEui: downlink.devEui, downlinkId: orbiwan.id };
  // Published only if it is news: further than any status recorded (a push may have come
  // meanwhile, published by the status function), and than the execution knew (its accepted status
  // said pending already). Published before it is recorded: should the publish fail, the state's
  // retry still finds it news and publishes it then.
  const known = (await deps.records.read(key)).lastStatus;
  const rank = lifecycleRank(current.transmissionStatus);
  const news =
    rank > lifecycleRank(orbiwan.transmissionStatus) &&
    (known === undefined || rank > lifecycleRank(known));
  if (news) {
    await deps.publish({
      topic: downlink.statusTopic,
      payload: republishedStatus(current.reply, {
        devEui: downlink.devEui,
        transmissionStatus: current.transmissionStatus,
        requestId: downlink.requestId,
        stale: false,
        correlationId,
      }),
      qos: 1,
    });
  }
  const note = await deps.records.noteStatus(key, current.transmissionStatus);
  // End with the furthest status either way: a push recorded meanwhile may be further still.
  const transmissionStatus = note.advanced
    ? current.transmissionStatus
    : (note.record.lastStatus ?? current.transmissionStatus);
  const final = isFinalStatus(transmissionStatus, downlink.confirmed);
  // Counted here only if this answer is what ended it; a push recorded first was counted by the
  // status function.
  const finalState = note.advanced
    ? finalStateOf(transmissionStatus, downlink.confirmed)
    : undefined;
  if (finalState !== undefined) countDownlinkEnded(finalState);
  logger.info('asked OrbiWAN for the status of a downlink whose wait timed out', {
    transmissionStatus,
    final,
    published: news,
  });
  return { id: orbiwan.id, transmissionStatus, final };
}

export function createCheckStatusHandler(deps: CheckDeps) {
  return stateMachineTask<CheckInput, CheckedDownlink>(
    (input) => checkStatusAtOrbiwan(input, deps),
    ({ downlink, orbiwan }) => ({
      devEui: downlink.devEui,
      requestId: downlink.requestId,
      downlinkId: orbiwan.id,
    }),
  );
}

export function checkStatusHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createCheckStatusHandler({
    orbiwan: orbiwanClientFromEnv(env),
    records: downlinkRecordsFromEnv(env),
    publish: statusPublisher(iotDataClient),
  });
}
