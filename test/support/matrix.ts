// The protocol variants every end-to-end suite runs in. Suites loop over MATRIX instead of
// naming versions themselves, so a new encoding is added here once and runs everywhere.
import type { CspVersion } from '../../src/csp/versions.ts';
import type { Encoding } from './phone.ts';

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
