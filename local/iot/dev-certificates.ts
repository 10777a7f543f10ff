import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

// A development CA with a server certificate for localhost/127.0.0.1 and one client certificate,
// so tools written for AWS IoT Core's mutual-TLS HTTPS endpoint work unchanged against the local
// one when given this CA. Made once, kept in the certificates folder (git-ignored), remade when a
// file is missing or expires within a day.

export interface DevCertificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  directory: string;
}

const FILES = {
  ca: 'ca.pem',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  clientCert: 'client.crt',
  clientKey: 'client.key',
} as const;

export function ensureDevCertificates(directory: string): DevCertificates {
  const paths = Object.fromEntries(
    Object.entries(FILES).map(([name, file]) => [name, join(directory, file)]),
  ) as Record<keyof typeof FILES, string>;
  if (
    Object.values(paths).every((path) => existsSync(path)) &&
    !expiringSoon(readFileSync(paths.serverCert, 'utf8'))
  ) {
    return { ...readAll(paths), directory };
  }
  mkdirSync(directory, { recursive: true });
  const ca = keyPair();
  const caCert = certificate({
    subject: 'OrbiWAN connector local development CA',
    publicKey: ca.publicKey,
    signer: ca.privateKey,
    isCa: true,
  });
  const server = keyPair();
  const serverCert = certificate({
    subject: 'localhost',
    publicKey: server.publicKey,
    signer: ca.privateKey,
    issuer: caCert,
    altNames: [
      { type: 2, value: 'localhost' },
      { type: 7, ip: '127.0.0.1' },
    ],
  });
  const client = keyPair();
  const clientCert = certificate({
    subject: 'local-dev-client',
    publicKey: client.publicKey,
    signer: ca.privateKey,
    issuer: caCert,
    clientAuth: true,
  });
  const contents = {
    ca: forge.pki.certificateToPem(caCert),
    serverCert: forge.pki.certificateToPem(serverCert),
    serverKey: server.privateKeyPem,
    clientCert: forge.pki.certificateToPem(clientCert),
    clientKey: client.privateKeyPem,
  };
  for (const [name, path] of Object.entries(paths))
    writeFileSync(path, contents[name as keyof typeof FILES], {
      mode: name.endsWith('Key') ? 0o600 : 0o644,
    });
  return { ...contents, directory };
}

function readAll(paths: Record<keyof typeof FILES, string>): Omit<DevCertificates, 'directory'> {
  return {
    ca: readFileSync(paths.ca, 'utf8'),
    serverCert: readFileSync(paths.serverCert, 'utf8'),
    serverKey: readFileSync(paths.serverKey, 'utf8'),
    clientCert: readFileSync(paths.clientCert, 'utf8'),
    clientKey: readFileSync(paths.clientKey, 'utf8'),
  };
}

function expiringSoon(pem: string): boolean {
  return new Date(new X509Certificate(pem).validTo).getTime() < Date.now() + 86_400_000;
}

// Node makes the RSA keys (fast, native); node-forge builds and signs the certificates.
function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    publicKey: forge.pki.publicKeyFromPem(
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ),
    privateKey: forge.pki.privateKeyFromPem(privateKeyPem),
    privateKeyPem,
  };
}

interface CertificateRequest {
  subject: string;
  publicKey: forge.pki.PublicKey;
  signer: forge.pki.PrivateKey;
  issuer?: forge.pki.Certificate;
  isCa?: boolean;
  clientAuth?: boolean;
  altNames?: { type: number; value?: string; ip?: string }[];
}

function certificate({
  subject,
  publicKey,
  signer,
  issuer,
  isCa = false,
  clientAuth = false,
  altNames,
}: CertificateRequest): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + (isCa ? 3650 : 825) * 86_400_000);
  const attributes = [{ name: 'commonName', value: subject }];
  cert.setSubject(attributes);
  cert.setIssuer(issuer?.subject.attributes ?? attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: isCa, critical: true },
    isCa
      ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }
      : { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    ...(isCa ? [] : [{ name: 'extKeyUsage', serverAuth: !clientAuth, clientAuth }]),
    ...(altNames === undefined ? [] : [{ name: 'subjectAltName', altNames }]),
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(signer as forge.pki.rsa.PrivateKey, forge.md.sha256.create());
  return cert;
}
