// Server Dialback keys (XEP-0220, keys as XEP-0185 recommends): a key proves a stream came
// from us without a shared secret between servers. key = HMAC-SHA256(hex(SHA-256(secret)),
// "receiving originating streamId"), in hex. Only we ever check our keys, so the secret is ours
// alone; it is kept in the data directory so keys stay valid across a restart.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SECRET_FILE = 'xmpp-dialback.secret';

export class DialbackKeys {
  private readonly hmacKey: string;

  constructor(secret: Buffer) {
    this.hmacKey = createHash('sha256').update(secret).digest('hex');
  }

  /** Read the secret from dataDir, creating it (random, owner-only) the first time. */
  static fromDataDir(dataDir: string): DialbackKeys {
    const file = join(dataDir, SECRET_FILE);
    if (!existsSync(file)) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    }
    return new DialbackKeys(Buffer.from(readFileSync(file, 'utf8').trim(), 'utf8'));
  }

  /** The key our originating domain sends for a stream the receiving domain gave `streamId`. */
  key(receiving: string, originating: string, streamId: string): string {
    return createHmac('sha256', this.hmacKey).update(`${receiving} ${originating} ${streamId}`).digest('hex');
  }

  /** Whether `key` is the one we would have sent (compared in constant time). */
  verify(receiving: string, originating: string, streamId: string, key: string): boolean {
    const expected = Buffer.from(this.key(receiving, originating, streamId), 'utf8');
    const given = Buffer.from(key.trim(), 'utf8');
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}
