// How AWS IoT Core applies an update's `state.reported` to a shadow ("Device Shadow service
// documents"; local/aws/iot-shadows.ts implements the same for the local stack): objects merge key
// by key, recursively; a null removes its key; any other value, arrays included, replaces what was
// there whole. Built on Maps and Object.fromEntries so that keys such as __proto__ stay ordinary
// own members, as they are in a document parsed from JSON.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `current` with `patch` merged into it, as a new object; neither argument is changed. */
export function mergeReported(
  current: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  const merged = new Map(Object.entries(current));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      merged.delete(key);
      continue;
    }
    if (isJsonObject(value)) {
      const existing = merged.get(key);
      merged.set(key, mergeReported(isJsonObject(existing) ? existing : {}, value));
      continue;
    }
    merged.set(key, structuredClone(value));
  }
  return Object.fromEntries(merged);
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
