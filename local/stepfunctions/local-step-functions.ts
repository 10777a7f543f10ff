import { randomBytes, randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { AwsServiceError } from '../aws/aws-errors.js';

// Step Functions on one machine: runs the real ASL with aws-local-stepfunctions, invokes Lambda
// tasks in this process, and adds what that library lacks: task tokens (.waitForTaskToken),
// SendTask*, execution records and histories in the shape of the Step Functions API.

// aws-local-stepfunctions uses Promise.withResolvers (Node 22); Node 20 lacks it.
const promiseStatics = Promise as unknown as { withResolvers?: unknown };
promiseStatics.withResolvers ??= withResolvers;

function withResolvers<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export type InvokeLambda = (functionName: string, payload: unknown) => Promise<unknown>;

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

export interface HistoryEvent {
  id: number;
  timestamp: Date;
  type: string;
  stateName?: string;
  input?: string;
  output?: string;
  error?: string;
  cause?: string;
}

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryEvent[];
}

export interface StateMachineRecord {
  stateMachineArn: string;
  name: string;
  definition: string;
  roleArn: string;
  type: 'STANDARD' | 'EXPRESS';
  creationDate: Date;
}

interface PendingTask {
  executionArn: string;
  stateName: string;
  open: boolean;
  settle: { resolve: (output: unknown) => void; reject: (error: Error) => void };
  /** Resolves once the task's function has returned: from then on the task only waits. */
  submitted: Promise<undefined>;
}

/** Finished executions kept for Describe/List/GetExecutionHistory; older ones are forgotten. */
export const KEEP_FINISHED_EXECUTIONS = 1_000;

/**
 * Step Functions' limit on what a state takes or gives, and on a task's result: 256 KiB of UTF-8
 * JSON. Beyond it an execution fails with States.DataLimitExceeded, which no Catch can catch.
 */
export const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * What StartExecution takes as a name: 1 to 80 characters, none of them white space, brackets,
 * wildcards, control characters or any of " # % \ ^ | ~ ` $ & , ; : / (else InvalidName).
 */
const VALID_EXECUTION_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

/** What Step Functions' API accepts as an execution's input or a task's output, in characters. */
const MAX_API_PAYLOAD_CHARACTERS = 262_144;

/** SendTaskFailure's cause, in characters. */
const MAX_CAUSE_CHARACTERS = 32_768;

/** The error Step Functions fails an execution with when a state's data is over the limit. */
class DataLimitExceededError extends Error {
  override name = 'States.DataLimitExceeded';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/** A task's wait ended by its timeout, as aws-local-stepfunctions' own timer would end it. */
class TaskTimeoutError extends Error {
  override name = 'States.Timeout';
}

function checkPayloadSize(what: string, value: unknown): void {
  const bytes = Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');
  if (bytes > MAX_PAYLOAD_BYTES)
    throw new DataLimitExceededError(
      `${what} is ${bytes} bytes, over the ${MAX_PAYLOAD_BYTES} bytes a state may carry`,
    );
}

type RunLoopOptions = {
  eventLogger: {
    dispatchStateEnteredEvent: (name: string, type: string, input: unknown) => void;
    dispatchStateExitedEvent: (name: string, type: string, input: unknown, output: unknown) => void;
  };
};

type RunLoop = (input: unknown, options: RunLoopOptions, cleanup: () => void) => Promise<unknown>;

/**
 * Gives a compiled state machine Step Functions' payload limit: every state's input and output is
 * checked as the run loop reports it, so an oversized one fails the execution right there, with
 * the error AWS gives and no Catch. (aws-local-stepfunctions' run loop, its private `execute`,
 * reports each state to the event logger before and after running it; this wraps those reports.)
 */
function withPayloadLimit(stateMachine: StateMachine): StateMachine {
  const machine = stateMachine as unknown as { execute: RunLoop };
  const runLoop = machine.execute.bind(stateMachine);
  machine.execute = (input, options, cleanup) => {
    const logger = options.eventLogger;
    const entered = logger.dispatchStateEnteredEvent.bind(logger);
    const exited = logger.dispatchStateExitedEvent.bind(logger);
    logger.dispatchStateEnteredEvent = (name, type, stateInput) => {
      entered(name, type, stateInput);
      checkPayloadSize(`the input of state ${name}`, stateInput);
    };
    logger.dispatchStateExitedEvent = (name, type, stateInput, output) => {
      checkPayloadSize(`the output of state ${name}`, output);
      exited(name, type, stateInput, output);
    };
    return runLoop(input, options, cleanup);
  };
  return stateMachine;
}

const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
const LAMBDA_INVOKE_WAIT = 'arn:aws:states:::lambda:invoke.waitForTaskToken';

export interface LocalStepFunctionsOptions {
  region: string;
  accountId: string;
  invokeLambda: InvokeLambda;
  /** Told of every change, for pages and tests that follow executions live. */
  onEvent?: (execution: ExecutionRecord, event: HistoryEvent) => void;
  /** Wait this long before every retry instead of what Retry says (tests). */
  retryDelayMs?: number;
  /** How many finished executions to remember (default KEEP_FINISHED_EXECUTIONS). */
  keepFinishedExecutions?: number;
}

export class LocalStepFunctions {
  private readonly machines = new Map<string, StateMachineRecord>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly running = new Map<string, { done: Promise<void>; abort: () => void }>();
  private readonly tasks = new Map<string, PendingTask>();
  private readonly tokensByExecution = new Map<string, string[]>();
  /** Finished executions, oldest first: a long-running local stack must not grow without bound. */
  private readonly finished: string[] = [];
  /** Each machine's definition, validated and compiled once: aws-local-stepfunctions takes ~100 ms to. */
  private readonly compiled = new Map<
    string,
    { definition: StateMachineDefinition; stateMachine: StateMachine }
  >();

