import {
  GetThingShadowCommand,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from '@aws-sdk/client-iot-data-plane';
import { DependencyError } from '../shared/errors.js';
import {
  isNewer,
  isRecord,
  replacementPatch,
  type SectionName,
  type SectionValue,
  type ShadowSection,
} from './shadow-sections.js';

// Writes sections into a device's shadow without ever moving one backwards. An IoT rule cannot do
// this: it can write a shadow but not compare with what the shadow holds first. So: read the
// shadow, keep the sections that are newer than what it holds, and update with the version read;
// if another writer got there first, the update is refused (409) and the loop reads again.

export interface ShadowDocument {
  version: number;
  reported: Record<string, unknown>;
}

export interface ShadowStore {
  read(thingName: string): Promise<ShadowDocument | undefined>;
  /** Resolves false when `version` is no longer the shadow's (another update came first). */
  update(
    thingName: string,
    reported: Record<string, unknown>,
    version: number | undefined,
  ): Promise<boolean>;
}

export type ShadowWrite =
  { outcome: 'updated'; sections: SectionName[]; version: number } | { outcome: 'stale' };

/** What a new shadow starts with: the same for every writer, so creating it twice is harmless. */
export const SHADOW_ORIGIN = { connector: 'orbiwan-iot-connector' };

// Each conflict means another writer's update landed: with a handful of notifications per device
// in flight at most, this many attempts end the contention; more means something is wrong.
const MAX_ATTEMPTS = 8;

export async function writeSections(
  store: ShadowStore,
  thingName: string,
  sections: readonly ShadowSection[],
): Promise<ShadowWrite> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const shadow = await store.read(thingName);
    if (shadow === undefined) {
      // Created without a version, which a concurrent creator's update could overwrite: so with
      // a constant document only, after which every writer goes through the versioned path.
      await store.update(thingName, SHADOW_ORIGIN, undefined);
      continue;
    }
    // Of two sections with one name, the newer: the later in the list must not win just for that.
    const newest = new Map<SectionName, SectionValue>();
    for (const { name, value } of sections) {
      if (isNewer(value, newest.get(name) ?? shadow.reported[name])) newest.set(name, value);
    }
    const patch: Record<string, unknown> = {};
    for (const [name, value] of newest)
      patch[name] = replacementPatch(shadow.reported[name], value);
    const names = Object.keys(patch) as SectionName[];
    if (names.length === 0) return { outcome: 'stale' };
    if (await store.update(thingName, patch, shadow.version))
      return { outcome: 'updated', sections: names, version: shadow.version + 1 };
  }
  throw new DependencyError(
    'SHADOW_CONTENDED',
    `the shadow of ${thingName} changed under ${MAX_ATTEMPTS} attempts in a row`,
    true,
  );
}

/** The named shadow of the thing named after each device, through the IoT Data Plane API. */
export function iotShadowStore(client: IoTDataPlaneClient, shadowName: string): ShadowStore {
  return {
    read: (thingName) =>
      shadowCall(async () => {
        try {
          const { payload } = await client.send(
            new GetThingShadowCommand({ thingName, shadowName }),
          );
          const document: unknown = JSON.parse(
            Buffer.from(payload ?? new Uint8Array()).toString('utf8'),
          );
          if (!isRecord(document) || typeof document.version !== 'number') return undefined;
          const state = isRecord(document.state) ? document.state : {};
          return {
            version: document.version,
            reported: isRecord(state.reported) ? state.reported : {},
          };
        } catch (error) {
          if (error instanceof Error && error.name === 'ResourceNotFoundException')
            return undefined;
          throw error;
        }
      }),
    update: (thingName, reported, version) =>
      shadowCall(async () => {
        try {
          const payload = JSON.stringify({
            state: { reported },
            ...(version === undefined ? {} : { version }),
          });
          await client.send(
            new UpdateThingShadowCommand({ thingName, shadowName, payload: Buffer.from(payload) }),
          );
          return true;
        } catch (error) {
          if (error instanceof Error && error.name === 'ConflictException') return false;
          throw error;
        }
      }),
  };
}

async function shadowCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const throttled = error instanceof Error && error.name === 'ThrottlingException';
    throw new DependencyError(
      'SHADOW_FAILED',
      'AWS IoT Core did not read or update the shadow',
      throttled,
      {
        cause: error,
      },
    );
  }
}
