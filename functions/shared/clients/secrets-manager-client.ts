import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { traced } from '../tracer.js';
import { requestHandler } from './request-handler.js';

export const secretsManagerClient = traced(
  new SecretsManagerClient({ requestHandler: requestHandler() }),
);
