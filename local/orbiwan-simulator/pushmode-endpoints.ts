import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, requireMethod, RestError, sendJson } from './http-messages.js';
import type { PushClient } from './push-client.js';
import { destinationFromPushmodeStart, pushmodeStatus } from './push-destination.js';

// /rest/pushmode/{start,stop,status}[/{app-name}]: one push target, whatever the app name.

export type PushmodeAction = 'start' | 'stop' | 'status';

export async function handlePushmodeRequest(
  request: IncomingMessage,
  response: ServerResponse,
  action: PushmodeAction,
  push: PushClient,
): Promise<void> {
  if (action === 'status') {
    requireMethod(request, 'GET');
  } else if (action === 'stop') {
    requireMethod(request, 'PUT');
    push.stop();
  } else {
    requireMethod(request, 'PUT');
    push.start(destinationFromPushmodeStart(parseJson(await readBody(request))));
  }
  sendJson(response, JSON.stringify(pushmodeStatus(push.destination(), push.running())));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RestError(400, 'the body must be JSON');
  }
}
