// wv: addresses (reference imps-csp.md §8). Users are kept canonical: lower-case, no "wv:",
// always with a domain ("alice@imps.test"); on the wire they become "wv:alice@imps.test".
import { CspError } from './status.ts';

export interface UserAddress {
  /** Canonical form: "alice@imps.test". */
  id: string;
  local: string;
  domain: string;
}

// Characters that cannot be in a user part: address syntax (/ @), Baraza's reserved set, space, controls.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_IN_USER = /[\s/@~<>"'\\\u0000-\u001F\u007F]/;

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
  if (!local || local.length > 64 || FORBIDDEN_IN_USER.test(local)) {
    throw new CspError(402, `"${raw}" is not a valid user ID`);
  }
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(domain) || domain.length > 253) {
    throw new CspError(402, `"${raw}" has an invalid domain`);
  }
  return { id: `${local}@${domain}`, local, domain };
}

/** The wire form of a canonical user id. */
export function wvAddress(id: string): string {
  return `wv:${id}`;
}
