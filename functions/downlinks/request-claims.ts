import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  executionItem,
  expiresAt,
  keyOf,
  numberValue,
  read,
  requestItem,
  stringValue,
} from './downlink-table.js';

// Every execution claims its request before it posts anything: under its requestId when the
// application gave one (so a repeat within the window is the same downlink), else under its own
// name. The claim then keeps OrbiWAN's id and reply, for what comes after the send task: its own
// retries (which must not post again), the timeout's question to OrbiWAN, and failure reports.

export interface RequestRef {
  devEui: string;
  requestId: string | undefined;
  /** The execution's name ($$.Execution.Name). */
  execution: string;
}

export type Claim =
  /** The request is this execution's now. */
  | { kind: 'new' }
  /** An earlier attempt of this same execution claimed it; it may have posted. */
  | { kind: 'again'; downlinkId: string | undefined; reply: string | undefined }
  /** Another execution has this requestId within the window: the same downlink. */
  | { kind: 'duplicate'; of: string };

export interface PostedRequest {
  downlinkId: string | undefined;
  /** OrbiWAN's reply to the POST, as it came. */
  reply: string | undefined;
}

export interface RequestClaims {
  claim: (request: RequestRef) => Promise<Claim>;
  /** Keeps OrbiWAN's id and reply with the claim. */
  notePosted: (request: RequestRef, posted: { downlinkId: string; reply: string }) => Promise<void>;
  /** What this execution's claim holds; undefined ids when it holds none (or is not its own). */
  posted: (request: RequestRef) => Promise<PostedRequest>;
}

export interface RequestClaimsOptions {
  client: DynamoDBClient;
  tableName: string;
  /** How long a requestId stays one downlink (RequestIdWindowSeconds), in ms. */
  windowMs: number;
  retentionSeconds: number;
  now?: () => number;
}

const itemKeyOf = ({ requestId, execution }: RequestRef) =>
  requestId === undefined ? executionItem(execution) : requestItem(requestId);

export function requestClaims({
  client,
  tableName,
  windowMs,
  retentionSeconds,
  now = Date.now,
}: RequestClaimsOptions): RequestClaims {
  const key = (request: RequestRef) => keyOf(request.devEui, itemKeyOf(request));
  const get = async (request: RequestRef) =>
    (
      await client.send(
        new GetItemCommand({ TableName: tableName, Key: key(request), ConsistentRead: true }),
      )
    ).Item;

  return {
    claim: async (request) => {
      const time = now();
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: {
              ...key(request),
              execution: stringValue(request.execution),
              claimedUntil: numberValue(time + windowMs),
              expiresAt: expiresAt(retentionSeconds + windowMs / 1000, time),
            },
            ConditionExpression:
              'attribute_not_exists(devEui) OR (claimedUntil < :now AND execution <> :me)',
            ExpressionAttributeValues: {
              ':now': numberValue(time),
              ':me': stringValue(request.execution),
            },
          }),
        );
        return { kind: 'new' };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const item = await get(request);
      const holder = read.string(item, 'execution') ?? '';
      if (holder !== request.execution) return { kind: 'duplicate', of: holder };
      return {
        kind: 'again',
        downlinkId: read.string(item, 'downlinkId'),
        reply: read.string(item, 'reply'),
      };
    },

    notePosted: async (request, { downlinkId, reply }) => {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: key(request),
          UpdateExpression: 'SET downlinkId = :id, reply = :reply',
          ConditionExpression: 'execution = :me',
          ExpressionAttributeValues: {
            ':id': stringValue(downlinkId),
            ':reply': stringValue(reply),
            ':me': stringValue(request.execution),
          },
        }),
      );
    },

    posted: async (request) => {
      const item = await get(request);
      if (read.string(item, 'execution') !== request.execution)
        return { downlinkId: undefined, reply: undefined };
      return { downlinkId: read.string(item, 'downlinkId'), reply: read.string(item, 'reply') };
    },
  };
}
