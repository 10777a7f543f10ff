// OrbiWAN accepts a DevEUI as AABBCCDD00112233, 0xAABBCCDD00112233 or AA-BB-CC-DD-00-11-22-33,
// in any case. Topics always carry the one canonical form, so every other form is rejected here
// and nothing else (wildcards, slashes, NUL) can reach a topic name.
const PLAIN_OR_PREFIXED = /^(?:0x)?([0-9a-f]{16})$/i;
const DASHED = /^[0-9a-f]{2}(?:-[0-9a-f]{2}){7}$/i;

/** The DevEUI as 16 lowercase hex digits, or undefined when the value is not a DevEUI. */
export function normaliseDevEui(value: string): string | undefined {
  const plain = PLAIN_OR_PREFIXED.exec(value);
  if (plain?.[1] !== undefined) return plain[1].toLowerCase();
  if (DASHED.test(value)) return value.replaceAll('-', '').toLowerCase();
  return undefined;
}

export const DEV_EUI_FORMS = '16 hex digits, optionally 0x-prefixed or dash-separated in pairs';
