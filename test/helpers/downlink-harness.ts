import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { rawOrbiwanId } from '../../functions/shared/raw-json.js';
import type { PublishedMessage } from '../../local/aws/iot-data-plane.js';
import { findFunction } from '../../local/lambda/local-functions.js';
import { startLocalCloud, type LocalCloud } from '../../local/local-cloud.js';
import type {
  ExecutionRecord,
  HistoryEvent,
} from '../../local/stepfunctions/local-step-functions.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { SAMPLE_PUSH_TOKEN, pushEvent } from './api-events.js';
import {
  startFakeHttpServer,
  type FakeHttpServer,
  type RecordedRequest,
  type Reply,
} from './fake-http-server.js';
import { SAMPLE_PARAMETERS, sampleStack } from './sample-stack.js';

// The downlink path on one machine for tests: the real state machine definition and functions from
// template.yaml on the local AWS stand-ins, and a fake OrbiWAN that accepts every downlink unless
// the test says otherwise. Tests publish downlinks through the template's IoT rule and play
// OrbiWAN's status pushes through the real downlink status function.

export const ORBIWAN_USER = { username: 'connector', password: 'orbiwan-secret' };
export const DEV_EUI = '70b3d57ed0001a2b';
export const PREFIX = 'orbiwan/lorawan';

export interface DownlinkHarness {
  cloud: LocalCloud;
  orbiwan: FakeHttpServer;
  published: PublishedMessage[];
  /** What the fake OrbiWAN answers when asked for a downlink: its transmissionStatus, by id. */
  statusAtOrbiwan: Map<string, number>;
  /** The status messages published for a device, parsed, in order. */
  statuses: (devEui?: string) => Record<string, unknown>[];
  /** OrbiWAN's ids of the downlinks it accepted, as digits (JSON.parse would round them). */
  acceptedIds: (devEui?: string) => string[];
  /** OrbiWAN's downlink POSTs, in order. */
  posts: () => RecordedRequest[];
  /** Publishes on {prefix}/{devEui}/downlink through the IoT rule; returns the execution started. */
  publishDownlink: (payload: string | Record<string, unknown>, topic?: string) => ExecutionRecord;
  /** Pushes a downlink status as OrbiWAN would, to the downlink status function. */
  pushStatus: (
    id: string,
    transmissionStatus: number,
    devEui?: string,
  ) => Promise<APIGatewayProxyStructuredResultV2>;
  /** Pushes a downlink status body of the test's making, bytes as given. */
  pushStatusBody: (body: string | Buffer) => Promise<APIGatewayProxyStructuredResultV2>;
  /** Resolves when the execution has a history event matching, counting those already there. */
  waitForEvent: (
    executionArn: string,
    matches: (event: HistoryEvent) => boolean,
    occurrence?: number,
  ) => Promise<HistoryEvent>;
  /**
   * Resolves once the send task has done its part and waits for its token (the n-th attempt's,
   * 1 = the first): for an accepted downlink, once `accepted` is out and the POST recorded.
   */
  waitingForStatus: (executionArn: string, occurrence?: number) => Promise<void>;
  /** Ends the execution's wait now, as DownlinkTimeoutSeconds would (States.Timeout). */
  timeOut: (executionArn: string) => Promise<void>;
  finished: (executionArn: string) => Promise<ExecutionRecord>;
  /** The states an execution entered, in order. */
  statesEntered: (executionArn: string) => string[];
  close: () => Promise<void>;
}

// OrbiWAN never gives two downlinks one id; ids are beyond 2^53, as OrbiWAN's are 64-bit.
let nextId = 18_014_398_509_481_985n;

/**
 * Replies like OrbiWAN to a downlink POST, and to a GET of a downlink it accepted with its status
 * in `statuses` (by id; 0, pending, until a test says otherwise).
 */
export function acceptDownlinks(
  statuses = new Map<string, number>(),
): (request: RecordedRequest) => Reply {
  let fcnt = 41;
  const downlink = (id: string, port: string, transmissionStatus: number) =>
    `{"id":${id},"fcnt":${String(fcnt)},"port":${port},"transmissionStatus":${String(transmissionStatus)},"session_id":"3f1c9a52-7c1e-4a8e-9d7f-2b6f0e4d8c11"}`;
  return (request) => {
    if (request.method === 'GET') {
      const id = /\/payloads\/dl\/(\d+)$/.exec(request.path)?.[1] ?? '';
      const status = statuses.get(id);
      return status === undefined
        ? { status: 404, body: 'Downlink not found', headers: { 'content-type': 'text/plain' } }
        : { status: 200, body: downlink(id, '20', status) };
    }
    fcnt += 1;
    const id = (nextId++).toString();
    statuses.set(id, 0);
    return { status: 200, body: downlink(id, request.query.get('port') ?? '0', 0) };
  };
}

