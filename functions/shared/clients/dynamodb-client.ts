import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { tracer } from '../tracer.js';
import { requestHandler } from './request-handler.js';

export const dynamoDbClient = tracer.captureAWSv3Client(new DynamoDBClient({ requestHandler }));
