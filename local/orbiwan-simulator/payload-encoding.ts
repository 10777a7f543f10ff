export type DataFormat = 'base64' | 'hex';

export function encodePayload(payload: Buffer, format: DataFormat): string {
  return payload.toString(format);
}

/** Undefined when the text is not valid in that format (Buffer.from would silently skip bad characters). */
export function decodePayload(text: string, format: DataFormat): Buffer | undefined {
  const trimmed = text.trim();
  const valid =
    format === 'hex'
      ? /^(?:[0-9a-f]{2})*$/i.test(trimmed)
      : /^[A-Za-z0-9+/]*={0,2}$/.test(trimmed) && trimmed.length % 4 === 0;
  return valid ? Buffer.from(trimmed, format) : undefined;
}
