import { Tracer } from '@aws-lambda-powertools/tracer';

// One Tracer per function instance (X-Ray, template.yaml: Tracing: Active). It traces nothing
// outside Lambda (tests, the local stack, sam local invoke).
export const tracer = new Tracer();
