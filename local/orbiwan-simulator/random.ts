// mulberry32: tiny and seedable, so a run of the simulator can be replayed from its seed.

export interface Random {
  /** Uniform in [0, 1). */
  next: () => number;
  chance: (probability: number) => boolean;
  /** Uniform integer in [min, max]. */
  integer: (min: number, max: number) => number;
  bytes: (count: number) => Buffer;
  hex: (byteCount: number) => string;
  uuid: () => string;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const integer = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  const bytes = (count: number): Buffer =>
    Buffer.from(Array.from({ length: count }, () => integer(0, 255)));
  const hex = (byteCount: number): string => bytes(byteCount).toString('hex');
  const uuid = (): string => {
    const raw = bytes(16);
    // Version 4 and the RFC 4122 variant, so the result passes any uuid validation.
    raw[6] = ((raw[6] ?? 0) & 0x0f) | 0x40;
    raw[8] = ((raw[8] ?? 0) & 0x3f) | 0x80;
    const text = raw.toString('hex');
    return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
  };
  // Always draw, even for 0 or 1, so changing a rate does not shift every later draw.
  const chance = (probability: number): boolean => next() < probability;
  return { next, chance, integer, bytes, hex, uuid };
}

/** A seed per device, so one device's draws do not depend on when the others uplink. */
export function deviceSeed(seed: number, devEui: string): number {
  const high = Number.parseInt(devEui.slice(0, 8), 16);
  const low = Number.parseInt(devEui.slice(8), 16);
  return (Math.imul(seed ^ high, 0x9e3779b1) ^ low) >>> 0;
}
