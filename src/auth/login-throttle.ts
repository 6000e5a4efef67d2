// Failed-login throttling per user and per client address: after too many failures inside a
// window, further attempts are refused (whatever the password) until a lockout passes. This
// blunts online password guessing; it lives in memory, so a restart forgives everyone.

export interface ThrottleLimits {
  windowSeconds: number;
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  lockoutSeconds: number;
}

interface Record {
  failures: number[];
  lockedUntil: number;
}

/** Entries kept at most per map; oldest are dropped first so a flood cannot exhaust memory. */
const MAX_TRACKED = 100_000;

export class LoginThrottle {
  private readonly users = new Map<string, Record>();
  private readonly addresses = new Map<string, Record>();

  constructor(private readonly limits: ThrottleLimits) {}

  /** Seconds until the user or address may try again; 0 when not locked. */
  lockedFor(userId: string, address: string, now: number): number {
    const until = Math.max(this.users.get(userId)?.lockedUntil ?? 0, this.addresses.get(address)?.lockedUntil ?? 0);
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  recordFailure(userId: string, address: string, now: number): void {
    this.bump(this.users, userId, this.limits.maxFailuresPerUser, now);
    this.bump(this.addresses, address, this.limits.maxFailuresPerAddress, now);
  }

  recordSuccess(userId: string): void {
    this.users.delete(userId);
  }

  private bump(map: Map<string, Record>, key: string, max: number, now: number): void {
    const windowStart = now - this.limits.windowSeconds * 1000;
    const record = map.get(key) ?? { failures: [], lockedUntil: 0 };
    record.failures = record.failures.filter((t) => t > windowStart);
    record.failures.push(now);
    if (record.failures.length >= max) {
      record.lockedUntil = now + this.limits.lockoutSeconds * 1000;
      record.failures = [];
    }
    map.delete(key);
    map.set(key, record);
    if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
  }
}