  constructor(private readonly options: LocalStepFunctionsOptions) {}

  createStateMachine({
    name,
    definition,
    roleArn = '',
  }: {
    name: string;
    definition: string;
    roleArn?: string;
  }): StateMachineRecord {
    const parsed = parseDefinition(definition);
    const stateMachineArn = `arn:aws:states:${this.options.region}:${this.options.accountId}:stateMachine:${name}`;
    try {
      const stateMachine = withPayloadLimit(
        new StateMachine(withTimeoutPathsOnStateInput(parsed), {
          validationOptions: { checkArn: false },
        }),
      );
      this.compiled.set(stateMachineArn, { definition: parsed, stateMachine });
    } catch (error) {
      throw new AwsServiceError(
        'InvalidDefinition',
        400,
        `Invalid State Machine Definition: ${String(error)}`,
      );
    }
    const record: StateMachineRecord = {
      stateMachineArn,
      name,
      definition,
      roleArn,
      type: 'STANDARD',
      creationDate: new Date(),
    };
    this.machines.set(stateMachineArn, record);
    return record;
  }

  listStateMachines(): StateMachineRecord[] {
    return [...this.machines.values()];
  }

  describeStateMachine(stateMachineArn: string): StateMachineRecord {
    const machine = this.machines.get(stateMachineArn);
    if (machine === undefined)
      throw new AwsServiceError(
        'StateMachineDoesNotExist',
        400,
        `State Machine Does Not Exist: '${stateMachineArn}'`,
      );
    return machine;
  }

  startExecution({
    stateMachineArn,
    input = '{}',
    name = randomUUID(),
  }: {
    stateMachineArn: string;
    input?: string;
    name?: string;
  }): ExecutionRecord {
    const machine = this.describeStateMachine(stateMachineArn);
    if (!VALID_EXECUTION_NAME.test(name))
      throw new AwsServiceError('InvalidName', 400, `Invalid Name: '${name}'`);
    const executionArn = `arn:aws:states:${this.options.region}:${this.options.accountId}:execution:${machine.name}:${name}`;
    if (this.executions.has(executionArn))
      throw new AwsServiceError(
        'ExecutionAlreadyExists',
        400,
        `Execution Already Exists: '${executionArn}'`,
      );
    if (input.length > MAX_API_PAYLOAD_CHARACTERS)
      throw new AwsServiceError(
        'ValidationException',
        400,
        `1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to ${MAX_API_PAYLOAD_CHARACTERS}`,
      );
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(input);
    } catch {
      throw new AwsServiceError(
        'InvalidExecutionInput',
        400,
        'Invalid State Machine Execution Input: not JSON',
      );
    }
    const execution: ExecutionRecord = {
      executionArn,
      stateMachineArn,
      name,
      status: 'RUNNING',
      startDate: new Date(),
      input,
      history: [],
    };
    this.executions.set(executionArn, execution);
    this.record(execution, { type: 'ExecutionStarted', input });
    this.run(machine, execution, parsedInput);
    return execution;
  }

