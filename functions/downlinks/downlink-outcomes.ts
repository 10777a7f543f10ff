import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import { finalStateOf, type FinalState } from './downlink-status.js';

/**
 * Counts a downlink that ended (DownlinksEnded, dimension finalState), once, by whoever learns it:
 * the status that advances it to a final state, or the Report state of a failure.
 */
export function countDownlinkEnded(finalState: FinalState): void {
  emitMetric(METRIC.downlinksEnded, MetricUnit.Count, 1, { finalState });
}

/**
 * Counts a downlink that a status ended before the POST was recorded: the status function could
 * not tell then whether `sent` ends it (that takes `confirmed`), so the POST's record does.
 */
export function countDownlinkEndedBeforeAccepted(
  statusBefore: number | undefined,
  confirmed: boolean,
): void {
  if (statusBefore === undefined || finalStateOf(statusBefore, undefined) !== undefined) return;
  const finalState = finalStateOf(statusBefore, confirmed);
  if (finalState !== undefined) countDownlinkEnded(finalState);
}
