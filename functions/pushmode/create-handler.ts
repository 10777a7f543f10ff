export { pushModeHandlerFromEnv as createHandler } from './configure-push-mode.js';
