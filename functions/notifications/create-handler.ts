import { notificationHandlerFromEnv, type NotificationHandler } from './notification-handler.js';

/** The handler of the notification functions (all but downlink statuses), from its environment. */
export function createHandler(env: NodeJS.ProcessEnv): NotificationHandler {
  return notificationHandlerFromEnv(env);
}
