import { readFileSync } from 'node:fs';
import {
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import {
  DeviceLockedError,
  DownlinkNotRecordedError,
  DuplicateRequestError,
  InvalidDownlinkError,
  NoCodecError,
  DownlinkEncodingError,
  ObjectToEncodeError,
  errorCodeFor,
  INVALID_REQUEST_CODES,
} from '../../functions/downlinks/downlink-errors.js';
import {
  OUTCOME_ERRORS,
  type DownlinkOutcome,
} from '../../functions/downlinks/downlink-outcomes.js';
import { finalStateOf, type FinalState } from '../../functions/downlinks/downlink-status.js';
import { AFTER_POST_MS, DEVICE_WAIT_MS } from '../../functions/downlinks/send/send-downlink.js';
import { DOWNLINK_TIMEOUT_SECONDS_RANGE } from '../../functions/downlinks/downlink-table.js';
import { PUBLISHER_LEASE_MS } from '../../functions/downlinks/status-publishing.js';
import { stepFunctionsCompletion } from '../../functions/downlinks/task-completion.js';
import { ConfigurationError } from '../../functions/shared/config.js';
import { DependencyError } from '../../functions/shared/errors.js';
import {
  DeviceBusyError,
  OrbiwanNotReachedError,
  OrbiwanRejectedError,
  OrbiwanUnavailableError,
  UnknownDeviceError,
} from '../../functions/shared/orbiwan/orbiwan-errors.js';
import { ORBIWAN_TIMEOUT_MS } from '../../functions/shared/orbiwan/orbiwan-from-env.js';
import { templateTopicRules } from '../../local/iot/topic-rules.js';
import { inlineDefinitions } from '../../scripts/inline-definitions.js';
import { substitute } from '../../local/local-cloud.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import {
  TEMPLATE_PATH,
  definitionFileOf,
  functionProperties,
  loadTemplate,
} from '../../local/template/sam-template.js';
import { isAllowed, templatePolicies } from '../helpers/iam.js';
import { sampleStack } from '../helpers/sample-stack.js';

// Offline checks of statemachines/downlink.asl.json and how the template wires it: its shape (a
// happy downlink is two states), how each error and each status ends it, which errors it retries,
// and whether its timeouts fit the functions' own.

interface Catcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

interface ChoiceRule {
  Variable?: string;
  StringEquals?: string;
  Or?: ChoiceRule[];
  And?: ChoiceRule[];
  Not?: ChoiceRule;
  Next?: string;
}

interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: ChoiceRule[];
  Catch?: Catcher[];
  Retry?: { ErrorEquals: string[] }[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Parameters?: { FunctionName?: string; Payload?: Record<string, unknown> };
  Error?: string;
  ErrorPath?: string;
  Cause?: string;
  CausePath?: string;
}

const template = loadTemplate();
// With payload codecs, so that the optional EncodeObject task's function exists.
const stack = sampleStack({ PayloadCodecs: 'Enabled' });
const machine = template.Resources.DownlinkStateMachine?.Properties ?? {};
// What deploys: the inline Definition, checked below to be statemachines/downlink.asl.json.
const text = JSON.stringify(machine.Definition);
const definition = JSON.parse(text) as { StartAt: string; States: Record<string, State> };
const states = Object.entries(definition.States);
const stateNamed = (name: string): State => {
  const state = definition.States[name];
  if (state === undefined) throw new Error(`the state machine has no state ${name}`);
  return state;
};
const substitutions = machine.DefinitionSubstitutions as Record<string, unknown>;
const tasks = states.filter(([, state]) => state.Type === 'Task');
const isEnd = (state: State) => state.Type === 'Succeed' || state.Type === 'Fail';

/**
 * The function a task invokes: its logical ID, through the substitution it names (the function's
 * ARN, or SAM's reference to the alias AutoPublishAlias makes).
 */
type FunctionReference = { 'Fn::GetAtt'?: [string, string]; Ref?: string };

/** A substitution's function, as it is when its condition holds (an optional task's). */
function whenItExists(value: unknown): FunctionReference | undefined {
  const conditional = (value as { 'Fn::If'?: [string, unknown, unknown] } | undefined)?.['Fn::If'];
  return (conditional === undefined ? value : conditional[1]) as FunctionReference | undefined;
}

