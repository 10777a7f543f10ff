import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';

export const EVENTS_DIR = fileURLToPath(new URL('../../events/', import.meta.url));

/** The token the sample events carry; tests store it as the push token secret. */
export const SAMPLE_PUSH_TOKEN = 'sample-push-token';

export interface SampleEvent {
  name: string;
  file: string;
  event: APIGatewayProxyEventV2;
}

/** The sample events of one function, from events/{dir}/. */
export function sampleEvents(dir: string): SampleEvent[] {
  return readdirSync(join(EVENTS_DIR, dir))
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({
      name: basename(file, '.json'),
      file: join(EVENTS_DIR, dir, file),
      event: JSON.parse(
        readFileSync(join(EVENTS_DIR, dir, file), 'utf8'),
      ) as APIGatewayProxyEventV2,
    }));
}

export function sampleEvent(dir: string, name: string): APIGatewayProxyEventV2 {
  const found = sampleEvents(dir).find((sample) => sample.name === name);
  if (found === undefined) throw new Error(`no sample event events/${dir}/${name}.json`);
  return found.event;
}

/** The bytes of an event's body, as the client sent them. */
export function bodyBytes(event: APIGatewayProxyEventV2): Buffer {
  return Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
}

export interface PushRequest {
  path: string;
  body: string | Buffer;
  method?: 'POST' | 'PUT';
  authorization?: string | null;
  base64?: boolean;
}

/** An API Gateway HTTP API (payload 2.0) event for a push from OrbiWAN. */
export function pushEvent({
  path,
  body,
  method = 'POST',
  authorization = `Bearer ${SAMPLE_PUSH_TOKEN}`,
  base64 = typeof body !== 'string',
}: PushRequest): APIGatewayProxyEventV2 {
  const template = sampleEvent('uplink', 'gateways-base64-payload');
  const headers: Record<string, string> = { ...template.headers } as Record<string, string>;
  delete headers.authorization;
  if (authorization !== null) headers.authorization = authorization;
  headers['content-length'] = String(Buffer.byteLength(body));
  const routeKey = `${method} ${path}`;
  return {
    ...template,
    routeKey,
    rawPath: path,
    headers,
    requestContext: {
      ...template.requestContext,
      routeKey,
      http: { ...template.requestContext.http, method, path },
    },
    body: base64 ? Buffer.from(body).toString('base64') : body.toString(),
    isBase64Encoded: base64,
  };
}
