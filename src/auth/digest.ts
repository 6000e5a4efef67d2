// CSP digest login (reference imps-csp.md §4.2): DigestBytes = Base64(digest(Nonce ‖ Password)),
// nonce bytes first, no separator. MD5 is what nearly every handset uses, SHA (SHA-1) what
// Android also offers. PWD means "send the password in clear" and is chosen only when the
// client offers nothing better.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestSchema = 'MD5' | 'SHA' | 'PWD';

/** Our preference among what the client offered (1.1 clients may send "PWD,SHA,MD5" in one element). */
export function chooseDigestSchema(offered: string[]): DigestSchema | undefined {
  const names = new Set(offered.flatMap((s) => s.split(',')).map((s) => s.trim().toUpperCase()));
  if (names.has('MD5')) return 'MD5';
  if (names.has('SHA')) return 'SHA';
  if (names.has('PWD')) return 'PWD';
  return undefined;
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

function digestBytes(schema: 'MD5' | 'SHA', nonce: string, password: Buffer): Buffer {
  return createHash(schema === 'MD5' ? 'md5' : 'sha1').update(Buffer.from(nonce, 'latin1')).update(password).digest();
}

/** What a client computes; exported for tests and the benchmark's simulated phones. */
export function computeDigest(schema: 'MD5' | 'SHA', nonce: string, password: string): string {
  return digestBytes(schema, nonce, Buffer.from(password, 'latin1')).toString('base64');
}

/**
 * Check DigestBytes in constant time. Android hashes the password's ISO-8859-1 bytes, other
 * clients UTF-8; for ASCII passwords they agree, otherwise either is accepted.
 */
export function verifyDigest(schema: 'MD5' | 'SHA', nonce: string, password: string, sent: string): boolean {
  const received = Buffer.from(sent.trim(), 'base64');
  const encodings = /^[\x00-\x7f]*$/.test(password) ? ['utf8'] : ['utf8', 'latin1'];
  let ok = false;
  for (const enc of encodings) {
    const expected = digestBytes(schema, nonce, Buffer.from(password, enc as BufferEncoding));
    if (expected.length === received.length && timingSafeEqual(expected, received)) ok = true;
  }
  return ok;
}
