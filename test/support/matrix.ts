// The protocol variants every end-to-end suite runs in. Suites loop over MATRIX instead of
// naming versions themselves, so a new encoding is added here once and runs everywhere.
import assert from 'node:assert/strict';
import type { CspVersion } from '../../src/csp/versions.ts';
import { Phone, resultCode, type Encoding } from './phone.ts';

export interface Variant {
  version: CspVersion;
  encoding: Encoding;
  /** For test names: "CSP 1.2 xml". */
  label: string;
}

export const VERSIONS: readonly CspVersion[] = ['1.1', '1.2', '1.3'];
export const ENCODINGS: readonly Encoding[] = ['xml', 'wbxml', 'json'];

export const MATRIX: readonly Variant[] = ENCODINGS.flatMap((encoding) =>
  VERSIONS.map((version) => ({ version, encoding, label: `CSP ${version} ${encoding}` })),
);

/** What a suite needs to speak one variant: user names of its own, and phones of its version and encoding. */
export interface VariantKit {
  /** A user name of this variant alone ("alice" in CSP 1.2 xml: "alice-12-xml"), so variants never share users. */
  user(name: string): string;
  /** The full address of user(name): "wv:alice-12-xml@imps.test". */
  address(name: string, domain?: string): string;
  /** A phone of the variant, not logged in. */
  phone(options?: { clientId?: string }): Phone;
  /** A phone logged in as user(name) with password "pw" (asserting the login gets 200). */
  loggedIn(name: string, options?: { clientId?: string }): Promise<Phone>;
  /** loggedIn() for each name in turn. */
  online(...names: string[]): Promise<Phone[]>;
}

/**
 * The kit for one variant. `server` is asked for at each phone() call, not here: suites build
 * their kits while the tests are declared, before their `before` hook has started the server.
 */
export function variantKit(server: () => { url: string }, { version, encoding }: Variant): VariantKit {
  const user = (name: string) => `${name}-${version.replace('.', '')}-${encoding}`;
  const phone = (options: { clientId?: string } = {}) => new Phone(server(), { version, encoding, ...options });
  const loggedIn = async (name: string, options: { clientId?: string } = {}) => {
    const p = phone(options);
    assert.equal(resultCode(await p.loginPassword(user(name), 'pw')), 200);
    return p;
  };
  return {
    user,
    address: (name, domain = 'imps.test') => `wv:${user(name)}@${domain}`,
    phone,
    loggedIn,
    online: async (...names) => {
      const phones: Phone[] = [];
      for (const name of names) phones.push(await loggedIn(name));
      return phones;
    },
  };
}
