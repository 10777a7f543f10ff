import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEndpoint, type AwsEndpoint } from '../../local/aws/aws-endpoint.js';
import { stepFunctionsService } from '../../local/aws/step-functions-api.js';
import { LocalStepFunctions } from '../../local/stepfunctions/local-step-functions.js';

// The local Step Functions through the unmodified SDK client: what the connector's functions, the
// AWS CLI and the lifecycle page rely on.

const DEFINITION = JSON.stringify({
  StartAt: 'Wait',
  States: {
    Wait: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: 'park',
        Payload: { 'token.$': '$$.Task.Token', 'value.$': '$.value' },
      },
      TimeoutSeconds: 30,
      Next: 'Done',
    },
    Done: { Type: 'Succeed' },
  },
});

/**
 * The task tokens the parked task hands its function, by the execution's input value: awaiting
 * one resolves when that execution's task has started, with no polling.
 */
function parkingLot() {
  const tokens = new Map<number, { promise: Promise<string>; resolve: (token: string) => void }>();
  const slot = (value: number) => {
    let found = tokens.get(value);
    if (found === undefined) {
      let resolve: (token: string) => void = () => undefined;
      const promise = new Promise<string>((resolved) => {
        resolve = resolved;
      });
      found = { promise, resolve };
      tokens.set(value, found);
    }
    return found;
  };
  return {
    /** The invokeLambda of the engine. */
    invokeLambda: (name: string, payload: unknown) => {
      const { token, value } = payload as { token: string; value: number };
      slot(value).resolve(token);
      return Promise.resolve({ parked: name });
    },
    tokenOf: (value: number) => slot(value).promise,
  };
}

const parked = parkingLot();
let engine: LocalStepFunctions;
let endpoint: AwsEndpoint;
let sfn: SFNClient;
let stateMachineArn: string;

beforeAll(async () => {
  engine = new LocalStepFunctions({
    region: 'eu-west-1',
    accountId: '123456789012',
    invokeLambda: parked.invokeLambda,
  });
  stateMachineArn = engine.createStateMachine({
    name: 'Parking',
    definition: DEFINITION,
  }).stateMachineArn;
  endpoint = await startAwsEndpoint([stepFunctionsService(engine)]);
  sfn = new SFNClient({
    endpoint: endpoint.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  await endpoint.close();
});

async function started(value: number, name?: string) {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({
      stateMachineArn,
      input: JSON.stringify({ value }),
      ...(name === undefined ? {} : { name }),
    }),
  );
  return { executionArn: executionArn ?? '', token: await parked.tokenOf(value) };
}

/** The execution as DescribeExecution gives it, once it has ended. */
async function finished(executionArn: string) {
  await engine.whenDone(executionArn);
  const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
  expect(execution.status).not.toBe('RUNNING');
  return execution;
}

describe('Local Step Functions API', () => {
  it('lists the state machine', async () => {
    const { stateMachines } = await sfn.send(new ListStateMachinesCommand({}));
    expect(stateMachines?.map((machine) => machine.name)).toEqual(['Parking']);
    expect(stateMachines?.[0]?.creationDate).toBeInstanceOf(Date);
  });

  it('resumes an execution with SendTaskSuccess, whose output becomes the task result', async () => {
    const { executionArn, token } = await started(1, 'named-execution');
    await sfn.send(new SendTaskHeartbeatCommand({ taskToken: token }));
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"ok":true}' }));

    const execution = await finished(executionArn);
    expect(executionArn.endsWith(':Parking:named-execution')).toBe(true);
    expect(execution).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"ok":true}',
      input: '{"value":1}',
    });
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    expect(events.map((event) => event.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'TaskSubmitted',
      'TaskStateExited',
      'SucceedStateEntered',
      'SucceedStateExited',
      'ExecutionSucceeded',
    ]);
    expect(events[1]?.stateEnteredEventDetails).toMatchObject({
      name: 'Wait',
      input: '{"value":1}',
    });
  });

  it('fails an execution with SendTaskFailure, keeping its error and cause', async () => {
    const { executionArn, token } = await started(2);
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'Refused', cause: 'no' }));
    expect(await finished(executionArn)).toMatchObject({
      status: 'FAILED',
      error: 'Refused',
      cause: 'no',
    });
  });

  it('answers a used token with TaskTimedOut, an unknown one with TaskDoesNotExist, a malformed one with InvalidToken', async () => {
    const { executionArn, token } = await started(3);
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
    await finished(executionArn);

    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskTimedOut' });
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: 'A'.repeat(128), output: '{}' })),
    ).rejects.toMatchObject({ name: 'TaskDoesNotExist' });
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: 'not a token!', output: '{}' })),
    ).rejects.toMatchObject({ name: 'InvalidToken' });
  });

  it('stops an execution, and lists executions by status', async () => {
    const { executionArn } = await started(4);
    await sfn.send(new StopExecutionCommand({ executionArn, error: 'Operator', cause: 'testing' }));

    expect(await finished(executionArn)).toMatchObject({ status: 'ABORTED' });
    const { executions = [] } = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn, statusFilter: 'ABORTED' }),
    );
    expect(executions.map((execution) => execution.executionArn)).toEqual([executionArn]);
  });

  it('refuses what AWS refuses, with its error names', async () => {
    await expect(
      sfn.send(
        new StartExecutionCommand({ stateMachineArn: `${stateMachineArn}-gone`, input: '{}' }),
      ),
    ).rejects.toMatchObject({ name: 'StateMachineDoesNotExist' });
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn, input: 'not json' })),
    ).rejects.toMatchObject({ name: 'InvalidExecutionInput' });
    await expect(
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: 'arn:aws:states:eu-west-1:123456789012:execution:Parking:none',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ExecutionDoesNotExist' });
  });
});

