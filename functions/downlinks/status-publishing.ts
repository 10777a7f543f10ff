import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { logger } from '../shared/logger.js';
import type { Publish } from '../shared/publish.js';
import { DOWNLINK_STATUS_SUFFIX, deviceTopic } from '../shared/topics.js';
import { countDownlinkEnded, type DownlinkOutcome } from './downlink-outcomes.js';
import type { DownlinkRecords, DownlinkView, PublishedEntry, Report } from './downlink-record.js';
import {
  failureStatus,
  finalStateOf,
  republishedStatus,
  transmissionState,
  type FinalState,
} from './downlink-status.js';
import { retrying } from './retrying.js';
import type { CompleteTask } from './task-completion.js';

// The one way OrbiWAN's statuses reach the application with their requestId. Whoever learns of a
// status (the status function, the send task for a status that came before its POST was recorded,
// the timeout's question to OrbiWAN) records it first, then asks for it to be published here. One
// publisher at a time holds the downlink's publishing lock; it publishes everything reported and
// not yet published, lowest rank first, marks it published, and looks again for what came
// meanwhile. So statuses reach the application in lifecycle order, each once, and the one that
// publishes the final status is the one that ends the execution.

/**
 * How long a publisher holds the lock: longer than the send and status functions live (40 s at
 * most, template.yaml), so one that died frees it after this. A publisher that lives longer (the
 * check, 90 s) stops trying to mark before the lock lapses (MARK_MARGIN_MS).
 */
export const PUBLISHER_LEASE_MS = 45_000;

/** Kept back from the lock's lapse for the last attempt to mark what was published. */
const MARK_MARGIN_MS = 5_000;

/** How many times a publisher looks again for statuses recorded while it was publishing. */
const MAX_ROUNDS = 5;

export interface StatusPublishingDeps {
  records: DownlinkRecords;
  publish: Publish;
  /** Ends the execution's send task; left out where the task is over (the timeout's check). */
  complete: CompleteTask | undefined;
  topicPrefix: string;
  now?: () => number;
}

export interface StatusPublishing {
  /**
   * Publishes every status reported and not yet published, in order, and ends the execution on the
   * final one. Returns how the downlink ended, if it has; does nothing while another publishes.
   */
  publishPending: (devEui: string, downlinkId: string) => Promise<FinalState | undefined>;
  /**
   * For a downlink whose wait is over: publishes what is pending, then, unless that ended it,
   * `timed_out` with `reason`. Returns how it ended (undefined when its POST was never recorded).
   */
  endNow: (
    devEui: string,
    downlinkId: string,
    reason: string,
  ) => Promise<{ finalState: FinalState | undefined; view: DownlinkView }>;
  /** Ends the send task waiting on the view's token with how the downlink ended, if it has. */
  endExecution: (view: DownlinkView) => Promise<void>;
  /** A status the application has seen already, or one after the end: published flagged stale. */
  publishStale: (view: DownlinkView, report: Report) => Promise<void>;
  /** A status of a downlink the connector did not send: as OrbiWAN sent it, with its state. */
  publishOrphan: (devEui: string, report: Report, stale: boolean) => Promise<void>;
}

