import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { InvalidInputError, PayloadTooLargeError } from '../errors.js';

export interface JsonBody {
  /** The body exactly as the client sent it. */
  raw: Buffer;
  /** The same body parsed; what validation looks at. */
  json: unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads an API Gateway (payload 2.0) body as JSON, refusing what cannot be passed on as is. */
export function readJsonBody(event: APIGatewayProxyEventV2, maxBytes: number): JsonBody {
  const raw =
    event.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  if (raw.length > maxBytes) {
    throw new PayloadTooLargeError(
      `the body is ${raw.length} bytes; at most ${maxBytes} can be published`,
    );
  }
  if (raw.length === 0) {
    throw new InvalidInputError('NOT_JSON', 'the body is empty; expected a JSON object');
  }
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new InvalidInputError('NOT_JSON', 'the body is not UTF-8 text; expected a JSON object');
  }
  try {
    return { raw, json: JSON.parse(text) as unknown };
  } catch (error) {
    const reason = error instanceof Error ? `: ${error.message}` : '';
    throw new InvalidInputError('NOT_JSON', `the body is not valid JSON${reason}`);
  }
}
