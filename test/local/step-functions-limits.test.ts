import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAwsEndpoint, type AwsEndpoint } from '../../local/aws/aws-endpoint.js';
import { stepFunctionsService } from '../../local/aws/step-functions-api.js';
import {
  LocalStepFunctions,
  MAX_PAYLOAD_BYTES,
  type ExecutionRecord,
} from '../../local/stepfunctions/local-step-functions.js';

// What the local Step Functions adds to aws-local-stepfunctions so that tests meet what AWS does:
// Step Functions' payload limits (a state's data, and what its API accepts), and timeOutTask, which
// ends a .waitForTaskToken wait as its timeout would, without waiting the timeout out.

/** What Step Functions' API accepts as an execution's input or a task's output, in characters. */
const MAX_API_PAYLOAD_CHARACTERS = 262_144;
/** What SendTaskFailure accepts as a cause, in characters. */
const MAX_CAUSE_CHARACTERS = 32_768;

const WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const INVOKE = 'arn:aws:states:::lambda:invoke';

/** A task of `resource` calling `functionName` with the task token and the state's input. */
function task(resource: string, functionName: string, more: Record<string, unknown> = {}) {
  return {
    Type: 'Task',
    Resource: resource,
    Parameters: {
      FunctionName: functionName,
      Payload: { 'token.$': '$$.Task.Token', 'key.$': '$.key' },
    },
    TimeoutSeconds: 300,
    ...more,
  };
}

const CAUGHT = { Caught: { Type: 'Pass', End: true } };

const MACHINES: Record<string, object> = {
  // Its one state takes the execution's input as it came.
  Keep: { StartAt: 'Keep', States: { Keep: { Type: 'Pass', End: true } } },
  // Its one state gives twice what it takes.
  Double: {
    StartAt: 'Double',
    States: {
      Double: { Type: 'Pass', Parameters: { 'a.$': '$.text', 'b.$': '$.text' }, End: true },
    },
  },
  // A function whose result is over the limit, under a Catch of everything.
  Oversized: {
    StartAt: 'Call',
    States: {
      Call: task(INVOKE, 'oversized', {
        Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Caught' }],
        End: true,
      }),
      ...CAUGHT,
    },
  },
  // Waits for its token; a timeout and everything else caught, each by its own Catch.
  Wait: {
    StartAt: 'Wait',
    States: {
      Wait: task(WAIT_FOR_TOKEN, 'park', {
        Catch: [
          { ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'TimedOut' },
          { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Caught' },
        ],
        End: true,
      }),
      TimedOut: { Type: 'Pass', End: true },
      ...CAUGHT,
    },
  },
  // Waits for its token, with nothing to catch a timeout.
  WaitUncaught: { StartAt: 'Wait', States: { Wait: task(WAIT_FOR_TOKEN, 'park', { End: true }) } },
  // Waits for its token; its function returns when the test says.
  WaitHeld: {
    StartAt: 'Wait',
    States: {
      Wait: task(WAIT_FOR_TOKEN, 'hold', {
        Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'TimedOut' }],
        End: true,
      }),
      TimedOut: { Type: 'Pass', End: true },
    },
  },
  // A plain invocation (no token to wait for); its function returns when the test says.
  Invoke: { StartAt: 'Call', States: { Call: task(INVOKE, 'hold', { End: true }) } },
};

interface Invocation {
  token: string;
  /** For 'hold': lets the function return. */
  release: () => void;
}

/**
 * The functions the machines call, by name, and each invocation by the execution's `key`: awaiting
 * one resolves once that execution's task has called its function, with no polling.
 */
function functions() {
  const invocations = new Map<
    string,
    { promise: Promise<Invocation>; resolve: (invocation: Invocation) => void }
  >();
  const slot = (key: string) => {
    let found = invocations.get(key);
    if (found === undefined) {
      let resolve: (invocation: Invocation) => void = () => undefined;
      const promise = new Promise<Invocation>((resolved) => {
        resolve = resolved;
      });
      found = { promise, resolve };
      invocations.set(key, found);
    }
    return found;
  };
  return {
    invokeLambda: async (name: string, payload: unknown) => {
      const { token, key } = payload as { token: string; key: string };
      if (name === 'oversized') return 'x'.repeat(MAX_PAYLOAD_BYTES);
      if (name === 'hold') {
        await new Promise<void>((release) => {
          slot(key).resolve({ token, release });
        });
        return { returned: key };
      }
      slot(key).resolve({ token, release: () => undefined });
      return { parked: key };
    },
    invoked: (key: string) => slot(key).promise,
  };
}

const lambdas = functions();
let engine: LocalStepFunctions;
let endpoint: AwsEndpoint;
let sfn: SFNClient;
const arns: Record<string, string> = {};
let executions = 0;