  describeExecution(executionArn: string): ExecutionRecord {
    const execution = this.executions.get(executionArn);
    if (execution === undefined)
      throw new AwsServiceError(
        'ExecutionDoesNotExist',
        400,
        `Execution Does Not Exist: '${executionArn}'`,
      );
    return execution;
  }

  listExecutions(stateMachineArn: string, status?: ExecutionStatus): ExecutionRecord[] {
    this.describeStateMachine(stateMachineArn);
    return [...this.executions.values()]
      .filter(
        (execution) =>
          execution.stateMachineArn === stateMachineArn &&
          (status === undefined || execution.status === status),
      )
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  }

  stopExecution(executionArn: string, error?: string, cause?: string): Date {
    const execution = this.describeExecution(executionArn);
    if (execution.status === 'RUNNING') {
      this.finish(execution, 'ABORTED', {
        type: 'ExecutionAborted',
        ...(error === undefined ? {} : { error }),
        ...(cause === undefined ? {} : { cause }),
      });
      this.running.get(executionArn)?.abort();
    }
    return execution.stopDate ?? new Date();
  }

  /** Resolves once the execution has ended, with its final record. */
  async whenDone(executionArn: string): Promise<ExecutionRecord> {
    await this.running.get(executionArn)?.done;
    return this.describeExecution(executionArn);
  }

  sendTaskSuccess(taskToken: string, output: string): void {
    if (output.length > MAX_API_PAYLOAD_CHARACTERS)
      throw new AwsServiceError(
        'ValidationException',
        400,
        `1 validation error detected: Value at 'output' failed to satisfy constraint: Member must have length less than or equal to ${MAX_API_PAYLOAD_CHARACTERS}`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(output);
    } catch {
      throw new AwsServiceError('InvalidOutput', 400, 'Invalid Output: not JSON');
    }
    const task = this.openTask(taskToken);
    task.settle.resolve(parsed);
    // Closed now, as on AWS: its token is refused from here on, and nothing waits on it.
    task.open = false;
  }

  sendTaskFailure(taskToken: string, error = '', cause = ''): void {
    if (cause.length > MAX_CAUSE_CHARACTERS)
      throw new AwsServiceError(
        'ValidationException',
        400,
        `1 validation error detected: Value at 'cause' failed to satisfy constraint: Member must have length less than or equal to ${MAX_CAUSE_CHARACTERS}`,
      );
    const failure = new Error(cause);
    failure.name = error;
    const task = this.openTask(taskToken);
    task.settle.reject(failure);
    task.open = false;
  }

  sendTaskHeartbeat(taskToken: string): void {
    this.openTask(taskToken);
  }

  /**
   * Ends the execution's waiting task as its timeout would (States.Timeout), as soon as its
   * function has returned: for tests that must not wait out a real timeout (the template makes
   * every wait outlast its function). Resolves with whether a task was waiting.
   */
  async timeOutTask(executionArn: string): Promise<boolean> {
    const open = (this.tokensByExecution.get(executionArn) ?? [])
      .map((token) => this.tasks.get(token))
      .filter((task): task is PendingTask => task?.open === true);
    let timedOut = false;
    for (const task of open) {
      await task.submitted;
      if (!task.open) continue;
      task.settle.reject(new TaskTimeoutError('Task timed out.'));
      task.open = false;
      timedOut = true;
    }
    return timedOut;
  }

  private openTask(taskToken: string): PendingTask {
    if (!/^[A-Za-z0-9+/=]{16,2048}$/.test(taskToken))
      throw new AwsServiceError('InvalidToken', 400, 'Invalid Token');
    const task = this.tasks.get(taskToken);
    if (task === undefined)
      throw new AwsServiceError('TaskDoesNotExist', 400, 'Task Does Not Exist');
    if (!task.open) throw new AwsServiceError('TaskTimedOut', 400, 'Task Timed Out');
    return task;
  }

