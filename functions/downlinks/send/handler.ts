import { sendDownlinkHandlerFromEnv } from './send-downlink.js';

export const handler = sendDownlinkHandlerFromEnv(process.env);