function functionOf(state: State): string {
  const placeholder = /^\$\{([A-Za-z]+)\}$/.exec(state.Parameters?.FunctionName ?? '')?.[1] ?? '';
  const value = whenItExists(substitutions[placeholder]);
  return value?.['Fn::GetAtt']?.[0] ?? value?.Ref?.replace(/\.Alias$/, '') ?? '';
}

function successors(state: State): string[] {
  return [
    state.Next,
    state.Default,
    ...(state.Choices ?? []).map((choice) => choice.Next),
    ...(state.Catch ?? []).map((catcher) => catcher.Next),
  ].filter((next): next is string => next !== undefined);
}

function predecessors(name: string): string[] {
  return states
    .filter(([, candidate]) => successors(candidate).includes(name))
    .map(([predecessor]) => predecessor);
}

/** Where a task that failed with `error` goes once its retries are spent: its first Catch that matches. */
function caughtBy(state: State, error: string): string | undefined {
  for (const catcher of state.Catch ?? []) {
    if (catcher.ErrorEquals.includes('States.TaskFailed'))
      throw new Error('States.TaskFailed is not modelled by these checks');
    if (catcher.ErrorEquals.includes(error) || catcher.ErrorEquals.includes('States.ALL'))
      return catcher.Next;
  }
  return undefined;
}

/** A Choice state run by hand, for the operators the connector's Choice states use. */
function choose(state: State, input: unknown): string | undefined {
  const valueAt = (path: string) =>
    path
      .replace(/^\$\.?/, '')
      .split('.')
      .filter((key) => key !== '')
      .reduce<unknown>(
        (value, key) =>
          typeof value === 'object' && value !== null
            ? (value as Record<string, unknown>)[key]
            : undefined,
        input,
      );
  const holds = (rule: ChoiceRule): boolean => {
    if (rule.Or !== undefined) return rule.Or.some(holds);
    if (rule.And !== undefined) return rule.And.every(holds);
    if (rule.Not !== undefined) return !holds(rule.Not);
    const unknown = Object.keys(rule).filter(
      (key) => !['Variable', 'StringEquals', 'Next'].includes(key),
    );
    if (unknown.length > 0 || rule.Variable === undefined)
      throw new Error(`choice rule ${JSON.stringify(rule)} is not modelled by these checks`);
    return valueAt(rule.Variable) === rule.StringEquals;
  };
  return (state.Choices ?? []).find(holds)?.Next ?? state.Default;
}

/** The state each way a downlink can end leaves the execution in, named after it. */
const END_STATE_OF = {
  delivered: 'Delivered',
  acknowledged: 'Delivered',
  not_acknowledged: 'NotAcknowledged',
  transmission_error: 'TransmissionError',
  cancelled: 'Cancelled',
  timed_out: 'TimedOut',
  invalid: 'InvalidDownlink',
  rejected: 'Rejected',
  failed: 'Failed',
} as const satisfies Record<FinalState, string>;

/** The errors the task functions raise on purpose, as Step Functions sees their names. */
/** The errors of the device-state function's encoding of a request's object (EncodeObject). */
const ENCODING_ERRORS = [new DownlinkEncodingError('').name];

const TASK_ERRORS = {
  invalid: new InvalidDownlinkError('').name,
  noCodec: new NoCodecError('').name,
  objectToEncode: new ObjectToEncodeError('').name,
  locked: new DeviceLockedError('').name,
  duplicate: new DuplicateRequestError('').name,
  notRecorded: new DownlinkNotRecordedError('1').name,
  unknownDevice: new UnknownDeviceError('').name,
  busy: new DeviceBusyError('').name,
  rejected: new OrbiwanRejectedError('').name,
  unavailable: new OrbiwanUnavailableError('').name,
  notReached: new OrbiwanNotReachedError('').name,
  dependency: new DependencyError('DEPENDENCY_FAILED', '', false).name,
  configuration: new ConfigurationError('').name,
};
/**
 * The errors the status path fails a send task with (task-completion.ts): how OrbiWAN's final
 * statuses end a downlink that the device did not get.
 */
const ENDING_ERRORS = [
  ...new Set(
    [0, 1, 2, 3, 4, 5].flatMap((status) =>
      [true, false].flatMap((confirmed) => {
        const finalState = finalStateOf(status, confirmed);
        const error = finalState === undefined ? undefined : OUTCOME_ERRORS[finalState];
        return error === undefined ? [] : [error];
      }),
    ),
  ),
];

