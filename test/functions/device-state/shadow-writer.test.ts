import {
  ConflictException,
  GetThingShadowCommand,
  InternalFailureException,
  type GetThingShadowCommandOutput,
  IoTDataPlaneClient,
  ResourceNotFoundException,
  ThrottlingException,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { mockClient } from 'aws-sdk-client-mock';
import * as fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  SHADOW_SECTIONS,
  type SectionName,
  type SectionValue,
  type ShadowSection,
} from '../../../functions/device-state/shadow-sections.js';
import {
  SHADOW_ORIGIN,
  iotShadowStore,
  writeSections,
  type ShadowDocument,
  type ShadowStore,
  type ShadowWrite,
} from '../../../functions/device-state/shadow-writer.js';
import { DependencyError } from '../../../functions/shared/errors.js';
import { fuzzSettings } from '../../helpers/fuzz-settings.js';
import { canonicalJson, isJsonObject, mergeReported, viaJson } from './shadow-merge.js';

// The ordered shadow writes: several invocations write one device's shadow at once, each reading
// it, keeping what is newer and updating with the version it read. The model-based test lets
// fast-check's scheduler decide when each read and update reaches the fake shadow service and when
// its answer comes back, from no shadow at all, and checks the shadow against a model of what must
// win. Deterministic tests pin the single paths, and iotShadowStore is checked on a mocked client.

const { parameters: FUZZ, testTimeoutMs: FUZZ_TIMEOUT_MS } = fuzzSettings('shadow-writer', 300);

const THING = '70b3d5e75e000123';
const SHADOW_NAME = 'orbiwan';

// ---------------------------------------------------------------------------------------------
// A shadow service in memory, as AWS IoT Core runs it: updates merge (shadow-merge.ts), the version
// starts at 1 and goes up by one per accepted update, and an update with another version than the
// shadow's (or with one, for a shadow that does not exist) is refused as a conflict.

interface AcceptedUpdate {
  writer: number;
  /** The version the update was made against; undefined for an unversioned one. */
  against: number | undefined;
  patch: Record<string, unknown>;
  /** The shadow after it. */
  after: ShadowDocument;
}

interface StoreCall {
  writer: number;
  thingName: string;
  operation: 'read' | 'update';
  version?: number | undefined;
  accepted?: boolean;
}

/** When a request reaches the service and when its answer reaches the writer; immediate without. */
type Pause = (label: string) => Promise<void>;

class ShadowService {
  shadow: ShadowDocument | undefined;
  readonly accepted: AcceptedUpdate[] = [];
  readonly calls: StoreCall[] = [];

  constructor(private readonly pause: Pause = () => Promise.resolve()) {}

