import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import { readBody, sendAwsError } from './aws-endpoint.js';
import { AwsServiceError, asAwsError } from './aws-errors.js';
import type { OnPublish } from './iot-data-plane.js';

// The Device Shadow service's REST API, the part of the IoT Data Plane the SDK's GetThingShadow,
// UpdateThingShadow, DeleteThingShadow and ListNamedShadowsForThing commands (and `aws iot-data`)
// call: GET|POST|DELETE /things/{thingName}/shadow[?name={shadowName}] and
// GET /api/things/shadow/ListNamedShadowsForThing/{thingName}. What it accepts and refuses follows
// the AWS IoT Developer Guide: "Device Shadow REST API", "Device Shadow service documents",
// "Interacting with shadows", "Device Shadow error messages" and "Diagnosing problems with
// shadows"; where they are silent, AWS's own shadow implementation for Greengrass
// (aws-greengrass-shadow-manager), which answers with the same messages.
//
// The thing need not exist in the registry: an update creates the shadow, and ListNamedShadows
// answers an empty list for a thing that does not exist ("Device Shadow REST API",
// ListNamedShadowsForThing). There is no registry locally to check against anyway.

type Json = null | boolean | number | string | Json[] | JsonObject;
interface JsonObject {
  [key: string]: Json;
}

interface Sections {
  desired?: JsonObject;
  reported?: JsonObject;
}

/** A shadow as GetThingShadow answers it. */
export interface ShadowDocument {
  state: Sections & { delta?: JsonObject };
  /** Per attribute of state.desired and state.reported, when it was last updated. */
  metadata: Sections;
  version: number;
  /** Epoch seconds. */
  timestamp: number;
}

interface StoredShadow {
  state: Sections;
  metadata: Sections;
  version: number;
}

interface Entry {
  thingName: string;
  /** '' for the classic (unnamed) shadow: a shadow name has at least one character. */
  shadowName: string;
  /** Undefined once deleted: the entry stays for its version. */
  shadow: StoredShadow | undefined;
  version: number;
}

// API reference (GetThingShadow, UpdateThingShadow, ...): the URI parameters' constraints.
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
const SHADOW_NAME = /^[$a-zA-Z0-9:_-]{1,64}$/;
// "Diagnosing problems with shadows": 8 KB, counting only state.desired and state.reported (not
// metadata), as the stored document after the update; measured on their compact JSON.
const MAX_STATE_BYTES = 8 * 1024;
// "Device Shadow error messages": "JSON contains too many levels of nesting; maximum is 6". As in
// AWS's Greengrass implementation, the desired or reported object is level 1 and every non-empty
// object or array inside adds one: {"desired": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}} is 6.
const MAX_DEPTH = 6;
// "Client tokens in shadow documents": longer is a 400 "Invalid clientToken".
const MAX_CLIENT_TOKEN_BYTES = 64;
// API reference, ListNamedShadowsForThing: pageSize 1..100. Its default is not documented: this
// is the Greengrass implementation's, so that a caller ignoring nextToken shows it here too.
const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 25;

const SHADOW_PATH = /^\/things\/([^/]+)\/shadow$/;
const LIST_PATH = /^\/api\/things\/shadow\/ListNamedShadowsForThing\/([^/]+)$/;

/** The operation of a Device Shadow REST API request; undefined when it is not one. */
export function shadowOperationOf(request: IncomingMessage): string | undefined {
  const { pathname } = new URL(request.url ?? '/', 'http://localhost');
  if (SHADOW_PATH.test(pathname)) {
    const operations: Record<string, string> = {
      GET: 'GetThingShadow',
      POST: 'UpdateThingShadow',
      DELETE: 'DeleteThingShadow',
    };
    return operations[request.method ?? ''] ?? 'MethodNotAllowed';
  }
  if (LIST_PATH.test(pathname)) {
    return request.method === 'GET' ? 'ListNamedShadowsForThing' : 'MethodNotAllowed';
  }
  return undefined;
}

