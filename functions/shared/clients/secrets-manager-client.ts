import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { tracer } from '../tracer.js';
import { requestHandler } from './request-handler.js';

export const secretsManagerClient = tracer.captureAWSv3Client(
  new SecretsManagerClient({ requestHandler }),
);