  /** The store one writer uses: its calls are told apart in `calls` and `accepted`. */
  storeFor(writer: number): ShadowStore {
    return {
      read: async (thingName) => {
        await this.pause(`writer ${writer}: read reaches the service`);
        this.calls.push({ writer, thingName, operation: 'read' });
        // What AWS answers is JSON: nothing the writer does with it can reach the stored shadow.
        const answer = this.shadow === undefined ? undefined : viaJson(this.shadow);
        await this.pause(`writer ${writer}: read answered`);
        return answer;
      },
      update: async (thingName, reported, version) => {
        const patch = viaJson(reported);
        await this.pause(`writer ${writer}: update against ${String(version)} reaches the service`);
        const accepted = version === undefined || this.shadow?.version === version;
        this.calls.push({ writer, thingName, operation: 'update', version, accepted });
        if (accepted) {
          this.shadow = {
            version: (this.shadow?.version ?? 0) + 1,
            reported: mergeReported(this.shadow?.reported ?? {}, patch),
          };
          this.accepted.push({ writer, against: version, patch, after: viaJson(this.shadow) });
        }
        await this.pause(`writer ${writer}: update answered`);
        return accepted;
      },
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The model: what each section must be, from the sections written.

type Key = readonly [ms: number, fcnt: number];

/** What orders a section: its time, then its frame counter (none counts below 0). */
function keyOf(value: unknown): Key {
  if (!isJsonObject(value) || typeof value.time !== 'string') return [-Infinity, -Infinity];
  return [Date.parse(value.time), typeof value.fcnt === 'number' ? value.fcnt : -1];
}

function compareKeys(a: Key, b: Key): number {
  return a[0] !== b[0] ? Math.sign(a[0] - b[0]) : Math.sign(a[1] - b[1]);
}

// Times from a small set so that ties happen, one of them spelt two ways.
const TIMES = [
  '2026-03-01T10:00:00.000Z',
  '2026-03-01T10:00:01.000Z',
  '2026-03-01T11:00:01+01:00',
  '2026-03-01T10:00:02.000Z',
];

interface Planned {
  name: SectionName;
  time: string;
  fcnt: number | undefined;
  /** Keys that come and go between values, some nested: an old one must never outlive its value. */
  payload: Record<string, unknown>;
}

const sectionName = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom<SectionName>('uplink', 'battery') },
  { weight: 1, arbitrary: fc.constantFrom(...SHADOW_SECTIONS) },
);
const planned: fc.Arbitrary<Planned> = fc.record({
  name: sectionName,
  time: fc.constantFrom(...TIMES),
  fcnt: fc.option(fc.nat({ max: 3 }), { nil: undefined }),
  payload: fc.dictionary(
    fc.constantFrom('a', 'b', 'c', 'toString'),
    fc.oneof(
      fc.integer({ min: 0, max: 9 }),
      fc.dictionary(fc.constantFrom('x', 'y', 'z'), fc.integer({ min: 0, max: 9 }), {
        maxKeys: 3,
      }),
      fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 2 }),
    ),
    { maxKeys: 3 },
  ),
});
/** 2 to 6 writers, each writing 1 to 3 sections (the same name twice, sometimes). */
const scenario = fc.array(fc.array(planned, { minLength: 1, maxLength: 3 }), {
  minLength: 2,
  maxLength: 6,
});

interface Written {
  writer: number;
  /** Unique to the section: which written value the shadow holds. */
  tag: string;
  name: SectionName;
  value: SectionValue;
}

function sectionsOf(plans: Planned[][]): Written[][] {
  return plans.map((sections, writer) =>
    sections.map(({ name, time, fcnt, payload }, index) => {
      const tag = `w${writer}s${index}`;
      const value = viaJson({
        ...payload,
        time,
        ...(fcnt === undefined ? {} : { fcnt }),
        tag,
      }) as SectionValue;
      return { writer, tag, name, value };
    }),
  );
}

/** The written section the shadow's value for `name` is, by its tag; throws when it is none. */
function writtenAs(all: Written[], name: string, value: unknown): Written {
  const tag = isJsonObject(value) ? value.tag : undefined;
  const written = all.find((section) => section.name === name && section.tag === tag);
  if (written === undefined)
    throw new Error(`the shadow's ${name} is no section written: ${JSON.stringify(value)}`);
  return written;
}

const SECTION_KEYS = new Set<string>([...SHADOW_SECTIONS, ...Object.keys(SHADOW_ORIGIN)]);

interface Played {
  service: ShadowService;
  written: Written[][];
  results: PromiseSettledResult<ShadowWrite>[];
}

async function play(plans: Planned[][], scheduler: fc.Scheduler): Promise<Played> {
  const service = new ShadowService((label) => scheduler.schedule(Promise.resolve(), label));
  const written = sectionsOf(plans);
  const writes = written.map((sections, writer) =>
    writeSections(
      service.storeFor(writer),
      THING,
      sections.map(({ name, value }): ShadowSection => ({ name, value })),
    ),
  );
  const results = await scheduler.waitFor(Promise.allSettled(writes));
  expect(scheduler.count()).toBe(0);
  return { service, written, results };
}

