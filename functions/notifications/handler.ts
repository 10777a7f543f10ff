import { notificationHandlerFromEnv } from './notification-handler.js';

// The entry point of the notification functions; NOTIFICATION_TYPE (set per function in
// template.yaml) says which notification an instance serves. The local stack builds the same
// handler with each function's environment (local/lambda/handler-factories.ts).
export const handler = notificationHandlerFromEnv(process.env);
