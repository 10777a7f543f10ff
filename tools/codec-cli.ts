import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  SelectorError,
  attachmentKey,
  codecNameSchema,
  fPortSchema,
  parseSelector,
  selectorText,
  type Attachment,
} from '../functions/codecs/codec-attachments.js';
import { CodecLoadError, SandboxedCodec } from '../functions/codecs/codec-sandbox.js';
import {
  MAX_CODEC_SOURCE_BYTES,
  dynamoDbCodecStore,
  type CodecAdmin,
} from '../functions/codecs/codec-store.js';
import { decodedUplink, encodedDownlink } from '../functions/codecs/ts013.js';
import { UsageError, messageOf, parseOptions, type Io, type OptionValues } from './command-line.js';

// `orbiwan-codec`: the operator's command for payload codecs (LoRa Alliance TS013 JavaScript) and
// their attachments, kept in the stack's DeviceCodecsTable (functions/codecs/codec-store.ts). A
// codec is loaded in the connector's own sandbox before it is stored, so one that would fail in
// the functions is refused here, with its reason; `test` runs one here, without AWS.

const NAME = 'orbiwan-codec';
const TABLE_ENV = 'ORBIWAN_CODECS_TABLE';
const SHA256_SHOWN = 12;

export const USAGE = `Usage: ${NAME} <command> [options]

Manages the payload codecs (LoRa Alliance TS013 JavaScript files) of a connector deployed with
PayloadCodecs=Enabled, and which devices they decode and encode for. Both live in the stack's
DeviceCodecsTable; running functions see a change within a minute.

Commands:
  add --name <codec> --file <codec.js>
      stores the codec under the name (replacing one of that name), once it loads in the
      connector's sandbox and defines decodeUplink or encodeDownlink; a name is 1 to 64
      lowercase letters, digits, dots, dashes or underscores
  attach --codec <codec> --selector <selector> [--fports <ports>]
      attaches a stored codec to devices; <selector> is one of
        deveui:<DevEUI>          one device
        prefix:<1..15 hex>       every device whose DevEUI starts with these digits
        profile:<name>           every device of an OrbiWAN device profile
      --fports 1,2,3 for payloads on these FPorts only (default: any port). A DevEUI wins over a
      prefix, a longer prefix over a shorter one, a prefix over a profile; then ports over any.
  detach --selector <selector> [--fports <ports>]
      removes the attachment made with that selector and those ports
  list [--json]
      the codecs stored and the attachments
  remove --name <codec>
      deletes a codec that no attachment refers to
  test --file <codec.js> --fport <1..223> --bytes <hex>
  test --file <codec.js> --object <json> [--fport <1..223>]
      runs the codec here, in the sandbox: decodeUplink on the bytes, or encodeDownlink on the
      object (a downlink request's "object"); prints the result as the connector uses it.
      Needs no AWS.

Options of add, attach, detach, list and remove:
  --table <name>         the stack output DeviceCodecsTableName; default: $${TABLE_ENV}
  --region <region>      the stack's region; default: the AWS SDK's (AWS_REGION, the profile)
  --endpoint-url <url>   DynamoDB's endpoint, for another than AWS's: the local stack's "AWS
                         services" URL (npm start prints it); there, without AWS credentials,
                         placeholder ones are used
  --help                 this text

Exit status: 0 done, 1 refused or failed (the codec, the table, AWS), 2 bad usage.
`;

/** The command was refused or failed: exit 1. */
class Failure extends Error {}

const OPTIONS = {
  name: { type: 'string' },
  file: { type: 'string' },
  codec: { type: 'string' },
  selector: { type: 'string' },
  fports: { type: 'string' },
  fport: { type: 'string' },
  bytes: { type: 'string' },
  object: { type: 'string' },
  json: { type: 'boolean' },
  table: { type: 'string' },
  region: { type: 'string' },
  'endpoint-url': { type: 'string' },
  help: { type: 'boolean' },
} as const;

type Option = keyof typeof OPTIONS;
type Values = OptionValues<typeof OPTIONS>;

const STORE_OPTIONS: Option[] = ['table', 'region', 'endpoint-url'];

