import type { IncomingMessage, ServerResponse } from 'node:http';
import { normaliseDevEui as parseDevEui } from '../../functions/shared/dev-eui.js';
import { readBody, RestError, sendJson } from './http-messages.js';
import { toJsonText } from './json-text.js';
import { decodePayload, encodePayload, type DataFormat } from './payload-encoding.js';
import {
  DeviceBusyError,
  ENQUEUE_MODES,
  type DownlinkRecord,
  type DownlinkRequest,
  type SimulatedDevice,
} from './simulated-device.js';

// /rest/nodes/{DevEUI}/payloads/dl[/{id}]: enqueue, read, list and delete downlinks.

const MAX_PAYLOAD_BYTES = 242;

export interface DownlinkCounters {
  downlinkPosts: number;
  parallelPostViolations: number;
}

export interface DownlinkEndpointDeps {
  devices: ReadonlyMap<string, SimulatedDevice>;
  counters: DownlinkCounters;
  /** DevEUIs with a POST being processed. */
  postsInFlight: Set<string>;
}

// Synchronous up to the parallel-POST check, so a POST counts as in flight from the moment its
// headers arrive.
export function handleDownlinkRequest(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  segments: { devEui: string; id: string | undefined },
  deps: DownlinkEndpointDeps,
): Promise<void> {
  const devEui = parseDevEui(segments.devEui);
  if (devEui === undefined) throw new RestError(400, `malformed DevEUI ${segments.devEui}`);
  const isPost = request.method === 'POST' && segments.id === undefined;
  if (isPost) deps.counters.downlinkPosts += 1;
  const device = deps.devices.get(devEui);
  if (device === undefined) throw new RestError(404, `unknown device ${devEui}`);
  if (isPost) return enqueue(request, response, url, device, deps);

  const dataFormat = url.searchParams.get('data_format') === 'hex' ? 'hex' : 'base64';
  if (segments.id === undefined) {
    if (request.method !== 'GET') throw new RestError(405, 'use GET or POST');
    sendJson(
      response,
      toJsonText(device.downlinks.map((record) => view(device, record, dataFormat))),
    );
    return Promise.resolve();
  }
  const record = findDownlink(device, segments.id);
  if (request.method === 'GET') {
    sendJson(response, toJsonText(view(device, record, dataFormat)));
  } else if (request.method === 'DELETE') {
    if (!device.cancel(record))
      throw new RestError(409, `downlink ${segments.id} is no longer pending`);
    sendJson(response, toJsonText(view(device, record, dataFormat)));
  } else {
    throw new RestError(405, 'use GET or DELETE');
  }
  return Promise.resolve();
}

async function enqueue(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  device: SimulatedDevice,
  deps: DownlinkEndpointDeps,
): Promise<void> {
  if (deps.postsInFlight.has(device.devEui)) {
    deps.counters.parallelPostViolations += 1;
    throw new RestError(
      409,
      'another POST for this device is in progress: OrbiWAN takes one at a time',
    );
  }
  deps.postsInFlight.add(device.devEui);
  try {
    const query = parseDownlinkQuery(url.searchParams);
    if (!(request.headers['content-type'] ?? '').startsWith('text/plain'))
      throw new RestError(400, 'the body must be text/plain: the payload itself');
    const payload = decodePayload(await readBody(request), query.dataFormat);
    if (payload === undefined)
      throw new RestError(400, `the payload is not valid ${query.dataFormat}`);
    if (payload.length > MAX_PAYLOAD_BYTES)
      throw new RestError(400, `the payload is over ${MAX_PAYLOAD_BYTES} bytes`);
    // A real server takes a while; the delay makes overlapping POSTs observable.
    await new Promise((resolve) => setImmediate(resolve));
    const record = enqueueOrConflict(device, { ...query, payload });
    const { data, ...reply } = view(device, record, 'base64');
    sendJson(response, toJsonText(reply));
  } finally {
    deps.postsInFlight.delete(device.devEui);
  }
}

function enqueueOrConflict(device: SimulatedDevice, request: DownlinkRequest): DownlinkRecord {
  try {
    return device.enqueue(request);
  } catch (error) {
    if (error instanceof DeviceBusyError) throw new RestError(409, error.message);
    throw error;
  }
}

function parseDownlinkQuery(
  params: URLSearchParams,
): Omit<DownlinkRequest, 'payload'> & { dataFormat: DataFormat } {
  const port = params.get('port') ?? '';
  if (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 223)
    throw new RestError(400, 'port must be 1..223');
  const confirmed = (params.get('confirmed') ?? 'true').toLowerCase();
  if (confirmed !== 'true' && confirmed !== 'false')
    throw new RestError(400, 'confirmed must be true or false');
  const mode = ENQUEUE_MODES.find(
    (candidate) => candidate === (params.get('mode') ?? ENQUEUE_MODES[0]),
  );
  if (mode === undefined)
    throw new RestError(400, `mode must be one of ${ENQUEUE_MODES.join(', ')}`);
  const fcnt = params.get('fcnt');
  if (fcnt !== null && !/^\d+$/.test(fcnt)) throw new RestError(400, 'fcnt must be an integer');
  const dataFormat = params.get('data_format') ?? 'base64';
  if (dataFormat !== 'base64' && dataFormat !== 'hex')
    throw new RestError(400, 'data_format must be hex (or absent for Base64)');
  return {
    port: Number(port),
    confirmed: confirmed === 'true',
    mode,
    fcnt: fcnt === null ? undefined : Number(fcnt),
    dataFormat,
  };
}

function findDownlink(device: SimulatedDevice, idText: string): DownlinkRecord {
  if (!/^\d+$/.test(idText)) throw new RestError(400, `malformed downlink id ${idText}`);
  const id = BigInt(idText);
  const record = device.downlinks.find((candidate) => candidate.id === id);
  if (record === undefined) throw new RestError(404, `unknown downlink ${idText}`);
  return record;
}

function view(device: SimulatedDevice, record: DownlinkRecord, dataFormat: DataFormat) {
  return {
    id: record.id,
    fcnt: record.fcnt,
    port: record.port,
    transmissionStatus: record.status,
    session_id: device.sessionId,
    data: encodePayload(record.payload, dataFormat),
  };
}
