import { rawOrbiwanId } from '../../functions/shared/raw-json.js';
import { DECODED_UPLINK_SUFFIX, DOWNLINK_STATUS_SUFFIX } from '../../functions/shared/topics.js';
import type { PublishedMessage } from '../aws/iot-data-plane.js';
import type { ExecutionRecord, HistoryEvent } from '../stepfunctions/local-step-functions.js';

// What the lifecycle page shows: every downlink with the states of its execution (as the Step
// Functions console shows them) and the statuses published for it, and the latest notifications
// per device, and each device's latest decoded uplink. Fed by the local Step Functions engine and
// the local broker.

export interface TimelineEntry {
  at: string;
  /** 'state': a state of the execution; 'status': a status message published for the downlink. */
  kind: 'state' | 'status';
  name: string;
}

export interface DownlinkView {
  executionArn: string;
  name: string;
  startedAt: string;
  devEui: string | undefined;
  requestId: string | undefined;
  downlinkId: string | undefined;
  /** The latest status word (accepted, sent, acknowledged, ..., error, timed_out), or the state the execution is in. */
  state: string;
  executionStatus: string;
  error: string | undefined;
  timeline: TimelineEntry[];
}

export interface NotificationView {
  devEui: string | undefined;
  type: string;
  at: string;
  bytes: number;
  excerpt: string;
}

/** A device's latest decoded uplink (payload codecs): what its codec made of the bytes. */
export interface DecodedView {
  at: string;
  fcnt: number | undefined;
  codec: string;
  data: unknown;
  warnings: string[];
  errors: string[];
}

export interface ActivitySnapshot {
  downlinks: DownlinkView[];
  notifications: Record<string, NotificationView[]>;
  /** By DevEUI. */
  decoded: Record<string, DecodedView>;
}

const KEEP_DOWNLINKS = 200;
const KEEP_NOTIFICATIONS_PER_DEVICE = 10;

export class ConnectorActivity {
  private readonly downlinks = new Map<string, DownlinkView>();
  private readonly notifications = new Map<string, NotificationView[]>();
  private readonly decoded = new Map<string, DecodedView>();
  private readonly listeners = new Set<() => void>();

  constructor(private readonly topicPrefix: string) {}

  onExecutionEvent(execution: ExecutionRecord, event: HistoryEvent): void {
    const view = this.viewOf(execution);
    view.executionStatus = execution.status;
    view.error = execution.error;
    if (event.type.endsWith('StateEntered') && event.stateName !== undefined) {
      view.timeline.push({
        at: event.timestamp.toISOString(),
        kind: 'state',
        name: event.stateName,
      });
      if (view.timeline.every((entry) => entry.kind === 'state')) view.state = event.stateName;
    }
    if (event.type === 'ExecutionStarted' && event.input !== undefined)
      this.learnFromRequest(view, event.input);
    this.changed();
  }

  onPublished({ topic, payload }: PublishedMessage): void {
    const relative = topic.startsWith(`${this.topicPrefix}/`)
      ? topic.slice(this.topicPrefix.length + 1)
      : undefined;
    if (relative === undefined) return;
    const [first = '', ...rest] = relative.split('/');
    const devEui = /^[0-9a-f]{16}$/.test(first) ? first : undefined;
    const type = devEui === undefined ? relative : rest.join('/');
    const text = payload.toString('utf8');
    const device = devEui ?? '(no device)';
    const recent = [
      {
        devEui,
        type,
        at: new Date().toISOString(),
        bytes: payload.length,
        excerpt: text.slice(0, 160),
      },
      ...(this.notifications.get(device) ?? []),
    ];
    this.notifications.set(device, recent.slice(0, KEEP_NOTIFICATIONS_PER_DEVICE));
    if (type === DOWNLINK_STATUS_SUFFIX) this.learnFromStatus(text);
    if (type === DECODED_UPLINK_SUFFIX && devEui !== undefined) this.learnFromDecoded(devEui, text);
    this.changed();
  }

  snapshot(): ActivitySnapshot {
    return {
      downlinks: [...this.downlinks.values()].reverse(),
      notifications: Object.fromEntries(this.notifications),
      decoded: Object.fromEntries(this.decoded),
    };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private viewOf(execution: ExecutionRecord): DownlinkView {
    let view = this.downlinks.get(execution.executionArn);
    if (view === undefined) {
      view = {
        executionArn: execution.executionArn,
        name: execution.name,
        startedAt: execution.startDate.toISOString(),
        devEui: undefined,
        requestId: undefined,
        downlinkId: undefined,
        state: 'started',
        executionStatus: execution.status,
        error: undefined,
        timeline: [],
      };
      this.downlinks.set(execution.executionArn, view);
      if (this.downlinks.size > KEEP_DOWNLINKS)
        this.downlinks.delete(this.downlinks.keys().next().value ?? '');
    }
    return view;
  }

  // The rule's message: the DevEUI level of its topic and the request's requestId, even when the
  // request turns out invalid.
  private learnFromRequest(view: DownlinkView, input: string): void {
    try {
      const { topic, payload } = JSON.parse(input) as { topic?: string; payload?: string };
      const level = topic?.slice(this.topicPrefix.length + 1).split('/')[0];
      view.devEui = level === undefined || level === '' ? undefined : level.toLowerCase();
      const request = JSON.parse(Buffer.from(payload ?? '', 'base64').toString('utf8')) as {
        requestId?: unknown;
      };
      if (typeof request.requestId === 'string') view.requestId = request.requestId;
    } catch {
      // Not the rule's message, or a request that is not JSON: its error status will say more.
    }
  }

  // Every status of a downlink the connector sent carries its execution's name (correlationId);
  // accepted carries OrbiWAN's id too. Statuses of downlinks others sent match no execution.
  private learnFromStatus(text: string): void {
    let status: { state?: unknown; correlationId?: unknown };
    try {
      status = JSON.parse(text) as typeof status;
    } catch {
      return;
    }
    if (typeof status.state !== 'string' || typeof status.correlationId !== 'string') return;
    const view = [...this.downlinks.values()].find(
      (candidate) => candidate.name === status.correlationId,
    );
    if (view === undefined) return;
    view.downlinkId ??= rawOrbiwanId(text);
    this.addStatus(view, { at: new Date().toISOString(), kind: 'status', name: status.state });
  }

  private learnFromDecoded(devEui: string, text: string): void {
    try {
      const message = JSON.parse(text) as Partial<Record<keyof DecodedView, unknown>>;
      const strings = (value: unknown) =>
        Array.isArray(value) ? value.filter((item) => typeof item === 'string') : [];
      this.decoded.set(devEui, {
        at: new Date().toISOString(),
        fcnt: typeof message.fcnt === 'number' ? message.fcnt : undefined,
        codec: typeof message.codec === 'string' ? message.codec : '?',
        data: message.data,
        warnings: strings(message.warnings),
        errors: strings(message.errors),
      });
    } catch {
      // Not the connector's decoded message.
    }
  }

  private addStatus(view: DownlinkView, entry: TimelineEntry): void {
    view.state = entry.name;
    view.timeline.push(entry);
    view.timeline.sort((a, b) => a.at.localeCompare(b.at));
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