/** Every check of the model on one played scenario. */
function checkPlayed({ service, written, results }: Played): void {
  const all = written.flat();
  const { accepted, calls } = service;
  expect(new Set(calls.map(({ thingName }) => thingName))).toEqual(new Set([THING]));

  // Versions go up by one from 1, the first accepted update creating the shadow.
  expect(accepted.map(({ after }) => after.version)).toEqual(accepted.map((_, index) => index + 1));
  expect(accepted[0]?.against).toBeUndefined();

  // Creation: unversioned updates carry the constant origin only, one per writer at most.
  const creations = accepted.filter(({ against }) => against === undefined);
  for (const { patch } of creations) expect(patch).toEqual(SHADOW_ORIGIN);
  const creators = creations.map(({ writer }) => writer);
  expect(new Set(creators).size).toBe(creators.length);

  // At every moment: the document holds the origin and sections only, each section exactly a
  // value that was written for it (no key of an older value left over), and no section older
  // than it was before, nor a written one not newer than what it replaced.
  let previous: Record<string, unknown> = {};
  for (const { against, patch, after } of accepted) {
    const { reported } = after;
    expect(reported).toMatchObject(SHADOW_ORIGIN);
    for (const key of Object.keys(reported)) expect(SECTION_KEYS).toContain(key);
    for (const name of SHADOW_SECTIONS) {
      if (!(name in previous) && !(name in reported)) continue;
      expect(reported, `${name} was removed`).toHaveProperty(name);
      const now = writtenAs(all, name, reported[name]);
      expect(canonicalJson(reported[name])).toBe(canonicalJson(now.value));
      if (against !== undefined && name in patch) {
        const order = name in previous ? compareKeys(keyOf(now.value), keyOf(previous[name])) : 1;
        expect(order, `${name} written over a newer or equal one`).toBe(1);
      } else {
        expect(canonicalJson(reported[name]), `${name} changed unwritten`).toBe(
          canonicalJson(previous[name]),
        );
      }
    }
    previous = reported;
  }

  const final = service.shadow?.reported ?? {};
  const contended = results.flatMap((result, writer) =>
    result.status === 'rejected' ? [{ writer, reason: result.reason as unknown }] : [],
  );
  for (const { writer, reason } of contended) {
    // Only the bounded retries give up, and only when others' updates landed in between every
    // attempt: with 4 writers or fewer there are too few of those (each lands 2 at most).
    expect(reason).toBeInstanceOf(DependencyError);
    expect(reason).toMatchObject({ code: 'SHADOW_CONTENDED', throttled: true });
    expect(written.length).toBeGreaterThanOrEqual(5);
    expect(
      accepted.filter((update) => update.writer === writer && update.against !== undefined),
    ).toHaveLength(0);
  }

  // In the end, each section holds the newest written by a writer that did not give up; ties go
  // to any of the equal ones.
  const landed = all.filter(({ writer }) => results[writer]?.status === 'fulfilled');
  for (const name of SHADOW_SECTIONS) {
    const candidates = landed.filter((section) => section.name === name);
    if (candidates.length === 0) {
      expect(final).not.toHaveProperty(name);
      continue;
    }
    const newest = candidates
      .map(({ value }) => keyOf(value))
      .reduce((a, b) => (compareKeys(a, b) >= 0 ? a : b));
    expect(final, `${name} is missing`).toHaveProperty(name);
    expect(keyOf(final[name])).toEqual(newest);
  }

  // Each writer's outcome says what it did.
  results.forEach((result, writer) => {
    const mine = accepted.filter(
      (update) => update.writer === writer && update.against !== undefined,
    );
    if (result.status === 'rejected') return;
    const outcome = result.value;
    const sections = written[writer] ?? [];
    if (outcome.outcome === 'stale') {
      expect(mine).toHaveLength(0);
      for (const { name, value } of sections)
        expect(compareKeys(keyOf(final[name]), keyOf(value))).toBeGreaterThanOrEqual(0);
      return;
    }
    expect(mine).toHaveLength(1);
    const [update] = mine;
    if (update === undefined) return;
    expect(outcome.version).toBe(update.after.version);
    expect([...outcome.sections].sort()).toEqual(Object.keys(update.patch).sort());
    const before =
      accepted.find(({ after }) => after.version === update.after.version - 1)?.after.reported ??
      {};
    for (const name of new Set(sections.map((section) => section.name))) {
      const newestOfMine = sections
        .filter((section) => section.name === name)
        .reduce((a, b) => (compareKeys(keyOf(a.value), keyOf(b.value)) >= 0 ? a : b));
      if (outcome.sections.includes(name)) {
        // It wrote its newest for the name, which was newer than what the shadow held.
        expect(writtenAs(all, name, update.after.reported[name]).writer).toBe(writer);
        expect(keyOf(update.after.reported[name])).toEqual(keyOf(newestOfMine.value));
        expect(compareKeys(keyOf(newestOfMine.value), keyOf(before[name]))).toBe(1);
      } else {
        // It left out a name the shadow already held as new or newer.
        expect(compareKeys(keyOf(before[name]), keyOf(newestOfMine.value))).toBeGreaterThanOrEqual(
          0,
        );
      }
    }
  });
}

