import { dynamoDbClient } from '../../shared/clients/dynamodb-client.js';
import { iotDataClient } from '../../shared/clients/iot-data-client.js';
import { sfnClient } from '../../shared/clients/sfn-client.js';
import { ConfigurationError, requireOneOfEnv } from '../../shared/config.js';
import { DependencyError } from '../../shared/errors.js';
import { logger } from '../../shared/logger.js';
import { METRIC, MetricUnit, emitMetric } from '../../shared/metrics.js';
import type { EnqueuedDownlink, OrbiwanClient } from '../../shared/orbiwan/orbiwan-client.js';
import {
  OrbiwanNotReachedError,
  OrbiwanRejectedError,
  OrbiwanUnavailableError,
  UnknownDeviceError,
  DeviceBusyError,
} from '../../shared/orbiwan/orbiwan-errors.js';
import { ORBIWAN_TIMEOUT_MS, orbiwanClientFromEnv } from '../../shared/orbiwan/orbiwan-from-env.js';
import type { Publish } from '../../shared/publish.js';
import { topicPrefixFromEnv } from '../../shared/topics.js';
import { deviceLease, type DeviceLease, type HeldLease } from '../device-lease.js';
import {
  DeviceLockedError,
  DownlinkNotRecordedError,
  DuplicateRequestError,
  InvalidDownlinkError,
  NO_PAYLOAD_CODECS,
  NoCodecError,
  ObjectToEncodeError,
} from '../downlink-errors.js';
import { downlinkRecords, type DownlinkRecords } from '../downlink-record.js';
import {
  parseDownlink,
  type Downlink,
  type DownlinkDefaults,
  type ObjectDownlink,
  type RuleInput,
} from '../downlink-request.js';
import { downlinkDefaultsFromEnv, requestIdWindowMsFromEnv } from '../downlink-settings.js';
import { acceptedStatus } from '../downlink-status.js';
import { downlinksTableFromEnv } from '../downlink-table.js';
import { requestClaims, type RequestClaims, type RequestRef } from '../request-claims.js';
import { retrying } from '../retrying.js';
import { stateMachineTask } from '../state-machine-task.js';
import { settleUnrecorded } from '../status-intake.js';
import { statusPublisher } from '../status-publisher.js';
import {
  PUBLISHER_LEASE_MS,
  statusPublishing,
  type StatusPublishing,
} from '../status-publishing.js';
import { stepFunctionsCompletion, type CompleteTask } from '../task-completion.js';

/** What state SendDownlink passes (invoked with .waitForTaskToken). */
export interface SendInput {
  /** $$.Task.Token: the task waits on it until the downlink ends. */
  taskToken: string;
  /** The IoT rule's message: what the application published, as it came. */
  request: RuleInput;
  /** $$.Execution.Name: the downlink's correlation id in its statuses, logs and traces. */
  correlationId: string;
}

export interface SendDeps {
  defaults: DownlinkDefaults;
  orbiwan: OrbiwanClient;
  claims: RequestClaims;
  lease: DeviceLease;
  records: DownlinkRecords;
  publish: Publish;
  complete: CompleteTask;
  /** Whether the stack runs payload codecs (PayloadCodecs): then a request may carry `object`. */
  payloadCodecs?: boolean;
  now?: () => number;
}

/** Kept, once OrbiWAN answered the POST, to record it and publish `accepted`, with retries. */
export const AFTER_POST_MS = 10_000;
/** What a POST needs: its own timeout and what follows it. None starts with less time left. */
const POST_NEEDS_MS = ORBIWAN_TIMEOUT_MS + AFTER_POST_MS;
/** How long to wait for a device another downlink is being posted to. */
export const DEVICE_WAIT_MS = 6_000;
/** Kept back from the Lambda deadline: the function's own return and its last log lines. */
const DEADLINE_MARGIN_MS = 1_000;

/** What the send task did; Step Functions ignores it (the task waits for its token). */
export type SendOutcome = 'waiting' | 'ended';

