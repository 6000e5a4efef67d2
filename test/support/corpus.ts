// A deterministic corpus of complete CSP messages, one or more per primitive of a version,
// generated from the schema (src/csp/schema) rather than written by hand, so a primitive or a
// content model added to the schema is covered without touching this file.
//
// Every primitive (every element that can be the child of TransactionContent) gets a complete
// WV-CSP-Message built with buildMessage, whose primitive is filled from its content model:
//   * every optional particle is present, every repeatable one twice (to exercise repetition);
//   * a choice takes one branch; a primitive whose tree holds choices is generated in as many
//     variants as its widest choice has branches, and variant k takes branch (k + offset) mod n,
//     the offset a hash of the seed and the choice's path, so every branch of every choice that
//     all variants reach occurs (a choice nested in another's branch only where that branch is
//     taken); a repeated choice takes two branches, in model order;
//   * leaves get values of their type, cycling through pools so every value occurs somewhere:
//     integers (0, 4294967295, …), booleans T/F, DateTimes (with Z, without zone — the form
//     libwbxml writes as 6-byte OPAQUE — and extended format), and strings: plain, non-ASCII
//     UTF-8, XML specials, surrounding/inner whitespace, and every value-token string of the
//     version's EXT_T_0 table (text/plain, Inband, …);
//   * every fourth message also fills the envelope's optional parts (CIR, ExtBlock, SegmentInfo);
//   * elements without a WBXML tag token in the version (1.3 legacy names) are left out, so
//     every message can be encoded in WBXML as well as XML; recursion is bounded.
// Used by the oracle tests, the benchmark and the fuzz test: no dependencies beyond src/, fast.
import { modelNames, schemaFor, type Particle, type VersionSchema } from '../../src/csp/schema/index.ts';
import { buildMessage, type TransactionMode } from '../../src/csp/envelope.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';

export interface CorpusEntry {
  /** "1.2 Login-Request", with "#k" for the k-th variant of primitives that have choices. */
  name: string;
  tree: CspElement;
}

export interface CorpusOptions {
  /** Changes values and which branch each variant starts from; default 1. */
  seed?: number;
}

/** Deepest nesting below the primitive, and how often an element may recur on one path. */
const MAX_DEPTH = 24;
const MAX_RECURRENCE = 1;

/**
 * The primitives of a version, derived from the schema: elements with a tag token that are
 * named like primitives (…-Request, …-Response, …-User), plus the structures no content model
 * mentions (the roots of the model graph: NewMessage, Disconnect, GroupChangeNotice, …), plus
 * Status — the generic status primitive, the one primitive that is also a child elsewhere
 * (CommC/Status shares its token, see content-models.ts).
 */
export function primitives(version: CspVersion): string[] {
  const schema = schemaFor(version);
  const mentioned = new Set<string>();
  for (const name of schema.names()) {
    const model = schema.get(name)!.model;
    if (model) for (const child of modelNames(model)) mentioned.add(child);
  }
  const out: string[] = [];
  for (const name of schema.names()) {
    const def = schema.get(name)!;
    if (!def.token || name === 'WV-CSP-Message') continue;
    const named = /-(Request|Response|User)$/.test(name);
    const root = (def.type === 'structure' || def.type === 'empty') && !mentioned.has(name);
    if (named || root || name === 'Status') out.push(name);
  }
  return out.sort();
}

// ── Deterministic randomness ─────────────────────────────────────────────────────────────────