const COMMANDS = {
  add: ['name', 'file', ...STORE_OPTIONS],
  attach: ['codec', 'selector', 'fports', ...STORE_OPTIONS],
  detach: ['selector', 'fports', ...STORE_OPTIONS],
  list: ['json', ...STORE_OPTIONS],
  remove: ['name', ...STORE_OPTIONS],
  test: ['file', 'fport', 'bytes', 'object'],
} satisfies Record<string, Option[]>;

type Command = keyof typeof COMMANDS;

const COMMAND_NAMES = Object.keys(COMMANDS).join(', ');

function isCommand(text: string): text is Command {
  return Object.hasOwn(COMMANDS, text);
}

/** Runs the command; resolves with its exit status. */
export async function main(
  argv: string[],
  io: Io,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  try {
    const { command, values } = parseCommandLine(argv);
    if (command === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (command === 'test') return await testCodec(values, io);
    const action = await STORE_COMMANDS[command](values);
    await withStore(values, env, (store, table) => action(store, table, io));
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${NAME}: ${error.message}\nRun ${NAME} --help for usage.\n`);
      return 2;
    }
    if (error instanceof Failure) {
      io.stderr.write(`${NAME}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** The command, or 'help' for --help, whatever else is given. */
function parseCommandLine(argv: string[]): { command: Command | 'help'; values: Values } {
  const parsed = parseOptions(argv, OPTIONS, true);
  const { values, positionals, tokens } = parsed;
  const [given, ...extra] = positionals;
  if (values.help === true) return { command: 'help', values };
  if (given === undefined) throw new UsageError(`a command is required: ${COMMAND_NAMES}`);
  if (!isCommand(given))
    throw new UsageError(`"${given}" is not a command: expected ${COMMAND_NAMES}`);
  if (extra.length > 0)
    throw new UsageError(`${given} takes options only, not "${extra.join(' ')}"`);
  const allowed: readonly string[] = COMMANDS[given];
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (!allowed.includes(token.name))
      throw new UsageError(
        `--${token.name} does not apply to ${given}` +
          (STORE_OPTIONS.includes(token.name) ? ': it runs here, without AWS' : ''),
      );
  }
  return { command: given, values };
}

/** The option's value, or a usage error saying it is required. */
function required(values: Values, option: 'name' | 'file' | 'codec' | 'selector'): string {
  const value = values[option];
  if (value === undefined || value === '') throw new UsageError(`--${option} is required`);
  return value;
}

function codecNameOf(option: '--name' | '--codec', value: string): string {
  const parsed = codecNameSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new UsageError(
    `${option}: "${value}" is not a codec name: expected 1 to 64 lowercase letters, digits, ` +
      'dots, dashes or underscores, starting with a letter or digit',
  );
}

function selectorOf(value: string): Attachment['selector'] {
  try {
    return parseSelector(value);
  } catch (error) {
    if (error instanceof SelectorError) throw new UsageError(`--selector: ${error.message}`);
    throw error;
  }
}

function fPortOf(option: string, text: string): number {
  const port = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!fPortSchema.safeParse(port).success)
    throw new UsageError(`${option}: "${text}" is not an FPort: expected an integer 1..223`);
  return port;
}

/** --fports 1,2,3: undefined (any port) when not given. */
function fPortsOf(values: Values): number[] | undefined {
  const text = values.fports;
  if (text === undefined) return undefined;
  if (text.trim() === '')
    throw new UsageError('--fports: expected FPorts 1..223, separated by commas, as 1,2,3');
  const ports: number[] = [];
  for (const part of text.split(',')) {
    const port = fPortOf('--fports', part);
    if (ports.includes(port)) throw new UsageError(`--fports: ${port} is given more than once`);
    ports.push(port);
  }
  return ports.sort((a, b) => a - b);
}

function readCodecFile(values: Values): { path: string; source: string } {
  const path = required(values, 'file');
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--file: cannot read "${path}": ${messageOf(error)}`);
  }
  const bytes = Buffer.byteLength(source);
  if (bytes > MAX_CODEC_SOURCE_BYTES)
    throw new Failure(
      `${path} is ${bytes} bytes; a codec is at most ${MAX_CODEC_SOURCE_BYTES} bytes`,
    );
  return { path, source };
}

/** The codec loaded in the sandbox, or a Failure with why it does not load. */
async function loadCodec(path: string, source: string): Promise<SandboxedCodec> {
  try {
    return await SandboxedCodec.load(source);
  } catch (error) {
    if (error instanceof CodecLoadError) throw new Failure(`${path}: ${error.message}`);
    throw error;
  }
}

const missing = (name: string, error: string) => error === `the codec has no ${name} function`;

/** Which TS013 functions the loaded codec defines, found by calling them on empty input. */
function functionsOf(codec: SandboxedCodec): string[] {
  const decode = codec.call('decodeUplink', {
    bytes: [],
    fPort: 1,
    recvTime: new Date().toISOString(),
  });
  const encode = codec.call('encodeDownlink', { data: {} });
  return [
    ...(!decode.ok && missing('decodeUplink', decode.error) ? [] : ['decodeUplink']),
    ...(!encode.ok && missing('encodeDownlink', encode.error) ? [] : ['encodeDownlink']),
  ];
}

/** What a store command does with the table, once its own options are checked. */
type StoreAction = (store: CodecAdmin, table: string, io: Io) => Promise<void>;

// Each store command checks its options (and add its codec) before AWS is configured or asked.
const STORE_COMMANDS: Record<Exclude<Command, 'test'>, (values: Values) => Promise<StoreAction>> = {
  add,
  attach: (values) => Promise.resolve(attach(values)),
  detach: (values) => Promise.resolve(detach(values)),
  list: (values) => Promise.resolve(list(values)),
  remove: (values) => Promise.resolve(remove(values)),
};

async function add(values: Values): Promise<StoreAction> {
  const name = codecNameOf('--name', required(values, 'name'));
  const { path, source } = readCodecFile(values);
  const codec = await loadCodec(path, source);
  let functions: string[];
  try {
    functions = functionsOf(codec);
  } finally {
    codec.dispose();
  }
  if (functions.length === 0)
    throw new Failure(
      `${path} defines neither decodeUplink nor encodeDownlink (TS013): there is nothing to run`,
    );
  return async (store, _table, io) => {
    const before = (await store.codecs()).find((stored) => stored.name === name);
    const stored = await store.putCodec(name, source);
    const replaced =
      before === undefined
        ? ''
        : before.sha256 === stored.sha256
          ? '  (unchanged)'
          : `  (replaces ${before.sha256.slice(0, SHA256_SHOWN)})`;
    io.stdout.write(
      columns([
        [before === undefined ? 'added' : 'replaced', `${stored.name}${replaced}`],
        ['sha256', stored.sha256.slice(0, SHA256_SHOWN)],
        ['bytes', String(stored.bytes)],
        ['functions', functions.join(', ')],
      ]),
    );
  };
}

/** The attachment the options describe (attach's codec aside), and the key it is stored under. */
function attachmentOf(values: Values, codec: string): { attachment: Attachment; key: string } {
  const selector = selectorOf(required(values, 'selector'));
  const fPorts = fPortsOf(values);
  const attachment = { selector, codec, ...(fPorts === undefined ? {} : { fPorts }) };
  return { attachment, key: attachmentKey(attachment) };
}

function attach(values: Values): StoreAction {
  const codec = codecNameOf('--codec', required(values, 'codec'));
  const { attachment, key } = attachmentOf(values, codec);
  return async (store, table, io) => {
    const [codecs, attachments] = await Promise.all([store.codecs(), store.attachments()]);
    if (!codecs.some((stored) => stored.name === codec))
      throw new Failure(
        `no codec named "${codec}" is stored in ${table}: add it first (${NAME} add --name ${codec} --file <codec.js>)`,
      );
    const before = attachments.find((existing) => attachmentKey(existing) === key);
    await store.attach(attachment);
    const replaced =
      before === undefined || before.codec === codec ? '' : `  (was ${before.codec})`;
    io.stdout.write(
      columns([
        ['attached', `${codec}${replaced}`],
        ['key', key],
      ]),
    );
  };
}

function detach(values: Values): StoreAction {
  const { attachment, key } = attachmentOf(values, '');
  return async (store, _table, io) => {
    if (await store.detach(key)) {
      io.stdout.write(columns([['detached', key]]));
      return;
    }
    const selector = selectorText(attachment.selector);
    const others = (await store.attachments())
      .filter((existing) => selectorText(existing.selector) === selector)
      .map((existing) => `${portsText(existing.fPorts)} (codec ${existing.codec})`);
    throw new Failure(
      `nothing is attached at ${key}` +
        (others.length === 0
          ? ''
          : `; ${selector} has attachments for ports ${others.join(', ')}: give those with --fports`),
    );
  };
}

function list(values: Values): StoreAction {
  return async (store, _table, io) => {
    const [codecs, attachments] = await Promise.all([store.codecs(), store.attachments()]);
    const sorted = attachments
      .map((attachment) => ({ attachment, key: attachmentKey(attachment) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const stored = new Set(codecs.map((codec) => codec.name));
    if (values.json === true) {
      io.stdout.write(
        `${JSON.stringify(
          {
            codecs,
            attachments: sorted.map(({ attachment, key }) => ({
              key,
              selector: selectorText(attachment.selector),
              fPorts: attachment.fPorts ?? null,
              codec: attachment.codec,
              codecStored: stored.has(attachment.codec),
            })),
          },
          null,
          2,
        )}\n`,
      );
      return;
    }
    const codecLines =
      codecs.length === 0
        ? 'no codecs\n'
        : columns([
            ['CODEC', 'SHA256', 'BYTES', 'UPDATED'],
            ...codecs.map((codec) => [
              codec.name,
              codec.sha256.slice(0, SHA256_SHOWN),
              String(codec.bytes),
              codec.updatedAt,
            ]),
          ]);
    const attachmentLines =
      sorted.length === 0
        ? 'no attachments\n'
        : columns([
            ['SELECTOR', 'FPORTS', 'CODEC'],
            ...sorted.map(({ attachment }) => [
              selectorText(attachment.selector),
              portsText(attachment.fPorts),
              stored.has(attachment.codec) ? attachment.codec : `${attachment.codec} (not stored)`,
            ]),
          ]);
    io.stdout.write(`${codecLines}\n${attachmentLines}`);
  };
}

function remove(values: Values): StoreAction {
  const name = codecNameOf('--name', required(values, 'name'));
  return async (store, table, io) => {
    const referring = (await store.attachments()).filter((attachment) => attachment.codec === name);
    if (referring.length > 0)
      throw new Failure(
        `codec "${name}" is attached at ${referring.map(attachmentKey).join(', ')}: detach ${referring.length === 1 ? 'it' : 'them'} first`,
      );
    if (!(await store.removeCodec(name)))
      throw new Failure(`no codec named "${name}" is stored in ${table}`);
    io.stdout.write(columns([['removed', name]]));
  };
}

async function testCodec(values: Values, io: Io): Promise<number> {
  const { bytes, object } = values;
  if (bytes === undefined && object === undefined)
    throw new UsageError('test needs --bytes <hex> (decode an uplink) or --object <json> (encode)');
  if (bytes !== undefined && object !== undefined)
    throw new UsageError('--bytes and --object exclude each other: test decodes or encodes');
  const fPort = values.fport === undefined ? undefined : fPortOf('--fport', values.fport);
  let run: (codec: SandboxedCodec) => { errors: string[] };
  if (bytes !== undefined) {
    const hex = bytes.replace(/\s+/g, '');
    if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex))
      throw new UsageError(`--bytes: expected hex digits, two per byte, got "${bytes}"`);
    if (fPort === undefined) throw new UsageError('--fport is required to decode --bytes');
    const input = {
      bytes: [...Buffer.from(hex, 'hex')],
      fPort,
      recvTime: new Date().toISOString(),
    };
    run = (codec) => decodedUplink(codec.call('decodeUplink', input));
  } else {
    let data: unknown;
    try {
      data = JSON.parse(object ?? '');
    } catch (error) {
      throw new UsageError(`--object: not JSON: ${messageOf(error)}`);
    }
    // As the connector calls it for a downlink request's object (functions/codecs/device-codecs.ts).
    const input = { data, ...(fPort === undefined ? {} : { fPort }) };
    run = (codec) => encodedDownlink(codec.call('encodeDownlink', input));
  }
  const { path, source } = readCodecFile(values);
  const codec = await loadCodec(path, source);
  let result;
  try {
    result = run(codec);
  } finally {
    codec.dispose();
  }
  io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  if (result.errors.length === 0) return 0;
  io.stderr.write(
    `${NAME}: the codec reported ${result.errors.length === 1 ? 'an error' : `${result.errors.length} errors`}\n`,
  );
  return 1;
}

// The stand-ins of the local stack check no signature; the SDK only needs something to sign with.
const PLACEHOLDER_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Runs `command` on the table the options name; AWS's errors become one-line Failures. */
async function withStore(
  values: Values,
  env: Record<string, string | undefined>,
  command: (store: CodecAdmin, table: string) => Promise<void>,
): Promise<void> {
  const table = values.table ?? env[TABLE_ENV];
  if (table === undefined || table.trim() === '')
    throw new UsageError(
      `--table is required (the stack output DeviceCodecsTableName), or set ${TABLE_ENV}`,
    );
  const endpoint = endpointOf(values['endpoint-url']);
  const region = values.region;
  if (region !== undefined && !/^[a-z0-9-]{1,64}$/.test(region))
    throw new UsageError(`--region: "${region}" is not a region name, as eu-west-1`);
  const config = {
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint: endpoint.href }),
  };
  // The SDK's default chain, as the client would use it; a local endpoint accepts any credentials.
  const defaults = new DynamoDBClient(config);
  const client =
    endpoint === undefined
      ? defaults
      : new DynamoDBClient({
          ...config,
          credentials: async () => {
            try {
              return await defaults.config.credentials();
            } catch (error) {
              if (error instanceof Error && error.name === 'CredentialsProviderError')
                return PLACEHOLDER_CREDENTIALS;
              throw error;
            }
          },
        });
  try {
    let resolvedRegion: string;
    try {
      resolvedRegion = await client.config.region();
    } catch {
      throw new UsageError(
        'no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile' +
          (endpoint === undefined ? '' : ' (any region does for a local --endpoint-url)'),
      );
    }
    const where = `table ${table} (${resolvedRegion}${endpoint === undefined ? '' : ` at ${endpoint.origin}`})`;
    const store = dynamoDbCodecStore(client, table);
    try {
      await command(store, table);
    } catch (error) {
      if (error instanceof UsageError || error instanceof Failure) throw error;
      throw new Failure(storeFailure(error, where, endpoint));
    }
  } finally {
    client.destroy();
    defaults.destroy();
  }
}

function endpointOf(value: string | undefined): URL | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new UsageError(
      `--endpoint-url: "${value}" is not an http:// or https:// URL, as http://127.0.0.1:4566`,
    );
  return url;
}

