import * as fc from 'fast-check';

// fast-check generators shared by the property-based hardening tests (downlink-fuzz,
// notification-fuzz): JSON text, and the strings and numbers that go into it. JSON text is written
// member by member: keys such as __proto__ stay ordinary members (as they are in what OrbiWAN or
// an attacker sends), and values can be raw text (deep nesting, 1e400, ids beyond 2^53) that no
// JavaScript value serialises to.

/** A member of a JSON object: its key and its value as JSON text. */
export type Member = readonly [key: string, value: string];

/** How objectText lays out an object's punctuation. */
export interface Layout {
  open: string;
  colon: string;
  comma: string;
  close: string;
}

export const COMPACT: Layout = { open: '{', colon: ':', comma: ',', close: '}' };
export const SPACED: Layout = { open: '{ ', colon: ': ', comma: ', ', close: ' }' };
/** One member a line, indented by two spaces, with a trailing newline. */
export const PRETTY: Layout = { open: '{\n  ', colon: ': ', comma: ',\n  ', close: '\n}\n' };
export const layouts = fc.constantFrom<Layout>(COMPACT, SPACED, PRETTY);

export function objectText(members: readonly Member[], layout: Layout = COMPACT): string {
  if (members.length === 0) return '{}';
  const inner = members.map(([key, value]) => `${JSON.stringify(key)}${layout.colon}${value}`);
  return `${layout.open}${inner.join(layout.comma)}${layout.close}`;
}

export const text = (value: unknown): string => JSON.stringify(value);

/** `value` with `inserted` put in at index `at` (modulo the room there is). */
export function insertAt(value: string, at: number, inserted: string): string {
  const index = at % (value.length + 1);
  return `${value.slice(0, index)}${inserted}${value.slice(index)}`;
}

export const loneSurrogate = fc
  .integer({ min: 0xd800, max: 0xdfff })
  .map((code) => String.fromCharCode(code));
/** Any code point, and now and then half of a surrogate pair on its own. */
export const anyChar = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: loneSurrogate },
);
export const anyString = (maxLength = 24) => fc.string({ unit: anyChar, maxLength });

/** Hex digits in either case, as many as asked. */
export const hexDigits = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'.split('')), minLength, maxLength });

export const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
export const nonInteger = finite.filter((value) => !Number.isInteger(value));
export const anyJsonText = fc.jsonValue({ maxDepth: 3 }).map(text);
export const arrayText = fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }).map(text);
export const recordText = fc
  .uniqueArray(fc.tuple(anyString(8), anyJsonText), { selector: ([key]) => key, maxLength: 3 })
  .map((members) => objectText(members));
/** JSON numbers that parse to Infinity: valid JSON, never a valid number for a field. */
export const overflow = fc.constantFrom('1e400', '-1e400');

export const notNumber = fc.oneof(
  anyString().map(text),
  fc.constantFrom('true', 'false', 'null'),
  arrayText,
  recordText,
);
export const notString = fc.oneof(
  finite.map(text),
  fc.constantFrom('true', 'false', 'null'),
  arrayText,
  recordText,
);
export const notBoolean = fc.oneof(
  fc.constantFrom('"true"', '"false"', '0', '1', 'null'),
  anyString().map(text),
  finite.map(text),
  arrayText,
  recordText,
);