export function statusPublishing({
  records,
  publish,
  complete,
  topicPrefix,
  now = Date.now,
}: StatusPublishingDeps): StatusPublishing {
  const topicOf = (devEui: string) => deviceTopic(topicPrefix, devEui, DOWNLINK_STATUS_SUFFIX);
  const at = () => new Date(now()).toISOString();

  /** A status as OrbiWAN reported it, with the downlink's requestId and correlation id when known. */
  const publishReport = (
    { devEui, requestId, execution }: Pick<DownlinkView, 'devEui' | 'requestId' | 'execution'>,
    report: Report,
    stale: boolean,
  ) =>
    publish({
      topic: topicOf(devEui),
      payload: republishedStatus(Buffer.from(report.body), {
        transmissionStatus: report.transmissionStatus,
        requestId,
        stale,
        correlationId: execution,
      }),
      qos: 1,
    });

  /** With the lock held: publish what is pending (and timed_out, when told), mark it, end. */
  async function publishHeld(
    view: DownlinkView,
    publisher: string,
    endReason: string | undefined,
  ): Promise<{ finalState: FinalState | undefined; view: DownlinkView }> {
    const entries: PublishedEntry[] = [];
    let rank = view.publishedRank ?? 0;
    let finalState: FinalState | undefined;
    // What went out must be marked while the lock is still ours: once it lapses, the next
    // publisher would publish it again. So the mark is retried for as long as the lock holds.
    const lockLapses = now() + PUBLISHER_LEASE_MS - MARK_MARGIN_MS;
    const mark = () =>
      retrying(
        () =>
          records.markPublished(view.devEui, view.downlinkId, publisher, {
            rank,
            entries,
            ended: finalState,
          }),
        lockLapses,
        // The lock was lost (it lapsed): marking cannot succeed any more.
        { now, retryable: (error) => !(error instanceof ConditionalCheckFailedException) },
      );
    try {
      for (const report of view.reports.filter((candidate) => candidate.rank > rank)) {
        await publishReport(view, report, false);
        entries.push({ state: transmissionState(report.transmissionStatus), at: at() });
        rank = report.rank;
        finalState = finalStateOf(report.transmissionStatus, view.confirmed);
        if (finalState !== undefined) break;
      }
      if (finalState === undefined && endReason !== undefined) {
        await publish({
          topic: topicOf(view.devEui),
          payload: timedOut(view, rank, endReason),
          qos: 1,
        });
        entries.push({ state: 'timed_out', at: at() });
        finalState = 'timed_out';
      }
    } catch (error) {
      // What did go out stays marked; the rest waits for the next publisher.
      await mark().catch((markError: unknown) => {
        logger.error('could not mark published statuses; the lock lapses by itself', {
          error: markError,
        });
      });
      throw error;
    }
    const after = await mark();
    if (finalState !== undefined) {
      countDownlinkEnded(finalState);
      await endExecution(after, finalState);
      for (const report of after.reports.filter((candidate) => cameTooLate(candidate, view, rank)))
        await publishReport(after, report, true);
    }
    return { finalState, view: after };
  }

  async function endExecution(view: DownlinkView, finalState: FinalState): Promise<void> {
    if (complete === undefined || view.taskToken === undefined) return;
    const outcome: DownlinkOutcome = {
      finalState,
      devEui: view.devEui,
      downlinkId: view.downlinkId,
      requestId: view.requestId,
      statuses: view.published,
    };
    try {
      const result = await complete(view.taskToken, outcome);
      logger.info('downlink ended', { finalState, result });
    } catch (error) {
      // Published and recorded as ended: its wait's timeout ends the execution the same way.
      logger.error('could not end the execution; its timeout will', { error, finalState });
    }
  }

  return {
    publishPending: async (devEui, downlinkId) => {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const publisher = randomUUID();
        const view = await records.takePublisher(devEui, downlinkId, publisher, { always: false });
        if (view === undefined) return undefined;
        const { finalState } = await publishHeld(view, publisher, undefined);
        if (finalState !== undefined) return finalState;
      }
      return undefined;
    },

    endNow: async (devEui, downlinkId, reason) => {
      const waitUntil = now() + PUBLISHER_LEASE_MS + 5_000;
      for (;;) {
        const publisher = randomUUID();
        const view = await records.takePublisher(devEui, downlinkId, publisher, { always: true });
        if (view !== undefined) return publishHeld(view, publisher, reason);
        const current = await records.read(devEui, downlinkId);
        if (current.ended !== undefined || current.execution === undefined)
          return { finalState: current.ended, view: current };
        if (now() >= waitUntil)
          throw new Error(`downlink ${downlinkId}: another publisher kept its lock too long`);
        // Another publisher is at work; it is done in milliseconds, or its lock lapses.
        await sleep(100 + Math.random() * 100);
      }
    },

    endExecution: async (view) => {
      if (view.ended !== undefined) await endExecution(view, view.ended);
    },

    publishStale: (view, report) => publishReport(view, report, true),

    publishOrphan: (devEui, report, stale) =>
      publishReport({ devEui, requestId: undefined, execution: undefined }, report, stale),
  };
}

/**
 * A status recorded by the time the publisher that ended the downlink marked it, and not published
 * fresh: one after what ended it (a later rank of an unconfirmed downlink), or one recorded while
 * the publisher held the lock, of any rank. The publisher that ends a downlink publishes them
 * stale: those who recorded them found the lock taken and left them to it. What is recorded after
 * the mark sees the end, and its recorder publishes it stale. Pending (rank 0) never counts:
 * accepted said it, and its recorder publishes it stale.
 */
function cameTooLate(report: Report, taken: DownlinkView, endedAtRank: number): boolean {
  if (report.rank === 0) return false;
  const inHand = taken.reports.some((known) => known.rank === report.rank);
  return report.rank > endedAtRank || !inHand;
}

/** `timed_out`, with the last transmissionStatus the application has seen (0: accepted). */
function timedOut(view: DownlinkView, publishedRank: number, reason: string): Buffer {
  const lastSeen = view.reports.filter((report) => report.rank <= publishedRank).at(-1);
  return failureStatus({
    devEui: view.devEui,
    id: view.downlinkId,
    requestId: view.requestId,
    transmissionStatus: lastSeen?.transmissionStatus ?? 0,
    state: 'timed_out',
    error: { code: 'TIMED_OUT', message: reason },
    correlationId: view.execution,
  });
}
