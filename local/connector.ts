import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { pushModeStartBody } from '../functions/pushmode/push-mode-start.js';
import { orbiwanAuth } from '../functions/shared/orbiwan/orbiwan-auth.js';
import {
  createOrbiwanClient,
  type PushModeStart,
} from '../functions/shared/orbiwan/orbiwan-client.js';
import type { PublishedMessage } from './aws/iot-data-plane.js';
import { apiGateway, sendJson, type RouteRequest } from './http/api-gateway.js';
import { ensureDevCertificates, type DevCertificates } from './iot/dev-certificates.js';
import { startIotHttpsEndpoint } from './iot/iot-https-endpoint.js';
import { functionEnvironment } from './lambda/function-environment.js';
import { findFunction } from './lambda/local-functions.js';
import { ConnectorActivity } from './lifecycle/connector-activity.js';
import { startLocalCloud, type LocalCloud } from './local-cloud.js';
import { startBroker, type LocalBroker } from './mqtt/broker.js';
import {
  startOrbiwanSimulator,
  type OrbiwanSimulator,
} from './orbiwan-simulator/orbiwan-simulator.js';
import type { LocalSettings } from './settings.js';
import {
  httpApiRoutes,
  loadTemplate,
  resourcesOfType,
  type CfnTemplate,
} from './template/sam-template.js';
import { describeStack, type LocalStack } from './template/stack.js';

// The whole connector on one machine (`npm start`): the HTTP API, the MQTT broker, the AWS
// stand-ins, IoT Core's HTTPS endpoint, the IoT rule, and an OrbiWAN simulator unless a real
// OrbiWAN is given, all wired from template.yaml.

const HOST = '127.0.0.1';
const PAGE = fileURLToPath(new URL('./lifecycle/page/', import.meta.url));
const SIMULATOR_CREDENTIALS = { username: 'connector', password: 'local-orbiwan-password' };
const LOCAL_CREDENTIALS_SECRET =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:local-orbiwan-credentials-AbCdEf';

export interface LocalEndpoints {
  http: string;
  mqtt: string;
  mqttWebSocket: string;
  aws: string;
  iotHttps: string;
  orbiwan: string;
}

export interface LocalConnector {
  endpoints: LocalEndpoints;
  settings: LocalSettings;
  stack: LocalStack;
  cloud: LocalCloud;
  broker: LocalBroker;
  certificates: DevCertificates;
  activity: ConnectorActivity;
  /** Undefined when the connector talks to a real OrbiWAN (ORBIWAN_URL). */
  simulator: OrbiwanSimulator | undefined;
  close: () => Promise<void>;
}

export interface LocalConnectorOptions {
  /** Wait this long before every state machine retry instead of what Retry says (tests). */
  retryDelayMs?: number;
  /** The template, if already loaded (npm start) or another (tests of the wiring); else template.yaml. */
  template?: CfnTemplate;
}

