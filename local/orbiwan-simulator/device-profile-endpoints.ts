import type { IncomingMessage, ServerResponse } from 'node:http';
import { RestError, requireMethod, sendJson } from './http-messages.js';
import type { SimulatedDevice } from './simulated-device.js';

// What OrbiWAN's REST API documents for a device's registration and its device profile, as much
// as the connector asks (profile attachments of payload codecs): GET /rest/nodes/{DevEUI}?all=true
// has the device's device_profile_uuid; GET /rest/device-profiles/{uuid} names the profile. Every
// simulated device is a sample sensor, with the one profile below.

export const SAMPLE_SENSOR_PROFILE = {
  profile_uuid: '5a3c0f6e-2b1d-4c8e-9f7a-0d6b1e2c3a4f',
  profile_name: 'OrbiWAN sample sensor',
  description: 'Temperature, humidity and battery on FPort 1; settings on FPort 10',
};

export const NODE_PATH = /^\/rest\/nodes\/([^/]+)$/;
export const DEVICE_PROFILE_PATH = /^\/rest\/device-profiles\/([^/]+)$/;

export function handleNodeRequest(
  request: IncomingMessage,
  response: ServerResponse,
  devEui: string,
  devices: ReadonlyMap<string, SimulatedDevice>,
): Promise<void> {
  requireMethod(request, 'GET');
  const device = devices.get(devEui.toLowerCase());
  if (device === undefined) throw new RestError(404, `no device ${devEui}`);
  sendJson(
    response,
    JSON.stringify({
      deveui: device.devEui,
      device_class: device.deviceClass,
      device_profile_uuid: SAMPLE_SENSOR_PROFILE.profile_uuid,
    }),
  );
  return Promise.resolve();
}

export function handleDeviceProfileRequest(
  request: IncomingMessage,
  response: ServerResponse,
  uuid: string,
): Promise<void> {
  requireMethod(request, 'GET');
  if (decodeURIComponent(uuid) !== SAMPLE_SENSOR_PROFILE.profile_uuid)
    throw new RestError(404, `no device profile ${uuid}`);
  sendJson(response, JSON.stringify({ ...SAMPLE_SENSOR_PROFILE, content: {} }));
  return Promise.resolve();
}
