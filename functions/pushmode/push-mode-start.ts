import {
  NOTIFICATION_DEFINITIONS,
  NOTIFICATION_TYPES,
} from '../notifications/notification-types.js';
import type { PushModeStart } from '../shared/orbiwan/orbiwan-client.js';

// The one definition of the PUT /rest/pushmode/start body that points OrbiWAN at the connector:
// the push mode function sends it, the local stack sends it to its simulator, and the template
// checks hold the PushModeStartBody output to it.

/** The push topics the connector serves: every notification type OrbiWise documents one for. */
export const PUSH_SUBSCRIPTIONS: readonly string[] = NOTIFICATION_TYPES.flatMap(
  (type) => NOTIFICATION_DEFINITIONS[type].pushSubscription ?? [],
);

export interface PushModeTarget {
  /** Where the callback routes are, e.g. https://abc.execute-api.eu-west-1.amazonaws.com. */
  pushEndpointUrl: string;
  accessToken: string;
  dataFormat: PushModeStart['data_format'];
}

/**
 * OrbiWAN calls `{host}:{port}{path_prefix}/rest/callback/...`, and the API serves those paths
 * under its URL: so host and port are the URL's, and path_prefix is its path ('' for the HTTP
 * API's $default stage).
 */
export function pushModeStartBody({
  pushEndpointUrl,
  accessToken,
  dataFormat,
}: PushModeTarget): PushModeStart {
  const url = new URL(pushEndpointUrl);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`the push endpoint must be an http(s) URL, got ${url.protocol}`);
  const defaultPort = url.protocol === 'https:' ? 443 : 80;
  return {
    host: `${url.protocol}//${url.hostname}`,
    port: url.port === '' ? defaultPort : Number(url.port),
    path_prefix: url.pathname.replace(/\/+$/, ''),
    push_auth_access_token: accessToken,
    data_format: dataFormat,
    push_subscription: PUSH_SUBSCRIPTIONS.join(','),
    retry_policy: 0,
  };
}
