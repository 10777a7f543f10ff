import { SFNClient } from '@aws-sdk/client-sfn';
import { tracer } from '../tracer.js';
import { requestHandler } from './request-handler.js';

export const sfnClient = tracer.captureAWSv3Client(new SFNClient({ requestHandler }));