describe('writeSections, several writers at once', () => {
  it(
    'keeps the newest of every section, never moving one backwards, whatever the interleaving',
    async () => {
      await fc.assert(
        fc.asyncProperty(scenario, fc.scheduler(), async (plans, scheduler) => {
          checkPlayed(await play(plans, scheduler));
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'with 3 or 4 writers, never runs out of attempts: every writer ends updated or stale',
    async () => {
      // Each other writer lands 2 updates at most (its creation and its write) between a writer's
      // read and update: 3 others make 6 conflicts, fewer than the 7 it takes after a creation.
      const racing = fc.array(fc.array(planned, { minLength: 1, maxLength: 2 }), {
        minLength: 3,
        maxLength: 4,
      });
      await fc.assert(
        fc.asyncProperty(racing, fc.scheduler(), async (plans, scheduler) => {
          const played = await play(plans, scheduler);
          checkPlayed(played);
          expect(played.results.every(({ status }) => status === 'fulfilled')).toBe(true);
        }),
        FUZZ,
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

const T1 = '2026-03-01T10:00:00.000Z';
const T2 = '2026-03-01T10:00:05.000Z';

/** Holds every request and answer until the test lets it through, one at a time. */
class Gate {
  private readonly waiting: { label: string; open: () => void }[] = [];

  readonly pause: Pause = (label) =>
    new Promise((resolve) => {
      this.waiting.push({ label, open: resolve });
    });

  /** Lets the step that waits under `prefix` through, and what follows it run up to its next. */
  async open(prefix: string): Promise<void> {
    await settled();
    const index = this.waiting.findIndex(({ label }) => label.startsWith(prefix));
    const [step] = this.waiting.splice(index, index < 0 ? 0 : 1);
    if (step === undefined)
      throw new Error(
        `nothing waits for ${prefix}: ${this.waiting.map(({ label }) => label).join('; ')}`,
      );
    step.open();
    await settled();
  }

  /** One call of one writer, from request to answer. */
  async call(writer: number, operation: 'read' | 'update'): Promise<void> {
    await this.open(`writer ${writer}: ${operation}`);
    await this.open(`writer ${writer}: ${operation}`);
  }

  async drain(): Promise<void> {
    await settled();
    while (this.waiting.length > 0) await this.open('');
  }
}

/** Every promise callback that can run has run. */
const settled = () =>
  new Promise<void>((resolve) => {
    setImmediate(resolve);
  });

describe('writeSections, an adversarial interleaving', () => {
  it('with 5 or more first writers, can exhaust one writer’s attempts: it fails retryable, the shadow stays right', async () => {
    const gate = new Gate();
    const service = new ShadowService(gate.pause);
    // Writer 0's uplink is the newest: no other write makes it stale, so it keeps trying.
    const plans: Planned[][] = Array.from({ length: 6 }, (_, writer) => [
      { name: 'uplink', time: writer === 0 ? T2 : T1, fcnt: writer, payload: { a: writer } },
    ]);
    const written = sectionsOf(plans);
    const writes = written.map((sections, writer) =>
      writeSections(service.storeFor(writer), THING, sections),
    );
    const results = Promise.allSettled(writes);

    // All six find no shadow; writer 0 creates it and reads it.
    for (const writer of [0, 1, 2, 3, 4, 5]) await gate.call(writer, 'read');
    await gate.call(0, 'update');
    await gate.call(0, 'read');
    // Before each of its updates lands, another writer's update does: five creations ...
    for (const other of [1, 2, 3, 4, 5]) {
      await gate.call(other, 'update');
      await gate.call(0, 'update');
      await gate.call(0, 'read');
    }
    // ... and two writes: its 8th attempt is its 7th conflict.
    for (const other of [1, 2]) {
      await gate.call(other, 'read');
      await gate.call(other, 'update');
      await gate.call(0, 'update');
      if (other === 1) await gate.call(0, 'read');
    }
    await gate.drain();

    const played = { service, written, results: await results };
    expect(played.results[0]).toMatchObject({
      status: 'rejected',
      reason: { code: 'SHADOW_CONTENDED', throttled: true },
    });
    expect(played.results.slice(1).map(({ status }) => status)).toEqual(Array(5).fill('fulfilled'));
    expect(
      service.calls.filter((call) => call.writer === 0 && call.accepted === false),
    ).toHaveLength(7);
    checkPlayed(played);
  });
});

// ---------------------------------------------------------------------------------------------

describe('writeSections, one path at a time', () => {
  it('writes nothing for a section no newer than what the shadow holds', async () => {
    const service = new ShadowService();
    service.shadow = { version: 4, reported: { uplink: { time: T2, fcnt: 9 } } };

    const outcome = await writeSections(service.storeFor(0), THING, [
      { name: 'uplink', value: { time: T1, fcnt: 10 } },
    ]);

    expect(outcome).toEqual({ outcome: 'stale' });
    expect(service.calls.map(({ operation }) => operation)).toEqual(['read']);
    expect(service.shadow.version).toBe(4);
  });

  it('writes a duplicate of what the shadow holds as stale', async () => {
    const service = new ShadowService();
    const value = { time: T1, fcnt: 3, port: 2 };
    service.shadow = { version: 2, reported: { uplink: value } };

    await expect(
      writeSections(service.storeFor(0), THING, [{ name: 'uplink', value }]),
    ).resolves.toEqual({ outcome: 'stale' });
    expect(service.accepted).toEqual([]);
  });

  it('creates a missing shadow with the constant origin, then writes with its version', async () => {
    const service = new ShadowService();

    const outcome = await writeSections(service.storeFor(0), THING, [
      { name: 'location', value: { time: T1, latitude: 48.1, longitude: 11.6 } },
    ]);

    expect(outcome).toEqual({ outcome: 'updated', sections: ['location'], version: 2 });
    expect(service.calls).toEqual([
      { writer: 0, thingName: THING, operation: 'read' },
      { writer: 0, thingName: THING, operation: 'update', version: undefined, accepted: true },
      { writer: 0, thingName: THING, operation: 'read' },
      { writer: 0, thingName: THING, operation: 'update', version: 1, accepted: true },
    ]);
    expect(service.accepted.map(({ patch }) => patch)).toEqual([
      SHADOW_ORIGIN,
      { location: { time: T1, latitude: 48.1, longitude: 11.6 } },
    ]);
    expect(service.shadow).toEqual({
      version: 2,
      reported: { ...SHADOW_ORIGIN, location: { time: T1, latitude: 48.1, longitude: 11.6 } },
    });
  });

  it('replaces a section, sending null for what the older value had and the new one has not', async () => {
    const service = new ShadowService();
    service.shadow = {
      version: 7,
      reported: {
        ...SHADOW_ORIGIN,
        uplink: { time: T1, fcnt: 1, data: { temperature: 20, door: 'open' } },
        battery: { time: T1, battery_status: 90 },
      },
    };

    const outcome = await writeSections(service.storeFor(0), THING, [
      { name: 'uplink', value: { time: T2, fcnt: 2, dataOmitted: 'too large' } },
    ]);

    expect(outcome).toEqual({ outcome: 'updated', sections: ['uplink'], version: 8 });
    expect(service.accepted[0]?.patch).toEqual({
      uplink: { time: T2, fcnt: 2, data: null, dataOmitted: 'too large' },
    });
    expect(service.shadow.reported).toEqual({
      ...SHADOW_ORIGIN,
      uplink: { time: T2, fcnt: 2, dataOmitted: 'too large' },
      battery: { time: T1, battery_status: 90 },
    });
  });

  it('writes only the sections that are newer, and of one name the newest given', async () => {
    const service = new ShadowService();
    service.shadow = {
      version: 1,
      reported: { ...SHADOW_ORIGIN, battery: { time: T2, battery_status: 80 } },
    };

    const outcome = await writeSections(service.storeFor(0), THING, [
      { name: 'battery', value: { time: T1, battery_status: 99 } },
      { name: 'uplink', value: { time: T2, fcnt: 5 } },
      { name: 'uplink', value: { time: T1, fcnt: 4 } },
    ]);

    expect(outcome).toEqual({ outcome: 'updated', sections: ['uplink'], version: 2 });
    expect(service.shadow.reported).toEqual({
      ...SHADOW_ORIGIN,
      battery: { time: T2, battery_status: 80 },
      uplink: { time: T2, fcnt: 5 },
    });
  });

  it('after a conflict, reads again and gives up a section the other writer made newer', async () => {
    const service = new ShadowService();
    service.shadow = { version: 3, reported: { ...SHADOW_ORIGIN } };
    const store = service.storeFor(0);
    let raced = false;
    const racingStore: ShadowStore = {
      read: (thingName) => store.read(thingName),
      update: async (thingName, reported, version) => {
        if (!raced) {
          raced = true;
          // Another writer's newer uplink lands between this writer's read and update.
          await service
            .storeFor(1)
            .update(thingName, { uplink: { time: T2, fcnt: 8 } }, service.shadow?.version);
        }
        return store.update(thingName, reported, version);
      },
    };

    const outcome = await writeSections(racingStore, THING, [
      { name: 'uplink', value: { time: T1, fcnt: 7 } },
    ]);

    expect(outcome).toEqual({ outcome: 'stale' });
    expect(service.calls.filter(({ writer }) => writer === 0)).toEqual([
      { writer: 0, thingName: THING, operation: 'read' },
      { writer: 0, thingName: THING, operation: 'update', version: 3, accepted: false },
      { writer: 0, thingName: THING, operation: 'read' },
    ]);
    expect(service.shadow.reported).toEqual({ ...SHADOW_ORIGIN, uplink: { time: T2, fcnt: 8 } });
  });

  it('gives up after 8 conflicts in a row with a retryable SHADOW_CONTENDED', async () => {
    let version = 10;
    const calls: string[] = [];
    const store: ShadowStore = {
      read: () => {
        calls.push(`read ${version}`);
        return Promise.resolve({ version, reported: {} });
      },
      update: (_thingName, _reported, against) => {
        calls.push(`update ${String(against)}`);
        version++;
        return Promise.resolve(false);
      },
    };

    const error: unknown = await writeSections(store, THING, [
      { name: 'join', value: { time: T1, join_status: 'joined' } },
    ]).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({
      code: 'SHADOW_CONTENDED',
      throttled: true,
      message: expect.stringContaining(THING),
    });
    expect(calls).toEqual(
      Array.from({ length: 8 }, (_, index) => [
        `read ${10 + index}`,
        `update ${10 + index}`,
      ]).flat(),
    );
  });

  it('succeeds on the 8th attempt after 7 conflicts', async () => {
    let conflicts = 7;
    const store: ShadowStore = {
      read: () => Promise.resolve({ version: 20 - conflicts, reported: {} }),
      update: () => Promise.resolve(conflicts-- === 0),
    };

    await expect(
      writeSections(store, THING, [{ name: 'device', value: { time: T1 } }]),
    ).resolves.toEqual({ outcome: 'updated', sections: ['device'], version: 21 });
  });

  it('lets a failing read or update through, unchanged', async () => {
    const failure = new DependencyError('SHADOW_FAILED', 'no', false);
    const failingRead: ShadowStore = {
      read: () => Promise.reject(failure),
      update: () => Promise.resolve(true),
    };
    const failingUpdate: ShadowStore = {
      read: () => Promise.resolve({ version: 1, reported: {} }),
      update: () => Promise.reject(failure),
    };
    const sections: ShadowSection[] = [{ name: 'device', value: { time: T1 } }];

    await expect(writeSections(failingRead, THING, sections)).rejects.toBe(failure);
    await expect(writeSections(failingUpdate, THING, sections)).rejects.toBe(failure);
  });
});

// ---------------------------------------------------------------------------------------------

const iot = mockClient(IoTDataPlaneClient);
const metadata = { $metadata: {} };

beforeEach(() => {
  iot.reset();
});

const store = () => iotShadowStore(new IoTDataPlaneClient({}), SHADOW_NAME);

/**
 * A GetThingShadow answer carrying `text`. The SDK types its payload as its own Uint8Array
 * subclass; the store reads it as bytes, which is all a Buffer needs to be here.
 */
const shadowText = (text: string) => ({
  payload: Buffer.from(text) as unknown as NonNullable<GetThingShadowCommandOutput['payload']>,
});
const shadowPayload = (document: unknown) => shadowText(JSON.stringify(document));

/** What each UpdateThingShadow sent: its thing, shadow and parsed payload. */
const updatesSent = () =>
  iot.commandCalls(UpdateThingShadowCommand).map(({ args: [{ input }] }) => ({
    thingName: input.thingName,
    shadowName: input.shadowName,
    payload: parsedPayload(input.payload),
  }));

function parsedPayload(payload: unknown): unknown {
  // The store always sends bytes, never a string.
  if (!(payload instanceof Uint8Array)) throw new Error('the update carried no bytes');
  return JSON.parse(Buffer.from(payload).toString('utf8'));
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('it succeeded'),
    (error: unknown) => error,
  );
}

describe('iotShadowStore', () => {
  it("reads the named shadow's version and reported state", async () => {
    const reported = { ...SHADOW_ORIGIN, uplink: { time: T1, fcnt: 3, data: { t: 21.5 } } };
    iot.on(GetThingShadowCommand, { thingName: THING, shadowName: SHADOW_NAME }).resolves(
      shadowPayload({
        state: { reported, desired: { interval: 60 }, delta: { interval: 60 } },
        metadata: { reported: { uplink: { time: { timestamp: 1 } } } },
        version: 17,
        timestamp: 1_772_359_200,
      }),
    );

    await expect(store().read(THING)).resolves.toEqual({ version: 17, reported });
  });

  it('reads a shadow without reported state as an empty one', async () => {
    iot
      .on(GetThingShadowCommand)
      .resolves(shadowPayload({ state: { desired: { a: 1 } }, version: 2 }));

    await expect(store().read(THING)).resolves.toEqual({ version: 2, reported: {} });
  });

  it('reads a shadow that does not exist as undefined', async () => {
    iot.on(GetThingShadowCommand).rejects(
      new ResourceNotFoundException({
        message: "No shadow exists with name: 'orbiwan'",
        ...metadata,
      }),
    );

    await expect(store().read(THING)).resolves.toBeUndefined();
  });

  it('reads a document without a version as no shadow', async () => {
    iot.on(GetThingShadowCommand).resolves(shadowPayload({ state: { reported: { a: 1 } } }));

    await expect(store().read(THING)).resolves.toBeUndefined();
  });

  it('sends the reported state and the version it was read at', async () => {
    iot.on(UpdateThingShadowCommand).resolves({});
    const reported = { uplink: { time: T2, fcnt: 4, data: null } };

    await expect(store().update(THING, reported, 9)).resolves.toBe(true);
    expect(updatesSent()).toEqual([
      {
        thingName: THING,
        shadowName: SHADOW_NAME,
        payload: { state: { reported }, version: 9 },
      },
    ]);
  });

  it('sends no version at all for an unversioned update', async () => {
    iot.on(UpdateThingShadowCommand).resolves({});

    await expect(store().update(THING, SHADOW_ORIGIN, undefined)).resolves.toBe(true);
    const [sent] = updatesSent();
    expect(sent?.payload).toEqual({ state: { reported: SHADOW_ORIGIN } });
    expect(sent?.payload).not.toHaveProperty('version');
  });

  it('answers false for an update refused as a version conflict', async () => {
    iot
      .on(UpdateThingShadowCommand)
      .rejects(new ConflictException({ message: 'Version conflict', ...metadata }));

    await expect(store().update(THING, { device: { time: T1 } }, 3)).resolves.toBe(false);
  });

  it.each([
    ['read', () => store().read(THING)],
    ['update', () => store().update(THING, { device: { time: T1 } }, 3)],
  ])('fails a throttled %s as a throttled SHADOW_FAILED', async (_operation, call) => {
    const throttling = new ThrottlingException({ message: 'Rate exceeded', ...metadata });
    iot.on(GetThingShadowCommand).rejects(throttling);
    iot.on(UpdateThingShadowCommand).rejects(throttling);

    const error = await failureOf(call());

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({ code: 'SHADOW_FAILED', throttled: true, cause: throttling });
  });

  it.each([
    ['read', () => store().read(THING)],
    ['update', () => store().update(THING, { device: { time: T1 } }, 3)],
  ])('fails a %s IoT Core did not do as a SHADOW_FAILED, not throttled', async (_op, call) => {
    const internal = new InternalFailureException({ message: 'Internal', ...metadata });
    iot.on(GetThingShadowCommand).rejects(internal);
    iot.on(UpdateThingShadowCommand).rejects(internal);

    const error = await failureOf(call());

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({ code: 'SHADOW_FAILED', throttled: false, cause: internal });
  });

  it('fails a shadow that is not JSON as a SHADOW_FAILED', async () => {
    iot.on(GetThingShadowCommand).resolves(shadowText('{"vers'));

    await expect(store().read(THING)).rejects.toMatchObject({
      code: 'SHADOW_FAILED',
      throttled: false,
    });
  });

  it('writes sections through the mocked client end to end, creating the shadow first', async () => {
    iot
      .on(GetThingShadowCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'none', ...metadata }))
      .resolves(shadowPayload({ state: { reported: SHADOW_ORIGIN }, version: 1 }));
    iot.on(UpdateThingShadowCommand).resolves({});

    const outcome = await writeSections(store(), THING, [
      { name: 'battery', value: { time: T1, battery_status: 200 } },
    ]);

    expect(outcome).toEqual({ outcome: 'updated', sections: ['battery'], version: 2 });
    expect(updatesSent().map(({ payload }) => payload)).toEqual([
      { state: { reported: SHADOW_ORIGIN } },
      { state: { reported: { battery: { time: T1, battery_status: 200 } } }, version: 1 },
    ]);
  });
});
