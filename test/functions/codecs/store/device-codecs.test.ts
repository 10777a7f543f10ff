import { createHash } from 'node:crypto';
import {
  afterEach,
  beforeEach,
  describe,
  expect,
  it,
  vi,
  type Mock,
  type MockInstance,
} from 'vitest';
import type { Attachment } from '../../../../functions/codecs/codec-attachments.js';
import { SandboxedCodec } from '../../../../functions/codecs/codec-sandbox.js';
import type { CodecStore } from '../../../../functions/codecs/codec-store.js';
import {
  CODEC_CHANGES_TAKE_EFFECT_MS,
  DeviceCodecs,
} from '../../../../functions/codecs/device-codecs.js';
import { DependencyError } from '../../../../functions/shared/errors.js';

// DeviceCodecs over an in-memory codec store: what it reads from the store and when (once a
// minute, with the `now` given), which codec runs for a device, and how often a codec is loaded
// into its sandbox (counted on SandboxedCodec.load, which runs for real).

const DEV_EUI = '70b3d57ed0001a2b';
const OTHER_DEVICE = '0011223344556677';
const UPLINK = { bytes: [0x01, 0x02], fPort: 5, recvTime: '2026-01-02T03:04:05.006Z' };

/** A codec that says which version it is, and what it was given. */
const versioned = (version: number) => `
function decodeUplink(input) {
  return { data: { version: ${String(version)}, port: input.fPort, bytes: input.bytes } };
}
function encodeDownlink(input) {
  return { bytes: [${String(version)}, input.data.value], fPort: 'fPort' in input ? input.fPort : 9 };
}
`;
const NOT_LOADING = `throw new Error('boom at load');`;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface MemoryStore {
  sources: Map<string, string>;
  attached: Attachment[];
  /** The store's attachments(), counting its calls. */
  attachmentReads: Mock<CodecStore['attachments']>;
  /** The store's codec(name), counting its calls. */
  codecReads: Mock<CodecStore['codec']>;
}

function memoryStore(): MemoryStore {
  const sources = new Map<string, string>();
  const attached: Attachment[] = [];
  return {
    sources,
    attached,
    attachmentReads: vi.fn<CodecStore['attachments']>(() => Promise.resolve([...attached])),
    codecReads: vi.fn<CodecStore['codec']>((name) => {
      const source = sources.get(name);
      return Promise.resolve(
        source === undefined ? undefined : { name, source, sha256: sha256(source) },
      );
    }),
  };
}

let time: number;
let store: MemoryStore;
let profileOf: ReturnType<typeof vi.fn<(devEui: string) => Promise<string | undefined>>>;
let codecs: DeviceCodecs;
let loads: MockInstance<typeof SandboxedCodec.load>;
let disposals: MockInstance<() => void>;

beforeEach(() => {
  time = 1_000_000;
  store = memoryStore();
  profileOf = vi.fn(() => Promise.resolve<string | undefined>('thermostats'));
  codecs = new DeviceCodecs({
    store: { attachments: store.attachmentReads, codec: store.codecReads },
    profileOf,
    now: () => time,
  });
  loads = vi.spyOn(SandboxedCodec, 'load');
  disposals = vi.spyOn(SandboxedCodec.prototype, 'dispose');
  // Warnings of codecs that do not load: silenced.
  for (const method of ['debug', 'info', 'warn', 'error', 'log'] as const)
    vi.spyOn(console, method).mockImplementation(() => undefined);
});

// Every runtime the test loaded is freed (disposing twice is harmless).
afterEach(async () => {
  const instances = await loaded().catch(() => []);
  vi.restoreAllMocks();
  for (const instance of instances) instance.dispose();
});

const attach = (codec: string, selector: Attachment['selector'], fPorts?: number[]) => {
  store.attached.push({ selector, codec, ...(fPorts === undefined ? {} : { fPorts }) });
};
const deveui = (value: string) => ({ kind: 'deveui', value }) as const;

/** The instances SandboxedCodec.load made, in order. */
const loaded = () =>
  Promise.all(loads.mock.results.map((result) => result.value as Promise<SandboxedCodec>));

