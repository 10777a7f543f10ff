import { logger } from '../../shared/logger.js';
import { InvalidDownlinkError } from '../downlink-errors.js';
import {
  parseDownlink,
  type Downlink,
  type DownlinkDefaults,
  type RuleInput,
} from '../downlink-request.js';
import { topicPrefixFromEnv } from '../../shared/topics.js';
import { downlinkDefaultsFromEnv } from '../downlink-settings.js';
import { stateMachineTask } from '../state-machine-task.js';

/** The rule's message, as the state machine passes it on with the execution's name. */
export type ValidateInput = RuleInput & { correlationId?: string };

/** State ValidateDownlink: the rule's message in, a Downlink out, or InvalidDownlinkError. */
export function createValidateDownlinkHandler(defaults: DownlinkDefaults) {
  // No log keys from the input: the DevEUI is known once the request is valid.
  return stateMachineTask<ValidateInput, Downlink>((input) => {
    try {
      const downlink = parseDownlink(input, defaults);
      logger.appendKeys({ devEui: downlink.devEui, requestId: downlink.requestId });
      logger.info('downlink request valid', {
        port: downlink.port,
        bytes: downlink.data.length / 2,
        confirmed: downlink.confirmed,
      });
      return Promise.resolve(downlink);
    } catch (error) {
      if (error instanceof InvalidDownlinkError)
        logger.warn('downlink request invalid', { topic: input.topic, issues: error.issues });
      throw error;
    }
  });
}

export function validateDownlinkHandlerFromEnv(env: NodeJS.ProcessEnv) {
  return createValidateDownlinkHandler({
    topicPrefix: topicPrefixFromEnv(env),
    ...downlinkDefaultsFromEnv(env),
  });
}
