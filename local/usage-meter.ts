import type { AwsService } from './aws/aws-endpoint.js';
import type { OnPublish } from './aws/iot-data-plane.js';
import type { LocalFunction } from './lambda/local-functions.js';

// What the local cloud was asked to do: the counts an AWS bill is made of (npm run bench prices
// them), and which invocation asked for what.

export interface InvocationRecord {
  functionId: string;
  durationMs: number;
  /** AWS requests made while the invocation ran (invocations run one at a time when this matters). */
  dynamoDbRequests: number;
  publishes: number;
  stepFunctionsRequests: number;
}

export interface LocalUsage {
  /** Lambda invocations by function logical ID. */
  invocations: Record<string, number>;
  /** DynamoDB requests by operation (PutItem, UpdateItem, ...). */
  dynamoDbRequests: Record<string, number>;
  /** Step Functions API requests by operation (SendTaskSuccess, ...). */
  stepFunctionsRequests: Record<string, number>;
  /** IoT Data Plane publishes (the connector's messages). */
  publishes: number;
  invocationLog: InvocationRecord[];
}

export class UsageMeter {
  readonly usage: LocalUsage = {
    invocations: {},
    dynamoDbRequests: {},
    stepFunctionsRequests: {},
    publishes: 0,
    invocationLog: [],
  };

  /** The service, counting its requests by operation (x-amz-target) under `counts`. */
  countRequests(service: AwsService, counts: Record<string, number>): AwsService {
    return {
      ...service,
      handle: (request, response) => {
        increment(counts, String(request.headers['x-amz-target']).split('.')[1] ?? '');
        return service.handle(request, response);
      },
    };
  }

  countPublishes(onPublish: OnPublish): OnPublish {
    return (message) => {
      this.usage.publishes += 1;
      return onPublish(message);
    };
  }

  countInvocations(fn: LocalFunction): LocalFunction {
    return {
      ...fn,
      invoke: async (event) => {
        increment(this.usage.invocations, fn.id);
        const before = this.totals();
        const started = performance.now();
        try {
          return await fn.invoke(event);
        } finally {
          const after = this.totals();
          this.usage.invocationLog.push({
            functionId: fn.id,
            durationMs: performance.now() - started,
            dynamoDbRequests: after.dynamoDb - before.dynamoDb,
            publishes: after.publishes - before.publishes,
            stepFunctionsRequests: after.stepFunctions - before.stepFunctions,
          });
        }
      },
    };
  }

  private totals() {
    const sum = (counts: Record<string, number>) =>
      Object.values(counts).reduce((total, value) => total + value, 0);
    return {
      dynamoDb: sum(this.usage.dynamoDbRequests),
      stepFunctions: sum(this.usage.stepFunctionsRequests),
      publishes: this.usage.publishes,
    };
  }
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
