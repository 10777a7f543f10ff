import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SandboxResult } from '../../../functions/codecs/codec-sandbox.js';
import { decodedUplink, encodedDownlink } from '../../../functions/codecs/ts013.js';
import { fuzzSettings } from '../../helpers/fuzz-settings.js';

const { parameters: FUZZ, testTimeoutMs: FUZZ_TIMEOUT_MS } = fuzzSettings('ts013', 300);

function returned(value: unknown): SandboxResult {
  return { ok: true, value };
}

// What reaches these functions: the JSON a codec's result serialised to.
const jsonValue = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);

describe('decodedUplink', () => {
  it('keeps data, warnings and errors as the codec returned them', () => {
    expect(
      decodedUplink(
        returned({ data: { temperature: 21.5 }, warnings: ['battery low'], errors: ['clock'] }),
      ),
    ).toEqual({ data: { temperature: 21.5 }, warnings: ['battery low'], errors: ['clock'] });
  });

  it('gives empty warnings and errors when the codec left them out', () => {
    expect(decodedUplink(returned({ data: { on: true } }))).toEqual({
      data: { on: true },
      warnings: [],
      errors: [],
    });
  });

  it('treats null warnings and errors as none', () => {
    expect(decodedUplink(returned({ data: 1, warnings: null, errors: null }))).toEqual({
      data: 1,
      warnings: [],
      errors: [],
    });
  });

  it.each([null, 0, false, '', 'text', [1, 2]])('keeps data that is %j', (data) => {
    expect(decodedUplink(returned({ data }))).toEqual({ data, warnings: [], errors: [] });
  });

  it('leaves data out when the codec reported errors only', () => {
    const decoded = decodedUplink(returned({ errors: ['unknown frame type 9'] }));

    expect(decoded).toEqual({ warnings: [], errors: ['unknown frame type 9'] });
    expect(decoded).not.toHaveProperty('data');
  });

  it('reports a result with neither data nor errors', () => {
    expect(decodedUplink(returned({ warnings: ['w'] }))).toEqual({
      warnings: ['w'],
      errors: ['decodeUplink returned neither data nor errors'],
    });
  });

  it('reports an empty errors array without data as neither', () => {
    expect(decodedUplink(returned({ errors: [] })).errors).toEqual([
      'decodeUplink returned neither data nor errors',
    ]);
  });

  it('passes on why the sandbox has no result', () => {
    expect(decodedUplink({ ok: false, error: 'the codec ran longer than 100 ms' })).toEqual({
      warnings: [],
      errors: ['the codec ran longer than 100 ms'],
    });
  });

  it.each([
    [null, 'decodeUplink returned null, not {data, warnings, errors}'],
    [42, 'decodeUplink returned number, not {data, warnings, errors}'],
    ['text', 'decodeUplink returned string, not {data, warnings, errors}'],
    [true, 'decodeUplink returned boolean, not {data, warnings, errors}'],
    [[{ data: 1 }], 'decodeUplink returned an array, not {data, warnings, errors}'],
  ])('reports a result that is %j', (value, error) => {
    expect(decodedUplink(returned(value))).toEqual({ warnings: [], errors: [error] });
  });

  it.each([
    ['a string', 'bad'],
    ['a number', 3],
    ['an object', { message: 'bad' }],
  ])('reports errors that are %s rather than an array', (_what, errors) => {
    expect(decodedUplink(returned({ data: 1, errors }))).toEqual({
      data: 1,
      warnings: [],
      errors: ["the codec's errors is not an array"],
    });
  });

  it('reports warnings that are not an array among the warnings', () => {
    expect(decodedUplink(returned({ data: 1, warnings: 'careful' }))).toEqual({
      data: 1,
      warnings: ["the codec's warnings is not an array"],
      errors: [],
    });
  });

  it('turns messages that are not strings into their JSON', () => {
    expect(
      decodedUplink(returned({ errors: [7, null, true, { code: 3 }, ['a'], 'plain'] })).errors,
    ).toEqual(['7', 'null', 'true', '{"code":3}', '["a"]', 'plain']);
  });

  it('keeps the first 20 messages and counts the rest', () => {
    const errors = Array.from({ length: 25 }, (_, index) => `error ${index}`);

    const decoded = decodedUplink(returned({ errors }));

    expect(decoded.errors).toEqual([...errors.slice(0, 20), '(5 more)']);
  });

  it('keeps exactly 20 messages without a count', () => {
    const warnings = Array.from({ length: 20 }, (_, index) => `warning ${index}`);

    expect(decodedUplink(returned({ data: 1, warnings })).warnings).toEqual(warnings);
  });

  it('cuts each long message to 500 characters', () => {
    const decoded = decodedUplink(
      returned({
        data: 1,
        warnings: ['w'.repeat(500), 'x'.repeat(501), { long: 'y'.repeat(600) }],
      }),
    );

    expect(decoded.warnings).toEqual([
      'w'.repeat(500),
      `${'x'.repeat(500)}...`,
      `${`{"long":"${'y'.repeat(600)}`.slice(0, 500)}...`,
    ]);
  });

  it(
    'ends well-formed, with messages bounded in count and length, whatever JSON the codec returned',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            jsonValue,
            fc.record(
              {
                data: jsonValue,
                warnings: fc.oneof(fc.array(jsonValue, { maxLength: 40 }), jsonValue),
                errors: fc.oneof(fc.array(jsonValue, { maxLength: 40 }), jsonValue),
              },
              { requiredKeys: [] },
            ),
          ),
          (value) => {
            const decoded = decodedUplink(returned(value));

            for (const messages of [decoded.warnings, decoded.errors]) {
              expect(messages.length).toBeLessThanOrEqual(21);
              for (const message of messages) {
                expect(typeof message).toBe('string');
                expect(message.length).toBeLessThanOrEqual(503);
              }
            }
            expect(decoded.data !== undefined || decoded.errors.length > 0).toBe(true);
          },
        ),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('encodedDownlink', () => {
  it('keeps bytes, fPort and warnings as the codec returned them', () => {
    expect(
      encodedDownlink(returned({ bytes: [0, 1, 127, 255], fPort: 10, warnings: ['rounded'] })),
    ).toEqual({ bytes: [0, 1, 127, 255], fPort: 10, warnings: ['rounded'], errors: [] });
  });

  it('leaves the port undefined when the codec chose none', () => {
    expect(encodedDownlink(returned({ bytes: [1] }))).toEqual({
      bytes: [1],
      fPort: undefined,
      warnings: [],
      errors: [],
    });
  });

  it('accepts an empty payload', () => {
    expect(encodedDownlink(returned({ bytes: [], fPort: 1 }))).toEqual({
      bytes: [],
      fPort: 1,
      warnings: [],
      errors: [],
    });
  });

  it.each([1, 100, 223])('keeps the port %d', (fPort) => {
    expect(encodedDownlink(returned({ bytes: [1], fPort })).fPort).toBe(fPort);
  });

  it('drops the bytes and the port when the codec reported errors', () => {
    expect(
      encodedDownlink(
        returned({ bytes: [1, 2], fPort: 5, warnings: ['w'], errors: ['setpoint out of range'] }),
      ),
    ).toEqual({ bytes: [], fPort: undefined, warnings: ['w'], errors: ['setpoint out of range'] });
  });

  it('passes on why the sandbox has no result', () => {
    expect(
      encodedDownlink({ ok: false, error: 'the codec has no encodeDownlink function' }),
    ).toEqual({
      bytes: [],
      fPort: undefined,
      warnings: [],
      errors: ['the codec has no encodeDownlink function'],
    });
  });

  it.each([
    [null, 'encodeDownlink returned null, not {bytes, fPort, warnings, errors}'],
    [[1, 2], 'encodeDownlink returned an array, not {bytes, fPort, warnings, errors}'],
    ['0102', 'encodeDownlink returned string, not {bytes, fPort, warnings, errors}'],
  ])('reports a result that is %j', (value, error) => {
    expect(encodedDownlink(returned(value))).toEqual({
      bytes: [],
      fPort: undefined,
      warnings: [],
      errors: [error],
    });
  });

  it.each([
    ['missing', {}],
    ['a hex string', { bytes: '0102' }],
    ['an object', { bytes: { 0: 1 } }],
    ['a byte above 255', { bytes: [1, 256] }],
    ['a negative byte', { bytes: [-1] }],
    ['a fraction', { bytes: [1.5] }],
    ['a numeric string', { bytes: ['1'] }],
    ['null', { bytes: [null] }],
    ['a boolean', { bytes: [true] }],
  ])('reports bytes that are %s', (_what, value) => {
    expect(encodedDownlink(returned({ ...value, fPort: 1 }))).toEqual({
      bytes: [],
      fPort: undefined,
      warnings: [],
      errors: ['encodeDownlink returned bytes that are not an array of integers 0..255'],
    });
  });

  it.each([
    ['a fraction', 1.5],
    ['a string', '1'],
    ['null', null],
    ['a boolean', true],
    ['an array', [1]],
  ])('reports an fPort that is %s', (_what, fPort) => {
    expect(encodedDownlink(returned({ bytes: [1], fPort }))).toEqual({
      bytes: [],
      fPort: undefined,
      warnings: [],
      errors: ['encodeDownlink returned an fPort that is not an integer'],
    });
  });

  it('bounds the messages as decodedUplink does', () => {
    const encoded = encodedDownlink(
      returned({ bytes: [], errors: Array.from({ length: 30 }, () => 'e'.repeat(1000)) }),
    );

    expect(encoded.errors).toHaveLength(21);
    expect(encoded.errors[0]).toBe(`${'e'.repeat(500)}...`);
    expect(encoded.errors[20]).toBe('(10 more)');
  });

  it(
    'ends well-formed, with bytes 0..255 and an integer port or none, whatever JSON the codec returned',
    () => {
      fc.assert(
        fc.property(
          fc.oneof(
            jsonValue,
            fc.record(
              {
                bytes: fc.oneof(
                  fc.array(fc.integer({ min: -2, max: 258 }), { maxLength: 16 }),
                  jsonValue,
                ),
                fPort: fc.oneof(fc.integer({ min: -2, max: 300 }), jsonValue),
                warnings: fc.oneof(fc.array(jsonValue, { maxLength: 30 }), jsonValue),
                errors: fc.oneof(fc.array(jsonValue, { maxLength: 30 }), jsonValue),
              },
              { requiredKeys: [] },
            ),
          ),
          (value) => {
            const encoded = encodedDownlink(returned(value));

            expect(
              encoded.bytes.every((byte) => Number.isInteger(byte) && byte >= 0 && byte <= 255),
            ).toBe(true);
            if (encoded.fPort !== undefined) expect(Number.isInteger(encoded.fPort)).toBe(true);
            if (encoded.errors.length > 0) {
              expect(encoded.bytes).toEqual([]);
              expect(encoded.fPort).toBeUndefined();
            }
            for (const message of [...encoded.warnings, ...encoded.errors]) {
              expect(typeof message).toBe('string');
              expect(message.length).toBeLessThanOrEqual(503);
            }
          },
        ),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