/** Every thing's shadows, in memory; served by the IoT Data Plane stand-in. */
export class DeviceShadows {
  private readonly entries = new Map<string, Entry>();

  /** Accepted updates publish their /update/documents message here (the broker), as AWS does. */
  constructor(private readonly onPublish?: OnPublish) {}

  /** The shadow as GetThingShadow would answer it; the classic shadow without a name. */
  get(thingName: string, shadowName?: string): ShadowDocument | undefined {
    const shadow = this.entries.get(keyOf(thingName, shadowName ?? ''))?.shadow;
    return shadow === undefined ? undefined : documentOf(shadow, nowSeconds());
  }

  /** The thing's named shadows, in the order ListNamedShadowsForThing pages them. */
  namedShadows(thingName: string): string[] {
    return [...this.entries.values()]
      .filter((entry) => entry.thingName === thingName && entry.shadowName !== '')
      .filter((entry) => entry.shadow !== undefined)
      .map((entry) => entry.shadowName)
      .sort();
  }

  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const operation = shadowOperationOf(request);
      if (operation === 'ListNamedShadowsForThing') {
        sendJson(response, this.list(thingNameIn(url, LIST_PATH), url.searchParams));
        return;
      }
      if (operation === undefined || operation === 'MethodNotAllowed') {
        throw new AwsServiceError(
          'MethodNotAllowedException',
          405,
          `${request.method ?? ''} is not supported on ${url.pathname}`,
        );
      }
      const thingName = thingNameIn(url, SHADOW_PATH);
      const shadowName = shadowNameIn(url);
      if (operation === 'GetThingShadow') {
        sendJson(response, this.read(thingName, shadowName));
      } else if (operation === 'DeleteThingShadow') {
        sendJson(response, this.delete(thingName, shadowName));
      } else {
        const { accepted, documents } = this.update(thingName, shadowName, body);
        await this.publishDocuments(thingName, shadowName, documents);
        sendJson(response, accepted);
      }
    } catch (error) {
      sendAwsError(response, asAwsError(error, 'Internal service failure'), 'rest-json');
    }
  }

  private read(thingName: string, shadowName: string): ShadowDocument {
    const shadow = this.entries.get(keyOf(thingName, shadowName))?.shadow;
    if (shadow === undefined) throw noShadow(thingName, shadowName);
    return documentOf(shadow, nowSeconds());
  }

  private delete(thingName: string, shadowName: string): { version: number; timestamp: number } {
    const entry = this.entries.get(keyOf(thingName, shadowName));
    if (entry?.shadow === undefined) throw noShadow(thingName, shadowName);
    // "Interacting with shadows": deleting does not reset the version; a shadow created again
    // under the name goes on from it.
    entry.shadow = undefined;
    return { version: entry.version, timestamp: nowSeconds() };
  }

  private update(
    thingName: string,
    shadowName: string,
    body: Buffer,
  ): { accepted: JsonObject; documents: JsonObject } {
    const request = parseUpdate(body);
    const entry = this.entries.get(keyOf(thingName, shadowName));
    const previous = entry?.shadow;
    // "Device Shadow service documents": the update is processed only if the version matches the
    // latest one the service has. A shadow that does not exist (never made, or deleted) has none
    // to match, so any version conflicts.
    if (request.version !== undefined && previous?.version !== request.version) {
      throw new AwsServiceError('ConflictException', 409, 'Version conflict');
    }
    const state = applyUpdate(previous?.state ?? {}, request.state);
    const stateBytes = jsonBytes(state.desired) + jsonBytes(state.reported);
    if (stateBytes > MAX_STATE_BYTES) {
      throw new AwsServiceError(
        'RequestEntityTooLargeException',
        413,
        'The payload exceeds the maximum size allowed',
      );
    }
    const timestamp = nowSeconds();
    const version = (entry?.version ?? 0) + 1;
    const current: StoredShadow = {
      state,
      metadata: metadataOf(state, previous?.metadata ?? {}, request.state, timestamp),
      version,
    };
    this.entries.set(keyOf(thingName, shadowName), {
      thingName,
      shadowName,
      shadow: current,
      version,
    });
    const clientToken =
      request.clientToken === undefined ? {} : { clientToken: request.clientToken };
    return {
      // "Device Shadow service documents", /accepted response: the request's state, with a
      // timestamp for every attribute it named (deleted ones too).
      accepted: {
        state: request.state,
        metadata: Object.fromEntries(
          Object.entries(request.state ?? {}).map(([name, section]) => [
            name,
            freshMetadata(section, timestamp),
          ]),
        ),
        version,
        timestamp,
        ...clientToken,
      },
      documents: {
        ...(previous === undefined ? {} : { previous: storedDocument(previous) }),
        current: storedDocument(current),
        timestamp,
        ...clientToken,
      },
    };
  }

  private list(thingName: string, query: URLSearchParams): JsonObject {
    const pageSizeText = query.get('pageSize');
    const pageSize = pageSizeText === null ? DEFAULT_PAGE_SIZE : Number(pageSizeText);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      throw invalid(`pageSize must be between 1 and ${MAX_PAGE_SIZE}`);
    }
    const names = this.namedShadows(thingName);
    const token = query.get('nextToken');
    const after = token === null ? undefined : Buffer.from(token, 'base64url').toString('utf8');
    if (token !== null && (token === '' || !SHADOW_NAME.test(after ?? ''))) {
      throw invalid('Invalid nextToken');
    }
    const rest = after === undefined ? names : names.filter((name) => name > after);
    const results = rest.slice(0, pageSize);
    const last = results.at(-1);
    return {
      results,
      ...(rest.length > pageSize && last !== undefined
        ? { nextToken: Buffer.from(last, 'utf8').toString('base64url') }
        : {}),
      timestamp: nowSeconds(),
    };
  }

  private async publishDocuments(
    thingName: string,
    shadowName: string,
    documents: JsonObject,
  ): Promise<void> {
    const prefix =
      shadowName === ''
        ? `$aws/things/${thingName}/shadow`
        : `$aws/things/${thingName}/shadow/name/${shadowName}`;
    try {
      await this.onPublish?.({
        topic: `${prefix}/update/documents`,
        payload: Buffer.from(JSON.stringify(documents)),
        qos: 1,
        retain: false,
        messageExpirySeconds: undefined,
        contentType: undefined,
      });
    } catch {
      // The update is stored: AWS answers it accepted whatever becomes of the notification.
    }
  }
}