beforeAll(async () => {
  engine = new LocalStepFunctions({
    region: 'eu-west-1',
    accountId: '123456789012',
    invokeLambda: lambdas.invokeLambda,
  });
  for (const [name, definition] of Object.entries(MACHINES))
    arns[name] = engine.createStateMachine({
      name,
      definition: JSON.stringify(definition),
    }).stateMachineArn;
  endpoint = await startAwsEndpoint([stepFunctionsService(engine)]);
  sfn = new SFNClient({
    endpoint: endpoint.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
});

afterAll(async () => {
  sfn.destroy();
  await endpoint.close();
});

/** Starts an execution of the machine with `input` (and a key of its own, for its functions). */
function start(machine: string, input: Record<string, unknown> = {}) {
  const key = `execution-${String(++executions)}`;
  const { executionArn } = engine.startExecution({
    stateMachineArn: arns[machine] ?? '',
    input: JSON.stringify({ key, ...input }),
  });
  return { executionArn, key };
}

/** Starts an execution of a machine that waits; resolves once its function has the token. */
async function waiting(machine: string) {
  const { executionArn, key } = start(machine);
  const { token, release } = await lambdas.invoked(key);
  return { executionArn, token, release };
}

const statesEntered = (execution: ExecutionRecord) =>
  execution.history
    .filter((event) => event.type.endsWith('StateEntered'))
    .map((event) => event.stateName);

describe("Local Step Functions: Step Functions' payload limit", () => {
  it('runs a state whose input is exactly 256 KiB', async () => {
    const text = 'a'.repeat(MAX_PAYLOAD_BYTES - '{"text":""}'.length);
    const input = JSON.stringify({ text });
    expect(Buffer.byteLength(input)).toBe(MAX_PAYLOAD_BYTES);

    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arns.Keep, input }),
    );

    expect(await engine.whenDone(executionArn ?? '')).toMatchObject({
      status: 'SUCCEEDED',
      output: input,
    });
  });

  it('fails the execution with States.DataLimitExceeded when a state takes one byte more', async () => {
    // As many characters as the API takes, one of them two bytes long in UTF-8.
    const text = `é${'a'.repeat(MAX_PAYLOAD_BYTES - '{"text":""}'.length - 1)}`;
    const input = JSON.stringify({ text });
    expect(input.length).toBe(MAX_API_PAYLOAD_CHARACTERS);
    expect(Buffer.byteLength(input)).toBe(MAX_PAYLOAD_BYTES + 1);

    const { executionArn } = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: arns.Keep, input }),
    );

    const done = await engine.whenDone(executionArn ?? '');
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(done.cause).toContain('the input of state Keep');
    expect(done.history.at(-1)?.type).toBe('ExecutionFailed');
  });

  it("fails the execution when a state's output is over the limit", async () => {
    const { executionArn } = start('Double', { text: 'a'.repeat(140_000) });

    const done = await engine.whenDone(executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(done.cause).toContain('the output of state Double');
  });

  it("fails the execution when a function's result is over the limit, past a Catch of States.ALL", async () => {
    const { executionArn } = start('Oversized');

    const done = await engine.whenDone(executionArn);

    expect(done).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(done.cause).toContain('the result of state Call');
    expect(statesEntered(done)).toEqual(['Call']);
  });

  it('fails the execution when SendTaskSuccess gives a task more than the limit in bytes, past a Catch of States.ALL', async () => {
    const { executionArn, token } = await waiting('Wait');
    // Under the API's limit in characters, over the state's in bytes.
    const output = JSON.stringify({ text: 'é'.repeat(140_000) });

    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output }));

    const done = await engine.whenDone(executionArn);
    expect(done).toMatchObject({ status: 'FAILED', error: 'States.DataLimitExceeded' });
    expect(done.cause).toContain('the result of state Wait');
    expect(statesEntered(done)).toEqual(['Wait']);
  });

  it('refuses StartExecution with an input over 262,144 characters (ValidationException), starting nothing', async () => {
    const input = JSON.stringify({ text: 'a'.repeat(MAX_API_PAYLOAD_CHARACTERS) });
    const before = engine.listExecutions(arns.Keep ?? '').length;

    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arns.Keep, input })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    expect(engine.listExecutions(arns.Keep ?? '')).toHaveLength(before);
  });

  it.each([
    ['81 characters', 'a'.repeat(81)],
    ['an empty name', ''],
    ['a space', 'downlink 1'],
    ['a colon', 'downlink:1'],
    ['a slash', 'downlink/1'],
    ['a control character', 'downlink\u0007'],
  ])('refuses StartExecution named with %s (InvalidName), starting nothing', async (_, name) => {
    const before = engine.listExecutions(arns.Keep ?? '').length;

    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arns.Keep, input: '{}', name })),
    ).rejects.toMatchObject({ name: 'InvalidName' });
    expect(engine.listExecutions(arns.Keep ?? '')).toHaveLength(before);
  });

  it('takes an 80-character name of letters, digits, - and _, as the IoT rule gives', async () => {
    const name = `downlink_${'0123456789abcdef-'.repeat(4)}${'x'.repeat(3)}`.padEnd(80, '_');
    expect(name).toHaveLength(80);

    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: arns.Keep, input: '{}', name })),
    ).resolves.toMatchObject({ executionArn: expect.stringMatching(new RegExp(`:${name}$`)) });
  });

  it('refuses SendTaskSuccess with an output over 262,144 characters (ValidationException); the task still waits', async () => {
    const { executionArn, token } = await waiting('Wait');
    const output = JSON.stringify({ text: 'a'.repeat(MAX_API_PAYLOAD_CHARACTERS) });

    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: token, output })),
    ).rejects.toMatchObject({ name: 'ValidationException' });

    expect(engine.describeExecution(executionArn).status).toBe('RUNNING');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{"ok":true}' }));
    expect(await engine.whenDone(executionArn)).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"ok":true}',
    });
  });

  it('refuses SendTaskFailure with a cause over 32,768 characters (ValidationException); the task still waits', async () => {
    const { executionArn, token } = await waiting('Wait');

    await expect(
      sfn.send(
        new SendTaskFailureCommand({
          taskToken: token,
          error: 'Refused',
          cause: 'c'.repeat(MAX_CAUSE_CHARACTERS + 1),
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });

    expect(engine.describeExecution(executionArn).status).toBe('RUNNING');
    const cause = 'c'.repeat(MAX_CAUSE_CHARACTERS);
    await sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'Refused', cause }));
    const done = await engine.whenDone(executionArn);
    expect(statesEntered(done)).toEqual(['Wait', 'Caught']);
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({
      failure: { Error: 'Refused', Cause: cause },
    });
  });
});

