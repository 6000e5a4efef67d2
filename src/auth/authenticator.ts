// Who may log in: checks a password or a digest against the account, auto-registers unknown
// users when configured, and applies failed-login throttling. Returns a verdict; the session
// actor decides what the protocol does with it.
import type { AccountStore } from '../store/accounts.ts';
import type { UserAddress } from '../csp/address.ts';
import type { PasswordVault } from './password-vault.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { verifyDigest } from './digest.ts';

export type Verdict =
  | { ok: true; registered: boolean }
  | { ok: false; code: number; description: string; tryAgainSeconds?: number };

export interface Credentials {
  password?: string;
  digest?: { schema: 'MD5' | 'SHA'; nonce: string; bytes: string };
}

export class Authenticator {
  constructor(
    private readonly accounts: AccountStore,
    private readonly vault: PasswordVault,
    private readonly throttle: LoginThrottle,
    private readonly autoRegister: boolean,
  ) {}

  /** Whether a user exists (used to decide whether a digest challenge can succeed at all). */
  exists(user: UserAddress): boolean {
    return this.accounts.get(user.id) !== undefined;
  }

  canAutoRegister(): boolean {
    return this.autoRegister;
  }

  check(user: UserAddress, credentials: Credentials, address: string, now: number): Verdict {
    const locked = this.throttle.lockedFor(user.id, address, now);
    if (locked > 0) {
      return { ok: false, code: 503, description: `Too many failed logins; try again in ${Math.ceil(locked / 60)} min`, tryAgainSeconds: locked };
    }
    const account = this.accounts.get(user.id);
    if (!account) {
      if (this.autoRegister && credentials.password !== undefined && credentials.password !== '') {
        const created = this.accounts.create(user.id, user.domain, this.vault.seal(credentials.password), now);
        if (created) return { ok: true, registered: true };
        return this.check(user, credentials, address, now); // registered concurrently: check as usual
      }
      this.throttle.recordFailure(user.id, address, now);
      return { ok: false, code: 531, description: this.autoRegister ? 'Unknown user: log in once with a plain password to register' : 'Unknown user' };
    }
    const password = this.vault.open(account.sealedPassword);
    const good =
      credentials.password !== undefined ? credentials.password === password
      : credentials.digest ? verifyDigest(credentials.digest.schema, credentials.digest.nonce, password, credentials.digest.bytes)
      : false;
    if (!good) {
      this.throttle.recordFailure(user.id, address, now);
      return { ok: false, code: 409, description: 'Invalid password' };
    }
    this.throttle.recordSuccess(user.id);
    return { ok: true, registered: false };
  }
}