function hash(s: string): number {
  // FNV-1a, 32 bits.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ── Value pools ──────────────────────────────────────────────────────────────────────────────

const INTEGERS = ['0', '4294967295', '1', '200', '3600', '127', '128', '255', '256', '65535', '65536', '16777216', '2147483648', '531'];
const DATETIMES = [
  '20240101T120000Z',
  '20070625T055652Z',
  // No zone designator: libwbxml writes this form as the 6-byte OPAQUE DateTime (odd minutes
  // and non-zero seconds exercise the bit packing).
  '20240101T120000',
  '20070625T055652',
  '19991231T235959Z',
  '20240229T000001Z',
  '19991231T235959',
  // Extended format, which every encoder keeps as a string.
  '2001-10-19T09:50:31Z',
];
const STRINGS = [
  'wv:alice@example.org',
  'Grüße aus Köln – café ☕ 日本語',
  'a < b & c > "d" \'e\'',
  '  padded id  ',
  'line one\nline two\ttabbed',
  'emoji 😀 outside the BMP',
  'http://www.example.com/path?x=1&y=2',
  'text/html',
  'x',
  'Ñandú #42',
  // CRLF-separated text such as a vCard (XML must carry the CR as &#13;).
  'BEGIN:VCARD\r\nFN:Alice\r\nEND:VCARD',
  // Longer than tshark's 240-character item labels.
  `long ${'0123456789abcdef'.repeat(16)} end`,
];

class Values {
  private ints: number;
  private dates: number;
  private strings: number;
  private tokens: number;
  private bool: number;
  private readonly tokenStrings: string[];

  constructor(
    schema: VersionSchema,
    private readonly rng: () => number,
    start: number,
  ) {
    // Every value-token string of the version (first spelling of duplicates, in index order).
    this.tokenStrings = [...new Set([...schema.valueTokens.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s))];
    this.ints = start;
    this.dates = start;
    this.strings = start;
    this.tokens = start;
    this.bool = start;
  }

  text(type: string): string {
    switch (type) {
      case 'integer':
        return INTEGERS[this.ints++ % INTEGERS.length]!;
      case 'boolean':
        return this.bool++ % 2 === 0 ? 'T' : 'F';
      case 'datetime':
        return DATETIMES[this.dates++ % DATETIMES.length]!;
      default:
        // About one string in three is a value-token string, walked through in order.
        if (this.rng() < 0.35) return this.tokenStrings[this.tokens++ % this.tokenStrings.length]!;
        return STRINGS[this.strings++ % STRINGS.length]!;
    }
  }
}

// ── Generation ───────────────────────────────────────────────────────────────────────────────

interface Context {
  schema: VersionSchema;
  version: CspVersion;
  variant: number;
  seed: number;
  values: Values;
}

/** Whether an element can be written in this version (has a tag token). */
function available(schema: VersionSchema, name: string): boolean {
  return schema.get(name)?.token !== undefined;
}

function element(ctx: Context, name: string, path: string[]): CspElement | undefined {
  const { schema } = ctx;
  const def = schema.get(name);
  if (!def || !def.token) return undefined;
  const recurrences = path.filter((n) => n === name).length;
  const node: CspElement = { name, children: [] };
  if (name === 'PresenceSubList') node.attrs = { xmlns: NAMESPACES[ctx.version].pa };
  switch (def.type) {
    case 'empty':
      return node;
    case 'any':
      return undefined;
    case 'structure': {
      // Past the bounds only what the model requires is generated (none of today's models
      // recurse, so this only guards future ones).
      const minimal = path.length >= MAX_DEPTH || recurrences > MAX_RECURRENCE;
      if (path.length >= MAX_DEPTH + 8) return undefined;
      // Children come out in model order (a repeated choice's picks sorted by branch).
      node.children = particle(ctx, def.model!, [...path, name], `${path.join('/')}/${name}`, minimal);
      return node;
    }
    default:
      node.text = ctx.values.text(def.type);
      return node;
  }
}

/** Whether a particle can produce at least what it requires in this version. */
function feasible(schema: VersionSchema, p: Particle): boolean {
  if (p.min === 0) return true;
  if (p.kind === 'element') return available(schema, p.name);
  if (p.kind === 'sequence') return p.items.every((item) => feasible(schema, item));
  return p.items.some((item) => feasible(schema, item));
}

function particle(ctx: Context, p: Particle, path: string[], where: string, minimal: boolean): CspElement[] {
  const count = minimal ? p.min : p.max > 1 ? 2 : 1;
  const out: CspElement[] = [];
  if (p.kind === 'choice') {
    const branches = p.items.map((item, i) => ({ item, i })).filter(({ item }) => feasible(ctx.schema, item));
    if (branches.length === 0) return out;
    const offset = hash(`${ctx.seed}:${where}`);
    // The branches a repeated choice takes, in model order (as an encoder orders them).
    const picks = Array.from({ length: count }, (_, rep) => branches[(ctx.variant + rep + offset) % branches.length]!).sort((a, b) => a.i - b.i);
    picks.forEach((pick, rep) => out.push(...particle(ctx, pick.item, path, `${where}#${rep}|${pick.i}`, minimal)));
    return out;
  }
  for (let rep = 0; rep < count; rep++) {
    if (p.kind === 'element') {
      const e = element(ctx, p.name, path);
      if (e) out.push(e);
    } else {
      p.items.forEach((item, i) => out.push(...particle(ctx, item, path, `${where}#${rep}.${i}`, minimal)));
    }
  }
  return out;
}

/** The widest choice (number of feasible branches) reachable from an element. */
function widestChoice(schema: VersionSchema, name: string, seen = new Set<string>()): number {
  if (seen.has(name)) return 1;
  seen.add(name);
  const model = schema.get(name)?.model;
  if (!model) return 1;
  let widest = 1;
  const visit = (p: Particle) => {
    if (p.kind === 'element') {
      if (available(schema, p.name)) widest = Math.max(widest, widestChoice(schema, p.name, seen));
      return;
    }
    if (p.kind === 'choice') widest = Math.max(widest, p.items.filter((i) => feasible(schema, i)).length);
    p.items.forEach(visit);
  };
  visit(model);
  return widest;
}

/**
 * Fill the optional envelope parts buildMessage leaves out (1.2+ Session/CIR, Transaction/ExtBlock,
 * 1.3 TransactionDescriptor/SegmentInfo, …) from their content models, in model order.
 */
function completeEnvelope(ctx: Context, node: CspElement, path: string[]): void {
  const { schema } = ctx;
  const model = schema.get(node.name)?.model;
  if (!model || node.name === 'TransactionContent') return;
  for (const child of node.children) completeEnvelope(ctx, child, [...path, node.name]);
  const present = new Set(node.children.map((c) => c.name));
  const added: CspElement[] = [];
  for (const name of modelNames(model)) {
    if (present.has(name) || name === 'Poll' || name === 'SessionID') continue;
    const e = element(ctx, name, [...path, node.name]);
    if (e) added.push(e);
  }
  if (added.length) node.children = schema.orderChildren(node.name, [...node.children, ...added]);
}

function modeOf(primitive: string): TransactionMode {
  return /-Response$/.test(primitive) || primitive === 'Status' || primitive === 'MessageDelivered' ? 'Response' : 'Request';
}

/** Primitives sent before a session exists (Outband). */
const OUTBAND = /^(Login-|GetSPInfo-|WV-CSP-VersionDiscovery-)/;

/** A complete message for every primitive of a version (several for primitives with choices). */
export function corpus(version: CspVersion, options: CorpusOptions = {}): CorpusEntry[] {
  const seed = options.seed ?? 1;
  const schema = schemaFor(version);
  const out: CorpusEntry[] = [];
  let counter = 0;
  for (const name of primitives(version)) {
    const variants = widestChoice(schema, name);
    for (let variant = 0; variant < variants; variant++) {
      const rng = mulberry32(hash(`${seed}:${version}:${name}:${variant}`));
      const ctx: Context = { schema, version, variant, seed, values: new Values(schema, rng, counter) };
      const primitive = element(ctx, name, []);
      if (!primitive) continue;
      const sessionId = OUTBAND.test(name) ? undefined : `sess-${(hash(name) % 0xffff).toString(16)}`;
      const poll = counter % 3 === 0 ? undefined : counter % 3 === 1;
      const tree = buildMessage({
        version,
        ...(sessionId ? { sessionId } : {}),
        transactions: [{ mode: modeOf(name), id: `tx-${String(counter).padStart(4, '0')}`, primitive }],
        ...(poll !== undefined ? { poll } : {}),
      });
      // Every fourth message also carries the envelope's optional parts.
      if (counter % 4 === 3) completeEnvelope(ctx, tree, []);
      out.push({ name: `${version} ${name}${variants > 1 ? `#${variant}` : ''}`, tree });
      counter++;
    }
  }
  return out;
}
