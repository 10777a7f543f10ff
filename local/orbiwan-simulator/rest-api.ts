import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAuthorized, type Credentials, type TokenStore } from './authentication.js';
import {
  DEVICE_PROFILE_PATH,
  NODE_PATH,
  handleDeviceProfileRequest,
  handleNodeRequest,
} from './device-profile-endpoints.js';
import { handleDownlinkRequest, type DownlinkCounters } from './downlink-endpoints.js';
import { RestError, sendError } from './http-messages.js';
import type { PushClient } from './push-client.js';
import { handlePushmodeRequest, type PushmodeAction } from './pushmode-endpoints.js';
import type { SimulatedDevice } from './simulated-device.js';
import { handleTokenRequest } from './token-endpoint.js';

const PUSHMODE_PATH = /^\/rest\/pushmode\/(start|stop|status)(?:\/[^/]+)?$/;
const DOWNLINKS_PATH = /^\/rest\/nodes\/([^/]+)\/payloads\/dl(?:\/([^/]+))?$/;

export interface RestApiDeps {
  credentials: Credentials;
  tokens: TokenStore;
  devices: ReadonlyMap<string, SimulatedDevice>;
  push: PushClient;
  counters: DownlinkCounters;
}

export function createRestApi(
  deps: RestApiDeps,
): (request: IncomingMessage, response: ServerResponse) => void {
  const postsInFlight = new Set<string>();

  const route = (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://orbiwan.invalid');
    if (url.pathname === '/rest/oauth2/token')
      return handleTokenRequest(request, response, url, deps.credentials, deps.tokens);
    if (!isAuthorized(request.headers.authorization, deps.credentials, deps.tokens))
      throw new RestError(401, 'missing or bad credentials');
    const pushmode = PUSHMODE_PATH.exec(url.pathname);
    if (pushmode !== null)
      return handlePushmodeRequest(request, response, pushmode[1] as PushmodeAction, deps.push);
    const node = NODE_PATH.exec(url.pathname);
    if (node !== null) return handleNodeRequest(request, response, node[1] ?? '', deps.devices);
    const profile = DEVICE_PROFILE_PATH.exec(url.pathname);
    if (profile !== null) return handleDeviceProfileRequest(request, response, profile[1] ?? '');
    const downlinks = DOWNLINKS_PATH.exec(url.pathname);
    if (downlinks !== null)
      return handleDownlinkRequest(
        request,
        response,
        url,
        { devEui: downlinks[1] ?? '', id: downlinks[2] },
        { devices: deps.devices, counters: deps.counters, postsInFlight },
      );
    throw new RestError(404, `no endpoint ${url.pathname}`);
  };

  return (request, response) => {
    const fail = (error: unknown): void => {
      sendError(
        request,
        response,
        error instanceof RestError ? error : new RestError(500, String(error)),
      );
    };
    try {
      route(request, response).catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}
