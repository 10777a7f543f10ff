import { dynamoDbClient } from '../../shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { logger } from '../../shared/logger.js';
import { METRIC, MetricUnit, emitMetric } from '../../shared/metrics.js';
import type { OrbiwanClient } from '../../shared/orbiwan/orbiwan-client.js';
import { ORBIWAN_TIMEOUT_MS, orbiwanClientFromEnv } from '../../shared/orbiwan/orbiwan-from-env.js';
import type { Publish } from '../../shared/publish.js';
import { stateMachineTask } from '../state-machine-task.js';
import { statusPublisher } from '../status-publisher.js';
import { deviceLocks, type WithDeviceLock } from '../device-lock.js';
import { countDownlinkEndedBeforeAccepted } from '../downlink-outcomes.js';
import { downlinkRecordsFromEnv, type DownlinkRecords } from '../downlink-records.js';
import type { Downlink } from '../downlink-request.js';
import { downlinksTableFromEnv } from '../downlink-settings.js';
import { acceptedStatus } from '../downlink-status.js';

export interface SendInput {
  downlink: Downlink;
  /** $$.Execution.Id, kept with the downlink so its statuses lead back to the execution. */
  executionArn: string;
  /** $$.Execution.Name: the downlink's correlation id in logs and traces. */
  correlationId?: string;
}

/** What the state machine keeps as $.orbiwan and WaitForStatus then updates. */
export interface SentDownlink {
  id: string;
  fcnt?: number;
  transmissionStatus: number;
}

export interface SendDeps {
  orbiwan: OrbiwanClient;
  withDeviceLock: WithDeviceLock;
  records: DownlinkRecords;
  publish: Publish;
}

/**
 * State SendToOrbiwan: one POST per downlink, never two at once for a device. Errors thrown before
 * the POST succeeded are typed for the state machine's Retry/Catch; after it, nothing may fail the
 * task, because the downlink is queued at OrbiWAN and will be delivered.
 */
export async function sendToOrbiwan(
  { downlink, executionArn, correlationId }: SendInput,
  deps: SendDeps,
): Promise<SentDownlink> {
  const enqueued = await deps.withDeviceLock(downlink.devEui, () =>
    deps.orbiwan.enqueueDownlink(downlink),
  );
  const { id, fcnt, transmissionStatus, reply } = enqueued;
  logger.appendKeys({ downlinkId: id });
  emitMetric(
    METRIC.downlinkAcceptanceLatency,
    MetricUnit.Milliseconds,
    Math.max(0, Date.now() - downlink.receivedAt),
  );
  logger.info('downlink queued by OrbiWAN', { fcnt, transmissionStatus });

  const key = { devEui: downlink.devEui, downlinkId: id };
  const results = await Promise.allSettled([
    deps.records.noteAccepted(key, {
      requestId: downlink.requestId,
      executionArn,
      confirmed: downlink.confirmed,
    }),
    deps.publish({
      topic: downlink.statusTopic,
      payload: acceptedStatus(reply, {
        devEui: downlink.devEui,
        requestId: downlink.requestId,
        correlationId,
      }),
      qos: 1,
    }),
  ]);
  const [recorded, published] = results;
  if (recorded.status === 'rejected') {
    logger.error('could not record the downlink: its statuses will lack the requestId', {
      error: recorded.reason as unknown,
    });
  } else {
    countDownlinkEndedBeforeAccepted(recorded.value.statusBefore, downlink.confirmed);
  }
  if (published.status === 'rejected') {
    logger.error('could not publish the accepted status', { error: published.reason as unknown });
  }
  return { id, ...(fcnt === undefined ? {} : { fcnt }), transmissionStatus };
}

export function createSendToOrbiwanHandler(deps: SendDeps) {
  return stateMachineTask<SendInput, SentDownlink>(
    (input) => sendToOrbiwan(input, deps),
    ({ downlink }) => ({ devEui: downlink.devEui, requestId: downlink.requestId }),
  );
}

// A lease outlives the longest POST; a busy device is waited for about as long as one POST takes.
const LOCK_LEASE_MS = ORBIWAN_TIMEOUT_MS + 4_000;
const LOCK_MAX_WAIT_MS = ORBIWAN_TIMEOUT_MS;

export function sendToOrbiwanHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createSendToOrbiwanHandler({
    orbiwan: orbiwanClientFromEnv(env),
    withDeviceLock: deviceLocks({
      client: dynamoDbClient,
      tableName: downlinksTableFromEnv(env).tableName,
      leaseMs: LOCK_LEASE_MS,
      maxWaitMs: LOCK_MAX_WAIT_MS,
      onReleaseFailure: (error) => {
        logger.warn('could not release the device lock; it lapses by itself', { error });
      },
    }),
    records: downlinkRecordsFromEnv(env),
    publish: statusPublisher(iotDataClient),
  });
}