export async function startDownlinkHarness(
  parameters: Record<string, string> = {},
): Promise<DownlinkHarness> {
  // The functions share this process's logger; its lines would bury the test report.
  process.env.POWERTOOLS_LOG_LEVEL = process.env.HARNESS_LOG_LEVEL ?? 'SILENT';
  const statusAtOrbiwan = new Map<string, number>();
  const orbiwan = await startFakeHttpServer(acceptDownlinks(statusAtOrbiwan));
  const template = loadTemplate();
  const stack = sampleStack({ OrbiwanBaseUrl: orbiwan.url, ...parameters }, template);
  const published: PublishedMessage[] = [];
  const listeners = new Set<() => void>();
  const cloud = await startLocalCloud({
    template,
    stack,
    secrets: {
      [stack.refs.PushTokenSecret ?? '']: SAMPLE_PUSH_TOKEN,
      [SAMPLE_PARAMETERS.OrbiwanCredentialsSecretArn]: JSON.stringify(ORBIWAN_USER),
    },
    onPublish: (message) => {
      published.push(message);
    },
    onExecutionEvent: () => {
      for (const listener of listeners) listener();
    },
    retryDelayMs: 5,
  });
  const statusFunction = findFunction(cloud.functions, 'DownlinkStatusFunction');
  if (statusFunction === undefined) throw new Error('the template has no DownlinkStatusFunction');

  const pushBody = async (body: string | Buffer) =>
    (await statusFunction.invoke(
      pushEvent({ path: '/rest/callback/payloads/dl', method: 'PUT', body }),
    )) as APIGatewayProxyStructuredResultV2;

  const waitForEvent = (
    executionArn: string,
    matches: (event: HistoryEvent) => boolean,
    occurrence = 1,
  ) =>
    new Promise<HistoryEvent>((resolve) => {
      const check = () => {
        const { history, status } = cloud.stepFunctions.describeExecution(executionArn);
        const found = history.filter(matches)[occurrence - 1];
        if (found !== undefined) resolve(found);
        // A finished execution has no more events: stop listening (else, once the local Step
        // Functions forgets it, every later event would ask for it in vain).
        else if (status === 'RUNNING') return;
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  return {
    cloud,
    orbiwan,
    published,
    statusAtOrbiwan,
    statuses: (devEui = DEV_EUI) =>
      published
        .filter((message) => message.topic === `${PREFIX}/${devEui}/downlink/status`)
        .map((message) => JSON.parse(message.payload.toString('utf8')) as Record<string, unknown>),
    acceptedIds: (devEui = DEV_EUI) =>
      published
        .filter((message) => message.topic === `${PREFIX}/${devEui}/downlink/status`)
        .map((message) => message.payload.toString('utf8'))
        .filter((text) => text.includes('"state":"accepted"'))
        .map((text) => rawOrbiwanId(text) ?? ''),
    posts: () =>
      orbiwan.requests.filter(
        (request) => request.method === 'POST' && request.path.endsWith('/payloads/dl'),
      ),
    publishDownlink: (payload, topic = `${PREFIX}/${DEV_EUI}/downlink`) => {
      const bytes = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
      const [execution] = cloud.applyTopicRules({ topic, payload: bytes, clientId: 'test-app' });
      if (execution === undefined)
        throw new Error(
          `no execution started for ${topic}: ${cloud.deadLetters.at(-1)?.error ?? 'no rule matched'}`,
        );
      return execution;
    },
    pushStatus: async (id, transmissionStatus, devEui = DEV_EUI) => {
      const body = `{"DevEUI":"${devEui.toUpperCase()}","id":${id},"fcnt":42,"port":20,"transmissionStatus":${transmissionStatus},"session_id":"3f1c9a52-7c1e-4a8e-9d7f-2b6f0e4d8c11"}`;
      return pushBody(body);
    },
    pushStatusBody: (body) => pushBody(body),
    waitForEvent,
    waitingForStatus: async (executionArn, occurrence = 1) => {
      await waitForEvent(
        executionArn,
        (event) => event.type === 'TaskSubmitted' && event.stateName === 'SendDownlink',
        occurrence,
      );
    },
    timeOut: async (executionArn) => {
      if (!(await cloud.stepFunctions.timeOutTask(executionArn)))
        throw new Error(`${executionArn} is not waiting for a task`);
    },
    finished: (executionArn) => cloud.stepFunctions.whenDone(executionArn),
    statesEntered: (executionArn) =>
      cloud.stepFunctions
        .describeExecution(executionArn)
        .history.filter((event) => event.type.endsWith('StateEntered'))
        .map((event) => event.stateName ?? ''),
    close: async () => {
      await cloud.close();
      await orbiwan.close();
    },
  };
}