describe('Local Step Functions: timeOutTask', () => {
  it('ends a waiting task with States.Timeout, which its Catch on States.Timeout catches', async () => {
    const { executionArn, token } = await waiting('Wait');

    const timedOut = await engine.timeOutTask(executionArn);

    expect(timedOut).toBe(true);
    const done = await engine.whenDone(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(statesEntered(done)).toEqual(['Wait', 'TimedOut']);
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({
      failure: { Error: 'States.Timeout' },
    });
    // As on AWS, the token of a task that timed out is refused.
    expect(() => {
      engine.sendTaskSuccess(token, '{}');
    }).toThrow(expect.objectContaining({ name: 'TaskTimedOut' }));
  });

  it('fails the execution with States.Timeout when nothing catches it', async () => {
    const { executionArn } = await waiting('WaitUncaught');

    expect(await engine.timeOutTask(executionArn)).toBe(true);

    expect(await engine.whenDone(executionArn)).toMatchObject({
      status: 'FAILED',
      error: 'States.Timeout',
    });
  });

  it("times the task out only once its function has returned, as the task's wait starts then", async () => {
    const { executionArn, release } = await waiting('WaitHeld');
    let settled = false;

    const timingOut = engine.timeOutTask(executionArn).then((result) => {
      settled = true;
      return result;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const whileRunning = { settled, status: engine.describeExecution(executionArn).status };
    release();

    expect(whileRunning).toEqual({ settled: false, status: 'RUNNING' });
    expect(await timingOut).toBe(true);
    const done = await engine.whenDone(executionArn);
    expect(statesEntered(done)).toEqual(['Wait', 'TimedOut']);
    const types = done.history.map((event) => event.type);
    expect(types.indexOf('TaskSubmitted')).toBeGreaterThan(types.indexOf('TaskStateEntered'));
  });

  it('resolves false, and changes nothing, for an execution it does not know', async () => {
    expect(
      await engine.timeOutTask('arn:aws:states:eu-west-1:123456789012:execution:Wait:unknown'),
    ).toBe(false);
  });

  it('resolves false, and changes nothing, for an execution that has ended', async () => {
    const { executionArn, token } = await waiting('Wait');
    engine.sendTaskSuccess(token, '{"ok":true}');
    await engine.whenDone(executionArn);

    expect(await engine.timeOutTask(executionArn)).toBe(false);

    expect(engine.describeExecution(executionArn)).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"ok":true}',
    });
  });

  it('resolves false, and changes nothing, for a task that waits for no token', async () => {
    const { executionArn, release } = await waiting('Invoke');

    const timingOut = engine.timeOutTask(executionArn);
    release();

    expect(await timingOut).toBe(false);
    const done = await engine.whenDone(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({
      Payload: { returned: expect.stringMatching(/^execution-\d+$/) as unknown },
    });
  });

  it('resolves false, and changes nothing, for a task its token ended while its function ran', async () => {
    const { executionArn, token, release } = await waiting('WaitHeld');
    engine.sendTaskSuccess(token, '{"ok":true}');
    // Closed once ended, as on AWS, though its function still runs.
    expect(() => {
      engine.sendTaskSuccess(token, '{"again":true}');
    }).toThrow(expect.objectContaining({ name: 'TaskTimedOut' }));

    const timingOut = engine.timeOutTask(executionArn);
    release();

    expect(await timingOut).toBe(false);
    expect(await engine.whenDone(executionArn)).toMatchObject({
      status: 'SUCCEEDED',
      output: '{"ok":true}',
    });
  });
});
