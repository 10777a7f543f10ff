import type { Context } from 'aws-lambda';
import { logger } from '../shared/logger.js';
import { boundByDeadline, observedHandler } from '../shared/observability.js';

/** What the state machine adds to every task's input. */
interface TaskInput {
  /** $$.Execution.Name: the downlink's correlation id in logs and traces. */
  correlationId?: string;
}

/**
 * The handler of one Step Functions task: observed under the execution's correlation id, with
 * what identifies the downlink (`logKeysOf`) in every log line of the work.
 */
export function stateMachineTask<Input extends TaskInput, Result>(
  work: (input: Input, context: Context) => Promise<Result>,
  logKeysOf?: (input: Input) => Record<string, string | undefined>,
) {
  return observedHandler<Input, Result>((input) => input.correlationId).handler(
    boundByDeadline((input, context) => {
      if (logKeysOf !== undefined) logger.appendKeys(logKeysOf(input));
      return work(input, context);
    }),
  );
}
