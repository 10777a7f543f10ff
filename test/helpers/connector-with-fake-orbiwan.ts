import type { LocalConnector } from '../../local/connector.js';
import type { ExecutionRecord } from '../../local/stepfunctions/local-step-functions.js';
import { acceptDownlinks } from './downlink-harness.js';
import { startFakeHttpServer, type FakeHttpServer } from './fake-http-server.js';
import { startTestConnector, subscribe, type Subscriber } from './local-connector.js';

// The whole local stack talking to a test's own OrbiWAN (ORBIWAN_URL): a fake OrbiWAN that accepts
// every downlink (test/helpers/downlink-harness.ts acceptDownlinks), the connector logged in to it
// as ORBIWAN_OPERATOR, and an application subscribed on real MQTT.

export const ORBIWAN_OPERATOR = { username: 'operator', password: 'operator-password' };

export interface ConnectorWithFakeOrbiwan {
  orbiwan: FakeHttpServer;
  connector: LocalConnector;
  /** The application, subscribed to the filter given. */
  subscriber: Subscriber;
  /** What the fake OrbiWAN answers when asked for a downlink: its transmissionStatus, by id. */
  statusAtOrbiwan: Map<string, number>;
  /** Resolves with OrbiWAN's id (as digits) once the downlink's "accepted" status is received. */
  acceptedId: (requestId: string) => Promise<string>;
  /** The execution the IoT rule started for the downlink with this requestId, if it has. */
  findExecutionOf: (requestId: string) => ExecutionRecord | undefined;
  /** The execution the IoT rule started for the downlink with this requestId; throws if none. */
  executionOf: (requestId: string) => ExecutionRecord;
  /** Closes the subscriber, the connector and the fake OrbiWAN, in that order. */
  close: () => Promise<void>;
}

/** OrbiWAN's id of a downlink, as digits (JSON.parse would round it), from a status message. */
function downlinkIdIn(payload: Buffer | string): string {
  return /"id":(\d+)/.exec(payload.toString())?.[1] ?? '';
}

export async function startConnectorWithFakeOrbiwan(
  subscribeTo: string,
  /** More settings for the connector (startTestConnector), e.g. DOWNLINK_TIMEOUT_SECONDS. */
  env: Record<string, string> = {},
): Promise<ConnectorWithFakeOrbiwan> {
  const statusAtOrbiwan = new Map<string, number>();
  const orbiwan = await startFakeHttpServer(acceptDownlinks(statusAtOrbiwan));
  const connector = await startTestConnector({
    ORBIWAN_URL: orbiwan.url,
    ORBIWAN_USERNAME: ORBIWAN_OPERATOR.username,
    ORBIWAN_PASSWORD: ORBIWAN_OPERATOR.password,
    ...env,
  });
  const subscriber = await subscribe(connector.endpoints.mqtt, subscribeTo);
  const { stepFunctions, stateMachines } = connector.cloud;

  const findExecutionOf = (requestId: string) =>
    stepFunctions
      .listExecutions(stateMachines.DownlinkStateMachine ?? '')
      .map((candidate) => stepFunctions.describeExecution(candidate.executionArn))
      .find((candidate) => {
        const { payload } = JSON.parse(candidate.input) as { payload: string };
        return Buffer.from(payload, 'base64').toString().includes(`"requestId":"${requestId}"`);
      });

  return {
    orbiwan,
    connector,
    subscriber,
    statusAtOrbiwan,
    acceptedId: async (requestId) => {
      const accepted = await subscriber.next(
        (message) =>
          message.payload.includes(`"requestId":"${requestId}"`) &&
          message.payload.includes('"state":"accepted"'),
      );
      return downlinkIdIn(accepted.payload);
    },
    findExecutionOf,
    executionOf: (requestId) => {
      const execution = findExecutionOf(requestId);
      if (execution === undefined) throw new Error(`no execution for ${requestId}`);
      return execution;
    },
    close: async () => {
      await subscriber.close();
      await connector.close();
      await orbiwan.close();
    },
  };
}
