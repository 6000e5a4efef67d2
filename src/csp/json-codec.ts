// CSP in JSON, Village's own binding (README "JSON binding"; OMA defines none, and Baraza's
// was not JSON at all, reference imps-csp.md §10): bytes ⇄ element tree, interpreted through
// the schema, so a JSON message decodes to exactly the tree of its XML twin.
//
//   {"version": "1.2", "WV-CSP-Message": {"Session": {…}}}
//
// - Keys are element names (wire spelling of the version on output; any case and the
//   schema's aliases on input). A JSON object is unordered (RFC 8259 §4): output keys follow
//   the content model, and decoded children are put in content-model order whatever the
//   key order was.
// - A child the parent's content model lets repeat is always an array; any other child a single
//   value. Input may give a single value for an array, never an array for a single value.
//   Children a parent's model does not mention (and children of unknown parents) are an array
//   only when there are several.
// - Leaves: integer → number, boolean → true/false, string and datetime → string. Text that
//   is not canonical for its type (" 7", "007", "t") stays a string, so nothing is lost.
// - Empty elements: "" for a text leaf, {} for everything else (structures, EMPTY flags,
//   TransactionContent, unknown names).
// - A structure whose content model may be empty may also be a string: the schema uses one
//   name for a structure and a text leaf in a few places (CommC's Status "OPEN", ClientID sent
//   as plain text, 1.2-style AcceptedContentType in 1.3).
// - Attributes are not written; decoding puts back the version's namespace declarations on
//   WV-CSP-Message, TransactionContent and PresenceSubList (the only attributes in CSP).
// - Binary leaf content (WBXML OPAQUE) is written as a base64 string and reads back as text.
import { TextDecoder } from 'node:util';
import type { Codec } from './codecs.ts';
import type { CspElement } from './tree.ts';
import type { CspVersion } from './versions.ts';
import { CSP_VERSIONS, NAMESPACES } from './versions.ts';
import type { Decoded, DecodeLimits } from './xml-codec.ts';
import { DecodeError } from './xml-codec.ts';
import type { ElementType, Particle, VersionSchema } from './schema/index.ts';
import { modelNames, schemaFor } from './schema/index.ts';
import { salvageIds, type Salvaged } from './salvage.ts';

export const JSON_MEDIA_TYPE = 'application/vnd.wv.csp+json';

const ROOT = 'WV-CSP-Message';
const LEAF_TYPES: ReadonlySet<ElementType> = new Set(['string', 'integer', 'boolean', 'datetime']);
const CANONICAL_INTEGER = /^(?:0|[1-9]\d*)$/;
const INTEGER_TEXT = /^\s*\d+\s*$/;
const BOOLEAN_TEXT = /^\s*(?:T|F|TRUE|FALSE)\s*$/i;
const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ANY_SURROGATE = /[\uD800-\uDFFF]/;
// The precise (lookbehind) test only runs on the rare strings that hold a surrogate at all.
const hasLoneSurrogate = (s: string) => ANY_SURROGATE.test(s) && s.search(LONE_SURROGATES) >= 0;
/** A JSON string literal; a lone surrogate (which no UTF-8 can carry) becomes U+FFFD, as in XML. */
const quote = (s: string) => JSON.stringify(s.replace(LONE_SURROGATES, '\uFFFD'));

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isVersion = (v: unknown): v is CspVersion => typeof v === 'string' && (CSP_VERSIONS as readonly string[]).includes(v);

// ── What the codec asks of the schema, cached per version ─────────────────────────────────

interface Shape {
  schema: VersionSchema;
  /** Names a parent's content model mentions (undefined: the parent has no model). */
  mentioned(parent: string): ReadonlySet<string> | undefined;
  /** Whether a structure's content model allows no children at all (EMPTY included). */
  mayBeEmpty(name: string): boolean;
  /** Namespace declarations the XML twin carries on this element. */
  attrsOf(name: string): Record<string, string> | undefined;
}

const shapes = new Map<CspVersion, Shape>();

