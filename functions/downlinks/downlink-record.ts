import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { FinalState } from './downlink-status.js';
import {
  downlinkItem,
  expiresAt,
  keyOf,
  numberValue,
  read,
  stringValue,
  type Item,
} from './downlink-table.js';

// One item per downlink OrbiWAN accepted, keyed (devEui, downlink#{id}): where the POST, OrbiWAN's
// statuses and their publishing meet, in whatever order they come. Every change is one conditional
// write, so whoever writes second sees what the first wrote:
//   - the send task records the POST (its execution, task token, requestId) once `accepted` is out;
//   - the status function records each status OrbiWAN reports, the first of each rank (pending,
//     sent, final), in whatever order they come;
//   - a publisher takes the item's publishing lock, publishes what was reported and not yet
//     published, in order, and marks it published (status-publishing.ts).
// A status counts as seen only once it is marked published.

export interface Report {
  /** pending 0 < sent 1 < final 2 (downlink-status.ts lifecycleRank). */
  rank: number;
  transmissionStatus: number;
  /** The status as OrbiWAN sent it (a push's body, or its answer to a GET with DevEUI added). */
  body: string;
}

export interface PublishedEntry {
  state: string;
  at: string;
}

/** The item as it stands. */
export interface DownlinkView {
  devEui: string;
  downlinkId: string;
  /** The execution following the downlink: its name, once the POST is recorded. */
  execution: string | undefined;
  taskToken: string | undefined;
  requestId: string | undefined;
  confirmed: boolean | undefined;
  /** Every rank reported, lowest first. */
  reports: Report[];
  /** The highest rank the application has seen (accepted counts as 0). */
  publishedRank: number | undefined;
  /** Every status published with the downlink's requestId, with its time. */
  published: PublishedEntry[];
  /** How it ended, once its final status is published. */
  ended: FinalState | undefined;
  /** OrbiWAN's statuses of a downlink the connector never sent, republished as they are. */
  orphan: boolean;
}

export interface DownlinkRecords {
  recordPost: (
    devEui: string,
    downlinkId: string,
    post: {
      execution: string;
      taskToken: string;
      requestId: string | undefined;
      confirmed: boolean;
      accepted: PublishedEntry;
    },
  ) => Promise<DownlinkView>;
  /** Records a status; `advanced` is false when one of its rank was reported before. */
  recordReport: (
    devEui: string,
    downlinkId: string,
    report: Report,
  ) => Promise<{ advanced: boolean; view: DownlinkView }>;
  /** Marks the downlink as one the connector never sent; false when it did send it. */
  claimOrphan: (devEui: string, downlinkId: string) => Promise<boolean>;
  /**
   * Takes the publishing lock when there is something to publish (or, with `always`, as long as
   * the downlink has not ended); undefined when another holds it or there is nothing to do.
   */
  takePublisher: (
    devEui: string,
    downlinkId: string,
    publisher: string,
    options: { always: boolean },
  ) => Promise<DownlinkView | undefined>;
  /** Marks what the lock's holder published, and gives the lock back. */
  markPublished: (
    devEui: string,
    downlinkId: string,
    publisher: string,
    published: { rank: number; entries: PublishedEntry[]; ended: FinalState | undefined },
  ) => Promise<DownlinkView>;
  read: (devEui: string, downlinkId: string) => Promise<DownlinkView>;
}

export interface DownlinkRecordsOptions {
  client: DynamoDBClient;
  tableName: string;
  retentionSeconds: number;
  /** How long a publisher may hold the lock before another may take over (it died). */
  publisherLeaseMs: number;
  now?: () => number;
}

const RANKS = [0, 1, 2];

/** A status of a rank the application has not seen was reported (pending is what accepted says). */
const SOMETHING_TO_PUBLISH =
  '((attribute_exists(body1) AND publishedRank < :one) OR (attribute_exists(body2) AND publishedRank < :two))';

