import type { Tracer } from '@aws-lambda-powertools/tracer';

// X-Ray (template.yaml: Tracing: Active) through Powertools Tracer, loaded only where it traces:
// in Lambda, with tracing on. The X-Ray SDK hooks every promise of the process once it is loaded
// (docs/performance.md measures what that costs), so tests, the local stack and sam local invoke
// never load it.
const tracing =
  process.env.AWS_EXECUTION_ENV !== undefined &&
  process.env.AWS_SAM_LOCAL !== 'true' &&
  process.env.POWERTOOLS_TRACE_ENABLED !== 'false';

export const tracer: Tracer | undefined = tracing
  ? new (await import('@aws-lambda-powertools/tracer')).Tracer()
  : undefined;

/** The client, its calls traced as subsegments when tracing is on. */
export function traced<Client extends object>(client: Client): Client {
  return tracer === undefined ? client : tracer.captureAWSv3Client(client);
}
