import * as fc from 'fast-check';

// fast-check generators shared by the property-based hardening tests (downlink-fuzz,
// notification-fuzz): JSON text, the strings and numbers that go into it, and DevEUIs written
// in OrbiWAN's forms or broken. JSON text is written
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

// ---------------------------------------------------------------------------------------------
// DevEUIs: OrbiWAN's forms (docs/integration.md "Topics"), and strings that are none of them.

/** OrbiWAN's forms of a DevEUI: 16 hex digits, optionally after 0x, or eight dashed pairs. */
export const DEV_EUI_FORM = [/^(?:0x)?[0-9a-f]{16}$/i, /^[0-9a-f]{2}(?:-[0-9a-f]{2}){7}$/i];
export const isDevEuiForm = (value: string): boolean =>
  DEV_EUI_FORM.some((form) => form.test(value));

/** A DevEUI as 16 lowercase hex digits: 8 random bytes. */
export const devEuiHex = fc
  .uint8Array({ minLength: 8, maxLength: 8 })
  .map((bytes) => Buffer.from(bytes).toString('hex'));

export interface DevEuiStyle {
  form: string;
  upper: boolean[];
}

/** How a DevEUI is written: plain, after 0x or 0X, or dashed, each digit in either case. */
export const devEuiStyle: fc.Arbitrary<DevEuiStyle> = fc.record({
  form: fc.constantFrom('plain', '0x', '0X', 'dashed'),
  upper: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
});

/** One of the forms OrbiWAN writes a DevEUI in, given as 16 lowercase hex digits. */
export function devEuiIn(hex: string, { form, upper }: DevEuiStyle): string {
  const cased = hex.replace(/./g, (digit, index: number) =>
    upper[index] === true ? digit.toUpperCase() : digit,
  );
  if (form === 'dashed') return (cased.match(/../g) ?? []).join('-');
  return form === 'plain' ? cased : `${form}${cased}`;
}

/** A DevEUI (16 lowercase hex digits) and how OrbiWAN could write it. */
export const devEuiWritten = fc
  .tuple(devEuiHex, devEuiStyle)
  .map(([hex, style]) => ({ hex, written: devEuiIn(hex, style) }));
/** A DevEUI in one of OrbiWAN's forms. */
export const devEuiText = devEuiWritten.map(({ written }) => written);

/**
 * Characters that must never reach a topic (MQTT separators and wildcards, NUL, whitespace), and
 * others that are no hex digit (look-alikes, lone surrogates, JSON and shell metacharacters).
 */
export const DEV_EUI_BREAKERS = [
  '/',
  '+',
  '#',
  '\u0000',
  ' ',
  '\t',
  '\n',
  '\r',
  '\u00a0',
  '\u200b',
  '/#',
  '+/',
  '\ud800',
  '\udfff',
  'é',
  '\uff10',
  '😀',
  'g',
  'G',
  'x',
  '-',
  '"',
  '\\',
  '$',
];

function replaceAt(value: string, at: number, replacement: string): string {
  const index = at % value.length;
  return `${value.slice(0, index)}${replacement}${value.slice(index + 1)}`;
}

/** A string that is not a DevEUI in any of OrbiWAN's forms (it may hold '/': filter it out for a
 *  topic level). */
export const badDevEui = fc
  .oneof(
    fc
      .tuple(devEuiText, fc.nat(), fc.constantFrom(...DEV_EUI_BREAKERS))
      .map(([devEui, at, breaker]) => insertAt(devEui, at, breaker)),
    fc
      .tuple(
        devEuiText,
        fc.nat(),
        fc.constantFrom(...DEV_EUI_BREAKERS.filter((breaker) => !/^[xX-]$/.test(breaker))),
      )
      .map(([devEui, at, breaker]) => replaceAt(devEui, at, breaker)),
    fc
      .tuple(fc.constantFrom('', '0x'), hexDigits(0, 15))
      .map(([prefix, digits]) => `${prefix}${digits}`),
    fc
      .tuple(fc.constantFrom('', '0x'), hexDigits(17, 40))
      .map(([prefix, digits]) => `${prefix}${digits}`),
    fc
      .constantFrom(7, 9)
      .chain((pairs) =>
        fc
          .array(hexDigits(2, 2), { minLength: pairs, maxLength: pairs })
          .map((parts) => parts.join('-')),
      ),
    fc.array(hexDigits(4, 4), { minLength: 4, maxLength: 4 }).map((parts) => parts.join('-')),
    // Digits that look like hex digits: fullwidth, Arabic-Indic.
    devEuiHex.map((hex) =>
      hex.replace(/[0-9]/g, (digit) => String.fromCharCode(0xff10 + Number(digit))),
    ),
    devEuiHex.map((hex) =>
      hex.replace(/[0-9]/g, (digit) => String.fromCharCode(0x0660 + Number(digit))),
    ),
    // MQTT wildcards, neighbouring topic levels, unexpanded placeholders, path tricks.
    fc.constantFrom('+', '#', '', 'downlink', '${deveui}', '{deveui}', '..', '%2F'),
    anyString(40),
  )
  .filter((value) => !isDevEuiForm(value));

// ---------------------------------------------------------------------------------------------
// Keys and bytes.

/** Keys that poison whatever copies them into a plain object. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype'];

/** Strict UTF-8: bytes that are not UTF-8 throw. */
export const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether bytes are UTF-8. */
export function decodes(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Whether bytes are UTF-8 JSON text. */
export function parses(bytes: Uint8Array): boolean {
  try {
    JSON.parse(utf8.decode(bytes));
    return true;
  } catch {
    return false;
  }
}
