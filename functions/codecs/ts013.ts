import type { SandboxResult } from './codec-sandbox.js';

// What the LoRa Alliance's Payload Codec API (TS013-1.0.0) says a codec returns, held against
// what a codec really returned. Whatever came back, the connector ends with a well-formed result:
// a codec's garbage becomes an entry in `errors`, never an exception.

export interface DecodedUplink {
  /** What the codec made of the bytes; absent when it reported errors only. */
  data?: unknown;
  warnings: string[];
  errors: string[];
}

export interface EncodedDownlink {
  /** 0..255 each; empty when the codec reported errors. */
  bytes: number[];
  fPort: number | undefined;
  warnings: string[];
  errors: string[];
}

// Bounds on what a codec's messages add to a result, whatever it returned.
const MAX_MESSAGES = 20;
const MAX_MESSAGE_CHARACTERS = 500;

/** decodeUplink's result: `{data, warnings?, errors?}`. */
export function decodedUplink(result: SandboxResult): DecodedUplink {
  if (!result.ok) return { warnings: [], errors: [result.error] };
  const shape = resultObject(result.value, 'decodeUplink', '{data, warnings, errors}');
  if (typeof shape === 'string') return { warnings: [], errors: [shape] };
  const warnings = messages(shape.warnings, 'warnings');
  const errors = messages(shape.errors, 'errors');
  if (errors.length === 0 && shape.data === undefined)
    errors.push('decodeUplink returned neither data nor errors');
  return {
    ...(shape.data === undefined ? {} : { data: shape.data }),
    warnings,
    errors,
  };
}

/** encodeDownlink's result: `{bytes, fPort?, warnings?, errors?}`. */
export function encodedDownlink(result: SandboxResult): EncodedDownlink {
  const failed = (error: string): EncodedDownlink => ({
    bytes: [],
    fPort: undefined,
    warnings: [],
    errors: [error],
  });
  if (!result.ok) return failed(result.error);
  const shape = resultObject(result.value, 'encodeDownlink', '{bytes, fPort, warnings, errors}');
  if (typeof shape === 'string') return failed(shape);
  const warnings = messages(shape.warnings, 'warnings');
  const errors = messages(shape.errors, 'errors');
  if (errors.length > 0) return { bytes: [], fPort: undefined, warnings, errors };
  const { bytes, fPort } = shape;
  if (!Array.isArray(bytes) || !bytes.every(isByte))
    return failed('encodeDownlink returned bytes that are not an array of integers 0..255');
  if (fPort !== undefined && (!Number.isInteger(fPort) || typeof fPort !== 'number'))
    return failed('encodeDownlink returned an fPort that is not an integer');
  return { bytes: bytes as number[], fPort, warnings, errors };
}

function resultObject(
  value: unknown,
  name: string,
  expected: string,
): Record<string, unknown> | string {
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return value as Record<string, unknown>;
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  return `${name} returned ${got}, not ${expected}`;
}

/** A codec's warnings or errors: strings, as many as are worth reading, each bounded. */
function messages(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return [`the codec's ${field} is not an array`];
  const texts = value.slice(0, MAX_MESSAGES).map((item) => {
    return boundedMessage(typeof item === 'string' ? item : JSON.stringify(item));
  });
  if (value.length > MAX_MESSAGES) texts.push(`(${value.length - MAX_MESSAGES} more)`);
  return texts;
}

/** A message a codec made (or caused), cut to what a result may carry of it. */
export function boundedMessage(text: string): string {
  return text.length > MAX_MESSAGE_CHARACTERS
    ? `${text.slice(0, MAX_MESSAGE_CHARACTERS)}...`
    : text;
}

function isByte(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 255;
}
