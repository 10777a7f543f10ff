import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchWriteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsStandIns } from '../../local/aws/aws-stand-ins.js';
import type { LocalStack } from '../../local/template/stack.js';
import { main } from '../../tools/codec-cli.js';
import { startCodecsTable, type CodecsTable } from '../helpers/codecs-table.js';

// The codec command against a real DynamoDB (dynalite behind the local stack's AWS endpoint), on
// the DeviceCodecsTable the template makes when PayloadCodecs is Enabled, with real codecs from
// device makers (test/fixtures/codecs).

const FIXTURES = 'test/fixtures/codecs';
const DECENTLAB = `${FIXTURES}/decentlab-dl-sht35/codec.js`;
const LAIRD = `${FIXTURES}/laird-rs1xx-temp-rh-sensor/codec.js`;
const USAGE_HINT = 'Run orbiwan-codec --help for usage.\n';
const ISO_TIME = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;

const workDir = mkdtempSync(join(tmpdir(), 'codec-cli-'));

let codecsTable: CodecsTable;
let TABLE: string;
let stack: LocalStack;
let aws: AwsStandIns;
let client: DynamoDBClient;
let endpoint: string;

beforeAll(async () => {
  codecsTable = await startCodecsTable();
  ({ aws, stack, table: TABLE } = codecsTable);
  endpoint = aws.endpoint.url;
  client = codecsTable.client();
});

beforeEach(() => codecsTable.empty());

afterAll(async () => {
  client.destroy();
  await aws.close();
  rmSync(workDir, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    },
    env,
  );
  return { code, stdout, stderr };
}

/** The command with the options that reach the local table. */
const store = (...argv: string[]) =>
  run([...argv, '--table', TABLE, '--endpoint-url', endpoint, '--region', stack.region]);

function codecFile(name: string, source: string): string {
  const path = join(workDir, name);
  writeFileSync(path, source);
  return path;
}

function fixture(path: string) {
  const source = readFileSync(path, 'utf8');
  return {
    sha12: createHash('sha256').update(source).digest('hex').slice(0, 12),
    bytes: Buffer.byteLength(source),
  };
}

async function storedCodec(name: string) {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { kind: { S: 'codec' }, name: { S: name } } }),
  );
  return Item;
}

interface Example<Input, Output> {
  description: string;
  input: Input;
  output: Output;
}

function examples<Input, Output>(folder: string, file: string): Example<Input, Output>[] {
  return JSON.parse(readFileSync(`${FIXTURES}/${folder}/${file}`, 'utf8')) as Example<
    Input,
    Output
  >[];
}

function execNode(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, { env }, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : error.code === undefined ? null : Number(error.code),
        stdout,
        stderr,
      });
    });
  });
}

