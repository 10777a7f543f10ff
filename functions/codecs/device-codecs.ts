import { cached } from '../shared/cached.js';
import { logger } from '../shared/logger.js';
import { attachmentFor } from './codec-attachments.js';
import type { CodecLimits, SandboxedCodec } from './codec-sandbox.js';
import type { CodecStore, StoredCodec } from './codec-store.js';
import {
  decodedUplink,
  encodedDownlink,
  type DecodedUplink,
  type EncodedDownlink,
} from './ts013.js';

// The codec each device's payloads go through, as the store says, with what is costly kept per
// container: the attachments and codec items for a minute (an operator's change takes effect
// within it), a loaded codec for as long as its source is unchanged.

/** How long an attachment or codec change may take to reach a running function. */
export const CODEC_CHANGES_TAKE_EFFECT_MS = 60_000;

export interface DeviceCodecsDeps {
  store: CodecStore;
  /** The device's OrbiWAN device profile name, for profile attachments. */
  profileOf: (devEui: string) => Promise<string | undefined>;
  limits?: CodecLimits;
  now?: () => number;
}

export interface Coded<Result> {
  /** The codec's name. */
  codec: string;
  result: Result;
}

type Loaded = { sha256: string; codec: SandboxedCodec } | { sha256: string; error: string };

export class DeviceCodecs {
  private readonly attachments: () => ReturnType<CodecStore['attachments']>;
  private readonly items = new Map<string, () => Promise<StoredCodec | undefined>>();
  private readonly loaded = new Map<string, { sha256: string; loading: Promise<Loaded> }>();

  constructor(private readonly deps: DeviceCodecsDeps) {
    this.attachments = cached(
      () => deps.store.attachments(),
      CODEC_CHANGES_TAKE_EFFECT_MS,
      deps.now,
    );
  }

  /** The device's uplink decoded, or undefined when no codec is attached for its port. */
  async decodeUplink(
    devEui: string,
    input: { bytes: number[]; fPort: number; recvTime: string },
  ): Promise<Coded<DecodedUplink> | undefined> {
    const codec = await this.codecFor(devEui, input.fPort);
    return codec && { codec: codec.name, result: decodedUplink(codec.call('decodeUplink', input)) };
  }

  /** A downlink's object encoded, or undefined when no codec is attached for the port. */
  async encodeDownlink(
    devEui: string,
    input: { data: unknown; fPort: number | undefined },
  ): Promise<Coded<EncodedDownlink> | undefined> {
    const codec = await this.codecFor(devEui, input.fPort);
    const { data, fPort } = input;
    return (
      codec && {
        codec: codec.name,
        result: encodedDownlink(
          codec.call('encodeDownlink', { data, ...(fPort === undefined ? {} : { fPort }) }),
        ),
      }
    );
  }

  /**
   * The codec attached for the device's port, ready to call; one that is missing or does not
   * load answers every call with why, as the sandbox answers a codec's failure.
   */
  private async codecFor(
    devEui: string,
    fPort: number | undefined,
  ): Promise<{ name: string; call: SandboxedCodec['call'] } | undefined> {
    const attachment = await attachmentFor(
      await this.attachments(),
      { devEui, profile: () => this.deps.profileOf(devEui) },
      fPort,
    );
    if (attachment === undefined) return undefined;
    const name = attachment.codec;
    const stored = await this.item(name);
    const loaded: Loaded =
      stored === undefined
        ? { sha256: '', error: `codec ${name} is attached but not stored` }
        : await this.load(stored);
    return {
      name,
      call:
        'codec' in loaded
          ? (fn, input) => loaded.codec.call(fn, input)
          : () => ({ ok: false, error: loaded.error }),
    };
  }

  private item(name: string): Promise<StoredCodec | undefined> {
    let item = this.items.get(name);
    if (item === undefined) {
      item = cached(() => this.deps.store.codec(name), CODEC_CHANGES_TAKE_EFFECT_MS, this.deps.now);
      this.items.set(name, item);
    }
    return item();
  }

  /**
   * The codec loaded once per source (concurrent callers share the load); a source that does not
   * load is not tried again either, until it is replaced.
   */
  private async load({ name, source, sha256 }: StoredCodec): Promise<Loaded> {
    // Imported on first use: a function that never runs a codec (a send task given `data`) never
    // evaluates the sandbox or compiles its WebAssembly. Before the lookup: no await between it
    // and the entry it may add, so concurrent callers share one load.
    const { SandboxedCodec, CodecLoadError } = await import('./codec-sandbox.js');
    const current = this.loaded.get(name);
    if (current?.sha256 === sha256) return current.loading;
    const loading = SandboxedCodec.load(source, this.deps.limits).then(
      (codec): Loaded => ({ sha256, codec }),
      (error: unknown): Loaded => {
        if (!(error instanceof CodecLoadError)) throw error;
        logger.warn('codec does not load', { codec: name, error: error.message });
        return { sha256, error: `codec ${name}: ${error.message}` };
      },
    );
    this.loaded.set(name, { sha256, loading });
    // The replaced codec's runtime is freed; a call in flight on it has already returned (calls
    // are synchronous).
    if (current !== undefined)
      void current.loading.then(
        (old) => {
          if ('codec' in old) old.codec.dispose();
        },
        () => undefined,
      );
    try {
      return await loading;
    } catch (error) {
      this.loaded.delete(name);
      throw error;
    }
  }
}
