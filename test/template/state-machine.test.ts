import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import aslValidator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import { isFinalStatus } from '../../functions/downlinks/downlink-status.js';
import { substitute } from '../../local/local-cloud.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import { TEMPLATE_PATH, loadTemplate } from '../../local/template/sam-template.js';
import { sampleStack } from '../helpers/sample-stack.js';

// Offline checks of statemachines/downlink.asl.json and how the template wires it.

interface State {
  Type: string;
  Resource?: string;
  Next?: string;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Retry?: { ErrorEquals: string[] }[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Parameters?: { FunctionName?: string };
}

const template = loadTemplate();
const machine = template.Resources.DownlinkStateMachine?.Properties ?? {};
const text = readFileSync(join(dirname(TEMPLATE_PATH), String(machine.DefinitionUri)), 'utf8');
const definition = JSON.parse(text) as { StartAt: string; States: Record<string, State> };
const states = Object.entries(definition.States);
const substitutions = machine.DefinitionSubstitutions as Record<string, unknown>;

function successors(state: State): string[] {
  return [
    state.Next,
    state.Default,
    ...(state.Choices ?? []).map((choice) => choice.Next),
    ...(state.Catch ?? []).map((catcher) => catcher.Next),
  ].filter((next): next is string => next !== undefined);
}

describe('State machine: downlink', () => {
  it('is valid ASL as written (placeholders are quoted strings)', () => {
    const result = aslValidator(structuredClone(definition), { checkArn: false, checkPaths: true });
    expect(result.errorsText()).toBe('');
  });

  it('is valid ASL once the template has substituted its placeholders', () => {
    const stack = sampleStack();
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

  it('substitutes only resource identifiers and settings; integration ARNs stay literal', () => {
    for (const [name, state] of states) {
      if (state.Type !== 'Task') continue;
      expect(state.Resource, name).toMatch(/^arn:aws:states:::lambda:invoke(\.waitForTaskToken)?$/);
      expect(state.Parameters?.FunctionName, name).toMatch(/^\$\{[A-Za-z]+FunctionArn\}$/);
    }
  });

  it('invokes only functions of the template', () => {
    for (const [name, value] of Object.entries(substitutions)) {
      if (!name.endsWith('FunctionArn')) continue;
      const [functionId, attribute] = (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
      expect(template.Resources[functionId]?.Type, name).toBe('AWS::Serverless::Function');
      expect(attribute).toBe('Arn');
    }
  });

  it('reads the wait timeout from the DownlinkTimeoutSeconds parameter', () => {
    expect(substitutions.DownlinkTimeoutSeconds).toEqual({ Ref: 'DownlinkTimeoutSeconds' });
    expect(text).toContain("States.StringToJson('${DownlinkTimeoutSeconds}')");
  });

  it('gives every callback wait a timeout and a Catch for it', () => {
    const waits = states.filter(([, state]) => state.Resource?.endsWith('.waitForTaskToken'));
    expect(waits.map(([name]) => name)).toEqual(['WaitForStatus']);
    for (const [name, state] of waits) {
      expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath, name).toBeDefined();
      expect(
        state.Catch?.some((catcher) => catcher.ErrorEquals.includes('States.Timeout')),
        name,
      ).toBe(true);
    }
  });

  it('gives every task a timeout and a Catch that leads to a final state', () => {
    for (const [name, state] of states.filter(([, candidate]) => candidate.Type === 'Task')) {
      expect(state.TimeoutSeconds ?? state.TimeoutSecondsPath, name).toBeDefined();
      expect(
        state.Catch?.some((catcher) => catcher.ErrorEquals.includes('States.ALL')),
        name,
      ).toBe(true);
    }
  });

  it('publishes a status before every failure: each Fail state is reached only through a Report state or an OrbiWAN status', () => {
    for (const [name] of states.filter(([, candidate]) => candidate.Type === 'Fail')) {
      const predecessors = states
        .filter(([, candidate]) => successors(candidate).includes(name))
        .map(([predecessor]) => predecessor);
      expect(predecessors.length, name).toBeGreaterThan(0);
      for (const predecessor of predecessors)
        expect(predecessor, name).toMatch(/^(Report[A-Za-z]+|EvaluateStatus)$/);
    }
  });

  it('retries a POST only for errors where it certainly did not reach OrbiWAN', () => {
    const retried = (definition.States.SendToOrbiwan?.Retry ?? [])
      .flatMap((retrier) => retrier.ErrorEquals)
      .sort();
    expect(retried).toEqual([
      'DeviceLockedError',
      'Lambda.TooManyRequestsException',
      'OrbiwanNotReachedError',
    ]);
  });

  it('reads as the lifecycle, with the happy path in five states', () => {
    expect(definition.StartAt).toBe('ValidateDownlink');
    const path = ['ValidateDownlink', 'SendToOrbiwan', 'WaitForStatus', 'EvaluateStatus'];
    for (const [index, name] of path.slice(0, -1).entries())
      expect(definition.States[name]?.Next).toBe(path[index + 1]);
    const finals = states
      .filter(([, state]) => state.Type === 'Succeed' || state.Type === 'Fail')
      .map(([name]) => name)
      .sort();
    expect(finals).toEqual([
      'Acknowledged',
      'Cancelled',
      'Delivered',
      'Failed',
      'InvalidDownlink',
      'NotAcknowledged',
      'Rejected',
      'TimedOut',
      'TransmissionFailed',
    ]);
  });

  it('asks OrbiWAN before it declares a timeout, and only then', () => {
    const timeoutCatch = definition.States.WaitForStatus?.Catch?.find((catcher) =>
      catcher.ErrorEquals.includes('States.Timeout'),
    );
    expect(timeoutCatch?.Next).toBe('CheckStatusAtOrbiwan');
    const reachingReportTimeout = states
      .filter(([, state]) => successors(state).includes('ReportTimeout'))
      .map(([name]) => name)
      .sort();
    expect(reachingReportTimeout).toEqual(['CheckStatusAtOrbiwan', 'FinalAtOrbiwan']);
  });

  it('ends a downlink on exactly the statuses the functions call final', () => {
    // EvaluateStatus, run by hand: its Choices are NumericEquals, or an And with a BooleanEquals.
    type Rule = {
      Variable?: string;
      NumericEquals?: number;
      BooleanEquals?: boolean;
      And?: Rule[];
      Next?: string;
    };
    const evaluate = definition.States.EvaluateStatus as State & { Choices: Rule[] };
    const holds = (
      rule: Rule,
      input: { transmissionStatus: number; confirmed: boolean },
    ): boolean =>
      rule.And !== undefined
        ? rule.And.every((part) => holds(part, input))
        : rule.Variable === '$.orbiwan.transmissionStatus'
          ? rule.NumericEquals === input.transmissionStatus
          : rule.Variable === '$.downlink.confirmed' && rule.BooleanEquals === input.confirmed;
    for (const transmissionStatus of [0, 1, 2, 3, 4, 5]) {
      for (const confirmed of [true, false]) {
        const next =
          evaluate.Choices.find((rule) => holds(rule, { transmissionStatus, confirmed }))?.Next ??
          evaluate.Default;
        expect(next !== 'WaitForStatus', `${String(transmissionStatus)} ${String(confirmed)}`).toBe(
          isFinalStatus(transmissionStatus, confirmed),
        );
      }
    }
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

describe('IoT rule: downlink', () => {
  const rule = template.Resources.DownlinkRule?.Properties?.TopicRulePayload as {
    Sql: { 'Fn::Sub': string };
    Actions: { StepFunctions: Record<string, unknown> }[];
    ErrorAction: { Sqs: Record<string, unknown> };
  };

  it('takes every message on {prefix}/+/downlink, Base64-encoded so that non-JSON arrives too', () => {
    expect(rule.Sql['Fn::Sub']).toBe(
      "SELECT encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt, clientid() AS clientId FROM '${TopicPrefix}/+/downlink'",
    );
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
