import type {
  ExecutionRecord,
  HistoryEvent,
  LocalStepFunctions,
} from '../stepfunctions/local-step-functions.js';
import { jsonProtocolService, type AwsService } from './aws-endpoint.js';

// The Step Functions API (JSON 1.0, x-amz-target AWSStepFunctions.*) over the local engine, so the
// SDK's SFNClient and `aws stepfunctions --endpoint-url ...` work unchanged. Dates are epoch seconds.

const seconds = (date: Date | undefined) =>
  date === undefined ? undefined : date.getTime() / 1000;
const text = (input: Record<string, unknown>, name: string) =>
  typeof input[name] === 'string' ? input[name] : undefined;

export function stepFunctionsService(engine: LocalStepFunctions): AwsService {
  return jsonProtocolService('step-functions', 'AWSStepFunctions', '1.0', {
    ListStateMachines: () => ({
      stateMachines: engine
        .listStateMachines()
        .map(({ stateMachineArn, name, type, creationDate }) => ({
          stateMachineArn,
          name,
          type,
          creationDate: seconds(creationDate),
        })),
    }),
    DescribeStateMachine: (input) => {
      const machine = engine.describeStateMachine(text(input, 'stateMachineArn') ?? '');
      return { ...machine, status: 'ACTIVE', creationDate: seconds(machine.creationDate) };
    },
    StartExecution: (input) => {
      const name = text(input, 'name');
      const execution = engine.startExecution({
        stateMachineArn: text(input, 'stateMachineArn') ?? '',
        input: text(input, 'input') ?? '{}',
        ...(name === undefined ? {} : { name }),
      });
      return { executionArn: execution.executionArn, startDate: seconds(execution.startDate) };
    },
    DescribeExecution: (input) =>
      describe(engine.describeExecution(text(input, 'executionArn') ?? '')),
    ListExecutions: (input) => {
      const status = text(input, 'statusFilter') as ExecutionRecord['status'] | undefined;
      const executions = engine.listExecutions(text(input, 'stateMachineArn') ?? '', status);
      const max =
        typeof input.maxResults === 'number' && input.maxResults > 0 ? input.maxResults : 100;
      return {
        executions: executions
          .slice(0, max)
          .map(({ executionArn, stateMachineArn, name, status: state, startDate, stopDate }) => ({
            executionArn,
            stateMachineArn,
            name,
            status: state,
            startDate: seconds(startDate),
            stopDate: seconds(stopDate),
          })),
      };
    },
    GetExecutionHistory: (input) => {
      const execution = engine.describeExecution(text(input, 'executionArn') ?? '');
      const events = execution.history.map(historyEvent);
      return { events: input.reverseOrder === true ? events.reverse() : events };
    },
    StopExecution: (input) => ({
      stopDate: seconds(
        engine.stopExecution(
          text(input, 'executionArn') ?? '',
          text(input, 'error'),
          text(input, 'cause'),
        ),
      ),
    }),
    SendTaskSuccess: (input) => {
      engine.sendTaskSuccess(text(input, 'taskToken') ?? '', text(input, 'output') ?? '');
      return {};
    },
    SendTaskFailure: (input) => {
      engine.sendTaskFailure(
        text(input, 'taskToken') ?? '',
        text(input, 'error'),
        text(input, 'cause'),
      );
      return {};
    },
    SendTaskHeartbeat: (input) => {
      engine.sendTaskHeartbeat(text(input, 'taskToken') ?? '');
      return {};
    },
  });
}

function describe({ history, startDate, stopDate, ...execution }: ExecutionRecord) {
  return { ...execution, startDate: seconds(startDate), stopDate: seconds(stopDate) };
}

// Each event carries its details under the key Step Functions uses for its type.
function historyEvent({
  id,
  timestamp,
  type,
  stateName,
  input,
  output,
  error,
  cause,
}: HistoryEvent) {
  const event = { id, previousEventId: id - 1, timestamp: seconds(timestamp), type };
  if (type.endsWith('StateEntered'))
    return { ...event, stateEnteredEventDetails: { name: stateName, input } };
  if (type.endsWith('StateExited'))
    return { ...event, stateExitedEventDetails: { name: stateName, output } };
  if (type === 'TaskFailed')
    return {
      ...event,
      taskFailedEventDetails: { error, cause, resourceType: 'lambda', resource: 'invoke' },
    };
  if (type === 'ExecutionStarted') return { ...event, executionStartedEventDetails: { input } };
  if (type === 'ExecutionSucceeded')
    return { ...event, executionSucceededEventDetails: { output } };
  if (type === 'ExecutionFailed')
    return { ...event, executionFailedEventDetails: { error, cause } };
  if (type === 'ExecutionAborted')
    return { ...event, executionAbortedEventDetails: { error, cause } };
  return event;
}
