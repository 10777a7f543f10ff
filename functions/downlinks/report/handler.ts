import { reportFailureHandlerFromEnv } from './report-failure.js';

export const handler = reportFailureHandlerFromEnv(process.env);
