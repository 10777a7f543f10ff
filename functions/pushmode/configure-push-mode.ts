import type {
  CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceResponse,
} from 'aws-lambda';
import * as z from 'zod/mini';
import { secretsManagerClient } from '../shared/clients/secrets-manager-client.js';
import { requireEnv } from '../shared/config.js';
import { logger } from '../shared/logger.js';
import { observedHandler } from '../shared/observability.js';
import type { OrbiwanClient } from '../shared/orbiwan/orbiwan-client.js';
import { orbiwanBaseUrlFromEnv, orbiwanClientFromEnv } from '../shared/orbiwan/orbiwan-from-env.js';
import { readSecretString } from '../shared/secrets.js';
import { issuesOf } from '../shared/zod.js';
import {
  cloudFormationResponse,
  sendCloudFormationResponse,
  type CustomResourceOutcome,
  type SendResponse,
} from './cloudformation-response.js';
import { pushModeStartBody } from './push-mode-start.js';

// The optional custom resource (template: ConfigureOrbiwanPushMode): on Create and Update it
// points OrbiWAN's push mode at this stack's API with the generated token, on Delete it stops it.
// Whatever happens, CloudFormation gets exactly one answer, in bounded time: a failed Create or
// Update says why in the stack's events, and a Delete always succeeds, so that a stack can be
// deleted even when OrbiWAN is gone.

/** The custom resource's properties in template.yaml (PushModeCustomResource). */
const propertiesSchema = z.object({
  /** The API's URL: OrbiWAN's host, port and path_prefix are taken from it. */
  PushEndpointUrl: z.url({ protocol: /^https?$/ }),
  DataFormat: z.enum(['base64', 'hex']),
});

/** The PhysicalResourceId: one push mode per OrbiWAN account, so the same across updates. */
export const PUSH_MODE_RESOURCE_ID = 'orbiwan-push-mode';
/** Given to a Create that failed: the Delete of its rollback then has nothing to stop. */
export const NOT_STARTED_RESOURCE_ID = 'orbiwan-push-mode-not-started';

// Time kept back from the function's timeout for answering CloudFormation (two PUTs to S3).
export const RESPONSE_RESERVE_MS = 10_000;

/** What the function needs of OrbiWAN; built at the first request, see pushModeHandlerFromEnv. */
export interface PushModeOrbiwan {
  /** OrbiWAN's base URL, to name it in reasons. */
  baseUrl: string;
  client: Pick<OrbiwanClient, 'startPushMode' | 'stopPushMode'>;
}

export interface PushModeDeps {
  orbiwan: () => PushModeOrbiwan;
  /** The generated push token, read at run time: it is never a template property. */
  pushToken: () => Promise<string>;
  respond: SendResponse;
}

/** Create and Update start push mode; Delete stops it. Never throws: every failure is an outcome. */
export async function configurePushMode(
  event: CloudFormationCustomResourceEvent,
  deps: PushModeDeps,
): Promise<CustomResourceOutcome> {
  if (event.RequestType === 'Delete') return stopPushMode(event.PhysicalResourceId, deps);
  const failedId =
    event.RequestType === 'Create' ? NOT_STARTED_RESOURCE_ID : event.PhysicalResourceId;
  let token: string | undefined;
  try {
    const properties = propertiesSchema.safeParse(event.ResourceProperties);
    if (!properties.success) {
      const problems = issuesOf(properties.error).map(({ path, message }) => `${path}: ${message}`);
      return failed(`the custom resource's properties are wrong: ${problems.join('; ')}`, failedId);
    }
    const { PushEndpointUrl: pushEndpointUrl, DataFormat: dataFormat } = properties.data;
    const { baseUrl, client } = deps.orbiwan();
    try {
      token = await deps.pushToken();
    } catch (error) {
      return failed(
        `the push token could not be read from Secrets Manager: ${describe(error)}`,
        failedId,
      );
    }
    const body = pushModeStartBody({ pushEndpointUrl, accessToken: token, dataFormat });
    try {
      await client.startPushMode(body);
    } catch (error) {
      return failed(
        `could not start OrbiWAN push mode at ${baseUrl}/rest/pushmode/start: ${describe(error)}`,
        failedId,
        token,
      );
    }
    const { host, port, path_prefix, push_subscription } = body;
    logger.info('OrbiWAN push mode started', { host, port, path_prefix, push_subscription });
    return {
      status: 'SUCCESS',
      reason: `OrbiWAN at ${baseUrl} pushes ${push_subscription} to ${host}:${port}${path_prefix}`,
      physicalResourceId: PUSH_MODE_RESOURCE_ID,
    };
  } catch (error) {
    return failed(`the push mode function failed: ${describe(error)}`, failedId, token);
  }
}