/**
 * State SendDownlink, the one task between the IoT rule and OrbiWAN: validate the request, claim
 * its requestId, take the device's lease, POST, publish `accepted`, and record the POST with the
 * task's token so the downlink's statuses can end it. Until the POST, every failure is a typed
 * error for the state machine's Retry and Catch, and nothing was queued. After it, nothing fails
 * the task: the downlink is queued at OrbiWAN.
 */
export async function sendDownlink(
  input: SendInput,
  deps: SendDeps,
  deadline: number,
): Promise<SendOutcome> {
  const now = deps.now ?? Date.now;
  const downlink = withData(validRequest(input.request, deps.defaults), deps.payloadCodecs);
  logger.appendKeys({ devEui: downlink.devEui, requestId: downlink.requestId });
  const request: RequestRef = {
    devEui: downlink.devEui,
    requestId: downlink.requestId,
    execution: input.correlationId,
  };

  // The claim and the device's lease are taken at once: one DynamoDB round trip less on the way
  // to OrbiWAN, where an application's answer to an early uplink races the receive window.
  const [claimed, taken] = await Promise.allSettled([
    beforePost('record the request', () => deps.claims.claim(request)),
    beforePost('log in to OrbiWAN', () => deps.orbiwan.logIn()).then(() =>
      beforePost('take the device', () =>
        deps.lease.acquire(downlink.devEui, input.correlationId, {
          deadline: deadline + DEADLINE_MARGIN_MS,
          waitUntil: Math.min(now() + DEVICE_WAIT_MS, deadline - POST_NEEDS_MS),
        }),
      ),
    ),
  ]);
  // A lease an earlier attempt died holding stays until it lapses: it is how a retry knows that
  // attempt may have posted, so only this attempt's own is given back early.
  const heldLease =
    taken.status === 'fulfilled' && !taken.value.previousAttempt ? taken.value.lease : undefined;
  const settleLease = async () => {
    const publishing = statusPublishing({ ...deps, topicPrefix: deps.defaults.topicPrefix });
    await settleDeferred(
      deps.records,
      publishing,
      downlink.devEui,
      await giveBack(heldLease, deadline, now),
    );
  };
  if (claimed.status === 'rejected') {
    await settleLease();
    throw claimed.reason;
  }
  const claim = claimed.value;
  if (claim.kind === 'duplicate') {
    await settleLease();
    throw new DuplicateRequestError(
      `requestId "${downlink.requestId ?? ''}" was sent to ${downlink.devEui} by ${claim.of} within the window: this request is that downlink`,
    );
  }
  if (claim.kind === 'again' && claim.downlinkId !== undefined) {
    logger.info('an earlier attempt posted this downlink: following it', {
      downlinkId: claim.downlinkId,
    });
    const reply = Buffer.from(claim.reply ?? `{"id":${claim.downlinkId}}`);
    const followed = { id: claim.downlinkId, reply, followed: true };
    return afterPost(input, deps, downlink, followed, heldLease, deadline);
  }
  if (taken.status === 'rejected') throw taken.reason;
  const { lease, previousAttempt } = taken.value;
  let enqueued: EnqueuedDownlink;
  try {
    if (previousAttempt)
      throw new OrbiwanUnavailableError(
        'an earlier attempt of this downlink stopped while posting it: OrbiWAN may have queued it',
      );
    if (now() > deadline - POST_NEEDS_MS)
      throw new OrbiwanNotReachedError(
        'too little time was left to post the downlink and record it; nothing was sent',
      );
    enqueued = await deps.orbiwan.enqueueDownlink(downlink, {
      retryUntil: deadline - POST_NEEDS_MS - ORBIWAN_TIMEOUT_MS,
    });
  } catch (error) {
    // Statuses left with the device during a POST that failed are settled all the same: else
    // nothing would ever publish them.
    await settleLease();
    throw error;
  }
  emitMetric(
    METRIC.downlinkAcceptanceLatency,
    MetricUnit.Milliseconds,
    Math.max(0, now() - downlink.receivedAt),
  );
  logger.info('downlink queued by OrbiWAN', {
    downlinkId: enqueued.id,
    fcnt: enqueued.fcnt,
    transmissionStatus: enqueued.transmissionStatus,
  });
  return afterPost(input, deps, downlink, { ...enqueued, followed: false }, lease, deadline);
}

