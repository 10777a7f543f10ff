import { METRIC, MetricUnit, emitMetric } from '../metrics.js';
import type { OrbiwanClient } from './orbiwan-client.js';
import { DeviceBusyError, UnknownDeviceError } from './orbiwan-errors.js';

/**
 * The client, timing every call to OrbiWAN (OrbiwanCallLatency) and counting those that fail
 * (OrbiwanErrors), each with the dimension operation (the client's method). OrbiWAN's answers about
 * a device (unknown, its queue busy) are not OrbiWAN failing: the application gets those, with a
 * code, and the operators' alarm stays quiet.
 */
export function withOrbiwanMetrics(client: OrbiwanClient): OrbiwanClient {
  const observed = Object.entries(client).map(([operation, call]): [string, unknown] => [
    operation,
    async (...args: unknown[]) => {
      const started = performance.now();
      try {
        return await (call as (...callArgs: unknown[]) => Promise<unknown>)(...args);
      } catch (error) {
        if (!isAnswerAboutTheDevice(error))
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

function isAnswerAboutTheDevice(error: unknown): boolean {
  return error instanceof UnknownDeviceError || error instanceof DeviceBusyError;
}
