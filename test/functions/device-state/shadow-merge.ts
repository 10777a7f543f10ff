// How AWS IoT Core applies an update's `state.reported` to a shadow ("Device Shadow service
// documents"): the local stand-in's merge (local/aws/iot-shadows.ts), and what the tests compare
// documents with.

import { mergeObject } from '../../../local/aws/iot-shadows.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `current` with `patch` merged into it, as the local stand-in (and AWS) merges an update. */
export function mergeReported(
  current: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  return mergeObject(
    current as Parameters<typeof mergeObject>[0],
    structuredClone(patch) as Parameters<typeof mergeObject>[1],
  );
}

/** A JSON-parsed copy: the shape a value has after a round trip through AWS. */
export function viaJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * JSON text with every object's keys sorted: two documents are the same JSON exactly when their
 * canonical texts are equal (vitest's equality would read an own `constructor` key as a type).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortedKeys(value));
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortedKeys(value[key])]),
  );
}
