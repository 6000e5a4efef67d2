// wv: addresses (reference imps-csp.md §8). Users are kept canonical: lower-case, no "wv:",
// always with a domain ("alice@imps.test"); on the wire they become "wv:alice@imps.test".
import { CspError } from './status.ts';

export interface UserAddress {
  /** Canonical form: "alice@imps.test". */
  id: string;
  local: string;
  domain: string;
}

// A user part is printable ASCII letters, digits and . _ + - (a leading + with digits is an
// MSISDN). Nothing else: no address syntax (/ @), none of Baraza's reserved characters, and no
// look-alike Unicode letters that would let one user impersonate another.
const USER_PART = /^[a-z0-9._+-]+$/;

/**
 * Parse a user ID as a phone sends it: "wv:" optional, case-insensitive, the domain optional
 * (bare IDs belong to defaultDomain). Throws CspError(402) when it cannot be a user.
 */
export function parseUserId(raw: string, defaultDomain: string): UserAddress {
  let s = raw.trim();
  if (/^wv:/i.test(s)) s = s.slice(3);
  const at = s.lastIndexOf('@');
  const local = (at >= 0 ? s.slice(0, at) : s).toLowerCase();
  const domain = (at >= 0 ? s.slice(at + 1) : defaultDomain).toLowerCase();
  if (!local || local.length > 64 || !USER_PART.test(local)) {
    throw new CspError(402, `"${raw}" is not a valid user ID`);
  }
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain) || domain.length > 253) {
    throw new CspError(402, `"${raw}" has an invalid domain`);
  }
  return { id: `${local}@${domain}`, local, domain };
}

/**
 * A recipient as a request names it: a user id of one of our domains, or the Result code that
 * refuses it (516 another domain's user, 531 not a user id at all).
 */
export function localRecipient(raw: string, domains: readonly string[]): { id: string } | { code: 516 | 531 } {
  try {
    const address = parseUserId(raw, domains[0]!);
    return domains.includes(address.domain) ? { id: address.id } : { code: 516 };
  } catch {
    return { code: 531 };
  }
}

/** The wire form of a canonical user id. */
export function wvAddress(id: string): string {
  return `wv:${id}`;
}

/**
 * How one session wants addresses spelled. Android builds its own address from what the user
 * typed ("wv:alice", no domain) and compares addresses literally, so a phone that logged in
 * with a bare user ID must see its own domain left out — for itself and for its neighbours —
 * or it files messages under the wrong conversation.
 */
export interface AddressStyle {
  /** Write users of this domain without "@domain". */
  omitDomain?: string;
}

export function displayAddress(id: string, style: AddressStyle): string {
  const at = id.lastIndexOf('@');
  if (style.omitDomain && id.slice(at + 1) === style.omitDomain) return `wv:${id.slice(0, at)}`;
  return `wv:${id}`;
}
