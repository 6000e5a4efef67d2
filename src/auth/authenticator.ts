// Who may log in: checks a password, or a digest against the user's outstanding challenges,
// auto-registers unknown users when configured, and applies failed-login throttling. Returns a
// verdict; the session actor decides what the protocol does with it.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccountStore } from '../store/accounts.ts';
import type { UserAddress } from '../csp/address.ts';
import type { PasswordVault } from './password-vault.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { ChallengeBook } from './challenges.ts';
import { verifyDigest } from './digest.ts';

export type Verdict =
  | { ok: true; registered: boolean; generation: number }
  | { ok: false; code: number; description: string; tryAgainSeconds?: number; rechallenge?: boolean };

export type Credentials = { password: string } | { digestBytes: string };

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

export class Authenticator {
  constructor(
    private readonly accounts: AccountStore,
    private readonly vault: PasswordVault,
    private readonly throttle: LoginThrottle,
    readonly challenges: ChallengeBook,
    private readonly autoRegister: boolean,
  ) {}

  /** Whether a user exists (an unknown user can only be auto-registered from a plain password). */
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
      if (this.autoRegister && 'password' in credentials && credentials.password !== '') {
        if (!this.throttle.allowRegistration(address, now)) {
          return { ok: false, code: 503, description: 'Too many new accounts from your network; try again later', tryAgainSeconds: 3600 };
        }
        if (this.accounts.create(user.id, user.domain, this.vault.seal(credentials.password), now)) return { ok: true, registered: true, generation: 0 };
        return this.check(user, credentials, address, now); // registered concurrently: check as usual
      }
      this.throttle.recordFailure(user.id, address, now);
      return { ok: false, code: 531, description: this.autoRegister ? 'Unknown user: log in once with a plain password to register' : 'Unknown user' };
    }
    const password = this.vault.open(account.sealedPassword);
    let good = false;
    if ('password' in credentials) {
      good = sameSecret(credentials.password, password);
    } else {
      const live = this.challenges.live(user.id, now);
      // No live challenge (expired, or the server restarted): not a wrong password.
      if (live.length === 0) return { ok: false, code: 401, description: 'No valid challenge: log in again', rechallenge: true };
      const answered = live.find((c) => verifyDigest(c.schema, c.nonce, password, credentials.digestBytes));
      if (answered) {
        this.challenges.consume(user.id, answered.nonce);
        good = true;
      }
    }
    if (!good) {
      this.throttle.recordFailure(user.id, address, now);
      return { ok: false, code: 409, description: 'Invalid password' };
    }
    this.throttle.recordSuccess(user.id, address);
    return { ok: true, registered: false, generation: account.generation };
  }
}
