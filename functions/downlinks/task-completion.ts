import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { OUTCOME_ERRORS, isDelivered, type DownlinkOutcome } from './downlink-outcomes.js';

/** 'gone' when the task no longer waits on that token (it timed out, or the execution ended). */
export type CompleteTask = (
  taskToken: string,
  outcome: DownlinkOutcome,
) => Promise<'completed' | 'gone'>;

const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken']);

/**
 * Ends the send task waiting on `taskToken` with the downlink's outcome: its output when the device
 * got it, a failure named after the ending otherwise (NotAcknowledged, TransmissionError, Cancelled).
 */
export function stepFunctionsCompletion(client: SFNClient): CompleteTask {
  return async (taskToken, outcome) => {
    const failure = OUTCOME_ERRORS[outcome.finalState];
    try {
      if (isDelivered(outcome.finalState) || failure === undefined)
        await client.send(
          new SendTaskSuccessCommand({ taskToken, output: JSON.stringify({ outcome }) }),
        );
      else
        await client.send(
          new SendTaskFailureCommand({ taskToken, error: failure, cause: JSON.stringify(outcome) }),
        );
      return 'completed';
    } catch (error) {
      if (error instanceof Error && GONE.has(error.name)) return 'gone';
      throw error;
    }
  };
}