describe('DeviceCodecs', () => {
  it('decodes an uplink with the codec attached to the device, naming it', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));

    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toEqual({
      codec: 'v-codec',
      result: { data: { version: 1, port: 5, bytes: [1, 2] }, warnings: [], errors: [] },
    });
  });

  it('encodes a downlink, passing fPort only when there is one', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));

    const withPort = await codecs.encodeDownlink(DEV_EUI, { data: { value: 7 }, fPort: 4 });
    const withoutPort = await codecs.encodeDownlink(DEV_EUI, {
      data: { value: 8 },
      fPort: undefined,
    });

    expect(withPort).toEqual({
      codec: 'v-codec',
      result: { bytes: [1, 7], fPort: 4, warnings: [], errors: [] },
    });
    expect(withoutPort?.result).toMatchObject({ bytes: [1, 8], fPort: 9 });
  });

  it('answers undefined for a device without a codec, reading no codec', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(OTHER_DEVICE));

    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toBeUndefined();
    await expect(
      codecs.encodeDownlink(DEV_EUI, { data: {}, fPort: undefined }),
    ).resolves.toBeUndefined();
    expect(store.codecReads).not.toHaveBeenCalled();
    expect(loads).not.toHaveBeenCalled();
  });

  it('reads the attachments and the codec once a minute, however many payloads come', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));

    await codecs.decodeUplink(DEV_EUI, UPLINK);
    time += CODEC_CHANGES_TAKE_EFFECT_MS - 1;
    await codecs.decodeUplink(DEV_EUI, UPLINK);
    await codecs.encodeDownlink(DEV_EUI, { data: { value: 1 }, fPort: 2 });
    expect(store.attachmentReads).toHaveBeenCalledTimes(1);
    expect(store.codecReads).toHaveBeenCalledTimes(1);

    time += 1;
    await codecs.decodeUplink(DEV_EUI, UPLINK);
    expect(store.attachmentReads).toHaveBeenCalledTimes(2);
    expect(store.codecReads).toHaveBeenCalledTimes(2);
    // The same source: loaded once all along.
    expect(loads).toHaveBeenCalledTimes(1);
  });

  it('takes a new attachment into account only once the minute is over', async () => {
    store.sources.set('v-codec', versioned(1));
    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toBeUndefined();

    attach('v-codec', deveui(DEV_EUI));
    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toBeUndefined();
    time += CODEC_CHANGES_TAKE_EFFECT_MS;
    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toMatchObject({
      codec: 'v-codec',
    });
  });

  it('loads a replaced codec (new sha256) anew once the minute is over, and disposes of the old one', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));
    await codecs.decodeUplink(DEV_EUI, UPLINK);

    store.sources.set('v-codec', versioned(2));
    const stillOld = await codecs.decodeUplink(DEV_EUI, UPLINK);
    time += CODEC_CHANGES_TAKE_EFFECT_MS;
    const replaced = await codecs.decodeUplink(DEV_EUI, UPLINK);
    const again = await codecs.decodeUplink(DEV_EUI, UPLINK);

    expect(stillOld?.result.data).toMatchObject({ version: 1 });
    expect(replaced?.result.data).toMatchObject({ version: 2 });
    expect(again?.result.data).toMatchObject({ version: 2 });
    expect(loads).toHaveBeenCalledTimes(2);
    const [first, second] = await loaded();
    expect(disposals.mock.contexts).toEqual([first]);
    expect(disposals.mock.contexts).not.toContain(second);
    // The old one is finished: a call on it fails, as a disposed codec does.
    expect(first?.call('decodeUplink', UPLINK)).toEqual({
      ok: false,
      error: 'the codec was disposed',
    });
  });

  it('answers a codec that does not load with errors, not an exception, and does not load it again until it changes', async () => {
    store.sources.set('broken', NOT_LOADING);
    attach('broken', deveui(DEV_EUI));

    const decoded = await codecs.decodeUplink(DEV_EUI, UPLINK);
    const encoded = await codecs.encodeDownlink(DEV_EUI, { data: {}, fPort: 3 });
    time += CODEC_CHANGES_TAKE_EFFECT_MS;
    const later = await codecs.decodeUplink(DEV_EUI, UPLINK);

    expect(decoded).toEqual({
      codec: 'broken',
      result: {
        warnings: [],
        errors: ['codec broken: the codec does not load: Error: boom at load'],
      },
    });
    expect(encoded).toEqual({
      codec: 'broken',
      result: {
        bytes: [],
        fPort: undefined,
        warnings: [],
        errors: ['codec broken: the codec does not load: Error: boom at load'],
      },
    });
    expect(later).toEqual(decoded);
    expect(store.codecReads).toHaveBeenCalledTimes(2);
    expect(loads).toHaveBeenCalledTimes(1);

    store.sources.set('broken', versioned(3));
    time += CODEC_CHANGES_TAKE_EFFECT_MS;
    const fixed = await codecs.decodeUplink(DEV_EUI, UPLINK);
    expect(fixed?.result).toMatchObject({ data: { version: 3 }, errors: [] });
    expect(loads).toHaveBeenCalledTimes(2);
  });

  it('answers a codec that is attached but not stored with an error result, loading nothing', async () => {
    attach('ghost', deveui(DEV_EUI));

    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toEqual({
      codec: 'ghost',
      result: { warnings: [], errors: ['codec ghost is attached but not stored'] },
    });
    await expect(codecs.encodeDownlink(DEV_EUI, { data: {}, fPort: 1 })).resolves.toEqual({
      codec: 'ghost',
      result: {
        bytes: [],
        fPort: undefined,
        warnings: [],
        errors: ['codec ghost is attached but not stored'],
      },
    });
    expect(loads).not.toHaveBeenCalled();
  });

  it('shares one load among concurrent payloads for a codec not loaded yet', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));
    attach('v-codec', deveui(OTHER_DEVICE));

    const results = await Promise.all([
      codecs.decodeUplink(DEV_EUI, UPLINK),
      codecs.decodeUplink(OTHER_DEVICE, UPLINK),
      codecs.encodeDownlink(DEV_EUI, { data: { value: 1 }, fPort: 2 }),
      codecs.decodeUplink(DEV_EUI, { ...UPLINK, fPort: 6 }),
    ]);

    expect(results.map((result) => result?.result.errors)).toEqual([[], [], [], []]);
    expect(loads).toHaveBeenCalledTimes(1);
    expect(store.attachmentReads).toHaveBeenCalledTimes(1);
    expect(store.codecReads).toHaveBeenCalledTimes(1);
  });

  it('shares one load among concurrent payloads for a codec that does not load', async () => {
    store.sources.set('broken', NOT_LOADING);
    attach('broken', deveui(DEV_EUI));

    const results = await Promise.all([
      codecs.decodeUplink(DEV_EUI, UPLINK),
      codecs.decodeUplink(DEV_EUI, UPLINK),
      codecs.decodeUplink(DEV_EUI, UPLINK),
    ]);

    expect(new Set(results.map((result) => result?.result.errors[0])).size).toBe(1);
    expect(loads).toHaveBeenCalledTimes(1);
  });

  it('keeps one loaded codec per name: two names with the same source are loaded once each', async () => {
    store.sources.set('one', versioned(1));
    store.sources.set('two', versioned(1));
    attach('one', deveui(DEV_EUI));
    attach('two', deveui(OTHER_DEVICE));

    await codecs.decodeUplink(DEV_EUI, UPLINK);
    await codecs.decodeUplink(OTHER_DEVICE, UPLINK);
    await codecs.decodeUplink(DEV_EUI, UPLINK);

    expect(loads).toHaveBeenCalledTimes(2);
    expect(disposals).not.toHaveBeenCalled();
  });

  it('asks for no device profile when a DevEUI or prefix attachment decides', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', { kind: 'profile', value: 'thermostats' });
    attach('v-codec', deveui(DEV_EUI));
    attach('v-codec', { kind: 'prefix', value: '00112233' });

    await codecs.decodeUplink(DEV_EUI, UPLINK);
    await codecs.decodeUplink(OTHER_DEVICE, UPLINK);

    expect(profileOf).not.toHaveBeenCalled();
  });

  it('asks for no device profile when no attachment is by profile', async () => {
    attach('v-codec', deveui(OTHER_DEVICE));

    await codecs.decodeUplink(DEV_EUI, UPLINK);

    expect(profileOf).not.toHaveBeenCalled();
  });

  it("asks for the device's profile when only a profile attachment can decide, and uses its codec", async () => {
    store.sources.set('by-profile', versioned(4));
    attach('by-profile', { kind: 'profile', value: 'thermostats' });

    const decoded = await codecs.decodeUplink(DEV_EUI, UPLINK);

    expect(profileOf).toHaveBeenCalledWith(DEV_EUI);
    expect(decoded).toMatchObject({ codec: 'by-profile', result: { data: { version: 4 } } });
  });

  it('answers undefined when the device has another profile, or none', async () => {
    store.sources.set('by-profile', versioned(4));
    attach('by-profile', { kind: 'profile', value: 'meters' });

    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toBeUndefined();
    profileOf.mockResolvedValue(undefined);
    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toBeUndefined();
    expect(profileOf).toHaveBeenCalledTimes(2);
    expect(store.codecReads).not.toHaveBeenCalled();
  });

  it('does not ask for the profile when the only profile attachment is for other ports', async () => {
    attach('by-profile', { kind: 'profile', value: 'thermostats' }, [1, 2]);

    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toBeUndefined();
    expect(profileOf).not.toHaveBeenCalled();
  });

  it('lets a failing store fail the payload, and reads it again on the next one', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));
    const failure = new DependencyError('CODEC_STORE_FAILED', 'could not read', false);
    vi.mocked(store.attachmentReads).mockRejectedValueOnce(failure);

    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).rejects.toBe(failure);
    await expect(codecs.decodeUplink(DEV_EUI, UPLINK)).resolves.toMatchObject({
      codec: 'v-codec',
    });
    expect(store.attachmentReads).toHaveBeenCalledTimes(2);
  });

  it('lets a codec read that fails fail the payload, and reads it again on the next one', async () => {
    store.sources.set('v-codec', versioned(1));
    attach('v-codec', deveui(DEV_EUI));
    const failure = new DependencyError('CODEC_STORE_FAILED', 'could not read codec', false);
    vi.mocked(store.codecReads).mockRejectedValueOnce(failure);

    await expect(codecs.encodeDownlink(DEV_EUI, { data: { value: 1 }, fPort: 1 })).rejects.toBe(
      failure,
    );
    await expect(
      codecs.encodeDownlink(DEV_EUI, { data: { value: 1 }, fPort: 1 }),
    ).resolves.toMatchObject({ result: { bytes: [1, 1] } });
    expect(store.codecReads).toHaveBeenCalledTimes(2);
  });
});
