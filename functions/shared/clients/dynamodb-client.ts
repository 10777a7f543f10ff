import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { requestHandler } from './request-handler.js';

export const dynamoDbClient = new DynamoDBClient({ requestHandler });