  private run(machine: StateMachineRecord, execution: ExecutionRecord, input: unknown): void {
    const compiled = this.compiled.get(machine.stateMachineArn);
    if (compiled === undefined) throw new Error(`${machine.name} was never compiled`);
    const { definition, stateMachine } = compiled;
    let lastToken: string | undefined;
    const tokens = this.tasks;
    // Step Functions makes a new token each time a task reads $$.Task.Token; a plain getter (not a
    // Proxy) is what aws-local-stepfunctions lets through.
    const context = {
      Execution: {
        Id: execution.executionArn,
        Input: input,
        Name: execution.name,
        StartTime: execution.startDate.toISOString(),
        RoleArn: machine.roleArn,
      },
      StateMachine: { Id: machine.stateMachineArn, Name: machine.name },
      get Task() {
        lastToken = randomBytes(96).toString('base64');
        return { Token: lastToken };
      },
    };

    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    for (const [stateName, state] of Object.entries(definition.States)) {
      if (state.Type !== 'Task') continue;
      if (state.Resource === LAMBDA_INVOKE) {
        overrides[stateName] = async (parameters) => {
          const { FunctionName, Payload } = parameters as {
            FunctionName: string;
            Payload: unknown;
          };
          const result = {
            ExecutedVersion: '$LATEST',
            StatusCode: 200,
            Payload: await this.invoke(FunctionName, Payload),
          };
          checkPayloadSize(`the result of state ${stateName}`, result);
          return result;
        };
      } else if (state.Resource === LAMBDA_INVOKE_WAIT) {
        overrides[stateName] = async (parameters) => {
          const token = lastToken;
          if (token === undefined)
            throw new Error(
              `${stateName}: .waitForTaskToken without $$.Task.Token in its Parameters`,
            );
          const { promise: submitted, resolve: markSubmitted } = withResolvers<undefined>();
          const callback = new Promise<unknown>((resolve, reject) => {
            tokens.set(token, {
              executionArn: execution.executionArn,
              stateName,
              open: true,
              settle: { resolve, reject },
              submitted,
            });
            this.tokensByExecution.set(execution.executionArn, [
              ...(this.tokensByExecution.get(execution.executionArn) ?? []),
              token,
            ]);
          });
          const { FunctionName, Payload } = parameters as {
            FunctionName: string;
            Payload: unknown;
          };
          // Settled by SendTask* before the function returns is fine; it is awaited below.
          callback.catch(() => undefined);
          try {
            await this.invoke(FunctionName, Payload);
          } finally {
            markSubmitted(undefined);
          }
          // As in Step Functions' history: the function ran, the task now waits for its token. State
          // events reach the history through an async generator: let it catch up first, so this
          // event comes after the state's TaskStateEntered.
          await new Promise((resolve) => setImmediate(resolve));
          this.record(execution, { type: 'TaskSubmitted', stateName });
          const output = await callback;
          checkPayloadSize(`the result of state ${stateName}`, output);
          return output;
        };
      } else {
        throw new AwsServiceError(
          'InvalidDefinition',
          400,
          `${stateName}: resource ${state.Resource} is not supported locally`,
        );
      }
    }

    const { retryDelayMs } = this.options;
    const retryIntervalOverrides =
      retryDelayMs === undefined
        ? {}
        : Object.fromEntries(
            Object.keys(definition.States).map((stateName) => [stateName, retryDelayMs]),
          );
    const { result, eventLogs, abort } = stateMachine.run(input as never, {
      overrides: { taskResourceLocalHandlers: overrides as never, retryIntervalOverrides },
      context: context as never,
    });

    const followEvents = (async () => {
      for await (const event of eventLogs) {
        if (!('state' in event) || event.index !== undefined) continue;
        const { name, type, input: stateInput, output } = event.state;
        if (event.type === 'StateEntered')
          this.record(execution, {
            type: `${type}StateEntered`,
            stateName: name,
            input: JSON.stringify(stateInput),
          });
        if (event.type === 'StateExited')
          this.record(execution, {
            type: `${type}StateExited`,
            stateName: name,
            output: JSON.stringify(output ?? null),
          });
        if (event.type === 'StateFailed' || event.type === 'StateExited')
          this.closeTasks(execution.executionArn, name);
        if (event.type === 'StateFailed' && type === 'Task' && 'Error' in event) {
          this.record(execution, {
            type: 'TaskFailed',
            stateName: name,
            error: event.Error,
            cause:
              typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause ?? ''),
          });
        }
      }
    })();

