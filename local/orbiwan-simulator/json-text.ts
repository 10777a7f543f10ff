// OrbiWAN ids are 64-bit integers written as JSON numbers, beyond what a double holds exactly:
// bigints are written as bare digits so a client that parses them as doubles gets caught.

const BIGINT_MARKER = '\u0000bigint:';

export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? `${BIGINT_MARKER}${item.toString()}` : item,
  ).replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}