interface UpdateRequest {
  /** null clears the whole state ("Interacting with shadows": the shadow itself stays). */
  state: { desired?: JsonObject | null; reported?: JsonObject | null } | null;
  version: number | undefined;
  clientToken: string | undefined;
}

/** The request state document, checked as "Device Shadow error messages" lists (400s). */
function parseUpdate(body: Buffer): UpdateRequest {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new AwsServiceError(
      'UnsupportedDocumentEncodingException',
      415,
      'Unsupported documented encoding; supported encoding is UTF-8',
    );
  }
  let document: Json;
  try {
    document = JSON.parse(text) as Json;
  } catch {
    throw invalid('Invalid JSON');
  }
  if (!isObject(document)) throw invalid('Invalid JSON');
  // "Diagnosing problems with shadows": content outside state (but version and clientToken) is
  // ignored.
  if (!Object.hasOwn(document, 'state')) throw invalid('Missing required node: state');
  const { state, version, clientToken } = document;
  if (state !== null && !isObject(state)) throw invalid('State node must be an object');
  const sections: NonNullable<UpdateRequest['state']> = {};
  for (const [name, section] of Object.entries(state ?? {})) {
    if (name !== 'desired' && name !== 'reported') throw invalid('State contains an invalid node');
    if (section !== null && !isObject(section)) {
      throw invalid(`${name === 'desired' ? 'Desired' : 'Reported'} node must be an object`);
    }
    // "Device Shadow service documents", Array values: arrays can't have null values.
    if (section !== null && hasNullInArray(section)) throw invalid('Invalid JSON');
    if (section !== null && depthOf(section, 1) > MAX_DEPTH) {
      throw invalid(`JSON contains too many levels of nesting; maximum is ${MAX_DEPTH}`);
    }
    sections[name] = section;
  }
  if (
    version !== undefined &&
    (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0)
  ) {
    throw invalid('Invalid version');
  }
  if (
    clientToken !== undefined &&
    (typeof clientToken !== 'string' || Buffer.byteLength(clientToken) > MAX_CLIENT_TOKEN_BYTES)
  ) {
    throw invalid('Invalid clientToken');
  }
  return { state: state === null ? null : sections, version, clientToken };
}

