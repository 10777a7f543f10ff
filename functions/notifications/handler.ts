import { notificationHandlerFromEnv } from './notification-handler.js';

// The entry point of all nine notification functions; NOTIFICATION_TYPE (set per function in
// template.yaml) says which notification this instance serves.
export const handler = notificationHandlerFromEnv(process.env);