function nullable(p: Particle): boolean {
  if (p.min === 0) return true;
  if (p.kind === 'element') return false;
  return p.kind === 'sequence' ? p.items.every(nullable) : p.items.some(nullable);
}

function shapeFor(version: CspVersion): Shape {
  let shape = shapes.get(version);
  if (shape) return shape;
  const schema = schemaFor(version);
  const ns = NAMESPACES[version];
  // A Map, not an object literal: element names come from the wire ("__proto__" included).
  const attrs = new Map([
    [ROOT, ns.csp],
    ['TransactionContent', ns.trc],
    ['PresenceSubList', ns.pa],
  ]);
  const mentionedCache = new Map<string, ReadonlySet<string> | undefined>();
  const emptyCache = new Map<string, boolean>();
  shape = {
    schema,
    mentioned(parent) {
      if (!mentionedCache.has(parent)) {
        const model = schema.get(parent)?.model;
        mentionedCache.set(parent, model ? new Set(modelNames(model)) : undefined);
      }
      return mentionedCache.get(parent);
    },
    mayBeEmpty(name) {
      let answer = emptyCache.get(name);
      if (answer === undefined) {
        const def = schema.get(name);
        answer = def?.type === 'empty' || (def?.type === 'structure' && def.model !== undefined && nullable(def.model));
        emptyCache.set(name, answer);
      }
      return answer;
    },
    attrsOf(name) {
      const xmlns = attrs.get(name);
      return xmlns === undefined ? undefined : { xmlns };
    },
  };
  shapes.set(version, shape);
  return shape;
}

/**
 * How a parent writes a child: 'array' (the model lets it repeat), 'single' (the model names it
 * and it may not repeat), or 'free' (the model does not mention it, or the parent has none).
 */
function multiplicity(shape: Shape, parent: string, child: string): 'array' | 'single' | 'free' {
  if (!shape.mentioned(parent)?.has(child)) return 'free';
  return shape.schema.repeatable(parent, child) ? 'array' : 'single';
}

// ── Encoding ──────────────────────────────────────────────────────────────────────────────

/**
 * Serialize a tree as a CSP JSON message of the given version: compact, UTF-8, keys in
 * content-model order. Strings go through JSON.stringify, which escapes quotes, backslashes and
 * control characters, so the output is always RFC 8259 JSON.
 */
export function encodeJson(root: CspElement, version: CspVersion): Buffer {
  const shape = shapeFor(version);
  const { schema } = shape;

  const value = (node: CspElement): string => {
    if (node.children.length) {
      const groups = new Map<string, CspElement[]>();
      for (const c of schema.orderChildren(node.name, node.children)) {
        const list = groups.get(c.name);
        if (list) list.push(c);
        else groups.set(c.name, [c]);
      }
      const members: string[] = [];
      for (const [name, list] of groups) {
        const how = multiplicity(shape, node.name, name);
        // A tree that repeats a child its model forbids still gets every occurrence written
        // (as an array); the decoder refuses that, as a strict handset would refuse the XML.
        const asArray = how === 'array' || list.length > 1;
        members.push(`${quote(schema.wireName(name))}:${asArray ? `[${list.map(value).join(',')}]` : value(list[0]!)}`);
      }
      return `{${members.join(',')}}`;
    }
    if (node.bytes?.length) return quote(node.bytes.toString('base64'));
    const text = node.text ?? '';
    const type = schema.get(node.name)?.type;
    const leaf = type !== undefined && LEAF_TYPES.has(type);
    if (text === '') return leaf ? '""' : '{}';
    if (type === 'integer' && CANONICAL_INTEGER.test(text) && Number.isSafeInteger(Number(text))) return text;
    if (type === 'boolean' && (text === 'T' || text === 'F')) return text === 'T' ? 'true' : 'false';
    return quote(text);
  };

  const body = `{"version":${quote(version)},${quote(schema.wireName(root.name))}:${value(root)}}`;
  return Buffer.from(body, 'utf8');
}

// ── Decoding ──────────────────────────────────────────────────────────────────────────────

