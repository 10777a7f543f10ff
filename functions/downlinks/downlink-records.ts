import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { dynamoDbClient } from '../shared/clients/dynamodb-client.js';
import { downlinksTableFromEnv } from './downlink-settings.js';
import { lifecycleRank } from './downlink-status.js';

// One item per downlink in the downlinks table, keyed (devEui, downlinkId = OrbiWAN's id). Three
// writers meet there in any order: the POST (requestId), OrbiWAN's status pushes (the status, only
// ever moving forward) and the state machine's waits (the task token). Whoever writes second sees
// the other's part, so a status that arrives before its wait is kept and delivered, not lost.

export interface DownlinkKey {
  devEui: string;
  downlinkId: string;
}

export interface DownlinkRecord {
  requestId: string | undefined;
  /** Whether the downlink was sent confirmed, once the POST is recorded. */
  confirmed: boolean | undefined;
  /** The execution following the downlink, once the POST is recorded. */
  executionArn: string | undefined;
  lastStatus: number | undefined;
  taskToken: string | undefined;
  /** The rank of the status the waiting execution has already seen. */
  waitingAfterRank: number | undefined;
}

export interface DownlinkRecordsOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How long an item outlives its last write (DynamoDB TTL), in seconds. */
  retentionSeconds: number;
  now?: () => number;
}

export interface StatusNote {
  /** False when the status is a duplicate or older than one already recorded. */
  advanced: boolean;
  record: DownlinkRecord;
}

export interface DownlinkRecords {
  /** Records the POST; answers the status recorded before it, if one came first. */
  noteAccepted: (
    key: DownlinkKey,
    details: { requestId: string | undefined; executionArn: string; confirmed: boolean },
  ) => Promise<{ statusBefore: number | undefined }>;
  noteStatus: (key: DownlinkKey, transmissionStatus: number) => Promise<StatusNote>;
  /** The record as it is now (a strongly consistent read). */
  read: (key: DownlinkKey) => Promise<DownlinkRecord>;
  noteWait: (key: DownlinkKey, taskToken: string, afterStatus: number) => Promise<DownlinkRecord>;
}

/** The status a waiting execution has not seen yet, with the token to deliver it to. */
export function statusToDeliver(
  record: DownlinkRecord,
): { taskToken: string; transmissionStatus: number } | undefined {
  const { taskToken, lastStatus, waitingAfterRank } = record;
  if (taskToken === undefined || lastStatus === undefined) return undefined;
  return lifecycleRank(lastStatus) > (waitingAfterRank ?? -1)
    ? { taskToken, transmissionStatus: lastStatus }
    : undefined;
}

export function downlinkRecords({
  client,
  tableName,
  retentionSeconds,
  now = Date.now,
}: DownlinkRecordsOptions): DownlinkRecords {
  const keyOf = ({ devEui, downlinkId }: DownlinkKey) => ({
    devEui: { S: devEui },
    downlinkId: { S: downlinkId },
  });
  const expiresAt = () => ({ N: String(Math.floor(now() / 1000) + retentionSeconds) });
  const read = async (key: DownlinkKey) => {
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tableName, Key: keyOf(key), ConsistentRead: true }),
    );
    return toRecord(Item);
  };

  return {
    read,

    noteAccepted: async (key, { requestId, executionArn, confirmed }) => {
      const { Attributes } = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: keyOf(key),
          UpdateExpression: `SET executionArn = :execution, confirmed = :confirmed, expiresAt = :expires${requestId === undefined ? '' : ', requestId = :request'}`,
          ExpressionAttributeValues: {
            ':execution': { S: executionArn },
            ':confirmed': { BOOL: confirmed },
            ':expires': expiresAt(),
            ...(requestId === undefined ? {} : { ':request': { S: requestId } }),
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      return { statusBefore: toRecord(Attributes).lastStatus };
    },

    noteStatus: async (key, transmissionStatus) => {
      try {
        const { Attributes } = await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: keyOf(key),
            UpdateExpression: 'SET lastStatus = :status, statusRank = :rank, expiresAt = :expires',
            ConditionExpression: 'attribute_not_exists(statusRank) OR statusRank < :rank',
            ExpressionAttributeValues: {
              ':status': { N: String(transmissionStatus) },
              ':rank': { N: String(lifecycleRank(transmissionStatus)) },
              ':expires': expiresAt(),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { advanced: true, record: toRecord(Attributes) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        return { advanced: false, record: await read(key) };
      }
    },

    noteWait: async (key, taskToken, afterStatus) => {
      const { Attributes } = await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: keyOf(key),
          UpdateExpression:
            'SET taskToken = :token, waitingAfterRank = :after, expiresAt = :expires',
          ExpressionAttributeValues: {
            ':token': { S: taskToken },
            ':after': { N: String(lifecycleRank(afterStatus)) },
            ':expires': expiresAt(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRecord(Attributes);
    },
  };
}

function toRecord(item: Record<string, AttributeValue> | undefined): DownlinkRecord {
  const number = (name: string) =>
    item?.[name]?.N === undefined ? undefined : Number(item[name].N);
  return {
    requestId: item?.requestId?.S,
    confirmed: item?.confirmed?.BOOL,
    executionArn: item?.executionArn?.S,
    lastStatus: number('lastStatus'),
    taskToken: item?.taskToken?.S,
    waitingAfterRank: number('waitingAfterRank'),
  };
}

/** The downlink records of a function, in the table its environment names (template.yaml). */
export function downlinkRecordsFromEnv(env: NodeJS.ProcessEnv): DownlinkRecords {
  return downlinkRecords({ client: dynamoDbClient, ...downlinksTableFromEnv(env) });
}
