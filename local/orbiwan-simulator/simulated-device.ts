import {
  downlinkStatusBody,
  earlyUplinkBody,
  joininfoBody,
  locationBody,
  nodeinfoBody,
  statusBody,
  uplinkBody,
  type DeviceReport,
  type UplinkFrame,
} from './notifications.js';
import type { PushBody } from './push-client.js';
import type { PushTopic } from './push-topics.js';
import type { Random } from './random.js';

// One device as the network sees it: its counters, its downlink queue, and the lifecycle a real
// network gives each downlink (class A: at the next uplinks; class C: on its own, after a delay).

export const TransmissionStatus = {
  pending: 0,
  sent: 1,
  acknowledged: 2,
  notAcknowledged: 3,
  error: 4,
  cancelled: 5,
} as const;

export const ENQUEUE_MODES = ['enqueue_on_busy', 'fail_on_busy', 'replace_on_busy'] as const;
export type EnqueueMode = (typeof ENQUEUE_MODES)[number];
export const MAX_QUEUED_DOWNLINKS = 10;
const REPORT_EVERY_UPLINKS = 5;

/**
 * Every simulated device is an OrbiWAN sample sensor (codecs/orbiwan-sample-sensor.js): on FPort 1,
 * 0x01, temperature in 0.01 degC (int16), humidity in % (uint8), battery in mV (uint16), big-endian.
 */
const SAMPLE_SENSOR_PORT = 1;

function sampleSensorMeasurement(random: Random): Buffer {
  const frame = Buffer.alloc(6);
  frame.writeUInt8(0x01, 0);
  frame.writeInt16BE(random.integer(-500, 3500), 1);
  frame.writeUInt8(random.integer(20, 90), 3);
  frame.writeUInt16BE(random.integer(2900, 3600), 4);
  return frame;
}
const EU868_CHANNELS_HZ = [868_100_000, 868_300_000, 868_500_000];

export class DeviceBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceBusyError';
  }
}

export interface DownlinkRequest {
  port: number;
  confirmed: boolean;
  mode: EnqueueMode;
  fcnt: number | undefined;
  payload: Buffer;
}

export interface DownlinkRecord {
  readonly id: bigint;
  readonly fcnt: number;
  readonly port: number;
  readonly payload: Buffer;
  readonly confirmed: boolean;
  status: number;
  readonly history: { transmissionStatus: number; at: Date }[];
}

export interface DeviceDeps {
  random: Random;
  nextId: () => bigint;
  push: (topic: PushTopic, body: PushBody) => Promise<void>;
  schedule: (delayMs: number, action: () => void) => void;
  outcomes: { nackRate: number; errorRate: number; cancelRate: number };
  classCDelayMs: number;
}

export class SimulatedDevice {
  readonly sessionId: string;
  private readonly appEui: string;
  private readonly devAddr: number;
  private readonly gatewayId: string;
  private readonly home: { latitude: number; longitude: number };
  private uplinkFcnt = 0;
  private downlinkFcnt = 0;
  private lastReception = new Date();
  private readonly records: DownlinkRecord[] = [];
  /** Class A: the confirmed downlink whose ACK the next uplink carries (or not). */
  private awaitingAck: DownlinkRecord | undefined;

  constructor(
    readonly devEui: string,
    readonly deviceClass: 'A' | 'C',
    private readonly deps: DeviceDeps,
  ) {
    const { random } = deps;
    this.sessionId = random.uuid();
    this.appEui = random.hex(8);
    this.devAddr = random.integer(0, 0x01ffffff);
    this.gatewayId = random.hex(8);
    // Around Geneva, where OrbiWise is.
    this.home = { latitude: 46.2 + random.next() / 10, longitude: 6.1 + random.next() / 10 };
  }

  get downlinks(): readonly DownlinkRecord[] {
    return this.records;
  }

  join(): Promise<void> {
    return this.deps.push('joininfo', joininfoBody(this.devEui, this.appEui, this.sessionId));
  }

  /** Throws DeviceBusyError when the mode forbids queueing it now. */
  enqueue(request: DownlinkRequest): DownlinkRecord {
    const queued = this.records.filter((record) => record.status === TransmissionStatus.pending);
    if (request.mode === 'fail_on_busy' && queued.length > 0)
      throw new DeviceBusyError(`${queued.length} downlink(s) already queued (fail_on_busy)`);
    if (request.mode === 'enqueue_on_busy' && queued.length >= MAX_QUEUED_DOWNLINKS)
      throw new DeviceBusyError(`queue full: ${MAX_QUEUED_DOWNLINKS} downlinks already queued`);
    if (request.mode === 'replace_on_busy')
      for (const record of queued) void this.setStatus(record, TransmissionStatus.cancelled);

    const fcnt = request.fcnt ?? this.downlinkFcnt;
    this.downlinkFcnt = Math.max(this.downlinkFcnt, fcnt + 1);
    const record: DownlinkRecord = {
      id: this.deps.nextId(),
      fcnt,
      port: request.port,
      payload: request.payload,
      confirmed: request.confirmed,
      status: TransmissionStatus.pending,
      history: [{ transmissionStatus: TransmissionStatus.pending, at: new Date() }],
    };
    this.records.push(record);
    if (this.deviceClass === 'C')
      this.deps.schedule(this.deps.classCDelayMs, () => void this.transmit(record));
    return record;
  }

