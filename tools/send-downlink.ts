import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { downlinkRequestSchema } from '../functions/downlinks/downlink-request.js';
import { DEV_EUI_FORMS, normaliseDevEui } from '../functions/shared/dev-eui.js';
import {
  DOWNLINK_SUFFIX,
  TOPIC_PREFIX_RULE,
  deviceTopic,
  isTopicPrefix,
} from '../functions/shared/topics.js';
import { issuesOf } from '../functions/shared/zod.js';
import { UsageError, messageOf, parseOptions, type Io, type OptionValues } from './command-line.js';

// `orbiwan-send-downlink`: what OrbiWise's Python snippet does, publishing a downlink request on
// AWS IoT Core's mutual-TLS HTTPS endpoint. The request is checked against the connector's own
// contract first, so a typo is refused here, with its reason, instead of as an error status later.

const NAME = 'orbiwan-send-downlink';
const DEFAULT_PORT = 8443;
const DEFAULT_PREFIX = 'orbiwan/lorawan';
const TIMEOUT_MS = 15_000;

export const USAGE = `Usage: ${NAME} --endpoint <host[:port]> --deveui <DevEUI> --data <hex> --port <1..223>
         --cert <file> --key <file> [options]

Publishes a downlink request to {prefix}/{deveui}/downlink through AWS IoT Core's HTTPS endpoint
(POST https://{endpoint}:8443/topics/{prefix}/{deveui}/downlink?qos=1, with a client certificate).
The connector sends it to OrbiWAN and publishes its statuses on {prefix}/{deveui}/downlink/status.

  --endpoint <host[:port]>   your IoT data endpoint (aws iot describe-endpoint --endpoint-type
                             iot:Data-ATS); port ${DEFAULT_PORT} unless given
  --deveui <DevEUI>          ${DEV_EUI_FORMS}
  --data <hex>               the payload, two hex digits per byte, 0 to 242 bytes
  --port <1..223>            the LoRaWAN FPort
  --confirmed                ask the device to acknowledge it
  --unconfirmed              do not; without either, the connector's DownlinkConfirmedDefault
  --mode <mode>              enqueue_on_busy, fail_on_busy or replace_on_busy; default: the
                             connector's DownlinkModeDefault
  --fcnt <n>                 the downlink frame counter, when OrbiWAN does not hold the keys
  --request-id <id>          your reference, echoed on every status of this downlink
  --topic-prefix <prefix>    the connector's TopicPrefix (default ${DEFAULT_PREFIX})
  --cert <file>              the client certificate (PEM) registered in AWS IoT Core
  --key <file>               its private key (PEM)
  --ca <file>                the CA certificates (PEM) to trust for the endpoint; default: Node's
                             public CAs, which include Amazon's (NODE_EXTRA_CA_CERTS adds more)
  --help                     this text

Exit status: 0 published, 1 not published (TLS, network, or the endpoint's reply), 2 bad usage.
`;

class PublishError extends Error {}

