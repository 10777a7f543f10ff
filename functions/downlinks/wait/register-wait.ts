import { sfnClient } from '../../shared/clients/sfn-client.js';
import { logger } from '../../shared/logger.js';
import { stateMachineTask } from '../state-machine-task.js';
import { stepFunctionsDelivery, type DeliverStatus } from '../deliver-status.js';
import {
  downlinkRecordsFromEnv,
  statusToDeliver,
  type DownlinkRecords,
} from '../downlink-records.js';

export interface WaitInput {
  /** $$.Task.Token of WaitForStatus. */
  taskToken: string;
  devEui: string;
  downlinkId: string;
  /** The transmissionStatus the execution already knows. */
  afterStatus: number;
  /** $$.Execution.Name: the downlink's correlation id in logs and traces. */
  correlationId?: string;
}

export interface WaitDeps {
  records: DownlinkRecords;
  deliver: DeliverStatus;
}

/** 'waiting' for the downlink status function, or what became of a status that came first. */
export type WaitOutcome = 'waiting' | 'delivered' | 'gone';

/**
 * State WaitForStatus (invoked with .waitForTaskToken): leaves the task token where the downlink
 * status function finds it. If a newer status arrived first, it is delivered right away.
 */
export async function registerWait(
  { taskToken, devEui, downlinkId, afterStatus }: WaitInput,
  deps: WaitDeps,
): Promise<WaitOutcome> {
  const record = await deps.records.noteWait({ devEui, downlinkId }, taskToken, afterStatus);
  const pending = statusToDeliver(record);
  if (pending === undefined) {
    logger.info('waiting for a status from OrbiWAN', { afterStatus });
    return 'waiting';
  }
  const outcome = await deps.deliver(taskToken, {
    id: downlinkId,
    transmissionStatus: pending.transmissionStatus,
  });
  logger.info('status arrived before the wait: delivered it', {
    transmissionStatus: pending.transmissionStatus,
    outcome,
  });
  return outcome;
}

export function createRegisterWaitHandler(deps: WaitDeps) {
  return stateMachineTask<WaitInput, WaitOutcome>(
    (input) => registerWait(input, deps),
    ({ devEui, downlinkId }) => ({ devEui, downlinkId }),
  );
}

export function registerWaitHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createRegisterWaitHandler({
    records: downlinkRecordsFromEnv(env),
    deliver: stepFunctionsDelivery(sfnClient),
  });
}
