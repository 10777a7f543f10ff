import * as fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  attachmentFor,
  attachmentKey,
  parseSelector,
  SelectorError,
  selectorText,
  type Attachment,
  type DeviceFacts,
  type Selector,
} from '../../../functions/codecs/codec-attachments.js';
import { fuzzSettings } from '../../helpers/fuzz-settings.js';

const { parameters: FUZZ, testTimeoutMs: FUZZ_TIMEOUT_MS } = fuzzSettings('codec-attachments', 500);

const DEV_EUI = 'aabbccdd00112233';

function selectorError(text: string): unknown {
  try {
    return parseSelector(text);
  } catch (error) {
    return error;
  }
}

function attach(selector: string, codec: string, fPorts?: number[]): Attachment {
  return { selector: parseSelector(selector), codec, ...(fPorts === undefined ? {} : { fPorts }) };
}

function device(profile?: string, devEui = DEV_EUI) {
  const lookup = vi.fn(() => Promise.resolve(profile));
  const facts: DeviceFacts = { devEui, profile: lookup };
  return { facts, lookup };
}

async function codecFor(
  attachments: Attachment[],
  fPort: number | undefined,
  profile?: string,
): Promise<string | undefined> {
  return (await attachmentFor(attachments, device(profile).facts, fPort))?.codec;
}

