import type { IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { METRIC, MetricUnit, emitMetric } from '../shared/metrics.js';
import { iotPublisher, type Publish } from '../shared/publish.js';

/**
 * Publishes the statuses the downlink functions make, counting every one IoT Core refused
 * (DownlinkStatusPublishFailures): its application may never learn what became of its downlink.
 */
export function statusPublisher(client: IoTDataPlaneClient): Publish {
  const publish = iotPublisher(client);
  return async (message) => {
    try {
      await publish(message);
    } catch (error) {
      emitMetric(METRIC.statusPublishFailures, MetricUnit.Count, 1);
      throw error;
    }
  };
}
