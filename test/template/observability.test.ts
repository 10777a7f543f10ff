import { describe, expect, it } from 'vitest';
import { METRIC } from '../../functions/shared/metrics.js';
import type { OrbiwanAuth } from '../../functions/shared/orbiwan/orbiwan-auth.js';
import { createOrbiwanClient } from '../../functions/shared/orbiwan/orbiwan-client.js';
import { resolveIntrinsics } from '../../local/template/intrinsics.js';
import { isRecord, loadTemplate, resourcesOfType } from '../../local/template/sam-template.js';
import { matchesEventPattern } from '../helpers/event-pattern.js';
import { sampleStack } from '../helpers/sample-stack.js';

// Offline checks of what operators get: traces on every function, alarms on what needs a person,
// and a dashboard; every custom metric they read is one the functions emit, under the namespace
// and service the functions are given.

const template = loadTemplate();
const stack = sampleStack();
const globals = template.Globals?.Function as {
  Tracing?: string;
  Environment: { Variables: Record<string, unknown> };
};
const variables = resolveIntrinsics(globals.Environment.Variables, stack) as Record<string, string>;
const NAMESPACE = variables.POWERTOOLS_METRICS_NAMESPACE ?? '';
const SERVICE = variables.POWERTOOLS_SERVICE_NAME ?? '';
const OUR_METRICS = new Set<string>(Object.values(METRIC));
const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([id, resource]) => ({
  id,
  properties: resolveIntrinsics(resource.Properties, stack) as Record<string, unknown>,
}));

interface MetricStat {
  Namespace: string;
  MetricName: string;
  Dimensions?: { Name: string; Value: unknown }[];
}

/** The dashboard, as CloudWatch gets it. */
function dashboardBody(): { widgets: { properties: { metrics: unknown[][] } }[] } {
  const body = resolveIntrinsics(
    template.Resources.ConnectorDashboard?.Properties?.DashboardBody,
    stack,
  );
  expect(typeof body).toBe('string');
  return JSON.parse(String(body)) as { widgets: { properties: { metrics: unknown[][] } }[] };
}

/** Every metric an alarm reads, whether as a single metric or inside a metric math expression. */
function metricsOf(properties: Record<string, unknown>): MetricStat[] {
  if (typeof properties.MetricName === 'string') return [properties as unknown as MetricStat];
  return ((properties.Metrics ?? []) as { MetricStat?: { Metric: MetricStat } }[]).flatMap(
    (query) => (query.MetricStat === undefined ? [] : [query.MetricStat.Metric]),
  );
}