/**
 * OrbiWAN queued the downlink: tell the application (`accepted`), keep OrbiWAN's id with the
 * claim, and record the POST with the task token, in that order, so every status that follows
 * comes after `accepted` and carries the requestId. Statuses that came before the record are
 * published now; ids of other downlinks' statuses left with the lease are settled. `followed`:
 * an earlier attempt of this execution posted it, and may have done some of this already.
 */
async function afterPost(
  input: SendInput,
  deps: SendDeps,
  downlink: Downlink,
  { id, reply, followed }: { id: string; reply: Buffer; followed: boolean },
  lease: HeldLease | undefined,
  deadline: number,
): Promise<SendOutcome> {
  const now = deps.now ?? Date.now;
  const request = {
    devEui: downlink.devEui,
    requestId: downlink.requestId,
    execution: input.correlationId,
  };
  const acceptedAt = new Date(now()).toISOString();
  // An earlier attempt that recorded the POST had published `accepted` before: not again.
  const announced =
    followed &&
    (await deps.records
      .read(downlink.devEui, id)
      .then((known) => known.execution !== undefined)
      .catch(() => false));
  const [posted, accepted] = await Promise.allSettled([
    retrying(
      () => deps.claims.notePosted(request, { downlinkId: id, reply: reply.toString('utf8') }),
      deadline,
      { now },
    ),
    retrying(
      async () => {
        if (announced) return;
        await deps.publish({
          topic: downlink.statusTopic,
          payload: acceptedStatus(reply, {
            devEui: downlink.devEui,
            requestId: downlink.requestId,
            correlationId: input.correlationId,
          }),
          qos: 1,
        });
      },
      deadline,
      { now },
    ),
  ]);
  if (accepted.status === 'rejected')
    logger.error('could not publish the accepted status', { error: accepted.reason as unknown });
  if (posted.status === 'rejected')
    logger.error("could not keep OrbiWAN's id with the request; a timeout cannot ask OrbiWAN", {
      error: posted.reason as unknown,
    });

  let view;
  try {
    view = await retrying(
      () =>
        deps.records.recordPost(downlink.devEui, id, {
          execution: input.correlationId,
          taskToken: input.taskToken,
          requestId: downlink.requestId,
          confirmed: downlink.confirmed,
          accepted: { state: 'accepted', at: acceptedAt },
        }),
      deadline,
      { now },
    );
  } catch (error) {
    await giveBack(lease, deadline, now);
    logger.error('could not record the downlink OrbiWAN queued', { error });
    throw new DownlinkNotRecordedError(id);
  }

  const publishing = statusPublishing({ ...deps, topicPrefix: deps.defaults.topicPrefix });
  let outcome: SendOutcome = 'waiting';
  if (view.ended !== undefined) {
    // It ended while an earlier attempt waited on its token: this attempt's token ends now.
    await publishing.endExecution(view);
    outcome = 'ended';
  } else if (view.reports.some((report) => report.rank > (view.publishedRank ?? 0))) {
    logger.info('statuses came before the downlink was recorded: publishing them');
    const ended = await publishing.publishPending(downlink.devEui, id).catch((error: unknown) => {
      // They stay recorded: the next status, or the timeout, publishes them.
      logger.error('could not publish the statuses that came first', { error });
      return undefined;
    });
    if (ended !== undefined) outcome = 'ended';
  }
  // Without OrbiWAN's id kept with the claim, a retry of this execution could not tell that it
  // posted: the lease stays ours until it lapses, which a retry reads as "may have posted".
  const deferred = await giveBack(posted.status === 'fulfilled' ? lease : undefined, deadline, now);
  await settleDeferred(
    deps.records,
    publishing,
    downlink.devEui,
    deferred.filter((other) => other !== id),
  );
  return outcome;
}

