import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { traced } from '../tracer.js';
import { requestHandler } from './request-handler.js';

export const dynamoDbClient = traced(new DynamoDBClient({ requestHandler: requestHandler() }));
