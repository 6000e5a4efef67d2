// CSP versions and the namespaces that identify them (reference imps-csp.md §1).

export type CspVersion = '1.1' | '1.2' | '1.3';
export const CSP_VERSIONS: readonly CspVersion[] = ['1.1', '1.2', '1.3'];

export interface Namespaces {
  /** on WV-CSP-Message */
  csp: string;
  /** on TransactionContent */
  trc: string;
  /** on PresenceSubList */
  pa: string;
}

export const NAMESPACES: Record<CspVersion, Namespaces> = {
  '1.1': {
    csp: 'http://www.wireless-village.org/CSP1.1',
    trc: 'http://www.wireless-village.org/TRC1.1',
    pa: 'http://www.wireless-village.org/PA1.1',
  },
  '1.2': {
    csp: 'http://www.openmobilealliance.org/DTD/WV-CSP1.2',
    trc: 'http://www.openmobilealliance.org/DTD/WV-TRC1.2',
    pa: 'http://www.openmobilealliance.org/DTD/WV-PA1.2',
  },
  '1.3': {
    csp: 'http://www.openmobilealliance.org/DTD/IMPS-CSP1.3',
    trc: 'http://www.openmobilealliance.org/DTD/IMPS-TRC1.3',
    pa: 'http://www.openmobilealliance.org/DTD/IMPS-PA1.3',
  },
};

/**
 * The version named by a namespace URI or a DOCTYPE public id, or undefined.
 * Like Baraza, read the number after "CSP" / "TRC" / "PA": real handsets mix vendor prefixes
 * (a Nokia sends the 1.2 DOCTYPE with the 1.1 namespace), so the digits are what count.
 */
export function versionFromIdentifier(identifier: string | undefined): CspVersion | undefined {
  if (!identifier) return undefined;
  const match = /(?:CSP|TRC|PA)[\s-]*(1\.[123])\b/i.exec(identifier);
  return match ? (match[1] as CspVersion) : undefined;
}
