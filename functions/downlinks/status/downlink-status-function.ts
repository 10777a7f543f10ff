import {
  notificationHandlerFromEnv,
  type NotificationHandler,
} from '../../notifications/notification-handler.js';
import { downlinkStatusIntakeFromEnv } from '../status-intake.js';

/**
 * DownlinkStatusFunction: an OrbiWAN notification handler like the others, which hands each status
 * to its downlink's lifecycle instead of republishing it as it came (status-intake.ts).
 */
export function downlinkStatusHandlerFromEnv(env: NodeJS.ProcessEnv): NotificationHandler {
  return notificationHandlerFromEnv(env, downlinkStatusIntakeFromEnv(env));
}
