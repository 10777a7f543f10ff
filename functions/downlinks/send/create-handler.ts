export { sendDownlinkHandlerFromEnv as createHandler } from './send-downlink.js';
