// Failed-login throttling and auto-registration limits. After too many failures inside a
// window, further attempts are refused (whatever the password) until a lockout passes:
//   - per user *and* address (one phone guessing one account),
//   - per address (one client trying many accounts),
//   - per user over all addresses, at a much higher bound (distributed guessing), so that a
//     stranger cannot lock a user out with a handful of wrong passwords.
// IPv6 addresses count per /64, the block one subscriber usually has. Everything lives in
// memory, so a restart forgives everyone.
import { isIPv6 } from 'node:net';

export interface ThrottleLimits {
  windowSeconds: number;
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  maxFailuresPerUserAllAddresses: number;
  lockoutSeconds: number;
  registrationsPerAddressPerHour: number;
}

interface Tally {
  failures: number[];
  lockedUntil: number;
}

/** Entries kept at most per map; oldest are dropped first so a flood cannot exhaust memory. */
const MAX_TRACKED = 100_000;

/** The unit an address is counted in: itself for IPv4, its /64 for IPv6. */
export function addressKey(address: string): string {
  const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (!isIPv6(plain)) return plain;
  const expanded = plain.includes('::')
    ? (() => {
        const [head, tail] = plain.split('::') as [string, string];
        const h = head ? head.split(':') : [];
        const t = tail ? tail.split(':') : [];
        return [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
      })()
    : plain.split(':');
  return expanded.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

export class LoginThrottle {
  private readonly userAtAddress = new Map<string, Tally>();
  private readonly addresses = new Map<string, Tally>();
  private readonly users = new Map<string, Tally>();
  private readonly registrations = new Map<string, number[]>();

  constructor(private readonly limits: ThrottleLimits) {}

  /** Seconds until this user may try again from this address; 0 when not locked. */
  lockedFor(userId: string, address: string, now: number): number {
    const a = addressKey(address);
    const until = Math.max(
      this.userAtAddress.get(`${userId}\n${a}`)?.lockedUntil ?? 0,
      this.addresses.get(a)?.lockedUntil ?? 0,
      this.users.get(userId)?.lockedUntil ?? 0,
    );
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  recordFailure(userId: string, address: string, now: number): void {
    const a = addressKey(address);
    this.bump(this.userAtAddress, `${userId}\n${a}`, this.limits.maxFailuresPerUser, now);
    this.bump(this.addresses, a, this.limits.maxFailuresPerAddress, now);
    this.bump(this.users, userId, this.limits.maxFailuresPerUserAllAddresses, now);
  }

  recordSuccess(userId: string, address: string): void {
    this.userAtAddress.delete(`${userId}\n${addressKey(address)}`);
  }

  /** Whether one more account may be auto-registered from this address now (and count it). */
  allowRegistration(address: string, now: number): boolean {
    const a = addressKey(address);
    const recent = (this.registrations.get(a) ?? []).filter((t) => t > now - 3_600_000);
    if (recent.length >= this.limits.registrationsPerAddressPerHour) return false;
    recent.push(now);
    this.registrations.delete(a);
    this.registrations.set(a, recent);
    if (this.registrations.size > MAX_TRACKED) this.registrations.delete(this.registrations.keys().next().value!);
    return true;
  }

  private bump(map: Map<string, Tally>, key: string, max: number, now: number): void {
    const windowStart = now - this.limits.windowSeconds * 1000;
    const tally = map.get(key) ?? { failures: [], lockedUntil: 0 };
    tally.failures = tally.failures.filter((t) => t > windowStart);
    tally.failures.push(now);
    if (tally.failures.length >= max) {
      tally.lockedUntil = now + this.limits.lockoutSeconds * 1000;
      tally.failures = [];
    }
    map.delete(key);
    map.set(key, tally);
    if (map.size > MAX_TRACKED) {
      // Drop the oldest entry that is not currently locked (locked ones are what protects users).
      for (const [k, v] of map) {
        if (v.lockedUntil <= now) {
          map.delete(k);
          break;
        }
      }
    }
  }
}
