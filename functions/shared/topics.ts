import { ConfigurationError, requireEnv } from './config.js';

// Every topic the connector publishes or listens on is built here, from the template's prefix.

/** A topic for one device: `{prefix}/{devEui}/{suffix}`; devEui must already be normalised. */
export function deviceTopic(prefix: string, devEui: string, suffix: string): string {
  return `${prefix}/${devEui}/${suffix}`;
}

/** What applications publish downlink requests on, for one device: `{prefix}/{devEui}/downlink`. */
export const DOWNLINK_SUFFIX = 'downlink';

/**
 * The topic the connector answers a downlink request topic on, with what became of the downlink:
 * the request's topic + `/status`. An invalid request is answered on its topic as sent.
 */
export function downlinkStatusTopic<Topic extends string>(downlinkTopic: Topic): `${Topic}/status` {
  return `${downlinkTopic}/status`;
}

/** Where a device's downlink statuses go, after `{prefix}/{devEui}/`: `downlink/status`. */
export const DOWNLINK_STATUS_SUFFIX = downlinkStatusTopic(DOWNLINK_SUFFIX);

/** Where a device's uplinks go decoded by its payload codec, after `{prefix}/{devEui}/`. */
export const DECODED_UPLINK_SUFFIX = 'uplink/decoded';

/** A topic for messages that belong to no device: `{prefix}/{suffix}`. */
export function prefixTopic(prefix: string, suffix: string): string {
  return `${prefix}/${suffix}`;
}

// The template's TopicPrefix parameter enforces the same rule; checking again at cold start turns
// a misconfigured function into a clear error instead of publishes to an unexpected topic.
// At most 4 slashes: `{prefix}/{deveui}/downlink/status` must stay within IoT Core's 7.
const TOPIC_PREFIX = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+){0,4}$/;

/** The rule a topic prefix follows, in words, for messages. */
export const TOPIC_PREFIX_RULE = "1 to 5 levels of letters, digits, '_' or '-', separated by '/'";

export function isTopicPrefix(prefix: string): boolean {
  return TOPIC_PREFIX.test(prefix);
}

/** The topic prefix of a function, from TOPIC_PREFIX. */
export function topicPrefixFromEnv(env: NodeJS.ProcessEnv): string {
  const prefix = requireEnv('TOPIC_PREFIX', env);
  if (!isTopicPrefix(prefix)) {
    throw new ConfigurationError(`TOPIC_PREFIX "${prefix}" is not a valid topic prefix`);
  }
  return prefix;
}