describe('State machine: downlink', () => {
  it('is valid ASL as written (placeholders are quoted strings)', () => {
    const result = aslValidator(structuredClone(definition), { checkArn: false, checkPaths: true });
    expect(result.errorsText()).toBe('');
  });

  it('is valid ASL once the template has substituted its placeholders', () => {
    const resolved = resolveIntrinsics(substitutions, stack) as Record<string, unknown>;
    const result = aslValidator(JSON.parse(substitute(text, resolved)), {
      checkArn: true,
      checkPaths: true,
    });
    expect(result.errorsText()).toBe('');
  });

  it('has exactly the placeholders the template substitutes', () => {
    const placeholders = [
      ...new Set([...text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g)].map((match) => match[1])),
    ].sort();
    expect(placeholders).toEqual(Object.keys(substitutions).sort());
  });

  it('carries statemachines/downlink.asl.json inline, as the file is now (npm run generate)', async () => {
    // SAR copies function code for the accounts that deploy it, not a DefinitionUri.
    expect(machine.DefinitionUri).toBeUndefined();
    expect(definitionFileOf(template, 'DownlinkStateMachine')).toBe(
      'statemachines/downlink.asl.json',
    );
    const templateText = readFileSync(TEMPLATE_PATH, 'utf8');
    expect(await inlineDefinitions(templateText)).toBe(templateText);
  });

  it("names the stack's partition in every integration ARN, so it deploys to aws-cn and aws-us-gov", () => {
    expect(substitutions.Partition).toEqual({ Ref: 'AWS::Partition' });
    for (const [name, state] of tasks) {
      expect(state.Resource, name).toMatch(
        /^arn:\$\{Partition\}:states:::lambda:invoke(\.waitForTaskToken)?$/,
      );
      expect(state.Parameters?.FunctionName, name).toMatch(/^\$\{[A-Za-z]+FunctionArn\}$/);
    }
  });

  it("substitutes the functions its tasks invoke, each one the state machine's policy lets it invoke, and nothing more", () => {
    const invoked = [...new Set(tasks.map(([, state]) => functionOf(state)))].sort();
    expect(invoked).toEqual([
      'CheckDownlinkStatusFunction',
      'DeviceStateFunction',
      'ReportDownlinkFailureFunction',
      'SendDownlinkFunction',
    ]);
    const { Partition, ...functionArns } = substitutions;
    expect(Partition).toBeDefined();
    expect(Object.keys(functionArns).sort()).toEqual(invoked.map((id) => `${id}Arn`).sort());
    for (const [name, value] of Object.entries(functionArns)) {
      const id = name.replace(/Arn$/, '');
      // The function itself, or the alias SAM publishes for it.
      expect([{ 'Fn::GetAtt': [id, 'Arn'] }, { Ref: `${id}.Alias` }], name).toContainEqual(
        whenItExists(value),
      );
    }
    const resolved = Object.values(
      resolveIntrinsics(functionArns, stack) as Record<string, string>,
    );
    const { functions, policyOf } = templatePolicies(template, stack);
    const policy = policyOf('DownlinkStateMachine');
    const callable = functions.flatMap((id) =>
      [stack.attributes[`${id}.Arn`], stack.refs[`${id}.Alias`]].filter(
        (arn): arn is string => arn !== undefined,
      ),
    );
    for (const arn of callable)
      expect(isAllowed(policy, 'lambda:InvokeFunction', arn), arn).toBe(resolved.includes(arn));
    for (const arn of resolved) expect(callable, arn).toContain(arn);
  });

  // Not as if it had: an ending without its status is what the dead-letter queue's alarm watches
  // for (template: DownlinkExecutionsFailedRule). Its input still holds the error it ended with.
  it('ends StatusNotPublished whenever a report task could not publish the ending, never as if it had', () => {
    const reports = states.filter(([name]) => name.startsWith('Report'));
    expect(reports.length).toBe(4);
    for (const [name, state] of reports) {
      expect(state.Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.reportFailure', Next: 'StatusNotPublished' },
      ]);
    }
    expect(stateNamed('StatusNotPublished')).toMatchObject({
      Type: 'Fail',
      Error: 'StatusNotPublished',
    });
  });

  it('has a happy path of exactly two states, SendDownlink then Delivered', () => {
    const path: string[] = [];
    for (let name: string | undefined = definition.StartAt; name !== undefined;) {
      if (path.includes(name)) throw new Error(`the Next chain loops at ${name}`);
      path.push(name);
      const state = stateNamed(name);
      name = isEnd(state) ? undefined : state.Next;
    }
    expect(path).toEqual(['SendDownlink', 'Delivered']);
    expect(stateNamed('SendDownlink').Resource).toBe(
      'arn:${Partition}:states:::lambda:invoke.waitForTaskToken',
    );
    expect(stateNamed('Delivered').Type).toBe('Succeed');
  });

  it('ends every way in a state of its own, whose name or error says how it ended', () => {
    const ends = states.filter(([, state]) => isEnd(state));
    expect(ends.map(([name]) => name).sort()).toEqual(
      [...new Set([...Object.values(END_STATE_OF), 'Duplicate', 'StatusNotPublished'])].sort(),
    );
    for (const [name, state] of ends) {
      if (state.Type === 'Succeed') continue;
      // Either the state is named after its error, or it ends with the error that led to it.
      if (state.Error !== undefined) expect(state.Error, name).toBe(name);
      else expect(state.ErrorPath, name).toBe('$.failure.Error');
      expect(state.Cause ?? state.CausePath, name).toBeDefined();
    }
    for (const [name, state] of states.filter(([, candidate]) => !isEnd(candidate))) {
      expect(state.End, name).toBeUndefined();
      expect(successors(state).length, name).toBeGreaterThan(0);
    }
  });

  it('gives every callback wait a timeout and a Catch for it', () => {
    const waits = states.filter(([, state]) => state.Resource?.endsWith('.waitForTaskToken'));
    expect(waits.map(([name]) => name)).toEqual(['SendDownlink']);
    for (const [name, state] of waits) {
      expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath, name).toBeDefined();
      expect(
        state.Catch?.some((catcher) => catcher.ErrorEquals.includes('States.Timeout')),
        name,
      ).toBe(true);
    }
  });

  it('gives every task a timeout and a Catch for whatever else goes wrong', () => {
    for (const [name, state] of tasks) {
      expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath, name).toBeDefined();
      expect(state.Catch?.at(-1)?.ErrorEquals, name).toEqual(['States.ALL']);
    }
  });

  it('can reach every Catch: States.ALL comes last, and no error is caught twice', () => {
    const known = new Set([
      ...Object.values(TASK_ERRORS),
      ...ENDING_ERRORS,
      ...ENCODING_ERRORS,
      'States.ALL',
      'States.Timeout',
    ]);
    for (const [name, state] of tasks) {
      const caught = (state.Catch ?? []).flatMap((catcher) => catcher.ErrorEquals);
      expect(new Set(caught).size, name).toBe(caught.length);
      expect(caught.indexOf('States.ALL'), name).toBe(caught.length - 1);
      // An error no task raises is a Catch nothing reaches.
      expect(
        caught.filter((error) => !known.has(error)),
        name,
      ).toEqual([]);
    }
  });

  it.each([
    [TASK_ERRORS.invalid, 'ReportInvalidDownlink'],
    [TASK_ERRORS.noCodec, 'ReportInvalidDownlink'],
    [TASK_ERRORS.objectToEncode, 'EncodeObject'],
    [TASK_ERRORS.unknownDevice, 'ReportRejection'],
    [TASK_ERRORS.busy, 'ReportRejection'],
    [TASK_ERRORS.locked, 'ReportRejection'],
    [TASK_ERRORS.rejected, 'ReportRejection'],
    [TASK_ERRORS.unavailable, 'ReportError'],
    [TASK_ERRORS.notReached, 'ReportError'],
    [TASK_ERRORS.dependency, 'ReportError'],
    [TASK_ERRORS.notRecorded, 'ReportError'],
    [TASK_ERRORS.configuration, 'ReportError'],
    ['Lambda.Unknown', 'ReportError'],
    ['Sandbox.Timedout', 'ReportError'],
    [TASK_ERRORS.duplicate, 'Duplicate'],
    ['States.Timeout', 'CheckStatusAtOrbiwan'],
  ])('sends a SendDownlink that failed with %s to %s', (error, next) => {
    expect(caughtBy(stateNamed('SendDownlink'), error)).toBe(next);
  });

  it('reports each error in the Report state of its code, so the alarms see only failures as failed', () => {
    const outcomeOfCode = (error: string) => {
      const code = errorCodeFor(error);
      if (INVALID_REQUEST_CODES.includes(code)) return 'ReportInvalidDownlink';
      if (['UNKNOWN_DEVICE', 'DEVICE_BUSY', 'ORBIWAN_REJECTED'].includes(code))
        return 'ReportRejection';
      return 'ReportError';
    };
    const send = stateNamed('SendDownlink');
    // Not failures: a duplicate ends quietly, an object goes to be encoded.
    const notFailures = [TASK_ERRORS.duplicate, TASK_ERRORS.objectToEncode];
    for (const error of Object.values(TASK_ERRORS).filter((name) => !notFailures.includes(name)))
      expect(caughtBy(send, error), error).toBe(outcomeOfCode(error));
  });

  it.each([
    [new NoCodecError('').name, 'ReportInvalidDownlink'],
    [new DownlinkEncodingError('').name, 'ReportInvalidDownlink'],
    [TASK_ERRORS.invalid, 'ReportInvalidDownlink'],
    ['Lambda.Unknown', 'ReportError'],
  ])(
    'sends an EncodeObject that failed with %s to %s, and an encoded request back to SendDownlink',
    (error, next) => {
      const encode = stateNamed('EncodeObject');
      expect(caughtBy(encode, error)).toBe(next);
      expect(encode.Next).toBe('SendDownlink');
    },
  );

  it('ends each Report state in the failure state of its outcome once its status went out', () => {
    const reportOutcomes = {
      invalid: 'invalid',
      rejected: 'rejected',
      error: 'failed',
      timed_out: 'timed_out',
    } as const;
    const reports = tasks.filter(([name]) => name.startsWith('Report'));
    expect(reports.map(([name]) => name).sort()).toEqual([
      'ReportError',
      'ReportInvalidDownlink',
      'ReportRejection',
      'ReportTimeout',
    ]);
    for (const [name, state] of reports) {
      const outcome = state.Parameters?.Payload?.outcome as keyof typeof reportOutcomes;
      const end = END_STATE_OF[reportOutcomes[outcome]];
      expect(state.Next, name).toBe(end);
    }
  });

  it('publishes a status before every failure: each Fail state is reached only from a state that published the ending', () => {
    for (const [name] of states.filter(([, candidate]) => candidate.Type === 'Fail')) {
      const from = predecessors(name);
      expect(from.length, name).toBeGreaterThan(0);
      for (const predecessor of from) {
        expect(predecessor, name).toMatch(
          /^(Report[A-Za-z]+|CheckStatusAtOrbiwan|EndAfterCheck|SendDownlink)$/,
        );
        if (predecessor !== 'SendDownlink') continue;
        // SendDownlink fails straight into a Fail state only with the ending the status path
        // published, named after that state.
        const errors = (stateNamed(predecessor).Catch ?? [])
          .filter((catcher) => catcher.Next === name)
          .flatMap((catcher) => catcher.ErrorEquals);
        expect(errors, name).toEqual([name]);
        expect(ENDING_ERRORS, name).toContain(name);
      }
    }
  });

  it('never retries SendDownlink for an error that can come once OrbiWAN may have queued the downlink', () => {
    const retried = (stateNamed('SendDownlink').Retry ?? []).flatMap(
      (retrier) => retrier.ErrorEquals,
    );
    const neverRetried = [
      TASK_ERRORS.invalid,
      TASK_ERRORS.unknownDevice,
      TASK_ERRORS.busy,
      TASK_ERRORS.rejected,
      TASK_ERRORS.unavailable,
      'NotAcknowledged',
      'TransmissionError',
      'Cancelled',
      ...ENDING_ERRORS,
      TASK_ERRORS.duplicate,
      TASK_ERRORS.notRecorded,
      'States.Timeout',
      // Each of these would retry every error above.
      'States.ALL',
      'States.TaskFailed',
    ];
    expect(retried.filter((error) => neverRetried.includes(error))).toEqual([]);
  });

  it('retries SendDownlink only where nothing was sent, or where a new attempt follows what an earlier one queued', () => {
    const retried = (stateNamed('SendDownlink').Retry ?? []).flatMap(
      (retrier) => retrier.ErrorEquals,
    );
    const why: Record<string, string> = {
      [TASK_ERRORS.notReached]: 'OrbiWAN certainly did not get the POST',
      [TASK_ERRORS.locked]: 'another downlink held the device: this one was not posted',
      [TASK_ERRORS.dependency]: 'an AWS service failed before the POST',
      'Lambda.ServiceException': 'Lambda failed to run the function',
      'Lambda.AWSLambdaException': 'Lambda failed to run the function',
      'Lambda.SdkClientException': 'Lambda failed to run the function',
      'Lambda.TooManyRequestsException': 'Lambda throttled the invocation',
      // The function died: its requestId claim and its device lease tell the next attempt
      // whether it posted (it then follows that downlink, or fails OrbiwanUnavailableError).
      'Lambda.Unknown': 'the function died; the claim and the lease say what it did',
      'Sandbox.Timedout': 'the function timed out; the claim and the lease say what it did',
      TimeoutError:
        "Middy's timeout, just before Lambda's: the claim and the lease say what it did",
    };
    expect([...retried].sort()).toEqual(Object.keys(why).sort());
  });

  it('asks OrbiWAN before it declares a timeout, and only then', () => {
    expect(caughtBy(stateNamed('SendDownlink'), 'States.Timeout')).toBe('CheckStatusAtOrbiwan');
    expect(predecessors('CheckStatusAtOrbiwan')).toEqual(['SendDownlink']);
    expect(predecessors('TimedOut').sort()).toEqual(['EndAfterCheck', 'ReportTimeout']);
    // A check that failed altogether still ends the request with a status: ReportTimeout's.
    expect(predecessors('ReportTimeout')).toEqual(['CheckStatusAtOrbiwan']);
    expect(stateNamed('CheckStatusAtOrbiwan').Next).toBe('EndAfterCheck');
  });

  it('ends a downlink where the status path ends it, on exactly the statuses the functions call final', async () => {
    const commands: unknown[] = [];
    const complete = stepFunctionsCompletion({
      send: (command: unknown) => {
        commands.push(command);
        return Promise.resolve({});
      },
    } as unknown as SFNClient);
    const send = stateNamed('SendDownlink');
    for (const transmissionStatus of [0, 1, 2, 3, 4, 5]) {
      for (const confirmed of [true, false]) {
        const finalState = finalStateOf(transmissionStatus, confirmed);
        const label = `transmissionStatus ${String(transmissionStatus)}, confirmed ${String(confirmed)}`;
        // Not final: the status path publishes it and leaves the task waiting.
        if (finalState === undefined) {
          expect(transmissionStatus, label).toBeLessThanOrEqual(1);
          continue;
        }
        const outcome: DownlinkOutcome = {
          finalState,
          devEui: '70b3d57ed0001a2b',
          downlinkId: '1',
          requestId: undefined,
          statuses: [],
        };
        commands.length = 0;
        await complete('token', outcome);
        const [command] = commands;
        const next =
          command instanceof SendTaskSuccessCommand
            ? send.Next
            : command instanceof SendTaskFailureCommand
              ? caughtBy(send, command.input.error ?? '')
              : undefined;
        expect(next, label).toBe(END_STATE_OF[finalState]);
      }
    }
  });

  it('ends a downlink checked at OrbiWAN in the state named after how it ended', () => {
    const check = stateNamed('CheckStatusAtOrbiwan');
    const endAfterCheck = stateNamed(check.Next ?? '');
    // What CheckStatusAtOrbiwan can end a downlink as: OrbiWAN's final statuses, or timed_out.
    const checked = [
      ...new Set(
        [0, 1, 2, 3, 4, 5].flatMap((status) =>
          [true, false].map((confirmed) => finalStateOf(status, confirmed)),
        ),
      ),
      'timed_out' as const,
    ].filter((state): state is FinalState => state !== undefined);
    for (const finalState of checked) {
      const next = choose(endAfterCheck, { outcome: { finalState } });
      expect(next, finalState).toBe(END_STATE_OF[finalState]);
      const end = stateNamed(next ?? '');
      // The failure states say the same as the send task's failure would have.
      if (end.Type === 'Fail') expect(end.Error, finalState).toBe(OUTCOME_ERRORS[finalState]);
    }
    // And what a check that failed altogether ends as, once ReportTimeout published timed_out.
    expect(caughtBy(check, 'Lambda.Unknown')).toBe('ReportTimeout');
    expect(stateNamed('ReportTimeout').Next).toBe('TimedOut');
  });

  it('reaches every state', () => {
    const reached = new Set([definition.StartAt]);
    for (let changed = true; changed;) {
      changed = false;
      for (const [name, state] of states) {
        if (!reached.has(name)) continue;
        for (const next of successors(state))
          if (!reached.has(next)) changed = reached.add(next).size > 0;
      }
    }
    expect([...reached].sort()).toEqual(states.map(([name]) => name).sort());
  });
});

