export { registerWaitHandlerFromEnv as createHandler } from './register-wait.js';
