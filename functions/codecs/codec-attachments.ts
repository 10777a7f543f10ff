import * as z from 'zod/mini';
import { normaliseDevEui } from '../shared/dev-eui.js';

// Which codec a device's payloads go through. An operator attaches a codec to one device (its
// DevEUI), to every device whose DevEUI starts with a prefix (a maker's OUI, a batch), or to every
// device of an OrbiWAN device profile; optionally only for some FPorts. The most specific
// attachment wins: a DevEUI before a prefix, a longer prefix before a shorter one, a prefix
// before a profile; at each level, one restricted to the payload's FPort before one for any port.

export type Selector =
  | { kind: 'deveui'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'profile'; value: string };

export interface Attachment {
  selector: Selector;
  codec: string;
  /** Only payloads on these ports; every port when absent. */
  fPorts?: number[];
}

/** A codec's name: what attachments refer to, and what the CLI and logs show. */
export const codecNameSchema = z
  .string()
  .check(
    z.regex(
      /^[a-z0-9][a-z0-9._-]{0,63}$/,
      'expected 1 to 64 lowercase letters, digits, dots, dashes or underscores, starting with a letter or digit',
    ),
  );

export const fPortSchema = z.int().check(z.minimum(1), z.maximum(223));

/** A selector as an operator writes it: `deveui:<16 hex>`, `prefix:<1..15 hex>`, `profile:<name>`. */
export function parseSelector(text: string): Selector {
  const separator = text.indexOf(':');
  const kind = text.slice(0, separator);
  const value = text.slice(separator + 1);
  if (separator > 0 && kind === 'deveui') {
    const devEui = normaliseDevEui(value);
    if (devEui !== undefined) return { kind, value: devEui };
    throw new SelectorError(`"${value}" is not a DevEUI: expected 16 hex digits`);
  }
  if (separator > 0 && kind === 'prefix') {
    const prefix = value.replaceAll('-', '').toLowerCase();
    if (/^[0-9a-f]{1,15}$/.test(prefix)) return { kind, value: prefix };
    throw new SelectorError(`"${value}" is not a DevEUI prefix: expected 1 to 15 hex digits`);
  }
  if (separator > 0 && kind === 'profile') {
    if (value.length >= 1 && value.length <= 128 && !/\p{Cc}/u.test(value)) return { kind, value };
    throw new SelectorError('a profile name is 1 to 128 characters, without control characters');
  }
  throw new SelectorError(
    `"${text}" is not a selector: expected deveui:<DevEUI>, prefix:<hex digits> or profile:<device profile name>`,
  );
}

export class SelectorError extends Error {
  override name = 'SelectorError';
}

export function selectorText({ kind, value }: Selector): string {
  return `${kind}:${value}`;
}

/** The key an attachment is stored under: one per selector and set of ports. */
export function attachmentKey({ selector, fPorts }: Attachment): string {
  const ports = fPorts === undefined ? '*' : [...fPorts].sort((a, b) => a - b).join(',');
  return `${selectorText(selector)}|${ports}`;
}

export interface DeviceFacts {
  devEui: string;
  /** The device's OrbiWAN device profile name; asked for only when a profile attachment exists. */
  profile: () => Promise<string | undefined>;
}

/** The attachment that applies to a device's payload on `fPort` (any port when undefined). */
export async function attachmentFor(
  attachments: readonly Attachment[],
  device: DeviceFacts,
  fPort: number | undefined,
): Promise<Attachment | undefined> {
  const forPort = (attachment: Attachment) =>
    attachment.fPorts === undefined || fPort === undefined || attachment.fPorts.includes(fPort);
  const candidates = attachments.filter(forPort);
  const best = (matching: Attachment[]) =>
    matching.find((attachment) => attachment.fPorts !== undefined) ?? matching[0];
  const exact = best(
    candidates.filter(
      ({ selector }) => selector.kind === 'deveui' && selector.value === device.devEui,
    ),
  );
  if (exact !== undefined) return exact;
  const prefixes = candidates
    .filter(
      ({ selector }) => selector.kind === 'prefix' && device.devEui.startsWith(selector.value),
    )
    .sort((a, b) => b.selector.value.length - a.selector.value.length);
  const longest = prefixes[0]?.selector.value.length;
  const prefix = best(prefixes.filter(({ selector }) => selector.value.length === longest));
  if (prefix !== undefined) return prefix;
  const byProfile = candidates.filter(({ selector }) => selector.kind === 'profile');
  if (byProfile.length === 0) return undefined;
  const profile = await device.profile();
  if (profile === undefined) return undefined;
  return best(byProfile.filter(({ selector }) => selector.value === profile));
}
