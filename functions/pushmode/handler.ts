import { pushModeHandlerFromEnv } from './configure-push-mode.js';

export const handler = pushModeHandlerFromEnv(process.env);