/**
 * The stored state after the update: objects merge recursively, a null removes its attribute (or
 * its whole section), any other value, arrays included, replaces what was there; a section left
 * without attributes is no longer in the document.
 */
function applyUpdate(state: Sections, update: UpdateRequest['state']): Sections {
  if (update === null) return {};
  const result: Sections = {};
  for (const name of ['desired', 'reported'] as const) {
    const patch = update[name];
    const merged =
      patch === undefined
        ? state[name]
        : patch === null
          ? undefined
          : mergeObject(state[name] ?? {}, patch);
    if (merged !== undefined && Object.keys(merged).length > 0) result[name] = merged;
  }
  return result;
}

/** One section merged with an update's: what AWS keeps (tests of shadow writers use it too). */
export function mergeObject(current: JsonObject, patch: JsonObject): JsonObject {
  const merged = new Map(Object.entries(current));
  for (const [key, value] of Object.entries(patch)) {
    const existing = merged.get(key);
    const next =
      value === null
        ? undefined
        : isObject(value)
          ? isObject(existing)
            ? mergeObject(existing, value)
            : withoutNulls(value)
          : value;
    if (next === undefined) merged.delete(key);
    else merged.set(key, next);
  }
  return Object.fromEntries(merged);
}

/** A new object with its nulls removed; none when only nulls made it up. */
function withoutNulls(value: JsonObject): JsonObject | undefined {
  const entries = Object.entries(value).flatMap(([key, child]): [string, Json][] => {
    if (child === null) return [];
    if (!isObject(child)) return [[key, child]];
    const kept = withoutNulls(child);
    return kept === undefined ? [] : [[key, kept]];
  });
  return entries.length === 0 && Object.keys(value).length > 0
    ? undefined
    : Object.fromEntries(entries);
}

/**
 * The metadata of the stored state: an attribute the update named gets its timestamp, any other
 * keeps the one it had. An array's metadata is an array, one timestamp per element.
 */
function metadataOf(
  state: Sections,
  previous: Sections,
  update: UpdateRequest['state'],
  timestamp: number,
): Sections {
  const metadata: Sections = {};
  for (const name of ['desired', 'reported'] as const) {
    const section = state[name];
    if (section === undefined) continue;
    metadata[name] = metadataOfObject(
      section,
      previous[name],
      update?.[name] ?? undefined,
      timestamp,
    );
  }
  return metadata;
}

function metadataOfObject(
  value: JsonObject,
  previous: Json | undefined,
  patch: Json | undefined,
  timestamp: number,
): JsonObject {
  const entries = Object.entries(value).map(([key, child]): [string, Json] => {
    const childPatch = isObject(patch) ? own(patch, key) : undefined;
    const childPrevious =
      isObject(previous) && !isTimestamp(previous) ? own(previous, key) : undefined;
    if (isObject(child) && (childPatch === undefined || isObject(childPatch))) {
      return [key, metadataOfObject(child, childPrevious, childPatch, timestamp)];
    }
    return [
      key,
      childPatch === undefined && childPrevious !== undefined
        ? childPrevious
        : freshMetadata(child, timestamp),
    ];
  });
  return Object.fromEntries(entries);
}

