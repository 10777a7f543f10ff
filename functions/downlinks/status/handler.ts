import { downlinkStatusHandlerFromEnv } from './downlink-status-function.js';

export const handler = downlinkStatusHandlerFromEnv(process.env);
