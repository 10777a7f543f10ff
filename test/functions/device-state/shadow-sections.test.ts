import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  eventTime,
  isNewer,
  replacementPatch,
  type SectionValue,
} from '../../../functions/device-state/shadow-sections.js';
import { fuzzSettings } from '../../helpers/fuzz-settings.js';
import { PROTOTYPE_KEYS } from '../../helpers/json-text-arbitraries.js';
import { canonicalJson, isJsonObject, mergeReported, viaJson, type Json } from './shadow-merge.js';

// The pure parts of the ordered shadow writes: which section is newer, the update that replaces a
// section under the shadow's merge rules, and the time a notification is about.

const { parameters: FUZZ, testTimeoutMs: FUZZ_TIMEOUT_MS } = fuzzSettings('shadow-sections', 300);

const T1 = '2026-03-01T10:00:00.000Z';
const T2 = '2026-03-01T10:00:00.001Z';
const FALLBACK_MS = Date.parse('2026-01-02T03:04:05.678Z');
const FALLBACK = '2026-01-02T03:04:05.678Z';

describe('isNewer', () => {
  it('takes a later time as newer, whatever the frame counters say', () => {
    expect(isNewer({ time: T2, fcnt: 1 }, { time: T1, fcnt: 99 })).toBe(true);
    expect(isNewer({ time: T1, fcnt: 99 }, { time: T2, fcnt: 1 })).toBe(false);
  });

  it('compares instants, not their spelling', () => {
    const sameInstant = '2026-03-01T11:00:00+01:00';

    expect(isNewer({ time: sameInstant, fcnt: 5 }, { time: T1, fcnt: 4 })).toBe(true);
    expect(isNewer({ time: sameInstant, fcnt: 4 }, { time: T1, fcnt: 4 })).toBe(false);
  });

  it('at the same time, takes the higher frame counter as newer', () => {
    expect(isNewer({ time: T1, fcnt: 8 }, { time: T1, fcnt: 7 })).toBe(true);
    expect(isNewer({ time: T1, fcnt: 7 }, { time: T1, fcnt: 8 })).toBe(false);
    // A section with a counter beats one without at the same time, never the other way round.
    expect(isNewer({ time: T1, fcnt: 0 }, { time: T1 })).toBe(true);
    expect(isNewer({ time: T1 }, { time: T1, fcnt: 0 })).toBe(false);
  });

  it('does not take a duplicate as newer', () => {
    const value = { time: T1, fcnt: 3, port: 2 };

    expect(isNewer(value, { ...value })).toBe(false);
    expect(isNewer({ time: T1 }, { time: T1 })).toBe(false);
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['a string', T1],
    ['an array', [{ time: T1 }]],
    ['an object without time', { fcnt: 1 }],
    ['a numeric time', { time: 1_772_359_200_000 }],
    ['a time that does not parse', { time: 'yesterday-ish', fcnt: 1 }],
  ])('replaces a section the shadow holds as %s', (_what, current) => {
    expect(isNewer({ time: T1 }, current)).toBe(true);
  });

  it('never takes a section whose own time does not parse as newer than a well-formed one', () => {
    expect(isNewer({ time: 'not a time', fcnt: 1_000_000 }, { time: T1, fcnt: 0 })).toBe(false);
  });

  it(
    'orders any two sections one way at most, and exactly one way when they differ',
    () => {
      const section = fc.record({
        time: fc.constantFrom(T1, T2, '2026-03-01T09:59:59.999Z'),
        fcnt: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
      });
      fc.assert(
        fc.property(section, section, (a, b) => {
          const [x, y] = [viaJson(a) as SectionValue, viaJson(b) as SectionValue];
          expect(isNewer(x, y) && isNewer(y, x)).toBe(false);
          const same = Date.parse(x.time) === Date.parse(y.time) && x.fcnt === y.fcnt;
          expect(isNewer(x, y) || isNewer(y, x)).toBe(!same);
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

// JSON as AWS holds it: no nulls (a null deletes), objects whose keys overlap often (a, b, c) and
// include the prototype's names, arrays of anything else. Made ordinary by a JSON round trip, as
// a parsed document is.
const key = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a', 'b', 'c') },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS, 'toString', 'valueOf') },
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
);
const scalar = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.string({ maxLength: 6 }),
);
const { object: jsonObjectArb } = fc.letrec<{ value: Json; object: Record<string, Json> }>(
  (tie) => ({
    value: fc.oneof(
      { depthSize: 'small', maxDepth: 4 },
      scalar,
      tie('object'),
      fc.array(tie('value'), { maxLength: 3 }),
    ),
    object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
  }),
);
const jsonObject = jsonObjectArb.map((value) => viaJson(value));

describe('replacementPatch', () => {
  it('sends null for every key the next value no longer has, at every depth', () => {
    const current = {
      time: T1,
      port: 2,
      data: { temperature: 21.5, humidity: 40, nested: { a: 1, b: 2 } },
      old: [1, 2],
    };
    const next = { time: T2, data: { temperature: 22, nested: { a: 1 } } };

    expect(replacementPatch(current, next)).toEqual({
      time: T2,
      port: null,
      old: null,
      data: { temperature: 22, humidity: null, nested: { a: 1, b: null } },
    });
  });

  it('sends the next value whole where nothing, a scalar or an array was', () => {
    const next = { time: T2, data: { a: 1 } };

    expect(replacementPatch(undefined, next)).toEqual(next);
    expect(replacementPatch({ time: T1, data: [1, 2] }, next)).toEqual(next);
    expect(replacementPatch({ time: T1, data: 'text' }, next)).toEqual(next);
    expect(replacementPatch({ a: 1 }, [1])).toEqual([1]);
  });

  it('sends null for a vanished key named like a prototype member', () => {
    const current = viaJson({ time: T1, data: { toString: 1, constructor: 2, valueOf: 3 } });

    expect(replacementPatch(current, { time: T2, data: {} })).toEqual({
      time: T2,
      data: { toString: null, constructor: null, valueOf: null },
    });
  });

  it(
    'merged into the current value as the shadow merges updates, yields exactly the next value',
    () => {
      fc.assert(
        fc.property(jsonObject, jsonObject, (current, next) => {
          const patch = replacementPatch(current, next);

          expect(isJsonObject(patch)).toBe(true);
          expect(canonicalJson(mergeReported(current, patch as Record<string, unknown>))).toBe(
            canonicalJson(next),
          );
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'turns a section into the next one inside a whole document, leaving the other sections be',
    () => {
      fc.assert(
        fc.property(jsonObject, jsonObject, jsonObject, (other, current, next) => {
          const reported = { battery: other, uplink: current };
          const patch = { uplink: replacementPatch(current, next) };

          expect(canonicalJson(mergeReported(reported, patch))).toBe(
            canonicalJson({ battery: other, uplink: next }),
          );
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('eventTime', () => {
  it.each([
    ['an ISO 8601 string in UTC', '2024-05-06T07:08:09.010Z', '2024-05-06T07:08:09.010Z'],
    ['an ISO 8601 string with an offset', '2024-05-06T09:08:09+02:00', '2024-05-06T07:08:09.000Z'],
    ['epoch seconds', 1_714_979_289, '2024-05-06T07:08:09.000Z'],
    ['epoch seconds with a fraction', 1_714_979_289.25, '2024-05-06T07:08:09.250Z'],
    ['epoch milliseconds', 1_714_979_289_010, '2024-05-06T07:08:09.010Z'],
    ['epoch seconds as a string', '1714979289', '2024-05-06T07:08:09.000Z'],
    ['epoch seconds with a fraction as a string', '1714979289.5', '2024-05-06T07:08:09.500Z'],
    ['epoch milliseconds as a string', '1714979289010', '2024-05-06T07:08:09.010Z'],
  ])('reads %s', (_what, value, expected) => {
    expect(eventTime(value, FALLBACK_MS)).toBe(expected);
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['an empty string', ''],
    ['a word', 'soon'],
    ['a phrase', 'not a time at all'],
    ['a boolean', true],
    ['an object', { seconds: 1_714_979_289 }],
    ['an array', [1_714_979_289]],
    ['zero', 0],
    ['zero as a string', '0'],
    ['a negative number', -1_714_979_289],
    ['NaN', Number.NaN],
    ['infinity', Number.POSITIVE_INFINITY],
  ])('falls back for %s', (_what, value) => {
    expect(eventTime(value, FALLBACK_MS)).toBe(FALLBACK);
  });

  it.each([
    ['milliseconds beyond what a Date holds', 8.64e15 + 1],
    ['a huge number', 1e300],
    ['the largest double', Number.MAX_VALUE],
    ['a huge numeric string', '9'.repeat(40)],
    ['a numeric string beyond a double', `1${'0'.repeat(400)}`],
  ])('falls back for %s rather than throwing', (_what, value) => {
    expect(eventTime(value, FALLBACK_MS)).toBe(FALLBACK);
  });

  it(
    'never throws, and always answers an ISO 8601 time',
    () => {
      const value = fc.oneof(
        fc.anything(),
        fc.double(),
        fc.integer(),
        fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
        fc.string(),
        fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
      );
      fc.assert(
        fc.property(value, (anything) => {
          const time = eventTime(anything, FALLBACK_MS);

          expect(new Date(time).toISOString()).toBe(time);
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