const OPTIONS = {
  endpoint: { type: 'string' },
  deveui: { type: 'string' },
  data: { type: 'string' },
  port: { type: 'string' },
  confirmed: { type: 'boolean' },
  unconfirmed: { type: 'boolean' },
  mode: { type: 'string' },
  fcnt: { type: 'string' },
  'request-id': { type: 'string' },
  'topic-prefix': { type: 'string', default: DEFAULT_PREFIX },
  cert: { type: 'string' },
  key: { type: 'string' },
  ca: { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Values = OptionValues<typeof OPTIONS>;

// The request's fields as the command line names them, for messages.
const OPTION_OF_FIELD: Record<string, string> = {
  data: '--data',
  port: '--port',
  confirmed: '--confirmed',
  mode: '--mode',
  fcnt: '--fcnt',
  requestId: '--request-id',
};

/** Runs the command; resolves with its exit status. */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    const values = parseCommandLine(argv);
    if (values.help === true) {
      io.stdout.write(USAGE);
      return 0;
    }
    const downlink = downlinkOf(values);
    await publish(downlink, credentialsOf(values), values.ca !== undefined);
    io.stdout.write(
      `published  ${downlink.topic}  (${downlink.endpoint.origin}, qos 1)\n` +
        `request    ${downlink.body}\n` +
        `statuses   ${downlink.topic}/status\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${NAME}: ${error.message}\nRun ${NAME} --help for usage.\n`);
      return 2;
    }
    if (error instanceof PublishError) {
      io.stderr.write(`${NAME}: not published: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

function parseCommandLine(argv: string[]): Values {
  return parseOptions(argv, OPTIONS).values;
}

interface Downlink {
  endpoint: URL;
  topic: string;
  /** Exactly the bytes published. */
  body: string;
}

/** Every problem with the command line at once, or what to publish. */
function downlinkOf(values: Values): Downlink {
  const problems: string[] = [];
  const required = (option: 'endpoint' | 'deveui' | 'cert' | 'key'): string | undefined => {
    const value = values[option];
    if (value !== undefined && value !== '') return value;
    problems.push(`--${option} is required`);
    return undefined;
  };

  const endpointValue = required('endpoint');
  const endpoint = endpointValue === undefined ? undefined : endpointOf(endpointValue);
  if (endpointValue !== undefined && endpoint === undefined)
    problems.push(`--endpoint: expected a host or host:port, got "${endpointValue}"`);

  const devEuiValue = required('deveui');
  const devEui = devEuiValue === undefined ? undefined : normaliseDevEui(devEuiValue);
  if (devEuiValue !== undefined && devEui === undefined)
    problems.push(`--deveui: "${devEuiValue}" is not a DevEUI: expected ${DEV_EUI_FORMS}`);

  const prefix = values['topic-prefix'];
  if (!isTopicPrefix(prefix))
    problems.push(
      `--topic-prefix: "${prefix}" is not a topic prefix: expected ${TOPIC_PREFIX_RULE}`,
    );

  if (values.confirmed === true && values.unconfirmed === true)
    problems.push('--confirmed and --unconfirmed exclude each other');
  required('cert');
  required('key');

  // The contract decides what a valid request is; only the typing of arguments is done here.
  const candidate = {
    data: values.data,
    port: integerOf('--port', values.port, problems),
    confirmed: values.confirmed === true ? true : values.unconfirmed === true ? false : undefined,
    mode: values.mode,
    fcnt: integerOf('--fcnt', values.fcnt, problems),
    requestId: values['request-id'],
  };
  const request = downlinkRequestSchema.safeParse(
    Object.fromEntries(Object.entries(candidate).filter(([, value]) => value !== undefined)),
  );
  if (!request.success) {
    for (const { path, message } of issuesOf(request.error)) {
      const option = OPTION_OF_FIELD[path] ?? path;
      const given = (candidate as Record<string, unknown>)[path] !== undefined;
      // A --port or --fcnt that is not an integer is reported once, by integerOf.
      if (!given && problems.some((problem) => problem.startsWith(option))) continue;
      problems.push(given ? `${option}: ${message}` : `${option} is required`);
    }
  }

  if (problems.length > 0 || endpoint === undefined || devEui === undefined || !request.success)
    throw new UsageError(
      problems.length === 1
        ? (problems[0] ?? '')
        : `${String(problems.length)} problems:\n  ${problems.join('\n  ')}`,
    );
  return {
    endpoint,
    topic: deviceTopic(prefix, devEui, DOWNLINK_SUFFIX),
    body: JSON.stringify(request.data),
  };
}

/** host, host:port or https://host[:port], nothing more. */
function endpointOf(value: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(value.includes('://') ? value : `https://${value}`);
  } catch {
    return undefined;
  }
  const bare =
    url.protocol === 'https:' &&
    url.username === '' &&
    url.password === '' &&
    (url.pathname === '/' || url.pathname === '') &&
    url.search === '' &&
    url.hash === '';
  if (!bare) return undefined;
  if (url.port === '') url.port = String(DEFAULT_PORT);
  return url;
}

function integerOf(option: string, value: string | undefined, problems: string[]) {
  if (value === undefined) return undefined;
  if (/^[+-]?\d+$/.test(value)) return Number(value);
  problems.push(`${option}: expected an integer, got "${value}"`);
  return undefined;
}

/** The certificate, key and CA files, read and checked to load before anything is sent. */
function credentialsOf(values: Values): SecureContextOptions {
  const read = (option: 'cert' | 'key' | 'ca'): string | undefined => {
    const path = values[option];
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new UsageError(`--${option}: cannot read "${path}": ${messageOf(error)}`);
    }
  };
  const [cert, key, ca] = [read('cert'), read('key'), read('ca')];
  // Node accepts a CA file with no certificate in it, and then trusts nothing.
  if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(
      `--ca: "${values.ca ?? ''}" holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    );
  // Without `ca`, Node's built-in CAs: AWS IoT Core's ATS endpoints use Amazon's public roots.
  const credentials = { cert, key, ...(ca === undefined ? {} : { ca }) };
  try {
    createSecureContext(credentials);
    return credentials;
  } catch (error) {
    throw new UsageError(
      `--cert/--key/--ca: not a usable PEM certificate and key: ${messageOf(error)}`,
    );
  }
}

/** POSTs the request; resolves on a 2xx reply, throws PublishError naming what went wrong. */
function publish(
  { endpoint, topic, body }: Downlink,
  credentials: SecureContextOptions,
  caGiven: boolean,
) {
  const path = `/topics/${topic.split('/').map(encodeURIComponent).join('/')}?qos=1`;
  return new Promise<void>((resolve, reject) => {
    const outgoing = request(
      {
        host: endpoint.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(endpoint.port),
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        ...credentials,
        // No pooling: a pooled socket would keep the TLS identity of an earlier call.
        agent: false,
        timeout: TIMEOUT_MS,
      },
      (reply) => {
        const chunks: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => chunks.push(chunk));
        reply.on('error', (error) => {
          reject(failure(error, endpoint, caGiven));
        });
        reply.on('end', () => {
          const status = reply.statusCode ?? 0;
          if (status >= 200 && status < 300) {
            resolve();
            return;
          }
          const text = Buffer.concat(chunks).toString('utf8').trim();
          const hint =
            status === 403
              ? ' (the certificate is not active, or its policy does not allow iot:Publish on this topic)'
              : '';
          reject(
            new PublishError(
              `${endpoint.host} answered ${String(status)} ${reply.statusMessage ?? ''}${hint}: ${text || '(empty body)'}`,
            ),
          );
        });
      },
    );
    outgoing.on('timeout', () => {
      outgoing.destroy(Object.assign(new Error('no reply'), { code: 'ETIMEDOUT' }));
    });
    outgoing.on('error', (error) => {
      reject(failure(error, endpoint, caGiven));
    });
    outgoing.end(body);
  });
}

// OpenSSL's verification codes for a server certificate this side does not trust.
const UNTRUSTED_SERVER = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function failure(error: Error, endpoint: URL, caGiven: boolean): PublishError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const where = endpoint.host;
  if (UNTRUSTED_SERVER.has(code))
    return new PublishError(
      `TLS: the certificate of ${where} is not trusted (${code}: ${error.message}); ` +
        (caGiven
          ? 'the file given with --ca does not hold the CA that signed it, or the endpoint is not the one meant'
          : 'pass the CA that signed it with --ca'),
    );
  const checkCertificate =
    'check that --cert is registered and active in AWS IoT Core and --key is its key';
  // The server's TLS alert: it did not accept the client certificate (or its absence).
  if (/^ERR_SSL_.*ALERT/.test(code))
    return new PublishError(
      `TLS: ${where} refused the client certificate (${code}: ${error.message}); ${checkCertificate}`,
    );
  // With TLS 1.3 the server checks the client certificate after the client's side of the
  // handshake is done, and may just close the connection instead of sending an alert.
  if (code === 'ECONNRESET')
    return new PublishError(
      `${where} closed the connection without a reply (${code}: ${error.message}); ` +
        `a TLS endpoint does this when it refuses the client certificate: ${checkCertificate}`,
    );
  if (code === 'ECONNREFUSED') return new PublishError(`${where} refused the connection`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return new PublishError(`cannot resolve ${endpoint.hostname} (${code})`);
  if (code === 'ETIMEDOUT')
    return new PublishError(`${where} did not answer within ${String(TIMEOUT_MS / 1000)} s`);
  return new PublishError(`${where}: ${code ? `${code}: ` : ''}${error.message}`);
}