describe('State machine: timeouts', () => {
  const timeoutOf = (functionId: string) =>
    Number(functionProperties(template, functionId).Timeout);

  it("waits for the final status as long as the rule's timeoutSeconds says", () => {
    const send = stateNamed('SendDownlink');
    expect(send.TimeoutSecondsPath).toBe('$.timeoutSeconds');
    expect(send.TimeoutSeconds).toBeUndefined();
  });

  it('outlasts the send function with its shortest wait', () => {
    // The template's pattern admits exactly this range (test/template/template-functions.test.ts).
    expect(timeoutOf('SendDownlinkFunction')).toBeLessThan(DOWNLINK_TIMEOUT_SECONDS_RANGE.min);
  });

  it('gives the send function the time send-downlink.ts keeps for a POST and what follows it', () => {
    // A wait for the device, the POST (its own timeout), then recording it and publishing accepted.
    const needsMs = DEVICE_WAIT_MS + ORBIWAN_TIMEOUT_MS + AFTER_POST_MS;
    expect(timeoutOf('SendDownlinkFunction') * 1000).toBeGreaterThan(needsMs);
  });

  it("lets the check outlast a publishing lock that lapses, and a login and a GET to OrbiWAN, before the state's own timeout", () => {
    const checkMs = timeoutOf('CheckDownlinkStatusFunction') * 1000;
    expect(checkMs).toBeGreaterThan(PUBLISHER_LEASE_MS + 2 * ORBIWAN_TIMEOUT_MS);
    expect(stateNamed('CheckStatusAtOrbiwan').TimeoutSeconds).toBeGreaterThan(checkMs / 1000);
  });

  it("gives every task with a fixed timeout longer than its function's", () => {
    for (const [name, state] of tasks.filter(([, task]) => task.TimeoutSeconds !== undefined))
      expect(state.TimeoutSeconds, name).toBeGreaterThan(timeoutOf(functionOf(state)));
  });
});

