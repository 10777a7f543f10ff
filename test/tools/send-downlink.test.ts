import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalConnector } from '../../local/connector.js';
import { main } from '../../tools/send-downlink.js';
import { startTestConnector, subscribe, type Subscriber } from '../helpers/local-connector.js';

// The downlink tool against the local stack's real mutual-TLS endpoint (AWS IoT Core's 8443), with
// the development certificates it generates, and a real MQTT subscriber on its broker.

const PREFIX = 'orbiwan/lorawan';
const CLASS_C = '70b3d57ed0000001';
const DOWNLINK_TOPIC = `${PREFIX}/${CLASS_C}/downlink`;
let connector: LocalConnector;
let subscriber: Subscriber;
let endpoint: string;
let certs: { ca: string; cert: string; key: string };

beforeAll(async () => {
  connector = await startTestConnector();
  subscriber = await subscribe(connector.endpoints.mqtt, `${PREFIX}/#`);
  endpoint = new URL(connector.endpoints.iotHttps).host;
  const { directory } = connector.certificates;
  certs = {
    ca: join(directory, 'ca.pem'),
    cert: join(directory, 'client.crt'),
    key: join(directory, 'client.key'),
  };
});

afterAll(async () => {
  await subscriber.close();
  await connector.close();
});

type Options = Record<string, string | true | undefined>;

// A file that names itself a CA and holds none: Node would load it and trust nothing.
const NOT_A_CA = join(mkdtempSync(join(tmpdir(), 'not-a-ca-')), 'ca.pem');
writeFileSync(NOT_A_CA, 'our CA goes here\n');

/** A valid command line to the Class C device, changed by `changes` (undefined leaves one out). */
function argsWith(changes: Options = {}): string[] {
  const options: Options = {
    endpoint,
    deveui: CLASS_C,
    data: '01',
    port: '2',
    unconfirmed: true,
    ...certs,
    ...changes,
  };
  return Object.entries(options).flatMap(([name, value]) =>
    value === undefined ? [] : value === true ? [`--${name}`] : [`--${name}`, value],
  );
}

function execNode(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, args, (error, stdout, stderr) => {
      resolve({
        code: error === null ? 0 : error.code === undefined ? null : Number(error.code),
        stdout,
        stderr,
      });
    });
  });
}

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}

const isDownlink = (requestId: string) => (message: { topic: string; payload: Buffer }) =>
  message.topic.endsWith('/downlink') && message.payload.includes(`"requestId":"${requestId}"`);

const statusOf =
  (requestId: string, state: string) => (message: { topic: string; payload: Buffer }) =>
    message.topic.endsWith('/downlink/status') &&
    message.payload.includes(`"requestId":"${requestId}"`) &&
    message.payload.includes(`"state":"${state}"`);

/** A certificate no endpoint has seen: self-signed, made now. Returns the --cert and --key files. */
function selfSignedClientCertificate() {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(
    keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'stranger' }]);
  cert.setIssuer([{ name: 'commonName', value: 'stranger' }]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  const directory = mkdtempSync(join(tmpdir(), 'stranger-'));
  const files = { cert: join(directory, 'client.crt'), key: join(directory, 'client.key') };
  writeFileSync(files.cert, forge.pki.certificateToPem(cert));
  writeFileSync(files.key, keyPem);
  return files;
}

let markers = 0;

/**
 * The downlink requests the broker received from `since` up to a marker sent now. The endpoint
 * answers only once the broker has the message, so whatever an earlier command published arrives
 * before the marker.
 */
async function downlinksUntilMarker(since: number): Promise<string[]> {
  const requestId = `marker-${String((markers += 1))}`;
  expect((await run(argsWith({ 'request-id': requestId }))).code).toBe(0);
  const marker = await subscriber.next(isDownlink(requestId));
  const received = subscriber.received.slice(since);
  return received
    .slice(0, received.indexOf(marker))
    .filter((message) => message.topic.endsWith('/downlink'))
    .map((message) => message.payload.toString());
}

