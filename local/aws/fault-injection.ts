import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { readBody, sendAwsError, type AwsService } from './aws-endpoint.js';
import { AwsServiceError } from './aws-errors.js';

// Faults the stand-ins can be told to play, so tests can show what the connector does when an AWS
// service fails, throttles or is slow: the answer an AWS service gives, to the unmodified SDK.

export interface Fault {
  /** The stand-in: 'iot-data-plane', 'dynamodb', 'secrets-manager' or 'step-functions'. */
  service: string;
  /** The operation (PutItem, GetSecretValue, Publish, ...); every one when left out. */
  operation?: string;
  /** Only requests whose body contains this text (one item's key, one function's update, ...). */
  bodyIncludes?: string;
  /** An AWS error answered instead (e.g. ThrottlingException, 429), or the real answer, late. */
  effect: { error: string; status: number; message?: string } | { delayMs: number };
  /** How many requests it affects; every one until removed when left out. */
  times?: number;
  /** How many matching requests it lets through first (default 0). */
  after?: number;
}

interface ActiveFault extends Fault {
  affected: number;
  passed: number;
}

/** Holds a request until it resolves: for tests that choose the order requests are served in. */
export type Gate = (service: string, operation: string) => Promise<void>;

export class FaultInjector {
  private readonly faults = new Set<ActiveFault>();
  private gate: Gate | undefined;

  /** Holds every request at `gate` before serving it (or faulting it), until removed. */
  hold(gate: Gate): () => void {
    this.gate = gate;
    return () => {
      if (this.gate === gate) this.gate = undefined;
    };
  }

  /** Plays the fault from now on; returns what removes it. */
  inject(fault: Fault): () => void {
    const active = { ...fault, affected: 0, passed: 0 };
    this.faults.add(active);
    return () => this.faults.delete(active);
  }

  clear(): void {
    this.faults.clear();
  }

  /** The service, playing whatever fault matches each request first. */
  wrap(service: AwsService): AwsService {
    return {
      ...service,
      handle: async (request, response) => {
        await this.gate?.(service.name, service.operationOf(request) ?? '');
        if (this.faults.size === 0) return service.handle(request, response);
        const body = await readBody(request);
        const replay = replayOf(request, body);
        const operation = service.operationOf(request) ?? '';
        const fault = this.take(service.name, operation, body.toString('utf8'));
        if (fault === undefined) return service.handle(replay, response);
        if ('delayMs' in fault.effect) {
          await delay(fault.effect.delayMs);
          return service.handle(replay, response);
        }
        const { error, status, message = `injected ${error}` } = fault.effect;
        sendAwsError(response, new AwsServiceError(error, status, message), service.protocol);
      },
    };
  }

  private take(service: string, operation: string, body: string): ActiveFault | undefined {
    for (const fault of this.faults) {
      if (fault.service !== service) continue;
      if (fault.operation !== undefined && fault.operation !== operation) continue;
      if (fault.bodyIncludes !== undefined && !body.includes(fault.bodyIncludes)) continue;
      if (fault.passed < (fault.after ?? 0)) {
        fault.passed += 1;
        continue;
      }
      fault.affected += 1;
      if (fault.times !== undefined && fault.affected >= fault.times) this.faults.delete(fault);
      return fault;
    }
    return undefined;
  }
}

/** The request again, its body already read: for the service to read as if it were new. */
function replayOf(request: IncomingMessage, body: Buffer): IncomingMessage {
  return Object.assign(Readable.from([body]), {
    headers: request.headers,
    method: request.method,
    url: request.url,
    socket: request.socket,
  }) as unknown as IncomingMessage;
}
