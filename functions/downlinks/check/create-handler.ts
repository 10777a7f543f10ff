export { checkStatusHandlerFromEnv as createHandler } from './check-status.js';
