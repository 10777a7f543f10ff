import { deviceStateHandlerFromEnv } from './device-state-function.js';

export const handler = deviceStateHandlerFromEnv(process.env);