describe('A long-running local Step Functions', () => {
  it('forgets the oldest finished executions and their tokens, never a running one', async () => {
    const lot = parkingLot();
    const engine = new LocalStepFunctions({
      region: 'eu-west-1',
      accountId: '123456789012',
      keepFinishedExecutions: 2,
      invokeLambda: lot.invokeLambda,
    });
    const machine = engine.createStateMachine({ name: 'Parking', definition: DEFINITION });
    const waiting = async (value: number) => {
      const { executionArn } = engine.startExecution({
        stateMachineArn: machine.stateMachineArn,
        input: JSON.stringify({ value }),
      });
      return { executionArn, token: await lot.tokenOf(value) };
    };

    const finished = [];
    for (const value of [1, 2, 3]) {
      const execution = await waiting(value);
      engine.sendTaskSuccess(execution.token, '{}');
      await engine.whenDone(execution.executionArn);
      finished.push(execution);
    }
    const stillRunning = await waiting(4);

    const [oldest, second, third] = finished;
    expect(() => engine.describeExecution(oldest?.executionArn ?? '')).toThrow(
      expect.objectContaining({ name: 'ExecutionDoesNotExist' }),
    );
    expect(() => {
      engine.sendTaskSuccess(oldest?.token ?? '', '{}');
    }).toThrow(expect.objectContaining({ name: 'TaskDoesNotExist' }));
    // Still remembered: its token answers as AWS does for a finished execution's.
    expect(() => {
      engine.sendTaskSuccess(second?.token ?? '', '{}');
    }).toThrow(expect.objectContaining({ name: 'TaskTimedOut' }));
    expect(engine.describeExecution(third?.executionArn ?? '').status).toBe('SUCCEEDED');
    expect(engine.describeExecution(stillRunning.executionArn).status).toBe('RUNNING');
    engine.sendTaskSuccess(stillRunning.token, '{}');
    expect((await engine.whenDone(stillRunning.executionArn)).status).toBe('SUCCEEDED');
  });
});