function bodyText(body: Buffer): string {
  try {
    // fatal: invalid UTF-8 is refused, never replaced; a leading UTF-8 BOM is dropped (RFC 8259 §8.1 allows ignoring it).
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new DecodeError('body is not valid UTF-8 (CSP JSON is always UTF-8)', sniffJsonVersion(body));
  }
}

/** A value or key as an error message shows it: quoted, and short (errors get logged). */
const clip = (s: string, max = 40): string => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : `a ${typeof v}`;

/**
 * Parse a CSP JSON message into a tree with canonical element names. Errors without a version
 * mean "not a CSP JSON message" (HTTP 400); errors with one are answered with a CSP Status.
 */
export function decodeJson(body: Buffer, limits: DecodeLimits): Decoded {
  // limits.charset is ignored: RFC 8259 JSON is UTF-8 and application/json has no charset parameter.
  const text = bodyText(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // V8 quotes a stretch of the input in some messages; that may hold a password, and this gets logged.
    const reason = (err as Error).message.replace(/,\s*(?:\.\.\.)?".* is not valid JSON$/s, '');
    throw new DecodeError(`not valid JSON: ${reason}`, sniffJsonVersion(body));
  }
  if (!isObject(parsed)) throw new DecodeError(`a CSP JSON message is an object {"version": …, "${ROOT}": {…}}, not ${describe(parsed)}`);
  const declared = parsed['version'];
  if (declared === undefined) throw new DecodeError('no "version": a CSP JSON message names its CSP version ("1.1", "1.2" or "1.3")');
  if (!isVersion(declared)) throw new DecodeError(`unknown CSP version ${typeof declared === 'string' ? clip(declared) : describe(declared)}: use "1.1", "1.2" or "1.3" (a string)`);
  const version = declared;
  const shape = shapeFor(version);
  const { schema } = shape;
  const fail = (message: string): never => {
    throw new DecodeError(message, version);
  };

  let rootKey: string | undefined;
  for (const key of Object.keys(parsed)) {
    if (key === 'version') continue;
    if (rootKey === undefined && schema.canonicalName(key) === ROOT) rootKey = key;
    else fail(`unexpected top-level key ${clip(key)}: a CSP JSON message holds only "version" and "${ROOT}"`);
  }
  if (rootKey === undefined) fail(`no "${ROOT}"`);

  // Paths (for error messages) are built only when something fails: a linked list of keys.
  type Path = { up: Path | undefined; key: string } | undefined;
  const pathText = (p: Path): string => (p ? (p.up ? `${pathText(p.up)}.${p.key}` : p.key).replace(/\.\[/g, '[') : '');

  // No closures per element: tsx's keepNames wraps each one, which dominated decoding time.
  const wrongKind = (at: Path, name: string, want: string, value: unknown): never => fail(`${pathText(at)}: ${name} is ${want}, not ${describe(value)}`);

  const element = (name: string, value: unknown, depth: number, at: Path): CspElement => {
    if (depth > limits.maxDepth) fail(`elements nested deeper than ${limits.maxDepth} levels`);
    const type = schema.get(name)?.type;
    const leaf = type !== undefined && LEAF_TYPES.has(type);
    const node: CspElement = { name, children: [] };

    if (isObject(value)) {
      if (leaf) wrongKind(at, name, type === 'integer' ? 'a number' : type === 'boolean' ? 'true or false' : 'a string', value);
      node.children = children(name, value, depth, at);
    } else if (typeof value === 'string') {
      if (hasLoneSurrogate(value)) fail(`${pathText(at)}: the string holds a lone surrogate (\\ud800–\\udfff escape without its pair)`);
      if (type !== undefined && !leaf && !shape.mayBeEmpty(name)) wrongKind(at, name, 'a structure (an object)', value);
      if (type === 'integer' && value !== '' && !INTEGER_TEXT.test(value)) fail(`${pathText(at)}: ${name} is a non-negative integer, not ${clip(value)}`);
      if (type === 'boolean' && value !== '' && !BOOLEAN_TEXT.test(value)) fail(`${pathText(at)}: ${name} is true or false, not ${clip(value)}`);
      if (value !== '') node.text = value;
    } else if (typeof value === 'number') {
      if (type !== undefined && type !== 'integer') wrongKind(at, name, leaf ? (type === 'boolean' ? 'true or false' : 'a string') : 'a structure (an object)', value);
      if (type === 'integer' && !(Number.isSafeInteger(value) && value >= 0)) fail(`${pathText(at)}: ${name} is a non-negative integer, not ${value}`);
      node.text = String(value);
    } else if (typeof value === 'boolean') {
      if (type !== undefined && type !== 'boolean') wrongKind(at, name, leaf ? (type === 'integer' ? 'a number' : 'a string') : 'a structure (an object)', value);
      node.text = value ? 'T' : 'F';
    } else if (Array.isArray(value)) {
      fail(`${pathText(at)}: an array inside an array (an element is a value, a repeated element an array of values)`);
    } else {
      fail(`${pathText(at)}: null is not a CSP value (leave the key out instead)`);
    }
    const attrs = shape.attrsOf(name);
    if (attrs) node.attrs = attrs;
    return node;
  };

  const children = (parent: string, object: JsonObject, depth: number, at: Path): CspElement[] => {
    const groups = new Map<string, CspElement[]>();
    for (const key in object) {
      if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
      const value = object[key];
      if (hasLoneSurrogate(key)) fail(`${pathText(at)}: a key holds a lone surrogate`);
      const name = schema.canonicalName(key) ?? key;
      const how = multiplicity(shape, parent, name);
      const here: Path = { up: at, key: key.length > 64 ? `${key.slice(0, 64)}…` : key };
      if (Array.isArray(value) && how === 'single') fail(`${name} may occur only once in ${parent} (${pathText(here)} is an array)`);
      let list = groups.get(name);
      if (!list) groups.set(name, (list = []));
      if (Array.isArray(value)) for (let i = 0; i < value.length; i++) list.push(element(name, value[i], depth + 1, { up: here, key: `[${i}]` }));
      else list.push(element(name, value, depth + 1, here));
      if (how === 'single' && list.length > 1) fail(`${name} may occur only once in ${parent} (${pathText(here)} repeats it under another spelling)`);
    }
    return schema.orderChildren(parent, groups.size === 1 ? groups.values().next().value! : [...groups.values()].flat());
  };

  return { version, root: element(ROOT, parsed[rootKey!], 1, { up: undefined, key: rootKey! }) };
}

// ── Reading what can be read of a broken body ─────────────────────────────────────────────

function looseText(body: Buffer): string {
  return body.toString('utf8').replace(/^\uFEFF/, '');
}

function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The "version" of a body that failed to decode: parsed if it is JSON, else found by pattern. */
// Both read the text with regular expressions, never by parsing it again: they run on bodies
// that failed to parse (or before parsing), and a hostile body can take JSON.parse a long time.
export function sniffJsonVersion(body: Buffer): CspVersion | undefined {
  const match = /"version"\s*:\s*"(1\.[123])"/.exec(looseText(body));
  return match ? (match[1] as CspVersion) : undefined;
}

/** TransactionID and SessionID of a body that failed to decode, to address the error to. */
export function salvageJson(body: Buffer): Salvaged {
  const text = looseText(body);
  const grab = (name: string) => {
    const literal = new RegExp(`"${name}"\\s*:\\s*("(?:[^"\\\\\\n]|\\\\.){1,200}"|\\d{1,20})`, 'i').exec(text)?.[1];
    return literal === undefined ? undefined : tryParse(literal);
  };
  const clean = (v: unknown): string | undefined => {
    const s = typeof v === 'number' && Number.isFinite(v) ? String(v) : typeof v === 'string' ? v.trim() : undefined;
    return s && s.length <= 200 && !hasLoneSurrogate(s) ? s : undefined;
  };
  return salvageIds((name) => clean(grab(name)));
}

export const JSON_CODEC: Codec = {
  name: 'json',
  decode: decodeJson,
  encode: encodeJson,
  sniffVersion: sniffJsonVersion,
  salvage: salvageJson,
  defaultContentType: () => JSON_MEDIA_TYPE,
};
