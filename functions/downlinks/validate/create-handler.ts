export { validateDownlinkHandlerFromEnv as createHandler } from './validate-downlink.js';