/** A Delete succeeds whatever happens: a failure is logged, and named in the Reason. */
async function stopPushMode(
  physicalResourceId: string,
  deps: PushModeDeps,
): Promise<CustomResourceOutcome> {
  const succeeded = (reason: string): CustomResourceOutcome => ({
    status: 'SUCCESS',
    reason,
    physicalResourceId,
  });
  if (physicalResourceId === NOT_STARTED_RESOURCE_ID) {
    logger.info('push mode was never started by this resource: nothing to stop');
    return succeeded('push mode was never started by this stack: nothing to stop');
  }
  let where = 'OrbiWAN';
  try {
    const { baseUrl, client } = deps.orbiwan();
    where = baseUrl;
    await client.stopPushMode();
  } catch (error) {
    const reason = `could not stop OrbiWAN push mode at ${where} (${describe(error)}); deleted anyway: stop it with PUT ${where}/rest/pushmode/stop`;
    logger.warn('OrbiWAN push mode not stopped', { reason });
    return succeeded(reason);
  }
  logger.info('OrbiWAN push mode stopped');
  return succeeded(`OrbiWAN at ${where} pushes no more`);
}

// Called with the token once it is known: OrbiWAN's error text is quoted in the reason, and it
// could quote the body it refused.
function failed(reason: string, physicalResourceId: string, token?: string): CustomResourceOutcome {
  const redacted =
    token === undefined || token === '' ? reason : reason.replaceAll(token, '<PUSH_TOKEN>');
  logger.error('OrbiWAN push mode not configured', { reason: redacted });
  return { status: 'FAILED', reason: redacted, physicalResourceId };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The outcome when the work did not end in time: the answer must still reach CloudFormation. */
function timedOut(
  event: CloudFormationCustomResourceEvent,
  afterMs: number,
): CustomResourceOutcome {
  const seconds = Math.round(afterMs / 1000);
  if (event.RequestType === 'Delete') {
    logger.warn('OrbiWAN push mode not stopped in time', { seconds });
    return {
      status: 'SUCCESS',
      reason: `OrbiWAN did not stop push mode within ${seconds} s; deleted anyway: stop it with PUT /rest/pushmode/stop`,
      physicalResourceId: event.PhysicalResourceId,
    };
  }
  return failed(
    `OrbiWAN push mode was not started within ${seconds} s (OrbiWAN or Secrets Manager too slow)`,
    event.RequestType === 'Create' ? NOT_STARTED_RESOURCE_ID : event.PhysicalResourceId,
  );
}

async function withinDeadline<T>(work: Promise<T>, ms: number, late: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      resolve(late());
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export function createPushModeHandler(deps: PushModeDeps) {
  return observedHandler<CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse>(
    (event) => event.RequestId,
  ).handler(async (event, context) => {
    logger.appendKeys({
      requestType: event.RequestType,
      logicalResourceId: event.LogicalResourceId,
    });
    const budgetMs = Math.max(1_000, context.getRemainingTimeInMillis() - RESPONSE_RESERVE_MS);
    const outcome = await withinDeadline(configurePushMode(event, deps), budgetMs, () =>
      timedOut(event, budgetMs),
    );
    const response = cloudFormationResponse(event, outcome, context.logStreamName);
    // A failed answer is thrown: Lambda then retries the request, which may be repeated safely.
    await deps.respond(event.ResponseURL, response);
    logger.info('answered CloudFormation', { status: response.Status });
    return response;
  });
}

export function pushModeHandlerFromEnv(env: NodeJS.ProcessEnv) {
  let orbiwan: PushModeOrbiwan | undefined;
  return createPushModeHandler({
    // Built at the first request rather than at init: a configuration error then fails the
    // resource with its message, instead of a function that cannot answer CloudFormation at all.
    orbiwan: () => {
      orbiwan ??= {
        baseUrl: orbiwanBaseUrlFromEnv(env),
        client: orbiwanClientFromEnv(env),
      };
      return orbiwan;
    },
    pushToken: () =>
      readSecretString(secretsManagerClient, requireEnv('PUSH_TOKEN_SECRET_ARN', env)),
    respond: sendCloudFormationResponse,
  });
}
