import type { Coded } from '../../codecs/device-codecs.js';
import type { EncodedDownlink } from '../../codecs/ts013.js';
import { DownlinkEncodingError, NoCodecError } from '../downlink-errors.js';
import {
  MAX_PAYLOAD_BYTES,
  portSchema,
  type Downlink,
  type ObjectDownlink,
} from '../downlink-request.js';

// A request may carry `object` instead of `data`: the device's payload codec (TS013
// encodeDownlink) turns it into bytes and, if it says so, the port. What comes out is held to the
// same rules as a request's own data and port; until then nothing was claimed or sent.

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
  if (encode === undefined)
    throw new NoCodecError(
      'this connector runs no payload codecs (its stack parameter PayloadCodecs is Disabled): send data in hex',
    );
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
