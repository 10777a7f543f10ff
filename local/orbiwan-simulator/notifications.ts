import { toJsonText } from './json-text.js';
import { encodePayload, type DataFormat } from './payload-encoding.js';
import type { PushBody } from './push-client.js';

// Push bodies with OrbiWAN's documented field names. The 64-bit ids stay bigints up to the JSON
// text, so they arrive exact.

export interface GatewayReception {
  gtw_id: string;
  rssi: number;
  snr: number;
}

export interface UplinkFrame {
  devEui: string;
  devAddr: number;
  id: bigint;
  fcnt: number;
  port: number;
  payload: Buffer;
  timestamp: Date;
  sessionId: string;
  spreadingFactor: number;
  freq: number;
  gateways: GatewayReception[];
}

export interface DownlinkState {
  id: bigint;
  fcnt: number;
  port: number;
  status: number;
}

export interface DeviceReport {
  devEui: string;
  at: Date;
  fcnt: number;
  dlFcnt: number;
  deviceClass: 'A' | 'C';
  lastReception: Date;
  batteryStatus: number;
  marginStatus: number;
  latitude: number;
  longitude: number;
}

export function earlyUplinkBody(frame: UplinkFrame): PushBody {
  return (format) => toJsonText(uplinkFields(frame, format, true));
}

export function uplinkBody(frame: UplinkFrame): PushBody {
  const best = frame.gateways.reduce((a, b) => (b.rssi > a.rssi ? b : a));
  return (format) =>
    toJsonText({
      ...uplinkFields(frame, format, false),
      rssi: best.rssi,
      snr: best.snr,
      sf_used: frame.spreadingFactor,
      dr_used: `SF${frame.spreadingFactor}BW125`,
      freq: frame.freq,
      gtw_info: frame.gateways,
    });
}

export function downlinkStatusBody(
  devEui: string,
  sessionId: string,
  downlink: DownlinkState,
): PushBody {
  return () =>
    toJsonText({
      DevEUI: devEui.toUpperCase(),
      id: downlink.id,
      fcnt: downlink.fcnt,
      port: downlink.port,
      transmissionStatus: downlink.status,
      session_id: sessionId,
    });
}

export function joininfoBody(devEui: string, appEui: string, sessionId: string): PushBody {
  return () =>
    toJsonText({
      DevEUI: devEui.toUpperCase(),
      appeui: appEui.toUpperCase(),
      join_status: 'JOIN_ACCEPTED',
      session_id: sessionId,
    });
}

export function statusBody(report: DeviceReport): PushBody {
  return () =>
    toJsonText({
      DevEUI: report.devEui.toUpperCase(),
      battery_status: report.batteryStatus,
      margin_status: report.marginStatus,
      timestamp_status: report.at.toISOString(),
      // 3: the values above are valid (DevStatusAns received).
      req_status: 3,
    });
}

export function nodeinfoBody(report: DeviceReport): PushBody {
  // Value conventions as third-party clients show them: device_class 0 = A, 2 = C; expiries in hours.
  return () =>
    toJsonText({
      DevEUI: report.devEui.toUpperCase(),
      device_status: 3,
      last_reception: report.lastReception.toISOString(),
      dl_fcnt: report.dlFcnt,
      device_class: report.deviceClass === 'A' ? 0 : 2,
      registration_status: 1,
      expiry_time_uplink: 168,
      expiry_time_downlink: 168,
    });
}

export function locationBody(report: DeviceReport): PushBody {
  return () =>
    toJsonText({
      DevEUI: report.devEui.toUpperCase(),
      latitude: report.latitude,
      longitude: report.longitude,
      loraloc_time: report.at.toISOString(),
      loraloc_fcnt: report.fcnt,
    });
}

function uplinkFields(
  frame: UplinkFrame,
  format: DataFormat,
  early: boolean,
): Record<string, unknown> {
  return {
    DevEUI: frame.devEui.toUpperCase(),
    early,
    dataFrame: encodePayload(frame.payload, format),
    port: frame.port,
    fcnt: frame.fcnt,
    timestamp: frame.timestamp.toISOString(),
    id: frame.id,
    live: true,
    session_id: frame.sessionId,
    decrypted: true,
    confirmed: false,
    devaddr: frame.devAddr,
  };
}