export async function startLocalConnector(
  settings: LocalSettings,
  options: LocalConnectorOptions = {},
): Promise<LocalConnector> {
  const template = options.template ?? loadTemplate();
  const certificates = ensureDevCertificates(settings.certsDirectory);
  let route: RouteRequest | undefined;
  const http = await listenHttp(settings.httpPort, (request, response) =>
    serveHttp(request, response, route),
  );
  const httpUrl = `http://${HOST}:${String((http.server.address() as AddressInfo).port)}`;

  const simulator =
    settings.orbiwan === undefined
      ? await startOrbiwanSimulator({
          port: settings.simulatorPort,
          host: HOST,
          credentials: SIMULATOR_CREDENTIALS,
          devices: simulatedDevices(settings.simulator.devices),
          uplinkIntervalMs: settings.simulator.uplinkIntervalSeconds * 1000,
          classCDelayMs: settings.simulator.classCDelayMs,
          outcomes: settings.simulator.outcomes,
          ...(settings.simulator.seed === undefined ? {} : { seed: settings.simulator.seed }),
        })
      : undefined;
  const orbiwan = settings.orbiwan ?? { url: simulator?.url ?? '', ...SIMULATOR_CREDENTIALS };

  const credentialsSecret =
    settings.parameters.OrbiwanCredentialsSecretArn ?? LOCAL_CREDENTIALS_SECRET;
  const stack = describeStack(template, {
    parameters: {
      ...settings.parameters,
      OrbiwanBaseUrl: orbiwan.url,
      OrbiwanCredentialsSecretArn: credentialsSecret,
    },
  });
  // The functions share this process's one Powertools Logger and Metrics, which read their
  // settings here.
  process.env.POWERTOOLS_LOG_LEVEL = stack.parameters.LogLevel ?? 'INFO';
  Object.assign(process.env, sharedPowertoolsSettings(template, stack));

  const topicPrefix = stack.parameters.TopicPrefix ?? 'orbiwan/lorawan';
  const activity = new ConnectorActivity(topicPrefix);
  const broker = await startBroker({ port: settings.mqttPort, host: HOST });
  let cloud: LocalCloud | undefined;
  const publish = async (message: PublishedMessage) => {
    activity.onPublished(message);
    await broker.publish({
      topic: message.topic,
      payload: message.payload,
      qos: message.qos,
      retain: message.retain,
    });
    cloud?.applyTopicRules({ topic: message.topic, payload: message.payload });
  };
  cloud = await startLocalCloud({
    template,
    stack,
    secrets: {
      [stack.refs.PushTokenSecret ?? '']: settings.pushToken,
      [credentialsSecret]: JSON.stringify({
        username: orbiwan.username,
        password: orbiwan.password,
      }),
    },
    onPublish: publish,
    port: settings.awsPort,
    onExecutionEvent: (execution, event) => {
      activity.onExecutionEvent(execution, event);
    },
    ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
  });
  const localCloud = cloud;
  broker.onClientPublish((message) => {
    activity.onPublished({
      ...message,
      retain: false,
      messageExpirySeconds: undefined,
      contentType: undefined,
    });
    localCloud.applyTopicRules(message);
  });
  broker.attachWebSocket(http.server, '/mqtt');
  const iotHttps = await startIotHttpsEndpoint({
    port: settings.iotHttpsPort,
    host: HOST,
    certificates,
    onPublish: publish,
  });

  const api = apiGateway({
    routes: httpApiRoutes(localCloud.template),
    invoke: async (functionId: string, event: APIGatewayProxyEventV2) => {
      const target = findFunction(localCloud.functions, functionId);
      if (target === undefined) throw new Error(`no local function ${functionId}`);
      return target.invoke(event);
    },
    accountId: stack.accountId,
    apiId: stack.refs.PushApi ?? 'local',
  });
  route = (request, response) =>
    serveLocalPages(request, response, activity).then((served) => served || api(request, response));

  if (simulator !== undefined)
    await startPushMode(
      simulator.url,
      pushModeStartBody({
        pushEndpointUrl: httpUrl,
        accessToken: settings.pushToken,
        dataFormat: stack.parameters.PushDataFormat === 'hex' ? 'hex' : 'base64',
      }),
    );

  return {
    endpoints: {
      http: httpUrl,
      mqtt: `mqtt://${HOST}:${String(broker.port)}`,
      mqttWebSocket: `${httpUrl.replace('http:', 'ws:')}/mqtt`,
      aws: localCloud.endpoint.url,
      iotHttps: `https://${HOST}:${String(iotHttps.port)}`,
      orbiwan: orbiwan.url,
    },
    settings,
    stack,
    cloud: localCloud,
    broker,
    certificates,
    activity,
    simulator,
    close: async () => {
      await simulator?.close();
      await iotHttps.close();
      await broker.close();
      await http.close();
      await localCloud.close();
    },
  };
}

