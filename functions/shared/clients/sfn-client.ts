import { SFNClient } from '@aws-sdk/client-sfn';
import { traced } from '../tracer.js';
import { requestHandler } from './request-handler.js';

export const sfnClient = traced(new SFNClient({ requestHandler: requestHandler() }));