describe('IoT rule: downlink', () => {
  const rule = template.Resources.DownlinkRule?.Properties?.TopicRulePayload as {
    Sql: { 'Fn::Sub': string };
    Actions: { StepFunctions: Record<string, unknown> }[];
    ErrorAction: { Sqs: Record<string, unknown> };
  };

  it('takes every message on {prefix}/+/downlink, Base64-encoded so that non-JSON arrives too, with the wait it may have', () => {
    expect(rule.Sql['Fn::Sub']).toBe(
      "SELECT encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt, clientid() AS clientId, ${DownlinkTimeoutSeconds} AS timeoutSeconds FROM '${TopicPrefix}/+/downlink'",
    );
  });

  it("hands the execution DownlinkTimeoutSeconds as the number the send task's TimeoutSecondsPath reads", () => {
    const deployed = sampleStack({ DownlinkTimeoutSeconds: '3600' });
    const [downlinkRule] = templateTopicRules(template, deployed).filter(
      (candidate) => candidate.id === 'DownlinkRule',
    );
    const input = downlinkRule?.select(
      { topic: 'orbiwan/lorawan/70b3d57ed0001a2b/downlink', payload: Buffer.from('{}') },
      Date.now(),
    );
    expect(input?.timeoutSeconds).toBe(3600);
    expect(stateNamed('SendDownlink').TimeoutSecondsPath).toBe('$.timeoutSeconds');
  });

  it('starts the downlink state machine and sends what it could not start to the dead-letter queue', () => {
    expect(rule.Actions).toEqual([
      {
        StepFunctions: {
          StateMachineName: { 'Fn::GetAtt': ['DownlinkStateMachine', 'Name'] },
          ExecutionNamePrefix: 'downlink',
          RoleArn: { 'Fn::GetAtt': ['DownlinkRuleRole', 'Arn'] },
        },
      },
    ]);
    expect(rule.ErrorAction.Sqs).toMatchObject({ QueueUrl: { Ref: 'DownlinkDeadLetterQueue' } });
  });
});