/** Statuses left with the device while this task held it, of downlinks it does not follow. */
async function settleDeferred(
  records: DownlinkRecords,
  publishing: StatusPublishing,
  devEui: string,
  deferred: string[],
): Promise<void> {
  for (const other of deferred) {
    await settleUnrecorded(records, publishing, devEui, other).catch((error: unknown) => {
      logger.error('could not settle a status left with the device', { error, other });
    });
  }
}

/**
 * A request with `object` goes to the state machine's EncodeObject state first: it has the codecs
 * (in the device-state function), and this task's bundle stays without them.
 */
function withData(downlink: Downlink | ObjectDownlink, payloadCodecs = false): Downlink {
  if (!('object' in downlink)) return downlink;
  if (!payloadCodecs) throw new NoCodecError(NO_PAYLOAD_CODECS);
  throw new ObjectToEncodeError('the request carries object: EncodeObject encodes it first');
}

function validRequest(request: RuleInput, defaults: DownlinkDefaults): Downlink | ObjectDownlink {
  try {
    return parseDownlink(request, defaults);
  } catch (error) {
    if (error instanceof InvalidDownlinkError)
      logger.warn('downlink request invalid', { topic: request.topic, issues: error.issues });
    throw error;
  }
}

/**
 * Gives the device back, trying again until the deadline: a lease left to lapse keeps every other
 * downlink to the device waiting (DEVICE_BUSY) until its holder's deadline has passed.
 */
async function giveBack(
  lease: HeldLease | undefined,
  deadline: number,
  now: () => number,
): Promise<string[]> {
  if (lease === undefined) return [];
  try {
    return await retrying(() => lease.release(), deadline, { now });
  } catch (error) {
    logger.warn('could not give the device back; its lease lapses by itself', { error });
    return [];
  }
}

const TYPED_ERRORS = [
  InvalidDownlinkError,
  NoCodecError,
  DeviceLockedError,
  DuplicateRequestError,
  OrbiwanNotReachedError,
  OrbiwanUnavailableError,
  OrbiwanRejectedError,
  UnknownDeviceError,
  DeviceBusyError,
  ConfigurationError,
];

/**
 * A step before the POST: an AWS service failing there (DynamoDB, Secrets Manager) becomes a
 * DependencyError, which the state machine retries, as nothing was sent yet.
 */
async function beforePost<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (TYPED_ERRORS.some((type) => error instanceof type)) throw error;
    const name = error instanceof Error ? error.name : 'Error';
    throw new DependencyError(
      'DEPENDENCY_FAILED',
      `could not ${what} (${name}); nothing was sent`,
      /Throttl|ProvisionedThroughput/.test(name),
      { cause: error },
    );
  }
}

export function createSendDownlinkHandler(deps: SendDeps) {
  return stateMachineTask<SendInput, SendOutcome>((input, context) =>
    sendDownlink(input, deps, Date.now() + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS),
  );
}

export function sendDownlinkHandlerFromEnv(env: NodeJS.ProcessEnv) {
  const table = downlinksTableFromEnv(env);
  const client = dynamoDbClient;
  return createSendDownlinkHandler({
    defaults: { topicPrefix: topicPrefixFromEnv(env), ...downlinkDefaultsFromEnv(env) },
    orbiwan: orbiwanClientFromEnv(env),
    claims: requestClaims({ client, ...table, windowMs: requestIdWindowMsFromEnv(env) }),
    lease: deviceLease({ client, tableName: table.tableName }),
    records: downlinkRecords({ client, ...table, publisherLeaseMs: PUBLISHER_LEASE_MS }),
    publish: statusPublisher(iotDataClient),
    complete: stepFunctionsCompletion(sfnClient),
    payloadCodecs: requireOneOfEnv('PAYLOAD_CODECS', ['Enabled', 'Disabled'], env) === 'Enabled',
  });
}
