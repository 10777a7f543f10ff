import type { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import { countingFailures, iotPublisher, type Publish } from '../shared/publish.js';

/**
 * Publishes the statuses the downlink functions make, counting every one IoT Core refused
 * (DownlinkStatusPublishFailures): its application may never learn what became of its downlink.
 */
export function statusPublisher(client: IoTDataPlaneClient): Publish {
  return countingFailures(iotPublisher(client), () => {
    emitMetric(METRIC.statusPublishFailures, MetricUnit.Count, 1);
  });
}