/** One line about what AWS (or the way to it) answered, or the store refused, naming the table. */
function storeFailure(thrown: unknown, where: string, endpoint: URL | undefined): string {
  // The store wraps its readers' errors in a DependencyError; AWS's own is its cause.
  const error =
    thrown instanceof Error && thrown.name === 'DependencyError' && thrown.cause instanceof Error
      ? thrown.cause
      : thrown;
  if (!(error instanceof Error)) return `${where}: ${String(error)}`;
  // putCodec's own limit: a source that does not fit in a table item once gzipped.
  if (error instanceof RangeError) return `not stored in ${where}: ${error.message}`;
  const code = (error as NodeJS.ErrnoException).code;
  const line = (text: string) => text.replace(/\s+/g, ' ').trim();
  if (error.name === 'ResourceNotFoundException')
    return `${where} does not exist: check --table (the stack output DeviceCodecsTableName) and --region`;
  if (error.name === 'CredentialsProviderError')
    return `no AWS credentials for ${where}: configure some (AWS_PROFILE, aws configure, aws sso login): ${line(error.message)}`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `cannot reach ${endpoint?.origin ?? 'DynamoDB'} for ${where} (${code})`;
  const name = error.name === 'Error' ? (code ?? 'Error') : error.name;
  return `${where}: ${name}: ${line(error.message)}`;
}

function portsText(fPorts: number[] | undefined): string {
  return fPorts === undefined ? 'any' : fPorts.join(',');
}

/** Rows as aligned columns, two spaces apart; the last column is not padded. */
function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  return rows
    .map((row) =>
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
        .join('  '),
    )
    .join('\n')
    .concat('\n');
}
