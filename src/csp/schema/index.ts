// The one CSP schema: for each version, every element's canonical name, wire name, data type,
// WBXML token and content model. Built at load time from the verified WBXML tables
// (wbxml-tables.json, a copy of ../shared/reference/wv-csp-wbxml-tables.json) and the content
// models in content-models.ts. Every codec is an interpreter of what this module answers.
import tables from './wbxml-tables.json' with { type: 'json' };
import { CONTENT_MODELS } from './content-models.ts';
import type { CspVersion } from '../versions.ts';
import { CSP_VERSIONS } from '../versions.ts';
import type { CspElement } from '../tree.ts';

export type ElementType = 'structure' | 'empty' | 'any' | 'string' | 'integer' | 'boolean' | 'datetime';

export interface WbxmlToken {
  page: number;
  token: number;
}

export interface ElementDef {
  /** Canonical name used in trees and by features (1.2 spelling). */
  name: string;
  /** Name this version uses on the wire (differs only for BlockUser-Request in 1.1). */
  wireName: string;
  type: ElementType;
  /** WBXML tag token in this version, if the version's table defines one. */
  token?: WbxmlToken;
  /** Parsed content model for structures. */
  model?: Particle;
}

/** A content-model particle: a named element or a group, with repetition bounds. */
export type Particle =
  | { kind: 'element'; name: string; min: number; max: number }
  | { kind: 'sequence' | 'choice'; items: Particle[]; min: number; max: number };

interface VersionTables {
  codePages: Record<string, Record<string, string>>;
  aliases: Record<string, string[]>;
  legacyTokens?: Record<string, Record<string, string>>;
  opaqueTypes: { integer: string[]; dateTime: string[] };
  'booleanElements(T/F tokens 0x2C/0x0B)': string[];
  extValue: { EXT_T_0: Record<string, string> };
}

/** Canonical names whose wire spelling differs in some version's table. */
const CANONICAL_RENAMES: Record<string, string> = { 'BlockUser-Request': 'BlockEntity-Request' };

/** Parse a DTD-style model string (see content-models.ts for the grammar). */
export function parseModel(text: string): Particle | 'EMPTY' | 'ANY' {
  const source = text.trim();
  if (source === 'EMPTY' || source === 'ANY') return source;
  const tokens = source.match(/[A-Za-z0-9_.:-]+|[(),|?*+]/g) ?? [];
  let pos = 0;
  const peek = () => tokens[pos];
  const quantify = (p: Particle): Particle => {
    const q = peek();
    if (q === '?') (pos++, (p.min = 0), (p.max = 1));
    else if (q === '*') (pos++, (p.min = 0), (p.max = Infinity));
    else if (q === '+') (pos++, (p.min = 1), (p.max = Infinity));
    return p;
  };
  const parseItem = (): Particle => {
    const t = tokens[pos++];
    if (t === '(') {
      const group = parseGroup();
      if (tokens[pos++] !== ')') throw new Error(`content model "${source}": missing ")"`);
      return quantify(group);
    }
    if (!t || /^[(),|?*+]$/.test(t)) throw new Error(`content model "${source}": unexpected "${t ?? 'end'}"`);
    return quantify({ kind: 'element', name: t, min: 1, max: 1 });
  };
  const parseSequence = (): Particle => {
    const items = [parseItem()];
    while (peek() === ',') (pos++, items.push(parseItem()));
    return items.length === 1 ? items[0]! : { kind: 'sequence', items, min: 1, max: 1 };
  };
  const parseGroup = (): Particle => {
    const items = [parseSequence()];
    while (peek() === '|') (pos++, items.push(parseSequence()));
    return items.length === 1 ? items[0]! : { kind: 'choice', items, min: 1, max: 1 };
  };
  const root = parseGroup();
  if (pos !== tokens.length) throw new Error(`content model "${source}": unexpected "${tokens[pos]}"`);
  return root;
}

/** Names a particle mentions, in model order (first mention wins). */
export function modelNames(p: Particle, out: string[] = []): string[] {
  if (p.kind === 'element') {
    if (!out.includes(p.name)) out.push(p.name);
  } else for (const item of p.items) modelNames(item, out);
  return out;
}

function modelFor(name: string, version: CspVersion): string | undefined {
  const models = CONTENT_MODELS[name];
  if (!models) return undefined;
  let chosen: string | undefined;
  for (const v of CSP_VERSIONS) {
    if (models[v] !== undefined) chosen = models[v];
    if (v === version) break;
  }
  return chosen;
}