// The simulator answers at once; these only bound a simulator that hangs.
const SIMULATOR_TIMEOUTS = { connectTimeoutMs: 2_000, timeoutMs: 6_000 };

/**
 * Points the simulator at the connector as an operator would, PUT /rest/pushmode/start, with the
 * connector's own OrbiWAN client, so the local stack exercises it against the simulator.
 */
async function startPushMode(orbiwanUrl: string, body: PushModeStart): Promise<void> {
  const auth = orbiwanAuth({
    mode: 'basic',
    baseUrl: orbiwanUrl,
    credentials: () => Promise.resolve(SIMULATOR_CREDENTIALS),
    ...SIMULATOR_TIMEOUTS,
  });
  await createOrbiwanClient({ baseUrl: orbiwanUrl, auth, ...SIMULATOR_TIMEOUTS }).startPushMode(
    body,
  );
}

// Every function has the same service name and metrics namespace (template Globals).
const SHARED_POWERTOOLS_VARIABLES = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];

function sharedPowertoolsSettings(
  template: CfnTemplate,
  stack: LocalStack,
): Record<string, string> {
  const [[id] = []] = resourcesOfType(template, 'AWS::Serverless::Function');
  if (id === undefined) return {};
  const environment = functionEnvironment(template, stack, id);
  return Object.fromEntries(
    SHARED_POWERTOOLS_VARIABLES.flatMap((name) => {
      const value = environment[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );
}

function simulatedDevices(count: number) {
  // The first device is Class C (answers downlinks at once); the others Class A.
  return Array.from({ length: count }, (_, index) => ({
    devEui: `70b3d57ed0${String(index + 1).padStart(6, '0')}`,
    deviceClass: index === 0 ? ('C' as const) : ('A' as const),
  }));
}

async function serveLocalPages(
  request: IncomingMessage,
  response: ServerResponse,
  activity: ConnectorActivity,
): Promise<boolean> {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (request.method !== 'GET') return false;
  if (path === '/_local/health') {
    sendJson(response, 200, { status: 'ok' });
    return true;
  }
  if (path === '/' || path === '/app.js') {
    const file = path === '/' ? 'index.html' : 'app.js';
    const type = path === '/' ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8';
    response
      .writeHead(200, { 'content-type': type, 'cache-control': 'no-store' })
      .end(readFileSync(join(PAGE, file)));
    return true;
  }
  if (path === '/_local/activity') {
    sendJson(response, 200, activity.snapshot());
    return true;
  }
  if (path === '/_local/events') {
    followActivity(request, response, activity);
    return true;
  }
  return Promise.resolve(false);
}

// Server-sent events: the whole snapshot on connect and after every change (at most every 100 ms).
function followActivity(
  request: IncomingMessage,
  response: ServerResponse,
  activity: ConnectorActivity,
): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  const send = () => response.write(`data: ${JSON.stringify(activity.snapshot())}\n\n`);
  let timer: NodeJS.Timeout | undefined;
  const unsubscribe = activity.subscribe(() => {
    timer ??= setTimeout(() => {
      timer = undefined;
      send();
    }, 100);
  });
  send();
  request.on('close', () => {
    clearTimeout(timer);
    unsubscribe();
  });
}

async function serveHttp(
  request: IncomingMessage,
  response: ServerResponse,
  route: RouteRequest | undefined,
): Promise<void> {
  if (route === undefined) {
    sendJson(response, 503, { message: 'starting' });
    return;
  }
  try {
    if (!(await route(request, response))) sendJson(response, 404, { message: 'Not Found' });
  } catch (error) {
    if (!response.headersSent) sendJson(response, 500, { message: String(error) });
  }
}

async function listenHttp(
  port: number,
  handle: (request: IncomingMessage, response: ServerResponse) => Promise<void>,
): Promise<{ server: Server; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => void handle(request, response));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, HOST, resolve));
  return {
    server,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
