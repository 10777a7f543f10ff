import { describe, expect, it } from 'vitest';
import {
  LEASE_MARGIN_MS,
  deviceLease,
  type DeviceLease,
} from '../../../functions/downlinks/device-lease.js';
import { DeviceLockedError } from '../../../functions/downlinks/downlink-errors.js';
import { LEASE_ITEM } from '../../../functions/downlinks/downlink-table.js';
import { DEV_EUI } from './downlink-fixtures.js';
import { useDownlinksTable } from './downlinks-table.js';

// The device's POST lease, on a real (in-memory) table: its conditions are DynamoDB's to judge.

const table = useDownlinksTable();

/** A lease client with its own clock (real time unless told). */
function leases(now: () => number = Date.now): DeviceLease {
  return deviceLease({ client: table.client, tableName: table.tableName, now, pollMs: 10 });
}

const inAMinute = () => ({ deadline: Date.now() + 60_000, waitUntil: Date.now() });
const leaseItem = () => table.item(DEV_EUI, LEASE_ITEM);

describe('deviceLease', () => {
  it('gives the device to one holder at a time: a second waits, then gets DeviceLockedError', async () => {
    await leases().acquire(DEV_EUI, 'execution-a', inAMinute());
    const started = Date.now();

    const second = leases()
      .acquire(DEV_EUI, 'execution-b', { deadline: started + 60_000, waitUntil: started + 150 })
      .catch((error: unknown) => error);

    const error = await second;
    expect(error).toBeInstanceOf(DeviceLockedError);
    expect(error).toMatchObject({
      message: `another downlink to ${DEV_EUI} is being sent to OrbiWAN; OrbiWAN takes one at a time`,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect((await leaseItem())?.owner).toEqual({ S: 'execution-a' });
  });

  it('hands the device to a waiting holder once the first gives it back', async () => {
    const { lease: first } = await leases().acquire(DEV_EUI, 'execution-a', inAMinute());
    let looked = 0;
    let lookedOnce: () => void = () => undefined;
    const foundItHeld = new Promise<void>((resolve) => (lookedOnce = resolve));
    // The waiting holder reads the clock once per try and once more when it found the device held.
    const waiting = leases(() => {
      if (++looked === 2) lookedOnce();
      return Date.now();
    }).acquire(DEV_EUI, 'execution-b', {
      deadline: Date.now() + 60_000,
      waitUntil: Date.now() + 5_000,
    });
    await foundItHeld;

    await first.release();

    await expect(waiting).resolves.toMatchObject({ previousAttempt: false });
    expect((await leaseItem())?.owner).toEqual({ S: 'execution-b' });
  });

  it('gives the device back on release, with the ids of the statuses deferred to it meanwhile', async () => {
    const { lease } = await leases().acquire(DEV_EUI, 'execution-a', inAMinute());

    await expect(leases().defer(DEV_EUI, '18014398509481985')).resolves.toBe(true);
    await expect(leases().defer(DEV_EUI, '18014398509481999')).resolves.toBe(true);
    const deferred = await lease.release();

    expect(deferred.sort()).toEqual(['18014398509481985', '18014398509481999']);
    expect(await leaseItem()).toBeUndefined();
    await expect(leases().defer(DEV_EUI, '18014398509481985')).resolves.toBe(false);
  });

  it('answers no ids on release when no status was deferred', async () => {
    const { lease } = await leases().acquire(DEV_EUI, 'execution-a', inAMinute());
    await expect(lease.release()).resolves.toEqual([]);
  });

  it('defers nothing, and writes nothing, when nobody holds the device', async () => {
    await expect(leases().defer(DEV_EUI, '18014398509481985')).resolves.toBe(false);
    expect(await leaseItem()).toBeUndefined();
  });

  it('hands the statuses left with a holder that died to the one that takes its lapsed lease', async () => {
    let time = 2_000_000;
    const clock = () => time;
    await leases(clock).acquire(DEV_EUI, 'execution-died', { deadline: time, waitUntil: time });
    await expect(leases(clock).defer(DEV_EUI, '18014398509481999')).resolves.toBe(true);

    time += LEASE_MARGIN_MS + 1;
    const { lease } = await leases(clock).acquire(DEV_EUI, 'execution-next', {
      deadline: time + 10_000,
      waitUntil: time,
    });
    await expect(leases(clock).defer(DEV_EUI, '18014398509482000')).resolves.toBe(true);

    await expect(lease.release()).resolves.toEqual(['18014398509481999', '18014398509482000']);
  });

  it('holds a lease until its deadline plus LEASE_MARGIN_MS, then lets another take it', async () => {
    let time = 1_000_000;
    const clock = () => time;
    await leases(clock).acquire(DEV_EUI, 'execution-a', { deadline: 1_010_000, waitUntil: time });
    const leaseUntil = 1_010_000 + LEASE_MARGIN_MS;
    expect((await leaseItem())?.leaseUntil).toEqual({ N: String(leaseUntil) });

    time = leaseUntil;
    await expect(
      leases(clock).acquire(DEV_EUI, 'execution-b', { deadline: time + 10_000, waitUntil: time }),
    ).rejects.toBeInstanceOf(DeviceLockedError);
    // Held until leaseUntil inclusive, for defer as for acquire.
    await expect(leases(clock).defer(DEV_EUI, '18014398509481985')).resolves.toBe(true);

    time = leaseUntil + 1;
    await expect(leases(clock).defer(DEV_EUI, '18014398509481986')).resolves.toBe(false);
    await expect(
      leases(clock).acquire(DEV_EUI, 'execution-b', { deadline: time + 10_000, waitUntil: time }),
    ).resolves.toMatchObject({ previousAttempt: false });
    expect((await leaseItem())?.owner).toEqual({ S: 'execution-b' });
  });

  it('leaves a lease that lapsed and was taken to its new holder when the old one releases', async () => {
    let time = 1_000_000;
    const clock = () => time;
    const { lease: lapsed } = await leases(clock).acquire(DEV_EUI, 'execution-a', {
      deadline: 1_001_000,
      waitUntil: time,
    });
    time = 1_001_000 + LEASE_MARGIN_MS + 1;
    const { lease: taken } = await leases(clock).acquire(DEV_EUI, 'execution-b', {
      deadline: time + 60_000,
      waitUntil: time,
    });
    await leases(clock).defer(DEV_EUI, '18014398509481985');

    await expect(lapsed.release()).resolves.toEqual([]);

    expect((await leaseItem())?.owner).toEqual({ S: 'execution-b' });
    await expect(taken.release()).resolves.toEqual(['18014398509481985']);
  });

  it('says previousAttempt when the same execution takes the device it still holds', async () => {
    await expect(leases().acquire(DEV_EUI, 'execution-a', inAMinute())).resolves.toMatchObject({
      previousAttempt: false,
    });

    await expect(leases().acquire(DEV_EUI, 'execution-a', inAMinute())).resolves.toMatchObject({
      previousAttempt: true,
    });
  });

  it('says previousAttempt when the same execution takes its own lapsed lease', async () => {
    let time = 1_000_000;
    const clock = () => time;
    await leases(clock).acquire(DEV_EUI, 'execution-a', { deadline: 1_001_000, waitUntil: time });
    time = 1_001_000 + LEASE_MARGIN_MS + 1;

    await expect(
      leases(clock).acquire(DEV_EUI, 'execution-a', { deadline: time + 60_000, waitUntil: time }),
    ).resolves.toMatchObject({ previousAttempt: true });
    expect((await leaseItem())?.leaseUntil).toEqual({
      N: String(time + 60_000 + LEASE_MARGIN_MS),
    });
  });

  it('keeps the leases of different devices apart', async () => {
    await leases().acquire(DEV_EUI, 'execution-a', inAMinute());

    await expect(
      leases().acquire('0011223344556677', 'execution-b', inAMinute()),
    ).resolves.toMatchObject({ previousAttempt: false });
  });
});
