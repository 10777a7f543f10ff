import { checkStatusHandlerFromEnv } from './check-status.js';

export const handler = checkStatusHandlerFromEnv(process.env);
