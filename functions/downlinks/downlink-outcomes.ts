import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import type { PublishedEntry } from './downlink-record.js';
import type { FinalState } from './downlink-status.js';

// How a downlink ended, as the execution reports it: the output of its Delivered state, or the
// cause of the failure state named after it (statemachines/downlink.asl.json).

/** What the execution ends with: the downlink, how it ended, and every status published. */
export interface DownlinkOutcome {
  finalState: FinalState;
  devEui: string;
  downlinkId: string | undefined;
  requestId: string | undefined;
  statuses: PublishedEntry[];
}

/**
 * The error a negative ending completes the send task with: the state machine's Catch leads each
 * to the failure state of the same name, so the console's graph and the execution's error say it.
 */
export const OUTCOME_ERRORS: Partial<Record<FinalState, string>> = {
  not_acknowledged: 'NotAcknowledged',
  transmission_error: 'TransmissionError',
  cancelled: 'Cancelled',
  timed_out: 'TimedOut',
};

/** Whether the ending is a success: the device got it (acknowledged, or sent unconfirmed). */
export function isDelivered(finalState: FinalState): boolean {
  return finalState === 'acknowledged' || finalState === 'delivered';
}

/**
 * Counts a downlink that ended (DownlinksEnded, dimension finalState), once: by whoever published
 * its final status (which only one publisher can do), or by the state that reports its failure.
 */
export function countDownlinkEnded(finalState: FinalState): void {
  emitMetric(METRIC.downlinksEnded, MetricUnit.Count, 1, { finalState });
}