describe('Tool: orbiwan-codec', () => {
  it('adds, attaches, lists, detaches and removes real codecs', async () => {
    const decentlab = fixture(DECENTLAB);
    const laird = fixture(LAIRD);

    const added = await store('add', '--name', 'decentlab-dl-sht35', '--file', DECENTLAB);
    expect(added).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'added      decentlab-dl-sht35\n' +
        `sha256     ${decentlab.sha12}\n` +
        `bytes      ${String(decentlab.bytes)}\n` +
        'functions  decodeUplink\n',
    });
    const addedLaird = await store('add', '--name', 'laird-rs1xx', '--file', LAIRD);
    expect(addedLaird).toMatchObject({ code: 0, stderr: '' });
    expect(addedLaird.stdout).toContain('functions  decodeUplink, encodeDownlink\n');
    // The second time, the same source: said to be unchanged.
    expect(await store('add', '--name', 'laird-rs1xx', '--file', LAIRD)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^replaced {3}laird-rs1xx {2}\(unchanged\)\n/),
    });
    const stored = await storedCodec('decentlab-dl-sht35');
    expect(stored?.bytes).toEqual({ N: String(decentlab.bytes) });

    expect(
      await store(
        'attach',
        '--codec',
        'decentlab-dl-sht35',
        '--selector',
        'deveui:70-B3-D5-7E-D0-00-00-01',
        '--fports',
        '2,1',
      ),
    ).toEqual({
      code: 0,
      stderr: '',
      stdout: 'attached  decentlab-dl-sht35\nkey       deveui:70b3d57ed0000001|1,2\n',
    });
    expect(await store('attach', '--codec', 'laird-rs1xx', '--selector', 'prefix:70B3D5')).toEqual({
      code: 0,
      stderr: '',
      stdout: 'attached  laird-rs1xx\nkey       prefix:70b3d5|*\n',
    });
    expect(
      await store('attach', '--codec', 'laird-rs1xx', '--selector', 'profile:RS1xx sensors'),
    ).toMatchObject({ code: 0, stdout: expect.stringContaining('profile:RS1xx sensors|*') });

    const listed = await store('list');
    expect(listed).toMatchObject({ code: 0, stderr: '' });
    const [codecs = '', attachments = ''] = listed.stdout.split('\n\n');
    const codecLines = codecs.split('\n');
    expect(codecLines).toHaveLength(3);
    expect(codecLines[0]).toMatch(/^CODEC +SHA256 +BYTES +UPDATED$/);
    expect(codecLines[1]).toMatch(
      new RegExp(
        `^decentlab-dl-sht35 +${decentlab.sha12} +${String(decentlab.bytes)} +${ISO_TIME}$`,
      ),
    );
    expect(codecLines[2]).toMatch(
      new RegExp(`^laird-rs1xx +${laird.sha12} +${String(laird.bytes)} +${ISO_TIME}$`),
    );
    // Aligned: each column starts where its heading does.
    expect(codecLines[1]?.indexOf(decentlab.sha12)).toBe(codecLines[0]?.indexOf('SHA256'));
    expect(codecLines[2]?.indexOf(laird.sha12)).toBe(codecLines[0]?.indexOf('SHA256'));
    expect(attachments).toBe(
      'SELECTOR                 FPORTS  CODEC\n' +
        'deveui:70b3d57ed0000001  1,2     decentlab-dl-sht35\n' +
        'prefix:70b3d5            any     laird-rs1xx\n' +
        'profile:RS1xx sensors    any     laird-rs1xx\n',
    );

    const json = await store('list', '--json');
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({
      codecs: [
        {
          name: 'decentlab-dl-sht35',
          sha256: expect.stringMatching(new RegExp(`^${decentlab.sha12}[0-9a-f]{52}$`)),
          bytes: decentlab.bytes,
          updatedAt: expect.stringMatching(new RegExp(`^${ISO_TIME}$`)),
        },
        {
          name: 'laird-rs1xx',
          sha256: expect.stringMatching(new RegExp(`^${laird.sha12}`)),
          bytes: laird.bytes,
          updatedAt: expect.stringMatching(new RegExp(`^${ISO_TIME}$`)),
        },
      ],
      attachments: [
        {
          key: 'deveui:70b3d57ed0000001|1,2',
          selector: 'deveui:70b3d57ed0000001',
          fPorts: [1, 2],
          codec: 'decentlab-dl-sht35',
          codecStored: true,
        },
        {
          key: 'prefix:70b3d5|*',
          selector: 'prefix:70b3d5',
          fPorts: null,
          codec: 'laird-rs1xx',
          codecStored: true,
        },
        {
          key: 'profile:RS1xx sensors|*',
          selector: 'profile:RS1xx sensors',
          fPorts: null,
          codec: 'laird-rs1xx',
          codecStored: true,
        },
      ],
    });

    // The key is computed as attach does: ports in any order, the DevEUI in any form.
    expect(
      await store('detach', '--selector', 'deveui:70b3d57ed0000001', '--fports', '1,2'),
    ).toEqual({ code: 0, stderr: '', stdout: 'detached  deveui:70b3d57ed0000001|1,2\n' });
    expect(await store('detach', '--selector', 'prefix:70b3d5')).toEqual({
      code: 0,
      stderr: '',
      stdout: 'detached  prefix:70b3d5|*\n',
    });
    expect(await store('detach', '--selector', 'profile:RS1xx sensors')).toMatchObject({
      code: 0,
    });
    expect(await store('remove', '--name', 'decentlab-dl-sht35')).toEqual({
      code: 0,
      stderr: '',
      stdout: 'removed  decentlab-dl-sht35\n',
    });
    expect(await store('remove', '--name', 'laird-rs1xx')).toMatchObject({ code: 0 });

    expect(await store('list')).toEqual({
      code: 0,
      stderr: '',
      stdout: 'no codecs\n\nno attachments\n',
    });
    expect(JSON.parse((await store('list', '--json')).stdout)).toEqual({
      codecs: [],
      attachments: [],
    });
  });

  it('says which codec it replaces, by its former sha256', async () => {
    const first = codecFile('v1.js', 'function decodeUplink() { return { data: 1 }; }');
    const second = codecFile('v2.js', 'function decodeUplink() { return { data: 2 }; }');
    const sha = (path: string) =>
      createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
    expect(await store('add', '--name', 'versioned', '--file', first)).toMatchObject({ code: 0 });

    const result = await store('add', '--name', 'versioned', '--file', second);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`replaced   versioned  (replaces ${sha(first)})\n`);
    expect(result.stdout).toContain(`sha256     ${sha(second)}\n`);
  });

  it.each([
    [
      'a codec with a syntax error',
      'function decodeUplink(input) { return { data: ',
      'the codec does not load: SyntaxError',
    ],
    ['a codec that loops forever as it loads', 'while (true) {}', 'the codec ran longer than'],
    [
      'a codec that throws as it loads',
      'throw new Error("no luck");',
      'the codec does not load: Error: no luck',
    ],
    [
      'a codec that defines neither decodeUplink nor encodeDownlink',
      'function decode(bytes) { return bytes; }',
      'defines neither decodeUplink nor encodeDownlink',
    ],
  ])('refuses to add %s, with exit 1 and why, and stores nothing', async (_, source, why) => {
    const path = codecFile('refused.js', source);

    const result = await store('add', '--name', 'refused', '--file', path);

    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(/^orbiwan-codec: /);
    expect(result.stderr).toContain(path);
    expect(result.stderr).toContain(why);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(await storedCodec('refused')).toBeUndefined();
  });

  it('adds a codec that only encodes', async () => {
    const path = codecFile(
      'encoder.js',
      'function encodeDownlink(input) { return { bytes: [input.data.on ? 1 : 0], fPort: 5 }; }',
    );

    const result = await store('add', '--name', 'encoder', '--file', path);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('functions  encodeDownlink\n');
    expect(await storedCodec('encoder')).toBeDefined();
  });

  it('refuses to attach a codec that is not stored, with exit 1, naming it and the table', async () => {
    const result = await store('attach', '--codec', 'missing', '--selector', 'prefix:70b3');

    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `orbiwan-codec: no codec named "missing" is stored in ${TABLE}: add it first (orbiwan-codec add --name missing --file <codec.js>)\n`,
    });
    expect((await store('list')).stdout).toBe('no codecs\n\nno attachments\n');
  });

  it.each([
    ['a DevEUI too short', 'deveui:70b3d5', '--selector: "70b3d5" is not a DevEUI'],
    ['a prefix of 16 digits', 'prefix:70b3d57ed0000001', 'is not a DevEUI prefix'],
    ['no kind', '70b3d57ed0000001', '"70b3d57ed0000001" is not a selector'],
    ['an unknown kind', 'oui:70b3d5', '"oui:70b3d5" is not a selector'],
  ])('refuses to attach with %s as selector, with exit 2', async (_, selector, problem) => {
    expect(await store('add', '--name', 'decoder', '--file', DECENTLAB)).toMatchObject({
      code: 0,
    });

    const result = await store('attach', '--codec', 'decoder', '--selector', selector);

    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain(problem);
    expect(result.stderr).toContain(USAGE_HINT);
    expect((await store('list')).stdout).toMatch(/\nno attachments\n$/);
  });

  it.each([
    ['0', '--fports: "0" is not an FPort: expected an integer 1..223'],
    ['224', '--fports: "224" is not an FPort'],
    ['1,,2', '--fports: "" is not an FPort'],
    ['one', '--fports: "one" is not an FPort'],
    ['1.5', '--fports: "1.5" is not an FPort'],
    ['1,2,1', '--fports: 1 is given more than once'],
    ['', '--fports: expected FPorts 1..223, separated by commas'],
  ])('refuses to attach with --fports "%s", with exit 2', async (ports, problem) => {
    const result = await store(
      'attach',
      '--codec',
      'decoder',
      '--selector',
      'prefix:70b3',
      '--fports',
      ports,
    );

    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^orbiwan-codec: /);
    expect(result.stderr).toContain(problem);
    expect(result.stderr.endsWith(`\n${USAGE_HINT}`)).toBe(true);
  });

  it('says the previous codec when an attachment is replaced', async () => {
    await store('add', '--name', 'first', '--file', DECENTLAB);
    await store('add', '--name', 'second', '--file', LAIRD);
    await store('attach', '--codec', 'first', '--selector', 'profile:RS1xx');

    const result = await store('attach', '--codec', 'second', '--selector', 'profile:RS1xx');

    expect(result).toEqual({
      code: 0,
      stderr: '',
      stdout: 'attached  second  (was first)\nkey       profile:RS1xx|*\n',
    });
    expect((await store('list')).stdout).toMatch(/\nprofile:RS1xx +any +second\n$/);
  });

  it('refuses to detach where nothing is attached, with exit 1, pointing at the ports that are', async () => {
    await store('add', '--name', 'decoder', '--file', DECENTLAB);
    await store('attach', '--codec', 'decoder', '--selector', 'prefix:70b3', '--fports', '3');

    const result = await store('detach', '--selector', 'prefix:70b3');
    const elsewhere = await store('detach', '--selector', 'prefix:70b4');

    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'orbiwan-codec: nothing is attached at prefix:70b3|*; prefix:70b3 has attachments for ports 3 (codec decoder): give those with --fports\n',
    });
    expect(elsewhere).toEqual({
      code: 1,
      stdout: '',
      stderr: 'orbiwan-codec: nothing is attached at prefix:70b4|*\n',
    });
    expect((await store('list')).stdout).toMatch(/\nprefix:70b3 +3 +decoder\n$/);
  });

  it('refuses to remove a codec while attachments refer to it, naming them, with exit 1', async () => {
    await store('add', '--name', 'decoder', '--file', DECENTLAB);
    await store('attach', '--codec', 'decoder', '--selector', 'prefix:70b3');
    await store('attach', '--codec', 'decoder', '--selector', 'deveui:0011223344556677');

    const refused = await store('remove', '--name', 'decoder');

    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'orbiwan-codec: codec "decoder" is attached at deveui:0011223344556677|*, prefix:70b3|*: detach them first\n',
    });
    expect(await storedCodec('decoder')).toBeDefined();

    await store('detach', '--selector', 'prefix:70b3');
    await store('detach', '--selector', 'deveui:0011223344556677');
    expect(await store('remove', '--name', 'decoder')).toEqual({
      code: 0,
      stderr: '',
      stdout: 'removed  decoder\n',
    });
    expect(await store('remove', '--name', 'decoder')).toEqual({
      code: 1,
      stdout: '',
      stderr: `orbiwan-codec: no codec named "decoder" is stored in ${TABLE}\n`,
    });
  });

  it('marks an attachment whose codec is not stored', async () => {
    await store('add', '--name', 'decoder', '--file', DECENTLAB);
    await store('attach', '--codec', 'decoder', '--selector', 'prefix:70b3');
    // Removed behind the command's back, as by hand in the console.
    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TABLE]: [{ DeleteRequest: { Key: { kind: { S: 'codec' }, name: { S: 'decoder' } } } }],
        },
      }),
    );

    const listed = await store('list');

    expect(listed).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'no codecs\n\nSELECTOR     FPORTS  CODEC\nprefix:70b3  any     decoder (not stored)\n',
    });
  });

  describe('test', () => {
    it.each(
      examples<{ bytes: number[]; fPort: number }, { data: unknown }>(
        'decentlab-dl-sht35',
        'examples.json',
      ),
    )('decodes the Decentlab example "$description" as its maker says', async (example) => {
      const hex = Buffer.from(example.input.bytes).toString('hex');

      const result = await run([
        'test',
        '--file',
        DECENTLAB,
        '--fport',
        String(example.input.fPort),
        '--bytes',
        hex,
      ]);

      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toEqual({ ...example.output, warnings: [], errors: [] });
    });

    it.each(
      examples<{ data: unknown }, { bytes: number[]; fPort: number }>(
        'laird-rs1xx-temp-rh-sensor',
        'downlinkExamples.json',
      ),
    )('encodes the Laird example "$description" as its maker says', async (example) => {
      const result = await run([
        'test',
        '--file',
        LAIRD,
        '--object',
        JSON.stringify(example.input.data),
      ]);

      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toEqual({ ...example.output, warnings: [], errors: [] });
    });

    it('decodes a Laird uplink, with the hex in either case and spaced', async () => {
      const [example] = examples<{ bytes: number[] }, { data: unknown }>(
        'laird-rs1xx-temp-rh-sensor',
        'examples.json',
      );
      const hex = Buffer.from(example?.input.bytes ?? [])
        .toString('hex')
        .toUpperCase()
        .replace(/(..)/g, '$1 ');

      const result = await run(['test', '--file', LAIRD, '--fport', '1', '--bytes', hex]);

      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toEqual({ ...example?.output, warnings: [], errors: [] });
    });

    it('exits 1 when the codec reports errors, printing them in the result', async () => {
      const path = codecFile(
        'picky.js',
        'function decodeUplink(input) { return { errors: ["unknown port " + input.fPort], warnings: ["w"] }; }',
      );

      const result = await run(['test', '--file', path, '--fport', '9', '--bytes', '00']);

      expect(result).toEqual({
        code: 1,
        stdout: `${JSON.stringify({ warnings: ['w'], errors: ['unknown port 9'] }, null, 2)}\n`,
        stderr: 'orbiwan-codec: the codec reported an error\n',
      });
    });

    it('exits 1 when the codec has no function for what is asked', async () => {
      const result = await run(['test', '--file', DECENTLAB, '--object', '{"on":true}']);

      expect(result).toEqual({
        code: 1,
        stdout: `${JSON.stringify(
          { bytes: [], warnings: [], errors: ['the codec has no encodeDownlink function'] },
          null,
          2,
        )}\n`,
        stderr: 'orbiwan-codec: the codec reported an error\n',
      });
    });

    it('passes --fport to encodeDownlink, as the connector does for a request with a port', async () => {
      const path = codecFile(
        'port-echo.js',
        'function encodeDownlink(input) { return { bytes: [input.fPort], fPort: input.fPort }; }',
      );

      const result = await run(['test', '--file', path, '--object', '{}', '--fport', '7']);

      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(JSON.parse(result.stdout)).toEqual({
        bytes: [7],
        fPort: 7,
        warnings: [],
        errors: [],
      });
    });

    it('refuses a codec that does not load, with exit 1', async () => {
      const path = codecFile('looping.js', 'for (;;) {}');

      const result = await run(['test', '--file', path, '--fport', '1', '--bytes', '']);

      expect(result).toEqual({
        code: 1,
        stdout: '',
        stderr: `orbiwan-codec: ${path}: the codec ran longer than 100 ms\n`,
      });
    });
  });

  it('exits 1 naming the table when it does not exist', async () => {
    const result = await run([
      'list',
      '--table',
      'no-such-table',
      '--endpoint-url',
      endpoint,
      '--region',
      'eu-west-1',
    ]);

    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `orbiwan-codec: table no-such-table (eu-west-1 at ${endpoint}) does not exist: check --table (the stack output DeviceCodecsTableName) and --region\n`,
    });
  });

  it('exits 1 naming the endpoint when it cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const url = `http://127.0.0.1:${String(port)}`;

    const result = await run(['list', '--table', TABLE, '--endpoint-url', url, '--region', 'x-1']);

    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: `orbiwan-codec: cannot reach ${url} for table ${TABLE} (x-1 at ${url}) (ECONNREFUSED)\n`,
    });
  });

  it('takes the table from ORBIWAN_CODECS_TABLE when --table is not given', async () => {
    await store('add', '--name', 'decoder', '--file', DECENTLAB);

    const result = await run(['list', '--endpoint-url', endpoint, '--region', stack.region], {
      ORBIWAN_CODECS_TABLE: TABLE,
    });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^CODEC +SHA256 +BYTES +UPDATED\ndecoder +/);
  });

  const storeOptions = ['--table', 't', '--region', 'eu-west-1'];
  it.each<[string, string[], string]>([
    ['no command', [], 'a command is required: add, attach, detach, list, remove, test'],
    ['an unknown command', ['install'], '"install" is not a command'],
    ['a stray argument', ['list', 'all', ...storeOptions], 'list takes options only, not "all"'],
    ['an unknown option', ['list', '--jsn'], "Unknown option '--jsn'"],
    ['an option of another command', ['list', '--name', 'x'], '--name does not apply to list'],
    [
      'a store option to test',
      ['test', '--table', 't'],
      '--table does not apply to test: it runs here, without AWS',
    ],
    ['an option twice', ['remove', '--name', 'a', '--name', 'b'], '--name is given more than once'],
    ['add without --name', ['add', '--file', DECENTLAB, ...storeOptions], '--name is required'],
    ['add without --file', ['add', '--name', 'a', ...storeOptions], '--file is required'],
    [
      'an unreadable --file',
      ['add', '--name', 'a', '--file', '/nonexistent/codec.js', ...storeOptions],
      '--file: cannot read "/nonexistent/codec.js": ENOENT',
    ],
    [
      'a codec name in capitals',
      ['add', '--name', 'Laird', '--file', LAIRD, ...storeOptions],
      '--name: "Laird" is not a codec name: expected 1 to 64 lowercase letters',
    ],
    [
      'a bad --codec name',
      ['attach', '--codec', 'a b', '--selector', 'prefix:70', ...storeOptions],
      '--codec: "a b" is not a codec name',
    ],
    [
      'attach without --selector',
      ['attach', '--codec', 'a', ...storeOptions],
      '--selector is required',
    ],
    [
      'no table',
      ['list', '--region', 'eu-west-1'],
      '--table is required (the stack output DeviceCodecsTableName), or set ORBIWAN_CODECS_TABLE',
    ],
    [
      'a bad --endpoint-url',
      ['list', '--table', 't', '--endpoint-url', '127.0.0.1:4566'],
      '--endpoint-url: "127.0.0.1:4566" is not an http:// or https:// URL',
    ],
    ['test without --bytes or --object', ['test', '--file', LAIRD], 'test needs --bytes <hex>'],
    [
      'test with --bytes and --object',
      ['test', '--file', LAIRD, '--fport', '1', '--bytes', '00', '--object', '{}'],
      '--bytes and --object exclude each other',
    ],
    [
      'test --bytes without --fport',
      ['test', '--file', LAIRD, '--bytes', '00'],
      '--fport is required to decode --bytes',
    ],
    [
      'test with odd hex',
      ['test', '--file', LAIRD, '--fport', '1', '--bytes', '123'],
      '--bytes: expected hex digits, two per byte, got "123"',
    ],
    [
      'test with --fport 0',
      ['test', '--file', LAIRD, '--fport', '0', '--bytes', '00'],
      '--fport: "0" is not an FPort',
    ],
    [
      'test with an --object that is not JSON',
      ['test', '--file', LAIRD, '--object', '{on}'],
      '--object: not JSON: ',
    ],
  ])('refuses %s with exit 2 and the usage hint', async (_, argv, problem) => {
    const result = await run(argv);

    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toMatch(/^orbiwan-codec: /);
    expect(result.stderr).toContain(problem);
    expect(result.stderr.endsWith(`\n${USAGE_HINT}`)).toBe(true);
  });

  it('prints its usage for --help, whatever else is given', async () => {
    const alone = await run(['--help']);
    const withCommand = await run(['attach', '--help']);

    expect(alone).toMatchObject({ code: 0, stderr: '' });
    expect(alone.stdout).toMatch(/^Usage: orbiwan-codec <command> \[options\]\n/);
    for (const command of ['add', 'attach', 'detach', 'list', 'remove', 'test'])
      expect(alone.stdout).toContain(`\n  ${command} `);
    for (const option of ['--name', '--file', '--codec', '--selector', '--fports', '--json'])
      expect(alone.stdout).toContain(option);
    for (const option of [
      '--fport',
      '--bytes',
      '--object',
      '--table',
      '--region',
      '--endpoint-url',
    ])
      expect(alone.stdout).toContain(option);
    expect(alone.stdout).toContain('ORBIWAN_CODECS_TABLE');
    expect(withCommand).toEqual(alone);
  });

  describe("as the package's bin", () => {
    const { bin } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      bin: Record<string, string>;
    };
    const path = bin['orbiwan-codec'] ?? '';
    // No AWS configuration at all: no credentials, no profile, no instance metadata.
    const home = mkdtempSync(join(tmpdir(), 'codec-cli-home-'));
    const bare: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };

    afterAll(() => {
      rmSync(home, { recursive: true, force: true });
    });

    it('runs with the exit status of the command', async () => {
      const [help, usageError] = await Promise.all([
        execNode([path, '--help'], bare),
        execNode([path, 'attach', '--fports', '0'], bare),
      ]);

      expect(help).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: /) });
      expect(usageError).toMatchObject({
        code: 2,
        stdout: '',
        stderr: expect.stringContaining('orbiwan-codec: --codec is required'),
      });
    });

    it('reaches the local stack without AWS credentials, and says when it has no region', async () => {
      await store('add', '--name', 'decoder', '--file', DECENTLAB);

      const [listed, noRegion] = await Promise.all([
        execNode([path, 'list', '--table', TABLE, '--endpoint-url', endpoint], {
          ...bare,
          AWS_REGION: 'eu-west-1',
        }),
        execNode([path, 'list', '--table', TABLE, '--endpoint-url', endpoint], bare),
      ]);

      expect(listed).toMatchObject({
        code: 0,
        stdout: expect.stringMatching(/^CODEC +SHA256 +BYTES +UPDATED\ndecoder +/),
      });
      expect(noRegion).toMatchObject({
        code: 2,
        stdout: '',
        stderr: expect.stringContaining(
          'orbiwan-codec: no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile (any region does for a local --endpoint-url)\n',
        ),
      });
    });

    it('leaves the credentials to the SDK without --endpoint-url, and says when there are none', async () => {
      const result = await execNode(
        [path, 'list', '--table', 'codecs', '--region', 'eu-west-1'],
        bare,
      );

      expect(result).toMatchObject({
        code: 1,
        stdout: '',
        stderr: expect.stringContaining(
          'orbiwan-codec: no AWS credentials for table codecs (eu-west-1): ',
        ),
      });
    });
  });
});
