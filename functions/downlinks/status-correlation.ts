import { sfnClient } from '../shared/clients/sfn-client.js';
import { logger } from '../shared/logger.js';
import { rawOrbiwanId } from '../shared/raw-json.js';
import type { MessagePreparation } from '../notifications/republish-notification.js';
import { stepFunctionsDelivery, type DeliverStatus } from './deliver-status.js';
import {
  downlinkRecordsFromEnv,
  statusToDeliver,
  type DownlinkRecords,
  type StatusNote,
} from './downlink-records.js';
import { countDownlinkEnded } from './downlink-outcomes.js';
import {
  REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES,
  finalStateOf,
  republishedStatus,
} from './downlink-status.js';

/**
 * What the downlink status function does beyond republishing: record the status with its downlink
 * (only ever forward), add requestId and state to what it publishes, and, once published, resume
 * the execution waiting for it. A status OrbiWAN pushes is never refused for correlation trouble:
 * it is still published, and the execution finds it when it registers its wait.
 */
export function correlateDownlinkStatus({
  records,
  deliver,
}: {
  records: DownlinkRecords;
  deliver: DeliverStatus;
}): MessagePreparation {
  const prepare: MessagePreparation['prepare'] = async ({ devEui }, body) => {
    const downlinkId = rawOrbiwanId(body.raw.toString('utf8')) ?? '';
    const { transmissionStatus } = body.json as { transmissionStatus: number };
    logger.appendKeys({ downlinkId });

    let note: StatusNote | undefined;
    let downlinkCorrelationId: string | undefined;
    try {
      note = await records.noteStatus({ devEui: devEui ?? '', downlinkId }, transmissionStatus);
      // The downlink's own correlation id (its execution's name) beside this request's.
      downlinkCorrelationId = note.record.executionArn?.split(':').at(-1);
      logger.appendKeys({ requestId: note.record.requestId, downlinkCorrelationId });
      const finalState = note.advanced
        ? finalStateOf(transmissionStatus, note.record.confirmed)
        : undefined;
      if (finalState !== undefined) countDownlinkEnded(finalState);
    } catch (error) {
      logger.error(
        'could not record the status with its downlink; republishing it without requestId',
        { error },
      );
    }
    const payload = republishedStatus(body.raw, {
      transmissionStatus,
      requestId: note?.record.requestId,
      stale: note !== undefined && !note.advanced,
      correlationId: downlinkCorrelationId,
    });

    const pending = note === undefined ? undefined : statusToDeliver(note.record);
    const afterPublish = async () => {
      if (pending === undefined) return;
      try {
        const outcome = await deliver(pending.taskToken, {
          id: downlinkId,
          transmissionStatus: pending.transmissionStatus,
        });
        logger.info('downlink lifecycle resumed', {
          transmissionStatus: pending.transmissionStatus,
          outcome,
        });
      } catch (error) {
        logger.error('could not resume the downlink lifecycle; it will time out', { error });
      }
    };
    return { payload, afterPublish };
  };
  return { addsAtMostBytes: REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES, prepare };
}

export function downlinkStatusCorrelationFromEnv(env: NodeJS.ProcessEnv): MessagePreparation {
  return correlateDownlinkStatus({
    records: downlinkRecordsFromEnv(env),
    deliver: stepFunctionsDelivery(sfnClient),
  });
}
