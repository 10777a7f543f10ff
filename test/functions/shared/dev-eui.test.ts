import { describe, expect, it } from 'vitest';
import { normaliseDevEui } from '../../../functions/shared/dev-eui.js';

describe('normaliseDevEui', () => {
  it.each([
    ['AABBCCDD00112233', 'aabbccdd00112233'],
    ['aabbccdd00112233', 'aabbccdd00112233'],
    ['0xAABBCCDD00112233', 'aabbccdd00112233'],
    ['0XaaBBccDD00112233', 'aabbccdd00112233'],
    ['AA-BB-CC-DD-00-11-22-33', 'aabbccdd00112233'],
    ['aa-bb-cc-dd-00-11-22-33', 'aabbccdd00112233'],
  ])('reads %s as %s', (value, expected) => {
    expect(normaliseDevEui(value)).toBe(expected);
  });

  it.each([
    '',
    'AABBCCDD0011223',
    'AABBCCDD001122334',
    '0xAA-BB-CC-DD-00-11-22-33',
    'AA:BB:CC:DD:00:11:22:33',
    'AABB-CCDD-0011-2233',
    ' AABBCCDD00112233',
    'AABBCCDD00112233\n',
    'AABBCCDD0011223G',
    'AABBCCDD0011/233',
    'AABBCCDD001122+#',
    'AABBCCDD0011223\u0000',
    '0x',
  ])('rejects %j', (value) => {
    expect(normaliseDevEui(value)).toBeUndefined();
  });
});
