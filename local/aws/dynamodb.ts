import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  CreateTableCommand,
  DynamoDBClient,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { resolveIntrinsics } from '../template/intrinsics.js';
import { resourcesOfType, type CfnTemplate } from '../template/sam-template.js';
import type { LocalStack } from '../template/stack.js';
import { targetOperation, type AwsService } from './aws-endpoint.js';

// DynamoDB in memory (dynalite), behind the shared endpoint. dynalite does not expire items by TTL
// nor support transactions: the connector uses neither in a way that matters locally.

export function dynamoDbService(): AwsService {
  const server: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const [listener] = server.listeners('request') as ((
    request: IncomingMessage,
    response: ServerResponse,
  ) => void)[];
  if (listener === undefined) throw new Error('dynalite has no request listener');
  return {
    name: 'dynamodb',
    protocol: 'json-1.0',
    operationOf: (request) => targetOperation(request, 'DynamoDB_20120810'),
    handle: (request, response) => {
      listener(request, response);
    },
  };
}

/** Creates every AWS::DynamoDB::Table of the template, under the physical names the stack gave them. */
export async function createTemplateTables(
  template: CfnTemplate,
  stack: LocalStack,
  client: DynamoDBClient,
): Promise<void> {
  for (const [id, table] of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
    const properties = resolveIntrinsics(table.Properties ?? {}, stack) as Omit<
      CreateTableCommandInput,
      'TableName'
    >;
    await client.send(
      new CreateTableCommand({
        TableName: stack.refs[id],
        KeySchema: properties.KeySchema,
        AttributeDefinitions: properties.AttributeDefinitions,
        BillingMode: properties.BillingMode ?? 'PAY_PER_REQUEST',
      }),
    );
  }
}
