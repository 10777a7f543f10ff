export { sendToOrbiwanHandlerFromEnv as createHandler } from './send-to-orbiwan.js';