    // The history must end with the execution's end, after every state event: wait for both.
    const done = Promise.allSettled([result, followEvents]).then(([outcome]) => {
      if (outcome.status === 'fulfilled') {
        this.finish(execution, 'SUCCEEDED', {
          type: 'ExecutionSucceeded',
          output: JSON.stringify(outcome.value),
        });
      } else if (outcome.reason instanceof ExecutionTimeoutError) {
        this.finish(execution, 'TIMED_OUT', { type: 'ExecutionTimedOut' });
      } else if (!(outcome.reason instanceof ExecutionAbortedError)) {
        const { name, message } = failureOf(outcome.reason);
        this.finish(execution, 'FAILED', { type: 'ExecutionFailed', error: name, cause: message });
      }
      this.closeTasks(execution.executionArn);
      this.running.delete(execution.executionArn);
      this.retire(execution.executionArn);
    });
    this.running.set(execution.executionArn, { done, abort });
  }

  // Its tokens stay known (SendTask* answers TaskTimedOut) until the execution is forgotten.
  private retire(executionArn: string): void {
    this.finished.push(executionArn);
    while (
      this.finished.length > (this.options.keepFinishedExecutions ?? KEEP_FINISHED_EXECUTIONS)
    ) {
      const oldest = this.finished.shift() ?? '';
      this.executions.delete(oldest);
      for (const token of this.tokensByExecution.get(oldest) ?? []) this.tasks.delete(token);
      this.tokensByExecution.delete(oldest);
    }
  }

  private async invoke(functionName: string, payload: unknown): Promise<unknown> {
    try {
      return await this.options.invokeLambda(functionName, payload);
    } catch (error) {
      // What Step Functions reports for a function error: the error type as Error, and Lambda's
      // error payload as Cause.
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      const failure = new Error(
        JSON.stringify({ errorType: name, errorMessage: message, trace: [] }),
      );
      failure.name = name;
      throw failure;
    }
  }

  private closeTasks(executionArn: string, stateName?: string): void {
    for (const token of this.tokensByExecution.get(executionArn) ?? []) {
      const task = this.tasks.get(token);
      if (task !== undefined && (stateName === undefined || task.stateName === stateName))
        task.open = false;
    }
  }

  private finish(
    execution: ExecutionRecord,
    status: ExecutionStatus,
    event: Omit<HistoryEvent, 'id' | 'timestamp'>,
  ): void {
    if (execution.status !== 'RUNNING') return;
    execution.status = status;
    execution.stopDate = new Date();
    if (event.output !== undefined) execution.output = event.output;
    if (event.error !== undefined) execution.error = event.error;
    if (event.cause !== undefined) execution.cause = event.cause;
    this.record(execution, event);
  }

  private record(execution: ExecutionRecord, event: Omit<HistoryEvent, 'id' | 'timestamp'>): void {
    const full = { id: execution.history.length + 1, timestamp: new Date(), ...event };
    execution.history.push(full);
    this.options.onEvent?.(execution, full);
  }
}

const TIMEOUT_FIELD = '__localTimeoutSeconds';

/**
 * Step Functions reads TimeoutSecondsPath from the state's input; aws-local-stepfunctions reads it
 * from what Parameters made of it. Carrying the value through Parameters under a hidden name (which
 * the task overrides drop) gives the AWS behaviour.
 */
function withTimeoutPathsOnStateInput(definition: StateMachineDefinition): StateMachineDefinition {
  const states = Object.fromEntries(
    Object.entries(definition.States).map(([name, state]) => {
      if (
        state.Type !== 'Task' ||
        state.TimeoutSecondsPath === undefined ||
        state.Parameters === undefined
      )
        return [name, state];
      return [
        name,
        {
          ...state,
          Parameters: {
            ...(state.Parameters as Record<string, unknown>),
            [`${TIMEOUT_FIELD}.$`]: state.TimeoutSecondsPath,
          },
          TimeoutSecondsPath: `$.${TIMEOUT_FIELD}`,
        },
      ];
    }),
  );
  return { ...definition, States: states };
}

function parseDefinition(definition: string): StateMachineDefinition {
  try {
    return JSON.parse(definition) as StateMachineDefinition;
  } catch {
    throw new AwsServiceError(
      'InvalidDefinition',
      400,
      'Invalid State Machine Definition: not JSON',
    );
  }
}

// aws-local-stepfunctions wraps the error of a Fail state or an uncaught task error; its cause
// carries the Error/Cause pair Step Functions reports for the execution.
function failureOf(error: unknown): { name: string; message: string } {
  if (error instanceof ExecutionError) {
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) return { name: cause.name, message: cause.message };
  }
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'States.Runtime', message: String(error) };
}
