import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendTaskSuccessCommand, SFNClient, TaskTimedOut } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  registerWaitHandlerFromEnv,
  type WaitInput,
} from '../../../functions/downlinks/wait/register-wait.js';
import { sampleEvent } from '../../helpers/api-events.js';
import { lambdaContext } from '../../helpers/lambda-context.js';
import { captureLogs } from '../../helpers/logs.js';

const dynamoMock = mockClient(DynamoDBClient);
const sfnMock = mockClient(SFNClient);
const sample = (name: string) => sampleEvent('wait-for-status', name) as unknown as WaitInput;
const wait = (input: WaitInput) =>
  registerWaitHandlerFromEnv({ DOWNLINKS_TABLE_NAME: 'downlinks', DOWNLINK_TIMEOUT_SECONDS: '60' })(
    input,
    lambdaContext,
  );

function recordWith(attributes: Record<string, { N?: string; S?: string }>) {
  dynamoMock.on(UpdateItemCommand).resolves({
    Attributes: {
      devEui: { S: '70b3d57ed0001a2b' },
      downlinkId: { S: '18014398509481985' },
      ...attributes,
    },
  });
}

beforeEach(() => {
  dynamoMock.reset();
  sfnMock.reset();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  captureLogs();
});

describe('Handler: WaitForStatus', () => {
  it('leaves the task token with the downlink and waits when no newer status is there', async () => {
    const input = sample('first-wait');
    recordWith({ taskToken: { S: input.taskToken }, waitingAfterRank: { N: '0' } });

    await expect(wait(input)).resolves.toBe('waiting');

    const [update] = dynamoMock.commandCalls(UpdateItemCommand);
    expect(update?.args[0].input).toMatchObject({
      TableName: 'downlinks',
      Key: { devEui: { S: '70b3d57ed0001a2b' }, downlinkId: { S: '18014398509481985' } },
      ExpressionAttributeValues: expect.objectContaining({
        ':token': { S: input.taskToken },
        ':after': { N: '0' },
      }),
    });
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('delivers at once a status that arrived before the wait', async () => {
    const input = sample('first-wait');
    recordWith({
      taskToken: { S: input.taskToken },
      waitingAfterRank: { N: '0' },
      lastStatus: { N: '1' },
    });

    await expect(wait(input)).resolves.toBe('delivered');

    expect(sfnMock.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: input.taskToken,
      output: '{"id":"18014398509481985","transmissionStatus":1}',
    });
  });

  it('does not deliver again the status the execution already has', async () => {
    const input = sample('after-sent');
    recordWith({
      taskToken: { S: input.taskToken },
      waitingAfterRank: { N: '1' },
      lastStatus: { N: '1' },
    });
    await expect(wait(input)).resolves.toBe('waiting');
    expect(sfnMock.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('takes a token Step Functions no longer knows as gone, not as an error', async () => {
    const input = sample('after-sent');
    recordWith({
      taskToken: { S: input.taskToken },
      waitingAfterRank: { N: '1' },
      lastStatus: { N: '2' },
    });
    sfnMock
      .on(SendTaskSuccessCommand)
      .rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));
    await expect(wait(input)).resolves.toBe('gone');
  });

  it('fails (so the state machine retries it) when the table cannot be written', async () => {
    dynamoMock.on(UpdateItemCommand).rejects(new Error('throttled'));
    await expect(wait(sample('first-wait'))).rejects.toThrow('throttled');
  });
});
