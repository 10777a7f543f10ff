// EventBridge's event pattern matching, for the parts of it the template uses: nested fields,
// a list of alternatives per field (exact values, or { prefix }), and a field holding a list
// matching when any of its items does. Anything else is an error, never a guess.

export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  if (!isObject(pattern)) throw new Error(`a pattern is an object: ${JSON.stringify(pattern)}`);
  if (!isObject(event)) return false;
  return Object.entries(pattern).every(([field, expected]) => {
    const actual = event[field];
    if (Array.isArray(expected))
      return expected.some((alternative) => matches(alternative, actual));
    return matchesEventPattern(expected, actual);
  });
}

function matches(alternative: unknown, actual: unknown): boolean {
  if (Array.isArray(actual)) return actual.some((item) => matches(alternative, item));
  if (typeof alternative === 'string' || typeof alternative === 'number')
    return alternative === actual;
  if (isObject(alternative) && Object.keys(alternative).join() === 'prefix') {
    return typeof actual === 'string' && actual.startsWith(String(alternative.prefix));
  }
  throw new Error(`the pattern matcher does not model ${JSON.stringify(alternative)}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
