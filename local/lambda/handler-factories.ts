import { deviceStateHandlerFromEnv } from '../../functions/device-state/device-state-function.js';
import { checkStatusHandlerFromEnv } from '../../functions/downlinks/check/check-status.js';
import { reportFailureHandlerFromEnv } from '../../functions/downlinks/report/report-failure.js';
import { sendDownlinkHandlerFromEnv } from '../../functions/downlinks/send/send-downlink.js';
import { downlinkStatusHandlerFromEnv } from '../../functions/downlinks/status/downlink-status-function.js';
import { notificationHandlerFromEnv } from '../../functions/notifications/notification-handler.js';
import { pushModeHandlerFromEnv } from '../../functions/pushmode/configure-push-mode.js';

/**
 * What builds each entry point's handler from an environment, by the module of the template's
 * Handler: the call its handler.ts makes with process.env, which the local stack makes with each
 * function's template environment instead, for every function in one process.
 */
export const HANDLER_FACTORIES: Record<string, (env: NodeJS.ProcessEnv) => unknown> = {
  'functions/notifications/handler': notificationHandlerFromEnv,
  'functions/downlinks/status/handler': downlinkStatusHandlerFromEnv,
  'functions/downlinks/send/handler': sendDownlinkHandlerFromEnv,
  'functions/downlinks/check/handler': checkStatusHandlerFromEnv,
  'functions/downlinks/report/handler': reportFailureHandlerFromEnv,
  'functions/pushmode/handler': pushModeHandlerFromEnv,
  'functions/device-state/handler': deviceStateHandlerFromEnv,
};
