// The device's shadow holds its last known state in `reported`, one section per kind of fact:
// uplink, location, battery, join, device, downlink. Notifications arrive out of order (OrbiWAN
// retries a push, two Lambda invocations race), so every section carries the time it is about,
// and a section is written only over an older one: state never moves backwards.

export const SHADOW_SECTIONS = [
  'uplink',
  'location',
  'battery',
  'join',
  'device',
  'downlink',
] as const;

export type SectionName = (typeof SHADOW_SECTIONS)[number];

/** A section's value: JSON, with `time` (ISO 8601, what orders it) and, for uplinks, `fcnt`. */
export type SectionValue = Record<string, unknown> & { time: string };

export interface ShadowSection {
  name: SectionName;
  value: SectionValue;
}

/**
 * Whether `next` is newer than what the shadow holds: a later time; at the same time (OrbiWAN's
 * times have a resolution), a higher frame counter. A duplicate is not newer: writing it twice
 * changes nothing. A section the shadow holds in a shape the connector did not write is replaced.
 */
export function isNewer(next: SectionValue, current: unknown): boolean {
  if (!isRecord(current)) return true;
  const currentTime = typeof current.time === 'string' ? Date.parse(current.time) : NaN;
  if (Number.isNaN(currentTime)) return true;
  const nextTime = Date.parse(next.time);
  if (nextTime !== currentTime) return nextTime > currentTime;
  return counter(next.fcnt) > counter(current.fcnt);
}

function counter(value: unknown): number {
  return typeof value === 'number' ? value : -1;
}

/**
 * The update that turns `current` into `next` under the shadow's merge rules: an update merges
 * objects key by key, so every key `next` no longer has must be sent as null, at every depth, or
 * an old decoded field would outlive the uplink that carried it.
 */
export function replacementPatch(current: unknown, next: unknown): unknown {
  if (!isRecord(current) || !isRecord(next)) return next;
  // Own keys only, and built with fromEntries: a key named like a prototype member (toString,
  // __proto__), which a codec's data may have, is an ordinary member here.
  return Object.fromEntries([
    ...Object.keys(current)
      .filter((key) => !Object.hasOwn(next, key))
      .map((key) => [key, null]),
    ...Object.entries(next).map(([key, value]) => [
      key,
      replacementPatch(Object.hasOwn(current, key) ? current[key] : undefined, value),
    ]),
  ]);
}

/** The time a notification is about, as ISO 8601: its own field when it has one, else `fallbackMs`. */
export function eventTime(value: unknown, fallbackMs: number): string {
  const date = new Date(epochMs(value) ?? fallbackMs);
  // A time beyond what a Date holds is no time at all.
  return Number.isNaN(date.getTime()) ? new Date(fallbackMs).toISOString() : date.toISOString();
}

// OrbiWAN sends times as ISO strings, or as epoch seconds or milliseconds depending on the field.
function epochMs(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value > 0)
    return value < 1e11 ? value * 1000 : value;
  if (typeof value === 'string' && value !== '') {
    if (/^\d+(?:\.\d+)?$/.test(value)) return epochMs(Number(value));
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
