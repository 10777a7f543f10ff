import type { AwsService } from './aws/aws-endpoint.js';
import type { OnPublish } from './aws/iot-data-plane.js';
import type { LocalFunction } from './lambda/local-functions.js';

// What the local cloud was asked to do: the counts an AWS bill is made of (npm run bench prices
// them), and, while someone records, which invocation asked for what.

export interface InvocationRecord {
  functionId: string;
  durationMs: number;
  /** AWS requests made while the invocation ran (record one downlink at a time for these to hold). */
  dynamoDbRequests: number;
  publishes: number;
  stepFunctionsRequests: number;
}

export interface UsageCounts {
  /** Lambda invocations by function logical ID. */
  invocations: Record<string, number>;
  /** DynamoDB requests by operation (PutItem, UpdateItem, ...). */
  dynamoDbRequests: Record<string, number>;
  /** Step Functions API requests by operation (SendTaskSuccess, ...). */
  stepFunctionsRequests: Record<string, number>;
  /** IoT Data Plane publishes (the connector's messages). */
  publishes: number;
  /** IoT Data Plane requests by operation: Publish, GetThingShadow, UpdateThingShadow, ... */
  iotDataRequests: Record<string, number>;
}

export class UsageMeter {
  readonly counts: UsageCounts = {
    invocations: {},
    dynamoDbRequests: {},
    stepFunctionsRequests: {},
    publishes: 0,
    iotDataRequests: {},
  };
  // Kept only while record() runs: a long-running local stack must not grow without bound.
  private readonly recordings = new Set<InvocationRecord[]>();

  /** Runs `run` and returns, with its result, every invocation that ended meanwhile. */
  async record<T>(run: () => Promise<T>): Promise<{ result: T; invocations: InvocationRecord[] }> {
    const invocations: InvocationRecord[] = [];
    this.recordings.add(invocations);
    try {
      return { result: await run(), invocations };
    } finally {
      this.recordings.delete(invocations);
    }
  }

  /** The service, counting its requests by operation under `counts`. */
  countRequests(service: AwsService, counts: Record<string, number>): AwsService {
    return {
      ...service,
      handle: (request, response) => {
        increment(counts, service.operationOf(request) ?? '');
        return service.handle(request, response);
      },
    };
  }

  countPublishes(onPublish: OnPublish): OnPublish {
    return (message) => {
      this.counts.publishes += 1;
      return onPublish(message);
    };
  }

  countInvocations(fn: LocalFunction): LocalFunction {
    return {
      ...fn,
      invoke: async (event) => {
        increment(this.counts.invocations, fn.id);
        if (this.recordings.size === 0) return fn.invoke(event);
        const before = this.totals();
        const started = performance.now();
        try {
          return await fn.invoke(event);
        } finally {
          const after = this.totals();
          const record: InvocationRecord = {
            functionId: fn.id,
            durationMs: performance.now() - started,
            dynamoDbRequests: after.dynamoDb - before.dynamoDb,
            publishes: after.publishes - before.publishes,
            stepFunctionsRequests: after.stepFunctions - before.stepFunctions,
          };
          for (const recording of this.recordings) recording.push(record);
        }
      },
    };
  }

  private totals() {
    const sum = (counts: Record<string, number>) =>
      Object.values(counts).reduce((total, value) => total + value, 0);
    return {
      dynamoDb: sum(this.counts.dynamoDbRequests),
      stepFunctions: sum(this.counts.stepFunctionsRequests),
      publishes: this.counts.publishes,
    };
  }
}

function increment(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
