// Test certificates for XMPP s2s federation tests, made with the `openssl` CLI in a temp dir:
//   * a test CA, which Prosody trusts in its "secure" mode (test/support/prosody.ts);
//   * imps.test (Village) and xmpp.test (Prosody), issued by the test CA;
//   * a second CA that nobody trusts, with its own imps.test and xmpp.test certificates, for
//     "an untrusted certificate is refused" (either side's).
// Leaf certificates carry SAN DNS:<domain> (the DNS-ID RFC 6120 §13.7.1.2 checks) and
// extendedKeyUsage serverAuth + clientAuth, because an s2s peer is TLS server on incoming and TLS
// client on outgoing streams. Keys are EC P-256 (fast to make; Node and Prosody's LuaSec both
// take them). Everything is PEM. Made once per process and removed when the process exits.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertAndKey {
  /** PEM certificate (the leaf alone; its CA is the trust anchor, there is no intermediate). */
  cert: string;
  /** PEM private key (PKCS#8, unencrypted). */
  key: string;
}

export interface TestPki {
  /** The directory holding every file below. */
  dir: string;
  /** The test CA: trusted by Prosody in "secure" mode, and what Village should trust. */
  ca: CertAndKey;
  /** imps.test, issued by the test CA: Village's s2s certificate. */
  imps: CertAndKey;
  /** xmpp.test, issued by the test CA: Prosody's certificate. */
  xmpp: CertAndKey;
  /** A second CA that is trusted nowhere, and the imps.test and xmpp.test certificates it issued. */
  untrusted: { ca: CertAndKey; imps: CertAndKey; xmpp: CertAndKey };
}

let cached: TestPki | undefined;

/** The test PKI (file paths), generated on first use in this process. */
export function testPki(): TestPki {
  if (!cached) cached = generate();
  return cached;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl is not installed (no `openssl` on PATH): apt-get install -y openssl');
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString('utf8').trim() ?? e.message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string, commonName: string): CertAndKey {
  const ca = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  openssl(
    [
      'req', '-x509', ...EC_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '3650', '-subj', `/O=Village tests/CN=${commonName}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-addext', 'subjectKeyIdentifier=hash',
    ],
    dir,
  );
  return ca;
}

function makeLeaf(dir: string, name: string, domain: string, ca: CertAndKey): CertAndKey {
  const leaf = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-new', ...EC_KEY, '-keyout', leaf.key, '-out', csr, '-subj', `/O=Village tests/CN=${domain}`], dir);
  writeFileSync(
    ext,
    [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth, clientAuth',
      `subjectAltName = DNS:${domain}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  );
  // notBefore is now: every party runs on this machine's clock (OpenSSL 3.0's x509 has no -not_before).
  const serial = `0x${randomBytes(8).toString('hex')}`;
  openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', serial, '-days', '825', '-extfile', ext, '-out', leaf.cert], dir);
  return leaf;
}

function generate(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'village-pki-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const ca = makeCa(dir, 'ca', 'Village Test CA');
  const untrustedCa = makeCa(dir, 'untrusted-ca', 'Untrusted Test CA');
  return {
    dir,
    ca,
    imps: makeLeaf(dir, 'imps.test', 'imps.test', ca),
    xmpp: makeLeaf(dir, 'xmpp.test', 'xmpp.test', ca),
    untrusted: {
      ca: untrustedCa,
      imps: makeLeaf(dir, 'untrusted-imps.test', 'imps.test', untrustedCa),
      xmpp: makeLeaf(dir, 'untrusted-xmpp.test', 'xmpp.test', untrustedCa),
    },
  };
}
