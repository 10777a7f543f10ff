// Where OrbiWAN sends each push topic, under {host}:{port}{path_prefix}/rest/callback/.

export const PUSH_TOPICS = {
  payloads_ul_early: { method: 'POST', path: 'payloads/ul_early' },
  payloads_ul: { method: 'POST', path: 'payloads/ul' },
  payloads_dl: { method: 'PUT', path: 'payloads/dl' },
  joininfo: { method: 'PUT', path: 'joininfo' },
  nodeinfo: { method: 'PUT', path: 'nodeinfo' },
  location: { method: 'PUT', path: 'location' },
  status: { method: 'PUT', path: 'status' },
  alarm: { method: 'POST', path: 'alarm' },
} as const;

export type PushTopic = keyof typeof PUSH_TOPICS;

export function isPushTopic(name: string): name is PushTopic {
  return Object.hasOwn(PUSH_TOPICS, name);
}