describe('parseSelector', () => {
  it.each([
    ['deveui:aabbccdd00112233', 'aabbccdd00112233'],
    ['deveui:AABBCCDD00112233', 'aabbccdd00112233'],
    ['deveui:0xAABBCCDD00112233', 'aabbccdd00112233'],
    ['deveui:AA-BB-CC-DD-00-11-22-33', 'aabbccdd00112233'],
  ])('reads %s as the DevEUI %s', (text, value) => {
    expect(parseSelector(text)).toEqual({ kind: 'deveui', value });
  });

  it.each([
    ['prefix:a', 'a'],
    ['prefix:AABB', 'aabb'],
    ['prefix:AA-BB-CC', 'aabbcc'],
    ['prefix:0123456789ABCDE', '0123456789abcde'],
  ])('reads %s as the prefix %s', (text, value) => {
    expect(parseSelector(text)).toEqual({ kind: 'prefix', value });
  });

  it.each([
    ['profile:Temperature sensors', 'Temperature sensors'],
    ['profile:class-a:v2', 'class-a:v2'],
    ['profile:Capteur été ✓', 'Capteur été ✓'],
    [`profile:${'p'.repeat(128)}`, 'p'.repeat(128)],
  ])('reads %j as a profile name, as it is', (text, value) => {
    expect(parseSelector(text)).toEqual({ kind: 'profile', value });
  });

  it.each(['AABB', 'AABBCCDD0011223', 'AABBCCDD001122334', 'AABBCCDD0011223G', '', 'AA:BB'])(
    'rejects deveui:%s as not a DevEUI',
    (value) => {
      const error = selectorError(`deveui:${value}`);

      expect(error).toBeInstanceOf(SelectorError);
      expect(error).toHaveProperty('message', `"${value}" is not a DevEUI: expected 16 hex digits`);
    },
  );

  it.each(['', '-', 'xyz', '0x12', 'AABBCCDD00112233', 'aa bb', 'aa:bb'])(
    'rejects prefix:%s as not a prefix',
    (value) => {
      const error = selectorError(`prefix:${value}`);

      expect(error).toBeInstanceOf(SelectorError);
      expect(error).toHaveProperty(
        'message',
        `"${value}" is not a DevEUI prefix: expected 1 to 15 hex digits`,
      );
    },
  );

  it.each(['', 'p'.repeat(129), 'line\nbreak', 'nul\u0000', 'del\u007f', 'tab\t'])(
    'rejects the profile name %j',
    (value) => {
      const error = selectorError(`profile:${value}`);

      expect(error).toBeInstanceOf(SelectorError);
      expect(error).toHaveProperty(
        'message',
        'a profile name is 1 to 128 characters, without control characters',
      );
    },
  );

  it.each([
    '',
    'aabbccdd00112233',
    ':aabbccdd00112233',
    'DEVEUI:aabbccdd00112233',
    'group:x',
    'deveui',
  ])('rejects %j as not a selector', (text) => {
    const error = selectorError(text);

    expect(error).toBeInstanceOf(SelectorError);
    expect(error).toHaveProperty(
      'message',
      `"${text}" is not a selector: expected deveui:<DevEUI>, prefix:<hex digits> or profile:<device profile name>`,
    );
    expect(error).toHaveProperty('name', 'SelectorError');
  });

  it(
    'reads back what selectorText wrote',
    () => {
      const hex = fc.constantFrom(...'0123456789abcdef'.split(''));
      const selector: fc.Arbitrary<Selector> = fc.oneof(
        fc
          .string({ unit: hex, minLength: 16, maxLength: 16 })
          .map((value) => ({ kind: 'deveui' as const, value })),
        fc
          .string({ unit: hex, minLength: 1, maxLength: 15 })
          .map((value) => ({ kind: 'prefix' as const, value })),
        fc
          .string({ unit: 'grapheme', minLength: 1, maxLength: 128 })
          .filter((value) => !/\p{Cc}/u.test(value) && value.length <= 128)
          .map((value) => ({ kind: 'profile' as const, value })),
      );
      fc.assert(
        fc.property(selector, (parsed) => {
          expect(parseSelector(selectorText(parsed))).toEqual(parsed);
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('attachmentKey', () => {
  it('names a selector for every port with *', () => {
    expect(attachmentKey(attach('deveui:AABBCCDD00112233', 'c'))).toBe('deveui:aabbccdd00112233|*');
  });

  it('names the same ports the same way, in numeric order', () => {
    const key = attachmentKey(attach('prefix:aa', 'c', [10, 2, 1]));

    expect(key).toBe('prefix:aa|1,2,10');
    expect(attachmentKey(attach('prefix:aa', 'other', [2, 10, 1]))).toBe(key);
  });

  it('does not reorder the attachment’s own ports', () => {
    const attachment = attach('profile:p', 'c', [3, 1, 2]);

    attachmentKey(attachment);

    expect(attachment.fPorts).toEqual([3, 1, 2]);
  });
});

describe('attachmentFor', () => {
  it('finds nothing when nothing is attached', async () => {
    expect(await codecFor([], 1, 'sensors')).toBeUndefined();
  });

  it('finds nothing when no attachment matches the device', async () => {
    const attachments = [
      attach('deveui:0000000000000001', 'other-device'),
      attach('prefix:aabbccdd01', 'other-batch'),
      attach('profile:meters', 'other-profile'),
    ];

    expect(await codecFor(attachments, 1, 'sensors')).toBeUndefined();
  });

  it('prefers the device’s DevEUI to a prefix and a profile', async () => {
    const attachments = [
      attach('profile:sensors', 'by-profile'),
      attach('prefix:aabb', 'by-prefix'),
      attach('deveui:AABBCCDD00112233', 'by-deveui'),
    ];

    expect(await codecFor(attachments, 1, 'sensors')).toBe('by-deveui');
  });

  it('prefers the longest matching prefix, wherever it is listed', async () => {
    const attachments = [
      attach('prefix:aa', 'short'),
      attach('prefix:aabbccdd', 'longest'),
      attach('prefix:aabbccdd001122f', 'longer-but-another-batch'),
      attach('prefix:aabb', 'middle'),
    ];

    expect(await codecFor(attachments, 1)).toBe('longest');
  });

  it('prefers a prefix to a profile', async () => {
    const attachments = [attach('profile:sensors', 'by-profile'), attach('prefix:a', 'by-prefix')];

    expect(await codecFor(attachments, 1, 'sensors')).toBe('by-prefix');
  });

  it('applies a profile attachment to a device of that profile only', async () => {
    const attachments = [attach('profile:sensors', 'by-profile')];

    expect(await codecFor(attachments, 1, 'sensors')).toBe('by-profile');
    expect(await codecFor(attachments, 1, 'meters')).toBeUndefined();
    expect(await codecFor(attachments, 1, undefined)).toBeUndefined();
  });

  it.each([
    ['DevEUI', 'deveui:aabbccdd00112233'],
    ['longest prefix', 'prefix:aabbcc'],
    ['profile', 'profile:sensors'],
  ])(
    'prefers an attachment for the payload’s port to one for any port, at the %s',
    async (_level, selector) => {
      const attachments = [
        attach(selector, 'any-port'),
        attach(selector, 'other-ports', [2, 3]),
        attach(selector, 'this-port', [1, 4]),
      ];

      expect(await codecFor(attachments, 1, 'sensors')).toBe('this-port');
      expect(await codecFor(attachments, 5, 'sensors')).toBe('any-port');
      expect(await codecFor(attachments, 3, 'sensors')).toBe('other-ports');
    },
  );

  it('prefers a more specific level for any port to a less specific one for the port', async () => {
    const attachments = [
      attach('prefix:aabbccdd', 'prefix-this-port', [1]),
      attach('prefix:aabb', 'shorter-this-port', [1]),
      attach('deveui:aabbccdd00112233', 'deveui-any-port'),
    ];

    expect(await codecFor(attachments, 1)).toBe('deveui-any-port');
    expect(await codecFor(attachments.slice(0, 2), 1)).toBe('prefix-this-port');
  });

  it('falls back to a less specific level when the more specific one is for other ports', async () => {
    const attachments = [
      attach('deveui:aabbccdd00112233', 'deveui-port-2', [2]),
      attach('prefix:aabbccdd', 'prefix-port-3', [3]),
      attach('profile:sensors', 'profile-any-port'),
    ];

    expect(await codecFor(attachments, 2, 'sensors')).toBe('deveui-port-2');
    expect(await codecFor(attachments, 3, 'sensors')).toBe('prefix-port-3');
    expect(await codecFor(attachments, 1, 'sensors')).toBe('profile-any-port');
  });

  it('takes the first listed of two equally specific attachments', async () => {
    const attachments = [attach('prefix:aabb', 'first'), attach('prefix:AA-BB', 'second')];

    expect(await codecFor(attachments, 1)).toBe('first');
  });

  describe('asks for the device’s profile', () => {
    it('not at all when no profile attachment exists', async () => {
      const { facts, lookup } = device('sensors');

      await attachmentFor([attach('prefix:ff', 'other-batch')], facts, 1);

      expect(lookup).not.toHaveBeenCalled();
    });

    it('not at all when the device’s DevEUI has an attachment', async () => {
      const { facts, lookup } = device('sensors');
      const attachments = [attach('profile:sensors', 'p'), attach('deveui:aabbccdd00112233', 'd')];

      expect((await attachmentFor(attachments, facts, 1))?.codec).toBe('d');
      expect(lookup).not.toHaveBeenCalled();
    });

    it('not at all when a prefix matches', async () => {
      const { facts, lookup } = device('sensors');
      const attachments = [attach('profile:sensors', 'p'), attach('prefix:aabbcc', 'x')];

      expect((await attachmentFor(attachments, facts, 1))?.codec).toBe('x');
      expect(lookup).not.toHaveBeenCalled();
    });

    it('not at all when the profile attachments are for other ports', async () => {
      const { facts, lookup } = device('sensors');

      const found = await attachmentFor([attach('profile:sensors', 'p', [2])], facts, 1);

      expect(found).toBeUndefined();
      expect(lookup).not.toHaveBeenCalled();
    });

    it('once, when only a profile attachment can apply', async () => {
      const { facts, lookup } = device('sensors');
      const attachments = [
        attach('profile:meters', 'm'),
        attach('profile:sensors', 's'),
        attach('deveui:0000000000000001', 'other'),
      ];

      expect((await attachmentFor(attachments, facts, 1))?.codec).toBe('s');
      expect(lookup).toHaveBeenCalledTimes(1);
    });
  });

  // The rule, written the obvious way: of the attachments that apply to the device and the port,
  // the first by (level, longest prefix, restricted to ports before any port, listed order).
  async function reference(
    attachments: readonly Attachment[],
    devEui: string,
    profile: string | undefined,
    fPort: number | undefined,
  ): Promise<Attachment | undefined> {
    const ranked = attachments
      .map((attachment, index) => ({ attachment, index }))
      .filter(
        ({ attachment }) =>
          attachment.fPorts === undefined ||
          fPort === undefined ||
          attachment.fPorts.includes(fPort),
      )
      .flatMap(({ attachment, index }) => {
        const { kind, value } = attachment.selector;
        const level =
          kind === 'deveui' && value === devEui
            ? 0
            : kind === 'prefix' && devEui.startsWith(value)
              ? 1
              : kind === 'profile' && profile !== undefined && value === profile
                ? 2
                : undefined;
        if (level === undefined) return [];
        const key = [
          level,
          kind === 'prefix' ? -value.length : 0,
          attachment.fPorts === undefined ? 1 : 0,
          index,
        ];
        return [{ attachment, key }];
      })
      .sort((a, b) => {
        const differs = a.key.findIndex((part, at) => part !== b.key[at]);
        return differs < 0 ? 0 : (a.key[differs] ?? 0) - (b.key[differs] ?? 0);
      });
    return Promise.resolve(ranked[0]?.attachment);
  }

  const hexOf = (digits: string) => fc.constantFrom(...digits.split(''));
  // Few digits, so that generated DevEUIs, prefixes and DevEUI selectors often coincide.
  const devEuiArbitrary = fc.string({ unit: hexOf('ab'), minLength: 16, maxLength: 16 });
  const profiles = ['sensors', 'meters', 'trackers'];
  const portsArbitrary = fc.option(
    fc.uniqueArray(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    { nil: undefined },
  );

  function attachmentsArbitrary(devEui: string): fc.Arbitrary<Attachment[]> {
    const kinds: fc.Arbitrary<Selector>[] = [
      fc.constant<Selector>({ kind: 'deveui', value: devEui }),
      devEuiArbitrary.map((value): Selector => ({ kind: 'deveui', value })),
      fc.integer({ min: 1, max: 15 }).map((length): Selector => ({
        kind: 'prefix',
        value: devEui.slice(0, length),
      })),
      fc
        .string({ unit: hexOf('abc'), minLength: 1, maxLength: 15 })
        .map((value): Selector => ({ kind: 'prefix', value })),
      fc.constantFrom(...profiles).map((value): Selector => ({ kind: 'profile', value })),
    ];
    // Some cases draw from a few kinds only, so that each level is often the one that decides.
    return fc
      .subarray(kinds, { minLength: 1 })
      .chain((chosen) =>
        fc.array(fc.record({ selector: fc.oneof(...chosen), fPorts: portsArbitrary }), {
          maxLength: 10,
        }),
      )
      .map((drawn) =>
        drawn.map(({ selector, fPorts }, index) => ({
          selector,
          codec: `codec-${index}`,
          ...(fPorts === undefined ? {} : { fPorts }),
        })),
      );
  }

  const caseArbitrary = devEuiArbitrary.chain((devEui) =>
    fc.record({
      devEui: fc.constant(devEui),
      attachments: attachmentsArbitrary(devEui),
      profile: fc.option(fc.constantFrom(...profiles), { nil: undefined }),
      fPort: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    }),
  );

  it(
    'chooses as the rule written out plainly does, and asks for the profile only when it decides',
    async () => {
      await fc.assert(
        fc.asyncProperty(caseArbitrary, async ({ devEui, attachments, profile, fPort }) => {
          const { facts, lookup } = device(profile, devEui);

          const chosen = await attachmentFor(attachments, facts, fPort);

          expect(chosen).toBe(await reference(attachments, devEui, profile, fPort));
          const applies = (attachment: Attachment) =>
            attachment.fPorts === undefined ||
            fPort === undefined ||
            attachment.fPorts.includes(fPort);
          const settledWithoutProfile =
            (await reference(attachments, devEui, undefined, fPort)) !== undefined;
          const profileCanApply = attachments.some(
            (attachment) => applies(attachment) && attachment.selector.kind === 'profile',
          );
          expect(lookup).toHaveBeenCalledTimes(!settledWithoutProfile && profileCanApply ? 1 : 0);
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
