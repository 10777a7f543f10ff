import {
  InvalidToken,
  SFNClient,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  TaskDoesNotExist,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { DownlinkOutcome } from '../../../functions/downlinks/downlink-outcomes.js';
import type { FinalState } from '../../../functions/downlinks/downlink-status.js';
import { stepFunctionsCompletion } from '../../../functions/downlinks/task-completion.js';
import { DEV_EUI, DOWNLINK_ID, TASK_TOKEN } from './downlink-fixtures.js';

const sfn = mockClient(SFNClient);
const complete = stepFunctionsCompletion(new SFNClient({}));

beforeEach(() => {
  sfn.reset();
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

const outcome = (finalState: FinalState): DownlinkOutcome => ({
  finalState,
  devEui: DEV_EUI,
  downlinkId: DOWNLINK_ID,
  requestId: 'order-42',
  statuses: [{ state: 'accepted', at: '2026-12-04T12:00:00.000Z' }],
});

describe('stepFunctionsCompletion', () => {
  it.each(['acknowledged', 'delivered'] as const)(
    'ends the task successfully, with the outcome as its output, when the downlink ended %s',
    async (finalState) => {
      await expect(complete(TASK_TOKEN, outcome(finalState))).resolves.toBe('completed');

      expect(sfn.commandCalls(SendTaskSuccessCommand).map((call) => call.args[0].input)).toEqual([
        { taskToken: TASK_TOKEN, output: JSON.stringify({ outcome: outcome(finalState) }) },
      ]);
      expect(sfn.commandCalls(SendTaskFailureCommand)).toEqual([]);
    },
  );

  it.each([
    ['not_acknowledged', 'NotAcknowledged'],
    ['transmission_error', 'TransmissionError'],
    ['cancelled', 'Cancelled'],
    ['timed_out', 'TimedOut'],
  ] as const)(
    'fails the task with %s as %s, the outcome as its cause',
    async (finalState, error) => {
      await complete(TASK_TOKEN, outcome(finalState));

      expect(sfn.commandCalls(SendTaskFailureCommand).map((call) => call.args[0].input)).toEqual([
        { taskToken: TASK_TOKEN, error, cause: JSON.stringify(outcome(finalState)) },
      ]);
      expect(sfn.commandCalls(SendTaskSuccessCommand)).toEqual([]);
    },
  );

  it.each([
    ['TaskTimedOut', new TaskTimedOut({ message: 'timed out', $metadata: {} })],
    ['TaskDoesNotExist', new TaskDoesNotExist({ message: 'no such task', $metadata: {} })],
    ['InvalidToken', new InvalidToken({ message: 'invalid token', $metadata: {} })],
  ])('answers gone when Step Functions says %s', async (_, error) => {
    sfn.on(SendTaskSuccessCommand).rejects(error);

    await expect(complete(TASK_TOKEN, outcome('acknowledged'))).resolves.toBe('gone');
  });

  it('passes any other failure on', async () => {
    sfn.on(SendTaskFailureCommand).rejects(new Error('Step Functions unavailable'));

    await expect(complete(TASK_TOKEN, outcome('cancelled'))).rejects.toThrow(
      'Step Functions unavailable',
    );
  });
});