describe('Tool: send-downlink', () => {
  it('publishes the request it prints, byte for byte, and the connector accepts it', async () => {
    const result = await run(
      argsWith({
        deveui: '70-B3-D5-7E-D0-00-00-01',
        data: 'AABBCC',
        port: '20',
        unconfirmed: undefined,
        confirmed: true,
        'request-id': 'tool-1',
      }),
    );

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`published  ${DOWNLINK_TOPIC}  (https://${endpoint}, qos 1)`);
    const printed = /^request +(.+)$/m.exec(result.stdout)?.[1] ?? '';
    expect(JSON.parse(printed)).toEqual({
      data: 'AABBCC',
      port: 20,
      confirmed: true,
      requestId: 'tool-1',
    });
    const published = await subscriber.next(isDownlink('tool-1'));
    expect(published.topic).toBe(DOWNLINK_TOPIC);
    expect(published.payload.equals(Buffer.from(printed))).toBe(true);
    const accepted = await subscriber.next(statusOf('tool-1', 'accepted'));
    expect(accepted.topic).toBe(`${DOWNLINK_TOPIC}/status`);
  });

  it.each<[string, Options, string]>([
    ['no --data', { data: undefined }, '--data is required'],
    ['an odd-length --data', { data: 'abc' }, '--data: expected hex digits, two per byte'],
    ['a non-hex --data', { data: 'zz' }, '--data: expected hex digits, two per byte'],
    ['--port 0', { port: '0' }, '--port: Too small: expected number to be >=1'],
    ['--port 224', { port: '224' }, '--port: Too big: expected number to be <=223'],
    ['a non-numeric --port', { port: 'twenty' }, '--port: expected an integer, got "twenty"'],
    [
      'a short --deveui',
      { deveui: '70b3d57ed00000' },
      '--deveui: "70b3d57ed00000" is not a DevEUI',
    ],
    ['a wildcard --deveui', { deveui: '+' }, '--deveui: "+" is not a DevEUI'],
    ['an unknown --mode', { mode: 'later' }, '--mode: Invalid option'],
    ['a wildcard --topic-prefix', { 'topic-prefix': 'a/#' }, '--topic-prefix: "a/#" is not'],
    ['no --cert', { cert: undefined }, '--cert is required'],
    ['an unknown option', { confirm: true }, "Unknown option '--confirm'"],
    ['a --ca holding no certificate', { ca: NOT_A_CA }, 'holds no PEM certificate'],
  ])(
    'refuses %s with exit 2, naming the problem, and sends nothing',
    async (_, changes, problem) => {
      const since = subscriber.received.length;

      const result = await run(argsWith(changes));

      expect(result).toMatchObject({ code: 2, stdout: '' });
      expect(result.stderr).toContain(problem);
      expect(await downlinksUntilMarker(since)).toEqual([]);
    },
  );

  it('refuses the self-signed endpoint without --ca, with a TLS error and exit 1', async () => {
    const since = subscriber.received.length;

    const result = await run(argsWith({ ca: undefined }));

    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(
      new RegExp(`TLS: the certificate of ${endpoint} is not trusted \\(SELF_SIGNED_CERT_IN_CHAIN`),
    );
    expect(result.stderr).toContain('--ca');
    expect(await downlinksUntilMarker(since)).toEqual([]);
  });

  it('refuses an option given twice with exit 2, rather than guess which was meant', async () => {
    const since = subscriber.received.length;

    const result = await run([...argsWith(), '--port', '3']);

    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain('--port is given more than once');
    expect(await downlinksUntilMarker(since)).toEqual([]);
  });

  it("says the --ca given is not the endpoint's CA, with a TLS error and exit 1", async () => {
    const since = subscriber.received.length;

    const result = await run(argsWith({ ca: selfSignedClientCertificate().cert }));

    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain(`TLS: the certificate of ${endpoint} is not trusted`);
    expect(result.stderr).toContain('the file given with --ca does not hold the CA that signed it');
    expect(await downlinksUntilMarker(since)).toEqual([]);
  });

  it('is refused with exit 1 when the client certificate is not one the endpoint trusts', async () => {
    const stranger = selfSignedClientCertificate();
    const since = subscriber.received.length;

    const result = await run(argsWith({ ...stranger, 'request-id': 'stranger' }));

    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain(`${endpoint} closed the connection without a reply`);
    expect(result.stderr).toContain('refuses the client certificate: check that --cert');
    expect(await downlinksUntilMarker(since)).toEqual([]);
  });

  it('refuses a key that does not belong to the certificate with exit 2', async () => {
    const serverKey = join(connector.certificates.directory, 'server.key');

    const result = await run(argsWith({ key: serverKey }));

    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain('not a usable PEM certificate and key');
    expect(result.stderr).toContain('key values mismatch');
  });

  it('reports a refused connection with exit 1', async () => {
    const closed = createTcpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));

    const result = await run(argsWith({ endpoint: `127.0.0.1:${String(port)}` }));

    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain(`127.0.0.1:${String(port)} refused the connection`);
  });

  it("reports a non-2xx reply with its status and body, as IoT Core's 403 for a policy", async () => {
    const { certificates } = connector;
    const requests: string[] = [];
    const server = createServer(
      { key: certificates.serverKey, cert: certificates.serverCert },
      (request, response) => {
        requests.push(`${request.method ?? ''} ${request.url ?? ''}`);
        response.writeHead(403, { 'content-type': 'application/json' });
        response.end('{"message":"Forbidden"}');
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const result = await run(argsWith({ endpoint: `127.0.0.1:${String(port)}` }));
    server.close();

    expect(requests).toEqual([`POST /topics/${DOWNLINK_TOPIC}?qos=1`]);
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toContain(`127.0.0.1:${String(port)} answered 403 Forbidden`);
    expect(result.stderr).toContain('{"message":"Forbidden"}');
  });

  it('prints its usage for --help', async () => {
    const result = await run(['--help']);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^Usage: orbiwan-send-downlink /);
    for (const option of ['--endpoint', '--deveui', '--data', '--port', '--confirmed'])
      expect(result.stdout).toContain(option);
    for (const option of ['--unconfirmed', '--mode', '--request-id', '--topic-prefix'])
      expect(result.stdout).toContain(option);
    for (const option of ['--cert', '--key', '--ca']) expect(result.stdout).toContain(option);
  });

  it("runs as the package's bin, with the command's exit status", async () => {
    const { bin } = JSON.parse(readFileSync('package.json', 'utf8')) as {
      bin: Record<string, string>;
    };
    const path = bin['orbiwan-send-downlink'] ?? '';

    const [help, usageError] = await Promise.all([
      execNode([path, '--help']),
      execNode([path, '--port', '0']),
    ]);

    expect(help).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: /) });
    expect(usageError).toMatchObject({ code: 2, stderr: expect.stringContaining('--port') });
  });
});
