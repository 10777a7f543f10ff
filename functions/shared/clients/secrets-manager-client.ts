import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { requestHandler } from './request-handler.js';

export const secretsManagerClient = new SecretsManagerClient({ requestHandler });
