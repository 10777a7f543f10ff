import type { Coded } from '../codecs/device-codecs.js';
import type { EncodedDownlink } from '../codecs/ts013.js';
import {
  DownlinkEncodingError,
  NO_PAYLOAD_CODECS,
  NoCodecError,
} from '../downlinks/downlink-errors.js';
import {
  MAX_PAYLOAD_BYTES,
  parseDownlink,
  portSchema,
  type Downlink,
  type ObjectDownlink,
  type RuleInput,
} from '../downlinks/downlink-request.js';

// A downlink request may carry `object` instead of `data`: the device's payload codec (TS013
// encodeDownlink) turns it into bytes and, if it says so, the port. What comes out is held to the
// same rules as a request's own data and port; until then nothing was claimed or sent.
//
// The state machine's EncodeObject state runs this in the device-state function, which has the
// codecs, and hands the send task the request as if it had come with `data`: the send task's
// bundle stays without the codec sandbox, so a downlink given `data` starts as fast as ever.

export type EncodeObject = (
  devEui: string,
  input: { data: unknown; fPort: number | undefined },
) => Promise<Coded<EncodedDownlink> | undefined>;

/** The downlink with its payload in hex: as requested, or encoded by the device's codec. */
export async function withPayload(
  downlink: Downlink | ObjectDownlink,
  encode: EncodeObject | undefined,
): Promise<Downlink> {
  if (!('object' in downlink)) return downlink;
  const { object, port, ...rest } = downlink;
  const forPort = port === undefined ? '' : ` on port ${port}`;
  if (encode === undefined) throw new NoCodecError(NO_PAYLOAD_CODECS);
  const coded = await encode(downlink.devEui, { data: object, fPort: port });
  if (coded === undefined)
    throw new NoCodecError(
      `no payload codec is attached to ${downlink.devEui}${forPort}: attach one (orbiwan-codec attach), or send data in hex`,
    );
  const { codec, result } = coded;
  if (result.errors.length > 0)
    throw new DownlinkEncodingError(
      `codec ${codec} could not encode the object: ${result.errors.join('; ')}`,
    );
  // The codec's port wins: it knows which port its bytes mean something on.
  const fPort = result.fPort ?? port;
  if (fPort === undefined)
    throw new DownlinkEncodingError(
      `codec ${codec} returned no fPort, and the request has no port`,
    );
  if (!portSchema.safeParse(fPort).success)
    throw new DownlinkEncodingError(
      `codec ${codec} returned fPort ${fPort}; a downlink's is 1..223`,
    );
  if (result.bytes.length > MAX_PAYLOAD_BYTES)
    throw new DownlinkEncodingError(
      `codec ${codec} encoded ${result.bytes.length} bytes; a downlink is at most ${MAX_PAYLOAD_BYTES}`,
    );
  return { ...rest, data: Buffer.from(result.bytes).toString('hex'), port: fPort };
}

/**
 * The rule's message for an `object` request, rewritten with the encoded `data` and `port` in
 * place of `object`, the rest (fields, topic, times) as it came. Throws InvalidDownlinkError for a
 * request that is not valid, NoCodecError or DownlinkEncodingError when it cannot be encoded.
 */
export async function encodedRequest(
  input: RuleInput,
  topicPrefix: string,
  encode: EncodeObject | undefined,
): Promise<RuleInput> {
  // Defaults do not matter here: the send task applies them to the request it is handed.
  const parsed = parseDownlink(input, { topicPrefix, confirmed: true, mode: 'enqueue_on_busy' });
  if (!('object' in parsed)) return input;
  const { data, port } = await withPayload(parsed, encode);
  const { object: _encoded, ...request } = JSON.parse(
    Buffer.from(input.payload, 'base64').toString('utf8'),
  ) as Record<string, unknown>;
  const payload = Buffer.from(JSON.stringify({ ...request, data, port })).toString('base64');
  return { ...input, payload };
}
