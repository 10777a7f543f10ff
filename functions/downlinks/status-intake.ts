import { dynamoDbClient } from '../shared/clients/dynamodb-client.js';
import { sfnClient } from '../shared/clients/sfn-client.js';
import { DependencyError, InvalidInputError, PayloadTooLargeError } from '../shared/errors.js';
import { logger } from '../shared/logger.js';
import { rawOrbiwanId } from '../shared/raw-json.js';
import { topicPrefixFromEnv } from '../shared/topics.js';
import type { CustomDelivery } from '../notifications/republish-notification.js';
import type { JsonBody } from '../shared/http/json-body.js';
import type { Publish } from '../shared/publish.js';
import { deviceLease, type DeviceLease } from './device-lease.js';
import {
  downlinkRecords,
  type DownlinkRecords,
  type DownlinkView,
  type Report,
} from './downlink-record.js';
import { REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES, lifecycleRank } from './downlink-status.js';
import { ORBIWAN_ID, downlinksTableFromEnv } from './downlink-table.js';
import {
  PUBLISHER_LEASE_MS,
  statusPublishing,
  type StatusPublishing,
} from './status-publishing.js';
import { stepFunctionsCompletion, type CompleteTask } from './task-completion.js';

/**
 * The most bytes of a status the connector keeps. OrbiWAN's are a few hundred; three of them (one
 * per rank) must fit in a DynamoDB item (400 KB) with the rest of the downlink's record.
 */
export const MAX_STATUS_BYTES = 64 * 1024;

export interface StatusIntakeDeps {
  records: DownlinkRecords;
  lease: DeviceLease;
  complete: CompleteTask;
  topicPrefix: string;
}

/**
 * What the downlink status function does with a status OrbiWAN pushed, instead of republishing it
 * as it came: record it with its downlink, then
 *   - for a downlink the connector sent: have it published with its requestId, in lifecycle order,
 *     ending the execution on the final one (status-publishing.ts);
 *   - while a POST to the device is in flight, for a downlink not recorded yet: leave it with the
 *     POST's holder, who publishes it after `accepted` once it knows the POST's id;
 *   - for a downlink the connector did not send: republish it as it came, with its state.
 * It answers OrbiWAN 200 only once the status is safely recorded or published; a status is never
 * refused for correlation trouble, only for a malformed id.
 */
export function downlinkStatusIntake(deps: StatusIntakeDeps): CustomDelivery {
  return {
    addsAtMostBytes: REPUBLISHED_STATUS_ADDS_AT_MOST_BYTES,
    deliver: (facts, body, publish) =>
      asDependencyFailure(() => deliverStatus(deps, facts.devEui ?? '', body, publish)),
  };
}

/**
 * DynamoDB failing is the connector's trouble, not the push's: answered 5xx (a DependencyError),
 * with nothing published for it. OrbiWAN does not push it again; the downlink's timeout asks
 * OrbiWAN for it instead.
 */
async function asDependencyFailure(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    if (
      error instanceof DependencyError ||
      error instanceof InvalidInputError ||
      error instanceof PayloadTooLargeError
    )
      throw error;
    const name = error instanceof Error ? error.name : 'Error';
    throw new DependencyError(
      'STATUS_NOT_RECORDED',
      `could not record the downlink status with its downlink (${name})`,
      /Throttl|ProvisionedThroughput/.test(name),
      { cause: error },
    );
  }
}

async function deliverStatus(
  deps: StatusIntakeDeps,
  device: string,
  body: JsonBody,
  publish: Publish,
): Promise<void> {
  const downlinkId = rawOrbiwanId(body.raw.toString('utf8')) ?? '';
  if (!ORBIWAN_ID.test(downlinkId))
    throw new InvalidInputError(
      'INVALID_NOTIFICATION',
      "not a valid downlink_status notification: id: expected OrbiWAN's downlink id, an integer of up to 20 digits",
      [{ path: 'id', message: 'expected an integer of up to 20 digits' }],
    );
  if (body.raw.length > MAX_STATUS_BYTES)
    throw new PayloadTooLargeError(
      `the body is ${body.raw.length} bytes; a downlink status is at most ${MAX_STATUS_BYTES}`,
    );
  logger.appendKeys({ downlinkId });
  const { transmissionStatus } = body.json as { transmissionStatus: number };
  const report: Report = {
    rank: lifecycleRank(transmissionStatus),
    transmissionStatus,
    // Without a byte-order mark: it would stop JSON.parse in the applications.
    body: body.raw.toString('utf8').replace(/^\uFEFF/, ''),
  };
  const publishing = statusPublishing({ ...deps, publish });
  const { advanced, view } = await deps.records.recordReport(device, downlinkId, report);
  if (view.execution !== undefined) {
    // The downlink's own correlation id (its execution's name) beside this push's.
    logger.appendKeys({ requestId: view.requestId, downlinkCorrelationId: view.execution });
    return publishCorrelated(publishing, view, report);
  }
  if (view.orphan) return publishing.publishOrphan(device, report, !advanced);
  if (await deps.lease.defer(device, downlinkId)) {
    logger.info('status came before its POST was recorded: left with the POST', {
      transmissionStatus,
    });
    return;
  }
  await settleUnrecorded(deps.records, publishing, device, downlinkId, { report, advanced });
}

/**
 * A status recorded with no POST to go with it, and no POST in flight that could be its own:
 * either its POST was recorded meanwhile (then published as any other), or the connector never
 * sent that downlink (then republished as it came). The send task settles the ids deferred to it
 * the same way, without a status of its own (`own` left out).
 */
export async function settleUnrecorded(
  records: DownlinkRecords,
  publishing: StatusPublishing,
  devEui: string,
  downlinkId: string,
  own?: { report: Report; advanced: boolean },
): Promise<void> {
  if (await records.claimOrphan(devEui, downlinkId)) {
    const view = await records.read(devEui, downlinkId);
    logger.info('status of a downlink the connector did not send: republished as it came');
    for (const report of view.reports) await publishing.publishOrphan(devEui, report, false);
    return;
  }
  const view = await records.read(devEui, downlinkId);
  if (view.execution !== undefined) {
    await publishCorrelated(publishing, view, own?.report);
    return;
  }
  // Another claimed it as not the connector's and republishes what it found; this one may be newer.
  if (own !== undefined) await publishing.publishOrphan(devEui, own.report, !own.advanced);
}

async function publishCorrelated(
  publishing: StatusPublishing,
  view: DownlinkView,
  report: Report | undefined,
): Promise<void> {
  // One the application has seen (a repeat, or one that comes after a later one or after the
  // end): flagged stale. Any other is published by whoever holds the lock, this function or
  // another: in its next round, or stale once it ends the downlink (status-publishing.ts).
  const seen =
    report !== undefined && (view.ended !== undefined || report.rank <= (view.publishedRank ?? 0));
  if (seen) await publishing.publishStale(view, report);
  await publishing.publishPending(view.devEui, view.downlinkId);
}

export function downlinkStatusIntakeFromEnv(env: NodeJS.ProcessEnv): CustomDelivery {
  const table = downlinksTableFromEnv(env);
  return downlinkStatusIntake({
    records: downlinkRecords({
      client: dynamoDbClient,
      ...table,
      publisherLeaseMs: PUBLISHER_LEASE_MS,
    }),
    lease: deviceLease({ client: dynamoDbClient, tableName: table.tableName }),
    complete: stepFunctionsCompletion(sfnClient),
    topicPrefix: topicPrefixFromEnv(env),
  });
}
