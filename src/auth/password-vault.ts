// Passwords at rest.
//
// Four-way digest login sends Base64(MD5(nonce ‖ password)) with a fresh nonce per login, so the
// server must be able to compute MD5(nonce ‖ password) for any nonce: it needs the password
// itself (a password-equivalent), not a one-way hash. We therefore keep each password sealed
// with AES-256-GCM under a key held in its own file (dataDir/secret.key, mode 0600). A copy of the
// database alone (a backup, a leaked file) reveals no password; the key file must be protected
// and backed up separately. The alternative, Baraza's fixed per-user nonce, allows hash-only
// storage but makes every captured login replayable forever.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetaStore } from '../store/meta.ts';

const FORMAT = 'v1';

export class PasswordVault {
  private constructor(private readonly key: Buffer) {}

  /**
   * Load dataDir/secret.key, creating it (32 random bytes, mode 0600) on first use.
   *
   * `sealedWith` is the fingerprint of the key existing passwords were sealed with (kept in the
   * database). A missing or different key file would make every account unusable, so that
   * stops the start with an explanation instead of silently making a new key.
   */
  static open(dataDir: string, sealedWith?: string): PasswordVault {
    const file = join(dataDir, 'secret.key');
    if (!existsSync(file)) {
      if (sealedWith) {
        throw new Error(`${file} is missing, but the accounts in this data directory were sealed with it: restore it from your backup`);
      }
      writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    const vault = new PasswordVault(key);
    if (sealedWith && sealedWith !== vault.fingerprint()) {
      throw new Error(`${file} is not the key the accounts in this data directory were sealed with: restore the right one from your backup`);
    }
    return vault;
  }

  /** A public, non-secret identifier of the key (to recognise it later). */
  fingerprint(): string {
    return createHash('sha256').update('village-vault-fingerprint').update(this.key).digest('hex').slice(0, 32);
  }

  seal(password: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
    return [FORMAT, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
  }

  open(sealed: string): string {
    const [format, iv, tag, data] = sealed.split(':');
    if (format !== FORMAT || !iv || !tag || data === undefined) throw new Error('unknown sealed password format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
  }
}

/** Open the vault of a data directory, checking (and on first use recording) its key's fingerprint. */
export function openVault(dataDir: string, meta: MetaStore): PasswordVault {
  const known = meta.get('vault-fingerprint');
  const vault = PasswordVault.open(dataDir, known);
  if (!known) meta.set('vault-fingerprint', vault.fingerprint());
  return vault;
}