export class VersionSchema {
  private readonly defs = new Map<string, ElementDef>();
  private readonly byLowerName = new Map<string, string>();
  private readonly orderCache = new Map<string, Map<string, number>>();
  private readonly regexCache = new Map<string, RegExp>();
  private readonly repeatCache = new Map<string, Set<string>>();
  /** Value tokens (EXT_T_0 index → string) of this version. */
  readonly valueTokens: Map<number, string>;

  constructor(
    readonly version: CspVersion,
    readonly tables: VersionTables,
  ) {
    const integers = new Set(tables.opaqueTypes.integer);
    const dates = new Set(tables.opaqueTypes.dateTime);
    const booleans = new Set(tables['booleanElements(T/F tokens 0x2C/0x0B)']);

    const define = (wireName: string, token: WbxmlToken | undefined) => {
      const name = CANONICAL_RENAMES[wireName] ?? wireName;
      if (this.defs.has(name)) return;
      const modelText = modelFor(name, version);
      const parsed = modelText === undefined ? undefined : parseModel(modelText);
      const type: ElementType =
        parsed === 'EMPTY' ? 'empty'
        : parsed === 'ANY' ? 'any'
        : parsed ? 'structure'
        : integers.has(name) ? 'integer'
        : dates.has(name) ? 'datetime'
        : booleans.has(name) ? 'boolean'
        : 'string';
      const def: ElementDef = { name, wireName, type };
      if (token) def.token = token;
      if (parsed && parsed !== 'EMPTY' && parsed !== 'ANY') def.model = parsed;
      this.defs.set(name, def);
      this.byLowerName.set(name.toLowerCase(), name);
      this.byLowerName.set(wireName.toLowerCase(), name);
    };

    for (const [page, entries] of Object.entries(tables.codePages)) {
      for (const [hex, wireName] of Object.entries(entries)) define(wireName, { page: Number(page), token: Number(hex) });
    }
    // Elements some versions only know in XML (tokens a later version removed, Baraza extensions).
    for (const entries of Object.values(tables.legacyTokens ?? {})) for (const wireName of Object.values(entries)) define(wireName, undefined);
    for (const name of Object.keys(CONTENT_MODELS)) if (modelFor(name, version) !== undefined) define(name, undefined);
    // Spellings other implementations use for the same token.
    for (const [ref, names] of Object.entries(tables.aliases)) {
      const [page, hex] = ref.split(':');
      const canonicalWire = tables.codePages[page!]?.[hex!];
      if (!canonicalWire) continue;
      const canonical = CANONICAL_RENAMES[canonicalWire] ?? canonicalWire;
      for (const alias of names) if (!this.byLowerName.has(alias.toLowerCase())) this.byLowerName.set(alias.toLowerCase(), canonical);
    }
    this.valueTokens = new Map(Object.entries(tables.extValue.EXT_T_0).map(([hex, value]) => [Number(hex), value]));
  }

  /** Definition by canonical name. */
  get(name: string): ElementDef | undefined {
    return this.defs.get(name);
  }

  /** Canonical name for a name as it appeared on the wire (case-insensitive, aliases), if known. */
  canonicalName(wireName: string): string | undefined {
    return this.byLowerName.get(wireName.toLowerCase());
  }

  wireName(name: string): string {
    return this.defs.get(name)?.wireName ?? name;
  }

  typeOf(name: string): ElementType {
    return this.defs.get(name)?.type ?? 'string';
  }

  /** All defined canonical names. */
  names(): IterableIterator<string> {
    return this.defs.keys();
  }

  /**
   * Whether `child` may occur more than once inside `parent` (its content model repeats it, or
   * a group around it, or names it twice). Unknown parents and children: false.
   */
  repeatable(parent: string, child: string): boolean {
    let names = this.repeatCache.get(parent);
    if (!names) {
      names = new Set();
      const model = this.defs.get(parent)?.model;
      if (model) collectRepeatable(model, false, names, new Map());
      this.repeatCache.set(parent, names);
    }
    return names.has(child);
  }