export function downlinkRecords({
  client,
  tableName,
  retentionSeconds,
  publisherLeaseMs,
  now = Date.now,
}: DownlinkRecordsOptions): DownlinkRecords {
  const key = (devEui: string, downlinkId: string) => keyOf(devEui, downlinkItem(downlinkId));
  const update = async (
    devEui: string,
    downlinkId: string,
    expression: Omit<ConstructorParameters<typeof UpdateItemCommand>[0], 'TableName' | 'Key'>,
  ) => {
    const { Attributes } = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key(devEui, downlinkId),
        ReturnValues: 'ALL_NEW',
        ...expression,
      }),
    );
    return viewOf(devEui, downlinkId, Attributes);
  };
  const conditional = async <T>(write: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await write();
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  };
  const readView = async (devEui: string, downlinkId: string) => {
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: key(devEui, downlinkId),
        ConsistentRead: true,
      }),
    );
    return viewOf(devEui, downlinkId, Item);
  };

  return {
    read: readView,

    recordPost: (devEui, downlinkId, { execution, taskToken, requestId, confirmed, accepted }) =>
      // A retried send task records again, with its new token; what was published stays.
      update(devEui, downlinkId, {
        UpdateExpression: `SET execution = :execution, taskToken = :token, confirmed = :confirmed, publishedRank = if_not_exists(publishedRank, :zero), published = if_not_exists(published, :accepted), expiresAt = :expires${requestId === undefined ? '' : ', requestId = :request'}`,
        ExpressionAttributeValues: {
          ':execution': stringValue(execution),
          ':token': stringValue(taskToken),
          ':confirmed': { BOOL: confirmed },
          ':zero': numberValue(0),
          ':accepted': { L: [entryValue(accepted)] },
          ':expires': expiresAt(retentionSeconds, now()),
          ...(requestId === undefined ? {} : { ':request': stringValue(requestId) }),
        },
      }),

    recordReport: async (devEui, downlinkId, { rank, transmissionStatus, body }) => {
      const view = await conditional(() =>
        update(devEui, downlinkId, {
          UpdateExpression: `SET status${rank} = :status, body${rank} = :body, expiresAt = :expires`,
          ConditionExpression: `attribute_not_exists(body${rank})`,
          ExpressionAttributeValues: {
            ':status': numberValue(transmissionStatus),
            ':body': stringValue(body),
            ':expires': expiresAt(retentionSeconds, now()),
          },
        }),
      );
      return view === undefined
        ? { advanced: false, view: await readView(devEui, downlinkId) }
        : { advanced: true, view };
    },

    claimOrphan: async (devEui, downlinkId) =>
      (await conditional(() =>
        update(devEui, downlinkId, {
          UpdateExpression: 'SET orphan = :true, expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(execution) AND attribute_not_exists(orphan)',
          ExpressionAttributeValues: {
            ':true': { BOOL: true },
            ':expires': expiresAt(retentionSeconds, now()),
          },
        }),
      )) !== undefined,

    takePublisher: (devEui, downlinkId, publisher, { always }) => {
      const time = now();
      return conditional(() =>
        update(devEui, downlinkId, {
          UpdateExpression: 'SET publisher = :me, publisherUntil = :until',
          ConditionExpression: `attribute_exists(execution) AND attribute_not_exists(ended) AND (attribute_not_exists(publisher) OR publisherUntil < :now)${always ? '' : ` AND ${SOMETHING_TO_PUBLISH}`}`,
          ExpressionAttributeValues: {
            ':me': stringValue(publisher),
            ':until': numberValue(time + publisherLeaseMs),
            ':now': numberValue(time),
            ...(always ? {} : { ':one': numberValue(1), ':two': numberValue(2) }),
          },
        }),
      );
    },

    markPublished: (devEui, downlinkId, publisher, { rank, entries, ended }) =>
      update(devEui, downlinkId, {
        UpdateExpression: `SET publishedRank = :rank, published = list_append(published, :entries), expiresAt = :expires${ended === undefined ? '' : ', ended = :ended'} REMOVE publisher, publisherUntil`,
        ConditionExpression: 'publisher = :me',
        ExpressionAttributeValues: {
          ':rank': numberValue(rank),
          ':entries': { L: entries.map(entryValue) },
          ':me': stringValue(publisher),
          ':expires': expiresAt(retentionSeconds, now()),
          ...(ended === undefined ? {} : { ':ended': stringValue(ended) }),
        },
      }),
  };
}

function entryValue({ state, at }: PublishedEntry): AttributeValue {
  return { M: { state: stringValue(state), at: stringValue(at) } };
}

function viewOf(devEui: string, downlinkId: string, item: Item | undefined): DownlinkView {
  const reports = RANKS.flatMap((rank) => {
    const body = read.string(item, `body${String(rank)}`);
    const transmissionStatus = read.number(item, `status${String(rank)}`);
    return body === undefined || transmissionStatus === undefined
      ? []
      : [{ rank, transmissionStatus, body }];
  });
  const published = (item?.published?.L ?? []).map((entry) => ({
    state: entry.M?.state?.S ?? '',
    at: entry.M?.at?.S ?? '',
  }));
  return {
    devEui,
    downlinkId,
    execution: read.string(item, 'execution'),
    taskToken: read.string(item, 'taskToken'),
    requestId: read.string(item, 'requestId'),
    confirmed: read.boolean(item, 'confirmed'),
    reports,
    publishedRank: read.number(item, 'publishedRank'),
    published,
    ended: read.string(item, 'ended') as FinalState | undefined,
    orphan: read.boolean(item, 'orphan') === true,
  };
}
