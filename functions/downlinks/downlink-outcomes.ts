import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import type { FinalState } from './downlink-status.js';

/**
 * Counts a downlink that ended (DownlinksEnded, dimension finalState), once, by whoever learns it:
 * the status that advances it to a final state, or the Report state of a failure.
 */
export function countDownlinkEnded(finalState: FinalState): void {
  emitMetric(METRIC.downlinksEnded, MetricUnit.Count, 1, { finalState });
}
