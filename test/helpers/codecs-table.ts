import { BatchWriteItemCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { startAwsStandIns, type AwsStandIns } from '../../local/aws/aws-stand-ins.js';
import { loadTemplate } from '../../local/template/sam-template.js';
import { deployedTemplate, type LocalStack } from '../../local/template/stack.js';
import { sampleStack } from './sample-stack.js';

// The DeviceCodecsTable the template makes with PayloadCodecs=Enabled, on a real DynamoDB
// (dynalite behind the local AWS endpoint): for the tests of the codec store and its command.

export interface CodecsTable {
  aws: AwsStandIns;
  stack: LocalStack;
  table: string;
  /** A client of the local DynamoDB; `maxAttempts: 1` shows a fault without the SDK's retries. */
  client: (options?: { maxAttempts?: number }) => DynamoDBClient;
  /** Deletes every item: each test starts from an empty table. */
  empty: () => Promise<void>;
}

export async function startCodecsTable(): Promise<CodecsTable> {
  const template = loadTemplate();
  const stack = sampleStack({ PayloadCodecs: 'Enabled' }, template);
  const table = stack.refs.DeviceCodecsTable ?? '';
  // The deployed template has the table: startAwsStandIns makes every table of what it is given.
  const aws = await startAwsStandIns({
    template: deployedTemplate(template, stack),
    stack,
    secrets: {},
    onPublish: () => undefined,
  });
  const client = (options: { maxAttempts?: number } = {}) =>
    new DynamoDBClient({
      endpoint: aws.endpoint.url,
      region: stack.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      ...options,
    });
  const cleaner = client();
  const empty = async () => {
    // A Scan reads at most 1 MB: scanned and emptied again until nothing is left.
    for (;;) {
      const { Items = [] } = await cleaner.send(
        new ScanCommand({
          TableName: table,
          ProjectionExpression: 'kind, #name',
          ExpressionAttributeNames: { '#name': 'name' },
        }),
      );
      if (Items.length === 0) return;
      for (let start = 0; start < Items.length; start += 25)
        await cleaner.send(
          new BatchWriteItemCommand({
            RequestItems: {
              [table]: Items.slice(start, start + 25).map((item) => ({
                DeleteRequest: {
                  Key: { kind: item.kind ?? { S: '' }, name: item.name ?? { S: '' } },
                },
              })),
            },
          }),
        );
    }
  };
  return { aws, stack, table, client, empty };
}
