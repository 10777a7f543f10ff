export { reportFailureHandlerFromEnv as createHandler } from './report-failure.js';