/** Every attribute stamped now, nulls (deleted attributes) included. */
function freshMetadata(value: Json, timestamp: number): Json {
  if (Array.isArray(value)) return value.map((element) => freshMetadata(element, timestamp));
  if (isObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [key, freshMetadata(child, timestamp)]),
    );
  }
  return { timestamp };
}

/**
 * "Device Shadow service documents", Delta state: the desired attributes that reported lacks or
 * has another value for; nested objects compared attribute by attribute, arrays as values.
 */
function deltaOf(desired: Json, reported: Json | undefined): Json | undefined {
  if (reported === undefined) return desired;
  if (isObject(desired) && isObject(reported)) {
    const entries = Object.entries(desired).flatMap(([key, value]): [string, Json][] => {
      const delta = deltaOf(value, own(reported, key));
      return delta === undefined ? [] : [[key, delta]];
    });
    return entries.length === 0 ? undefined : Object.fromEntries(entries);
  }
  return isDeepStrictEqual(desired, reported) ? undefined : desired;
}

function documentOf(shadow: StoredShadow, timestamp: number): ShadowDocument {
  const { desired, reported } = shadow.state;
  const delta = desired === undefined ? undefined : deltaOf(desired, reported);
  return structuredClone({
    state: { ...shadow.state, ...(isObject(delta) ? { delta } : {}) },
    metadata: shadow.metadata,
    version: shadow.version,
    timestamp,
  });
}

/** A shadow as the /update/documents message shows it: no delta, no timestamp of its own. */
function storedDocument(shadow: StoredShadow): JsonObject {
  return structuredClone({
    state: { ...shadow.state },
    metadata: { ...shadow.metadata },
    version: shadow.version,
  });
}

/** Levels of non-empty objects and arrays, `value` being at `level`. */
function depthOf(value: Json, level: number): number {
  const children = Array.isArray(value) ? value : isObject(value) ? Object.values(value) : [];
  if (children.length === 0) return 0;
  return Math.max(level, ...children.map((child) => depthOf(child, level + 1)));
}

function hasNullInArray(value: Json): boolean {
  if (Array.isArray(value)) {
    return value.some((element) => element === null || hasNullInArray(element));
  }
  return isObject(value) && Object.values(value).some(hasNullInArray);
}

function thingNameIn(url: URL, path: RegExp): string {
  const encoded = path.exec(url.pathname)?.[1] ?? '';
  let thingName: string;
  try {
    thingName = decodeURIComponent(encoded);
  } catch {
    throw invalid('Invalid thing name');
  }
  if (!THING_NAME.test(thingName)) throw invalid(`Invalid thing name: ${thingName}`);
  return thingName;
}

/** '' for the classic shadow (no name parameter). */
function shadowNameIn(url: URL): string {
  const shadowName = url.searchParams.get('name');
  if (shadowName === null) return '';
  if (!SHADOW_NAME.test(shadowName)) throw invalid(`Invalid shadow name: ${shadowName}`);
  return shadowName;
}

function noShadow(thingName: string, shadowName: string): AwsServiceError {
  // As AWS words it: the shadow's name, the thing's for the classic shadow.
  return new AwsServiceError(
    'ResourceNotFoundException',
    404,
    `No shadow exists with name: '${shadowName === '' ? thingName : shadowName}'`,
  );
}

function invalid(message: string): AwsServiceError {
  return new AwsServiceError('InvalidRequestException', 400, message);
}

function sendJson(response: ServerResponse, body: unknown): void {
  response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function keyOf(thingName: string, shadowName: string): string {
  return JSON.stringify([thingName, shadowName]);
}

function jsonBytes(value: JsonObject | undefined): number {
  return value === undefined ? 0 : Buffer.byteLength(JSON.stringify(value));
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Metadata of a single attribute: {"timestamp": n}. */
function isTimestamp(value: JsonObject): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && typeof value.timestamp === 'number';
}

/** Own properties only: a JSON attribute may be called "constructor". */
function own(object: JsonObject, key: string): Json | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