  /** False when the downlink is no longer pending. */
  cancel(record: DownlinkRecord): boolean {
    if (record.status !== TransmissionStatus.pending) return false;
    void this.setStatus(record, TransmissionStatus.cancelled);
    return true;
  }

  async uplink(): Promise<void> {
    const frame = this.nextUplinkFrame();
    this.lastReception = frame.timestamp;
    await this.deps.push('payloads_ul_early', earlyUplinkBody(frame));
    await this.deps.push('payloads_ul', uplinkBody(frame));
    if (this.deviceClass === 'A') await this.openReceiveWindows();
    if ((frame.fcnt + 1) % REPORT_EVERY_UPLINKS === 0) await this.pushReports(frame);
  }

  private nextUplinkFrame(): UplinkFrame {
    const { random } = this.deps;
    const fcnt = this.uplinkFcnt;
    this.uplinkFcnt += 1;
    return {
      devEui: this.devEui,
      devAddr: this.devAddr,
      id: this.deps.nextId(),
      fcnt,
      port: SAMPLE_SENSOR_PORT,
      payload: sampleSensorMeasurement(random),
      timestamp: new Date(),
      sessionId: this.sessionId,
      spreadingFactor: random.integer(7, 12),
      freq: EU868_CHANNELS_HZ[random.integer(0, EU868_CHANNELS_HZ.length - 1)] ?? 868_100_000,
      gateways: [
        {
          gtw_id: this.gatewayId,
          rssi: random.integer(-120, -40),
          snr: random.integer(-150, 100) / 10,
        },
      ],
    };
  }

  private async openReceiveWindows(): Promise<void> {
    const unacknowledged = this.awaitingAck;
    this.awaitingAck = undefined;
    if (unacknowledged !== undefined) await this.settleConfirmed(unacknowledged);
    const next = this.records.find((record) => record.status === TransmissionStatus.pending);
    if (next !== undefined) await this.transmit(next);
  }

  private async transmit(record: DownlinkRecord): Promise<void> {
    // Cancelled (DELETE, replace_on_busy) while it waited.
    if (record.status !== TransmissionStatus.pending) return;
    const { random, outcomes } = this.deps;
    if (random.chance(outcomes.cancelRate)) {
      await this.setStatus(record, TransmissionStatus.cancelled);
      return;
    }
    if (random.chance(outcomes.errorRate)) {
      await this.setStatus(record, TransmissionStatus.error);
      return;
    }
    const sent = this.setStatus(record, TransmissionStatus.sent);
    if (record.confirmed && this.deviceClass === 'C')
      this.deps.schedule(this.deps.classCDelayMs, () => void this.settleConfirmed(record));
    else if (record.confirmed) this.awaitingAck = record;
    await sent;
  }

  private settleConfirmed(record: DownlinkRecord): Promise<void> {
    const missed = this.deps.random.chance(this.deps.outcomes.nackRate);
    return this.setStatus(
      record,
      missed ? TransmissionStatus.notAcknowledged : TransmissionStatus.acknowledged,
    );
  }

  private setStatus(record: DownlinkRecord, status: number): Promise<void> {
    record.status = status;
    record.history.push({ transmissionStatus: status, at: new Date() });
    return this.deps.push('payloads_dl', downlinkStatusBody(this.devEui, this.sessionId, record));
  }

  private async pushReports(frame: UplinkFrame): Promise<void> {
    const { random } = this.deps;
    const report: DeviceReport = {
      devEui: this.devEui,
      at: frame.timestamp,
      fcnt: frame.fcnt,
      dlFcnt: this.downlinkFcnt,
      deviceClass: this.deviceClass,
      lastReception: this.lastReception,
      batteryStatus: random.integer(1, 254),
      marginStatus: random.integer(-5, 20),
      latitude: round6(this.home.latitude + (random.next() - 0.5) / 500),
      longitude: round6(this.home.longitude + (random.next() - 0.5) / 500),
    };
    await this.deps.push('status', statusBody(report));
    await this.deps.push('nodeinfo', nodeinfoBody(report));
    await this.deps.push('location', locationBody(report));
  }
}

function round6(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
