import {
  notificationHandlerFromEnv,
  type NotificationHandler,
} from '../../notifications/notification-handler.js';
import { downlinkStatusCorrelationFromEnv } from '../status-correlation.js';

/**
 * DownlinkStatusFunction: an OrbiWAN notification handler like the others, which also records each
 * status with its downlink and resumes the execution waiting for it.
 */
export function createHandler(env: NodeJS.ProcessEnv): NotificationHandler {
  return notificationHandlerFromEnv(env, downlinkStatusCorrelationFromEnv(env));
}
