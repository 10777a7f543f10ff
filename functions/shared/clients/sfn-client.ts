import { SFNClient } from '@aws-sdk/client-sfn';
import { requestHandler } from './request-handler.js';

export const sfnClient = new SFNClient({ requestHandler });
