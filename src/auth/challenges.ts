// Outstanding digest-login challenges (nonces), per user.
//
// A challenge belongs to the user, not to one login attempt: phones may repeat phase 1, change
// SessionCookie between the phases, and Android phones share one default ClientID ("JiMMY").
// Phase 2 is therefore checked against every live nonce of the user and consumes the one it
// answers. Each nonce is single-use and expires; a user holds a bounded number (the oldest is
// dropped), and one client address may only ask for so many per minute, so nobody can flood a
// user's challenges to make their correct answer fail.

export interface ChallengeLimits {
  lifetimeMs: number;
  perUser: number;
  perAddressPerMinute: number;
}

export interface Challenge {
  nonce: string;
  schema: 'MD5' | 'SHA';
  expiresAt: number;
}

/** Entries kept at most per map, so a flood of user names cannot exhaust memory. */
const MAX_TRACKED = 100_000;

export class ChallengeBook {
  private readonly byUser = new Map<string, Challenge[]>();
  private readonly issuedByAddress = new Map<string, number[]>();

  constructor(private readonly limits: ChallengeLimits) {}

  /** Record a new challenge; false when the address asked for too many this minute. */
  issue(userId: string, challenge: Omit<Challenge, 'expiresAt'>, address: string, now: number): boolean {
    const recent = (this.issuedByAddress.get(address) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= this.limits.perAddressPerMinute) return false;
    recent.push(now);
    this.remember(this.issuedByAddress, address, recent);
    const live = this.live(userId, now);
    live.push({ ...challenge, expiresAt: now + this.limits.lifetimeMs });
    this.remember(this.byUser, userId, live.slice(-this.limits.perUser));
    return true;
  }

  /** The user's live challenges, oldest first. */
  live(userId: string, now: number): Challenge[] {
    return (this.byUser.get(userId) ?? []).filter((c) => c.expiresAt > now);
  }

  /** Spend one challenge (whatever the outcome of the attempt that used it). */
  consume(userId: string, nonce: string): void {
    const rest = (this.byUser.get(userId) ?? []).filter((c) => c.nonce !== nonce);
    if (rest.length) this.byUser.set(userId, rest);
    else this.byUser.delete(userId);
  }

  private remember<T>(map: Map<string, T>, key: string, value: T): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
  }
}
