import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SandboxedCodec } from '../../../functions/codecs/codec-sandbox.js';
import { decodedUplink, encodedDownlink } from '../../../functions/codecs/ts013.js';

// Real codecs, as device makers publish them in The Things Network's device repository (each
// folder's SOURCE.md and LICENSE), and the sample sensor's, run in the sandbox against the
// examples their makers publish with them: what a codec returns in Node, it returns here.

const FIXTURES = fileURLToPath(new URL('../../fixtures/codecs/', import.meta.url));
const SAMPLE_SENSOR = fileURLToPath(
  new URL('../../../codecs/orbiwan-sample-sensor.js', import.meta.url),
);

interface Example<Input, Output> {
  description: string;
  input: Input;
  output: Output;
}
type UplinkExample = Example<
  { bytes: number[]; fPort: number; recvTime?: string },
  { data?: unknown; warnings?: string[]; errors?: string[] }
>;
type DownlinkExample = Example<
  { data: unknown; fPort?: number },
  { bytes: number[]; fPort: number; warnings?: string[]; errors?: string[] }
>;

function examples<T>(folder: string, file: string): T[] {
  try {
    return JSON.parse(readFileSync(join(FIXTURES, folder, file), 'utf8')) as T[];
  } catch {
    return [];
  }
}

const makers = readdirSync(FIXTURES);
const loaded: SandboxedCodec[] = [];

async function codecOf(path: string): Promise<SandboxedCodec> {
  const codec = await SandboxedCodec.load(readFileSync(path, 'utf8'));
  loaded.push(codec);
  return codec;
}

afterAll(() => {
  for (const codec of loaded) codec.dispose();
});

describe('Published TS013 codecs in the sandbox', () => {
  it('has codecs of at least two makers, each with its licence and source', () => {
    expect(new Set(makers.map((folder) => folder.split('-')[0])).size).toBeGreaterThanOrEqual(2);
    for (const folder of makers) {
      expect(readFileSync(join(FIXTURES, folder, 'LICENSE'), 'utf8'), folder).toMatch(/License/i);
      expect(readFileSync(join(FIXTURES, folder, 'SOURCE.md'), 'utf8'), folder).toMatch(
        /[0-9a-f]{40}/,
      );
    }
  });

  describe.each(makers)('%s', (folder) => {
    const uplinks = examples<UplinkExample>(folder, 'examples.json');
    const downlinks = examples<DownlinkExample>(folder, 'downlinkExamples.json');

    it('has uplink examples', () => {
      expect(uplinks.length).toBeGreaterThan(0);
    });

    it.each(uplinks.map((example) => [example.description, example] as const))(
      'decodes "%s" as its maker says',
      async (_, { input, output }) => {
        const codec = await codecOf(join(FIXTURES, folder, 'codec.js'));
        const result = decodedUplink(
          codec.call('decodeUplink', { recvTime: '2026-12-05T10:00:00Z', ...input }),
        );
        expect(result).toEqual({ warnings: [], errors: [], ...output });
      },
    );

    it.each(downlinks.map((example) => [example.description, example] as const))(
      'encodes "%s" as its maker says',
      async (_, { input, output }) => {
        const codec = await codecOf(join(FIXTURES, folder, 'codec.js'));
        expect(encodedDownlink(codec.call('encodeDownlink', input))).toEqual({
          warnings: [],
          errors: [],
          ...output,
        });
      },
    );
  });
});

describe('The sample sensor codec (codecs/orbiwan-sample-sensor.js)', () => {
  it('decodes a measurement, warning of a low battery', async () => {
    const codec = await codecOf(SAMPLE_SENSOR);
    // 0x01, 21.37 degC, 55 %, 2950 mV.
    const bytes = [0x01, 0x08, 0x59, 55, 0x0b, 0x86];
    expect(decodedUplink(codec.call('decodeUplink', { bytes, fPort: 1 }))).toEqual({
      data: { temperature: 21.37, humidity: 55, battery: 2.95 },
      warnings: ['battery low: 2950 mV'],
      errors: [],
    });
  });

  it('decodes a temperature below zero', async () => {
    const codec = await codecOf(SAMPLE_SENSOR);
    const bytes = [0x01, 0xfe, 0x0c, 40, 0x0d, 0xac];
    expect(decodedUplink(codec.call('decodeUplink', { bytes, fPort: 1 })).data).toEqual({
      temperature: -5,
      humidity: 40,
      battery: 3.5,
    });
  });

  it.each([
    ['another port', { bytes: [1, 0, 0, 0, 0, 0], fPort: 2 }, /FPort 2/],
    ['a short frame', { bytes: [1, 0], fPort: 1 }, /6 bytes/],
  ])('reports errors for %s', async (_, input, error) => {
    const codec = await codecOf(SAMPLE_SENSOR);
    const result = decodedUplink(codec.call('decodeUplink', input));
    expect(result.data).toBeUndefined();
    expect(result.errors).toEqual([expect.stringMatching(error)]);
  });

  it.each([
    [{ interval: 300 }, [0x01, 0x01, 0x2c]],
    [{ led: true }, [0x02, 1]],
  ])('encodes %j on FPort 10', async (data, bytes) => {
    const codec = await codecOf(SAMPLE_SENSOR);
    expect(encodedDownlink(codec.call('encodeDownlink', { data }))).toEqual({
      bytes,
      fPort: 10,
      warnings: [],
      errors: [],
    });
  });

  it.each([[{ interval: 5 }], [{ led: 'on' }], [{}], ['text']])(
    'refuses to encode %j',
    async (data) => {
      const codec = await codecOf(SAMPLE_SENSOR);
      const result = encodedDownlink(codec.call('encodeDownlink', { data }));
      expect(result.bytes).toEqual([]);
      expect(result.errors).toHaveLength(1);
    },
  );
});
