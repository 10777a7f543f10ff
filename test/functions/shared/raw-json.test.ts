import { describe, expect, it } from 'vitest';
import { rawOrbiwanId, topLevelMember, withMembers } from '../../../functions/shared/raw-json.js';

describe('topLevelMember', () => {
  it('returns a 64-bit id exactly as written', () => {
    expect(topLevelMember('{"DevEUI":"0011","id":18014398509481985,"fcnt":3}', 'id')).toBe(
      '18014398509481985',
    );
  });

  it('skips nested objects, arrays and strings that contain the same key or brackets', () => {
    const json = ' {\n "a": {"id": 1, "s": "}]\\"{"},\n "b": [{"id": 2}, "x"],\n "id" : "42" }';
    expect(topLevelMember(json, 'id')).toBe('"42"');
  });

  it('reads escaped member names', () => {
    expect(topLevelMember('{"i\\u0064":7}', 'id')).toBe('7');
  });

  it.each([
    ['no such member', '{"x":1}'],
    ['an empty object', '{}'],
    ['an array', '[{"id":1}]'],
    ['truncated text', '{"x":{"y":1'],
    ['not JSON', 'id=1'],
  ])('returns undefined for %s', (_, json) => {
    expect(topLevelMember(json, 'id')).toBeUndefined();
  });
});

describe('withMembers', () => {
  it('adds members at the end and keeps every other byte', () => {
    const raw = '{\n  "id": 18014398509481985,\n  "x": "caf\u00e9"\n}\n';
    const result = withMembers(raw, {
      requestId: 'order-42',
      state: 'sent',
      skipped: undefined,
    }).toString('utf8');
    expect(result).toBe(
      '{\n  "id": 18014398509481985,\n  "x": "caf\u00e9"\n,"requestId":"order-42","state":"sent"}\n',
    );
    expect(JSON.parse(result)).toMatchObject({ requestId: 'order-42', state: 'sent' });
  });

  it('adds to an empty object without a leading comma', () => {
    expect(withMembers('{ }', { a: 1 }).toString()).toBe('{ "a":1}');
  });

  it('inserts pre-serialised members as given', () => {
    expect(withMembers('{"a":1}', { b: 2 }, { id: '18014398509481985' }).toString()).toBe(
      '{"a":1,"id":18014398509481985,"b":2}',
    );
  });

  it('refuses text that is not an object', () => {
    expect(() => withMembers('[1]', { a: 1 })).toThrow('not a JSON object');
    expect(() => withMembers('[{"a":1}]', { a: 1 })).toThrow('not a JSON object');
  });
});

describe('rawOrbiwanId', () => {
  it('reads the id digits exactly, whether OrbiWAN sent a number or a string', () => {
    expect(rawOrbiwanId('{"id":18014398509481985}')).toBe('18014398509481985');
    expect(rawOrbiwanId('{"id":"18014398509481985"}')).toBe('18014398509481985');
    expect(rawOrbiwanId('{"fcnt":1}')).toBeUndefined();
  });
});
