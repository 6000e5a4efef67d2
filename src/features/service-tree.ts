// Service negotiation (reference imps-csp.md §3.8): the WVCSPFeat tree of features, function
// groups and function codes, what Village implements, and what a client's Service-Request
// agrees to. The tree's shape per version comes from the schema's content models.
import type { CspElement } from '../csp/tree.ts';
import { el } from '../csp/tree.ts';
import type { CspVersion } from '../csp/versions.ts';
import { modelNames, schemaFor } from '../csp/schema/index.ts';

export type Feature = 'FundamentalFeat' | 'PresenceFeat' | 'IMFeat' | 'GroupFeat';
export const FEATURES: readonly Feature[] = ['FundamentalFeat', 'PresenceFeat', 'IMFeat', 'GroupFeat'];

/** "All functions of this feature" markers (1.2+). */
const ALL_MARKERS = new Set(['MF', 'MP', 'MM', 'MG']);

/** Function codes Village really implements. Add a code here when its primitives work. */
export const IMPLEMENTED_FUNCTIONS: ReadonlySet<string> = new Set([
  'GETSPI',
  // FundamentalFeat: search (users and groups) and stopping a search.
  'SRCH',
  'STSRC',
  // FundamentalFeat: invitations and their cancelling.
  'INVIT',
  'CAINV',
  // IMFeat: delivery reports, forwarding, delivery method, message list, get, reject,
  // notification and push delivery, block lists.
  'MDELIV',
  'FWMSG',
  'SETD',
  'GETLM',
  'GETM',
  'REJCM',
  'NOTIF',
  'NEWM',
  'GLBLU',
  'BLENT',
  // PresenceFeat: contact lists, watcher list and reactive authorisation, presence, attribute lists.
  'GCLI',
  'CCLI',
  'DCLI',
  'MCLS',
  'GETWL',
  'REACT',
  'CAAUT',
  'GETAUT',
  'GETPR',
  'UPDPR',
  'CALI',
  'DALI',
  'GALS',
  // GroupFeat: management, use (notices), members and access, joined users.
  'CREAG',
  'DELGR',
  'GETGP',
  'SETGP',
  'SUBGCN',
  'GRCHN',
  'GETGM',
  'ADDGM',
  'RMVGM',
  'MBRAC',
  'REJEC',
  'GETJU',
]);

export interface AgreedFunctions {
  features: Set<Feature>;
  functions: Set<string>;
}

interface Tree {
  /** feature → function group → function codes */
  [feature: string]: Map<string, string[]>;
}

const trees = new Map<CspVersion, Tree>();

/** The protocol's feature tree for a version, read off the content models. */
export function featureTree(version: CspVersion): Tree {
  let tree = trees.get(version);
  if (!tree) {
    const schema = schemaFor(version);
    const namesIn = (name: string) => {
      const model = schema.get(name)?.model;
      return model ? modelNames(model).filter((n) => !ALL_MARKERS.has(n)) : [];
    };
    tree = {};
    for (const feature of FEATURES) tree[feature] = new Map(namesIn(feature).map((group) => [group, namesIn(group)]));
    trees.set(version, tree);
  }
  return tree;
}

function featureOf(version: CspVersion, code: string): Feature | undefined {
  const tree = featureTree(version);
  return FEATURES.find((f) => [...tree[f]!.values()].some((codes) => codes.includes(code)));
}

/**
 * Codes a version's tree names but whose primitives that version lacks: 1.3 lists GETAUT, yet
 * GetReactiveAuthStatus only has legacy tokens there and its ReactiveAuthState token was reused.
 */
const NOT_OFFERED: Partial<Record<CspVersion, ReadonlySet<string>>> = { '1.3': new Set(['GETAUT']) };

/** Everything the server implements in a version. */
export function allImplemented(version: CspVersion): AgreedFunctions {
  const functions = new Set<string>();
  const features = new Set<Feature>();
  for (const code of IMPLEMENTED_FUNCTIONS) {
    if (NOT_OFFERED[version]?.has(code)) continue;
    const feature = featureOf(version, code);
    if (feature) (functions.add(code), features.add(feature));
  }
  return { features, functions };
}

/**
 * What a client asked for in Service-Request/Functions. A feature or group element that is
 * present but empty (Android's way) or holds MF/MP/MM/MG means all of it; no Functions at all
 * means everything.
 */
export function requestedFunctions(version: CspVersion, functions: CspElement | undefined): Set<string> {
  const tree = featureTree(version);
  const all = (feature: Feature) => [...tree[feature]!.values()].flat();
  const root = functions?.children.find((c) => c.name === 'WVCSPFeat');
  if (!root) return new Set(FEATURES.flatMap(all));
  const wanted = new Set<string>();
  for (const featureEl of root.children) {
    const feature = featureEl.name as Feature;
    const groups = tree[feature];
    if (!groups) continue;
    if (featureEl.children.length === 0 || featureEl.children.some((c) => ALL_MARKERS.has(c.name))) {
      for (const code of all(feature)) wanted.add(code);
      continue;
    }
    for (const groupEl of featureEl.children) {
      const codes = groups.get(groupEl.name) ?? [];
      const listed = groupEl.children.map((c) => c.name).filter((n) => codes.includes(n));
      for (const code of groupEl.children.length === 0 ? codes : listed) wanted.add(code);
    }
  }
  return wanted;
}

/** The agreed subset: requested ∩ implemented. */
export function agree(version: CspVersion, requested: Set<string>): AgreedFunctions {
  const implemented = allImplemented(version);
  const functions = new Set([...requested].filter((code) => implemented.functions.has(code)));
  const features = new Set<Feature>();
  for (const code of functions) features.add(featureOf(version, code)!);
  return { features, functions };
}

/** A WVCSPFeat tree listing the given function codes (empty groups and features left out). */
export function functionTree(version: CspVersion, functions: Set<string>): CspElement {
  const tree = featureTree(version);
  return el(
    'WVCSPFeat',
    FEATURES.map((feature) => {
      const groups = [...tree[feature]!.entries()]
        .map(([group, codes]) => {
          const present = codes.filter((c) => functions.has(c));
          return present.length ? el(group, present.map((c) => el(c))) : undefined;
        })
        .filter(Boolean);
      return groups.length ? el(feature, groups) : undefined;
    }),
  );
}
