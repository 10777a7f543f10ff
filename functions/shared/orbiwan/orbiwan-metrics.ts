import { METRIC, MetricUnit, emitMetric } from '../metrics.js';
import type { OrbiwanClient } from './orbiwan-client.js';
import {
  OrbiwanNotReachedError,
  OrbiwanRejectedError,
  OrbiwanUnavailableError,
  UnknownDeviceError,
} from './orbiwan-errors.js';

/** What OrbiWAN failing looks like; a busy device queue, or Secrets Manager failing, is not it. */
const ORBIWAN_FAILURES = [
  OrbiwanNotReachedError,
  OrbiwanUnavailableError,
  OrbiwanRejectedError,
  UnknownDeviceError,
];

/**
 * The client, timing every call to OrbiWAN (OrbiwanCallLatency) and counting those that fail
 * (OrbiwanErrors), each with the dimension operation (the client's method). A device's queue being
 * busy is not OrbiWAN failing: the application gets DEVICE_BUSY and the operators' alarm stays
 * quiet; nor is Secrets Manager failing to give the credentials (logIn). A 404 is counted: it says "unknown device", but a wrong OrbiwanBaseUrl says it too, for
 * every downlink.
 */
export function withOrbiwanMetrics(client: OrbiwanClient): OrbiwanClient {
  const observed = Object.entries(client).map(([operation, call]): [string, unknown] => [
    operation,
    async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await (call as (...callArgs: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        if (ORBIWAN_FAILURES.some((failure) => error instanceof failure))
          emitMetric(METRIC.orbiwanErrors, MetricUnit.Count, 1, { operation });
        throw error;
      } finally {
        emitMetric(
          METRIC.orbiwanCallLatency,
          MetricUnit.Milliseconds,
          performance.now() - started,
          {
            operation,
          },
        );
      }
    },
  ]);
  return Object.fromEntries(observed) as unknown as OrbiwanClient;
}