  /** Children reordered as the parent's content model lists them (unknown names last, stable). */
  orderChildren(parent: string, children: CspElement[]): CspElement[] {
    if (children.length < 2) return children;
    const order = this.positions(parent);
    if (!order) return children;
    // Already in model order (the usual case): nothing to do.
    let last = -1;
    let sorted = true;
    for (const c of children) {
      const rank = order.get(c.name) ?? Number.MAX_SAFE_INTEGER;
      if (rank < last) {
        sorted = false;
        break;
      }
      last = rank;
    }
    if (sorted) return children;
    // A sequence that already conforms is kept: sorting by first mention would break models
    // that name an element twice (1.3 Notification-Request names ContactListIDList in two branches).
    const model = this.defs.get(parent)!.model!;
    if (this.matcher(parent, model).test(children.map((c) => `<${c.name}>`).join(''))) return children;
    return children
      .map((c, i) => ({ c, i, rank: order.get(c.name) ?? Number.MAX_SAFE_INTEGER }))
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map((x) => x.c);
  }

  private positions(parent: string): Map<string, number> | undefined {
    let order = this.orderCache.get(parent);
    if (!order) {
      const model = this.defs.get(parent)?.model;
      if (!model) return undefined;
      order = new Map(modelNames(model).map((n, i) => [n, i]));
      this.orderCache.set(parent, order);
    }
    return order;
  }

  /**
   * Problems that make a tree break this version's content models (empty when it conforms).
   * Used by tests to check that everything the server emits is what strict handsets expect.
   */
  validate(node: CspElement, path = ''): string[] {
    const here = path ? `${path}/${node.name}` : node.name;
    const def = this.defs.get(node.name);
    if (!def) return [`${here}: not an element of CSP ${this.version}`];
    const problems: string[] = [];
    switch (def.type) {
      case 'empty':
        if (node.children.length || (node.text ?? '') !== '') problems.push(`${here}: must be empty`);
        break;
      case 'any':
        if (node.children.length !== 1) problems.push(`${here}: must hold exactly one element`);
        break;
      case 'structure': {
        const sequence = node.children.map((c) => `<${c.name}>`).join('');
        if (!this.matcher(node.name, def.model!).test(sequence)) {
          problems.push(`${here}: children (${node.children.map((c) => c.name).join(', ')}) do not match (${modelText(def.model!)})`);
        }
        break;
      }
      case 'integer':
        if (!/^\d+$/.test(node.text ?? '')) problems.push(`${here}: "${node.text}" is not an integer`);
        break;
      case 'boolean':
        if (node.text !== 'T' && node.text !== 'F') problems.push(`${here}: "${node.text}" is not T or F`);
        break;
      default:
        if (node.children.length) problems.push(`${here}: is a leaf but has children`);
    }
    for (const c of node.children) problems.push(...this.validate(c, here));
    return problems;
  }

  private matcher(name: string, model: Particle): RegExp {
    let re = this.regexCache.get(name);
    if (!re) {
      re = new RegExp(`^${particleRegex(model)}$`);
      this.regexCache.set(name, re);
    }
    return re;
  }
}

function collectRepeatable(p: Particle, insideRepeat: boolean, out: Set<string>, seen: Map<string, number>): void {
  const repeats = insideRepeat || p.max > 1;
  if (p.kind === 'element') {
    const count = (seen.get(p.name) ?? 0) + 1;
    seen.set(p.name, count);
    if (repeats || count > 1) out.add(p.name);
    return;
  }
  for (const item of p.items) collectRepeatable(item, repeats, out, seen);
}

function quantifier(p: Particle): string {
  if (p.min === 1 && p.max === 1) return '';
  if (p.min === 0 && p.max === 1) return '?';
  if (p.min === 0) return '*';
  return '+';
}

function particleRegex(p: Particle): string {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (p.kind === 'element') return `(?:<${escape(p.name)}>)${quantifier(p)}`;
  const joined = p.items.map(particleRegex).join(p.kind === 'sequence' ? '' : '|');
  return `(?:${joined})${quantifier(p)}`;
}

function modelText(p: Particle): string {
  if (p.kind === 'element') return p.name + quantifier(p);
  return `(${p.items.map(modelText).join(p.kind === 'sequence' ? ', ' : ' | ')})${quantifier(p)}`;
}

const schemas = new Map<CspVersion, VersionSchema>(
  CSP_VERSIONS.map((v) => [v, new VersionSchema(v, (tables as unknown as Record<string, VersionTables>)[v]!)]),
);

export function schemaFor(version: CspVersion): VersionSchema {
  return schemas.get(version)!;
}