describe('Template: observability', () => {
  it('traces every function with X-Ray, and the state machine', () => {
    expect(globals.Tracing).toBe('Active');
    for (const [id, resource] of resourcesOfType(template, 'AWS::Serverless::Function'))
      expect(resource.Properties?.Tracing ?? globals.Tracing, id).toBe('Active');
    expect(template.Resources.DownlinkStateMachine?.Properties?.Tracing).toEqual({ Enabled: true });
  });

  it('gives every stack a metrics namespace of its own', () => {
    expect(NAMESPACE).toBe(`OrbiwanConnector/${stack.refs['AWS::StackName'] ?? ''}`);
    expect(SERVICE).toBe('orbiwan-connector');
  });

  it('alarms on the dead-letter queue, 5xx to OrbiWAN, failed and timed-out downlinks, and OrbiWAN errors', () => {
    const watched = alarms.flatMap(({ properties }) =>
      metricsOf(properties).map((metric) =>
        [
          metric.MetricName,
          ...(metric.Dimensions ?? [])
            .filter((dimension) => dimension.Name === 'finalState')
            .map((dimension) => String(dimension.Value)),
        ].join(':'),
      ),
    );
    expect(watched).toEqual(
      expect.arrayContaining([
        'ApproximateNumberOfMessagesVisible',
        '5xx',
        `${METRIC.downlinksEnded}:failed`,
        `${METRIC.downlinksEnded}:timed_out`,
        'ExecutionsAborted',
        'ExecutionsTimedOut',
        METRIC.orbiwanErrors,
        METRIC.statusPublishFailures,
      ]),
    );
  });

  it("watches OrbiWAN errors of the downlink path's operations, named as the client's methods", () => {
    const operations = Object.keys(
      createOrbiwanClient({
        baseUrl: 'https://orbiwan.example.com',
        auth: {} as OrbiwanAuth,
        connectTimeoutMs: 1,
        timeoutMs: 1,
      }),
    );
    const watched = alarms.flatMap(({ properties }) =>
      metricsOf(properties)
        .filter((metric) => metric.MetricName === METRIC.orbiwanErrors)
        .flatMap((metric) =>
          (metric.Dimensions ?? [])
            .filter((dimension) => dimension.Name === 'operation')
            .map((dimension) => dimension.Value),
        ),
    );
    // Logging in (OAuth2) fails every downlink as surely as the POST does.
    expect(watched).toEqual(['enqueueDownlink', 'downlinkAtOrbiwan', 'logIn']);
    for (const operation of watched) expect(operations).toContain(operation);
  });

  it('adds up every metric a metric math alarm reads, so none is watched in vain', () => {
    for (const { id, properties } of alarms) {
      const queries = (properties.Metrics ?? []) as {
        Id: string;
        Expression?: string;
        ReturnData?: boolean;
      }[];
      if (queries.length === 0) continue;
      const returned = queries.filter((query) => query.ReturnData === true);
      expect(returned, id).toHaveLength(1);
      const expression = returned[0]?.Expression ?? '';
      for (const query of queries.filter((each) => each.Expression === undefined)) {
        expect(query.ReturnData, `${id} ${query.Id}`).toBe(false);
        expect(expression, `${id} ${query.Id}`).toMatch(new RegExp(`\\b${query.Id}\\b`));
      }
    }
  });

  it('reads only metrics the functions emit, with the namespace and service they emit them under', () => {
    const custom = alarms.flatMap(({ properties }) =>
      metricsOf(properties).filter((metric) => !metric.Namespace.startsWith('AWS/')),
    );
    expect(custom.length).toBeGreaterThan(0);
    for (const metric of custom) {
      expect(OUR_METRICS.has(metric.MetricName), metric.MetricName).toBe(true);
      expect(metric.Namespace).toBe(NAMESPACE);
      expect(metric.Dimensions).toContainEqual({ Name: 'service', Value: SERVICE });
    }
  });

  it('notifies the alarm topic, when it goes off and when it clears; email only if asked', () => {
    for (const { id, properties } of alarms) {
      const topic = { Ref: 'AlarmTopic' };
      expect(template.Resources[id]?.Properties?.AlarmActions, id).toEqual([topic]);
      expect(template.Resources[id]?.Properties?.OKActions, id).toEqual([topic]);
      expect(properties.TreatMissingData, id).toBe('notBreaching');
    }
    expect(template.Resources.AlarmEmailSubscription?.Condition).toBe('HasAlarmEmail');
    expect(template.Conditions?.HasAlarmEmail).toEqual({
      'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }],
    });
  });

  it("encrypts the alarm topic with a key CloudWatch may use (it may not use AWS's alias/aws/sns)", () => {
    const topic = template.Resources.AlarmTopic?.Properties;
    expect(topic?.KmsMasterKeyId).toEqual({ Ref: 'AlarmTopicKey' });
    const key = template.Resources.AlarmTopicKey;
    expect(key?.Type).toBe('AWS::KMS::Key');
    expect(key?.Properties?.EnableKeyRotation).toBe(true);
    const statements = (
      resolveIntrinsics(key?.Properties?.KeyPolicy, stack) as {
        Statement: { Principal: unknown; Action: unknown; Condition?: unknown }[];
      }
    ).Statement;
    const forCloudWatch = statements.filter(
      (statement) =>
        JSON.stringify(statement.Principal) === '{"Service":"cloudwatch.amazonaws.com"}',
    );
    expect(forCloudWatch).toEqual([
      expect.objectContaining({
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Condition: { StringEquals: { 'aws:SourceAccount': stack.refs['AWS::AccountId'] } },
      }),
    ]);
  });

  it('draws a dashboard of valid JSON whose custom metrics are all emitted by the functions', () => {
    const dashboard = dashboardBody();
    expect(dashboard.widgets.length).toBeGreaterThanOrEqual(8);
    const text = JSON.stringify(dashboard);
    const named = [...text.matchAll(/MetricName=\\"(\w+)\\"/g)].map((match) => match[1] ?? '');
    const listed = dashboard.widgets
      .flatMap((widget) => widget.properties.metrics)
      .filter((row) => row[0] === NAMESPACE)
      .map((row) => String(row[1]));
    for (const name of [...named, ...listed].filter((metric) => /^[A-Z]/.test(metric)))
      if (!/^(Errors|Throttles)$/.test(name)) expect(OUR_METRICS.has(name), name).toBe(true);
    expect(text).toContain(NAMESPACE);
  });

  it('draws every metric the functions emit: none is paid for and never looked at', () => {
    const drawn = JSON.stringify(dashboardBody());
    expect(Object.values(METRIC).filter((metric) => !drawn.includes(metric))).toEqual([]);
  });

  it("hands every task of the downlink state machine the execution's name as its correlation id", () => {
    const definition = template.Resources.DownlinkStateMachine?.Properties?.Definition as {
      States: Record<string, { Type: string; Parameters?: { Payload?: unknown } }>;
    };
    const tasks = Object.entries(definition.States).filter(([, state]) => state.Type === 'Task');
    expect(tasks.length).toBeGreaterThan(0);
    for (const [name, state] of tasks) {
      const payload = state.Parameters?.Payload;
      expect(isRecord(payload) && payload['correlationId.$'], name).toBe('$$.Execution.Name');
    }
  });
  describe('executions that fail without their final status', () => {
    const rule = resolveIntrinsics(
      template.Resources.DownlinkExecutionsFailedRule?.Properties,
      stack,
    ) as { EventPattern: unknown; Targets: { Arn: string }[] };
    const definition = template.Resources.DownlinkStateMachine?.Properties?.Definition as {
      States: Record<string, { Type: string; Error?: string; Catch?: { ErrorEquals: string[] }[] }>;
    };
    const statusChange = (error: string, status = 'FAILED', machine = STATE_MACHINE) => ({
      source: 'aws.states',
      'detail-type': 'Step Functions Execution Status Change',
      detail: { stateMachineArn: machine, status, error, cause: '...' },
    });
    const STATE_MACHINE = stack.refs.DownlinkStateMachine ?? '';
    // Every error an execution can end with after the connector published its ending: the
    // fixed ones of the Fail states, and those its tasks are caught with (ErrorPath states).
    const byDesign = [
      ...new Set(
        Object.values(definition.States).flatMap((state) => [
          ...(state.Type === 'Fail' && state.Error !== undefined ? [state.Error] : []),
          ...(state.Catch ?? []).flatMap((handler) => handler.ErrorEquals),
        ]),
      ),
    ].filter((error) => error !== 'StatusNotPublished' && error !== 'States.ALL');

    it('sends each one to the dead-letter queue, whose alarm fires', () => {
      expect(rule.Targets.map((target) => target.Arn)).toEqual([
        stack.attributes['DownlinkDeadLetterQueue.Arn'],
      ]);
      const alarm = alarms.find(({ id }) => id === 'DeadLetterQueueNotEmptyAlarm');
      expect(alarm?.properties.Dimensions).toEqual([
        { Name: 'QueueName', Value: stack.attributes['DownlinkDeadLetterQueue.QueueName'] },
      ]);
    });

    it.each(['States.DataLimitExceeded', 'States.Runtime', 'StatusNotPublished'])(
      'matches an execution failed with %s',
      (error) => {
        expect(matchesEventPattern(rule.EventPattern, statusChange(error))).toBe(true);
      },
    );

    it('matches no downlink that ended as the connector reported, whatever its error', () => {
      expect(byDesign).toEqual(expect.arrayContaining(['NotAcknowledged', 'DeviceBusyError']));
      for (const error of byDesign.filter((name) => !name.startsWith('States.'))) {
        expect(matchesEventPattern(rule.EventPattern, statusChange(error)), error).toBe(false);
      }
    });

    it("matches no other state machine's execution, and no ending the other alarms watch", () => {
      const other = STATE_MACHINE.replace(/:stateMachine:.*/, ':stateMachine:other');
      expect(
        matchesEventPattern(rule.EventPattern, statusChange('States.Runtime', 'FAILED', other)),
      ).toBe(false);
      expect(
        matchesEventPattern(rule.EventPattern, statusChange('States.Timeout', 'TIMED_OUT')),
      ).toBe(false);
    });
  });
});
