// CSP in WBXML (reference imps-csp.md §6): bytes ⇄ element tree, interpreted through the
// schema's token tables.
//
// Decoding is liberal, as real handsets demand: WBXML 1.0–1.3 headers; public id 0x10/0x11/0x12,
// 0x01 (unknown) or a literal string, with the root's xmlns attribute winning when the two
// disagree (Android sends 0x10 with a 1.2 namespace); code-page switches; value tokens (EXT_T_0,
// also two-byte indices) anywhere in text; integers as OPAQUE (0–4 bytes) or strings; DateTime
// as 6-byte OPAQUE or string; STR_T and string tables; OPAQUE content; ENTITY; LITERAL and
// unknown tags skipped with their subtree.
//
// Encoding writes what handsets write: WBXML 1.3, the version's public id, UTF-8, an empty
// string table, xmlns as attribute tokens, integers as minimal OPAQUE (0 as c3 01 00), dates as
// strings, and value tokens only where the whole text is a token that means the same in CSP 1.3
// too (Android decodes every version with the 1.3 tables).
import type { CspElement } from './tree.ts';
import type { CspVersion } from './versions.ts';
import { CSP_VERSIONS, versionFromIdentifier } from './versions.ts';
import { schemaFor } from './schema/index.ts';
import { DecodeError, type Decoded, type DecodeLimits } from './xml-codec.ts';
import type { Salvaged } from './salvage.ts';

const SWITCH_PAGE = 0x00;
const END = 0x01;
const ENTITY = 0x02;
const STR_I = 0x03;
const LITERAL = 0x04;
const EXT_I_0 = 0x40;
const EXT_I_2 = 0x42;
const PI = 0x43;
const LITERAL_C = 0x44;
const EXT_T_0 = 0x80;
const EXT_T_2 = 0x82;
const STR_T = 0x83;
const LITERAL_A = 0x84;
const EXT_0 = 0xc0;
const EXT_2 = 0xc2;
const OPAQUE = 0xc3;
const LITERAL_AC = 0xc4;

export const PUBLIC_IDS: Record<CspVersion, number> = { '1.1': 0x10, '1.2': 0x11, '1.3': 0x12 };
const VERSION_BY_PUBLIC_ID = new Map<number, CspVersion>(Object.entries(PUBLIC_IDS).map(([v, id]) => [id, v as CspVersion]));

/** IANA MIBenum → TextDecoder label, for the charsets a handset might declare. */
const CHARSETS: Record<number, string> = { 3: 'us-ascii', 4: 'iso-8859-1', 106: 'utf-8', 1013: 'utf-16be', 1014: 'utf-16le', 1015: 'utf-16' };

interface Tables {
  /** (page << 8 | token) → canonical element name, including tokens a later version removed. */
  tagByToken: Map<number, string>;
  /** EXT_T_0 index → string. */
  valueByIndex: Map<number, string>;
  /** string → EXT_T_0 index, only for tokens safe to send to any handset of this version. */
  indexByValue: Map<string, number>;
  /** attribute-start token → namespace prefix (xmlns). */
  attrPrefixes: Map<number, string>;
}

interface RawTables {
  codePages: Record<string, Record<string, string>>;
  legacyTokens?: Record<string, Record<string, string>>;
  attrStart: Record<string, Record<string, { name: string; valuePrefix: string }>>;
  extValue: { EXT_T_0: Record<string, string> };
}

const tablesCache = new Map<CspVersion, Tables>();

function tablesFor(version: CspVersion): Tables {
  let t = tablesCache.get(version);
  if (t) return t;
  const schema = schemaFor(version);
  const raw = schema.tables as unknown as RawTables;
  const v13 = schemaFor('1.3').tables as unknown as RawTables;
  const tagByToken = new Map<number, string>();
  const add = (pages: Record<string, Record<string, string>> | undefined) => {
    for (const [page, entries] of Object.entries(pages ?? {})) {
      for (const [hex, name] of Object.entries(entries)) {
        const key = (Number(page) << 8) | Number(hex);
        if (!tagByToken.has(key)) tagByToken.set(key, schema.canonicalName(name) ?? name);
      }
    }
  };
  add(raw.codePages);
  add(raw.legacyTokens);
  const valueByIndex = new Map(Object.entries(raw.extValue.EXT_T_0).map(([hex, s]) => [Number(hex), s]));
  const indexByValue = new Map<string, number>();
  for (const [index, value] of valueByIndex) {
    // Safe only if CSP 1.3 reads the same string from the same index, and never the disputed 0x3D.
    if (index === 0x3d || v13.extValue.EXT_T_0[`0x${index.toString(16).toUpperCase().padStart(2, '0')}`] !== value) continue;
    if (!indexByValue.has(value)) indexByValue.set(value, index);
  }
  const attrPrefixes = new Map<number, string>();
  for (const [hex, attr] of Object.entries(raw.attrStart['0'] ?? {})) if (attr.name === 'xmlns') attrPrefixes.set(Number(hex), attr.valuePrefix);
  // Every version's namespace prefixes, so a document's own xmlns token can always be read.
  for (const v of CSP_VERSIONS) {
    const other = schemaFor(v).tables as unknown as RawTables;
    for (const [hex, attr] of Object.entries(other.attrStart['0'] ?? {})) if (!attrPrefixes.has(Number(hex))) attrPrefixes.set(Number(hex), attr.valuePrefix);
  }
  t = { tagByToken, valueByIndex, indexByValue, attrPrefixes };
  tablesCache.set(version, t);
  return t;
}

// ── Decoding ────────────────────────────────────────────────────────────────────────────────

class Reader {
  pos = 0;
  constructor(readonly bytes: Buffer) {}

  byte(): number {
    if (this.pos >= this.bytes.length) throw new DecodeError('WBXML ends in the middle of the document');
    return this.bytes[this.pos++]!;
  }

  peek(): number | undefined {
    return this.bytes[this.pos];
  }

  /** mb_u_int32: 7 bits per byte, high bit set on all but the last, at most 5 bytes. */
  uint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.byte();
      value = value * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) return value;
    }
    throw new DecodeError('a WBXML multi-byte integer is longer than 5 bytes');
  }

  take(n: number): Buffer {
    if (n > this.bytes.length - this.pos) throw new DecodeError(`WBXML claims ${n} bytes where only ${this.bytes.length - this.pos} remain`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Bytes up to a terminator (NUL, or a 2-byte NUL for UTF-16). */
  terminated(wide: boolean): Buffer {
    const start = this.pos;
    if (wide) {
      while (this.pos + 1 < this.bytes.length && !(this.bytes[this.pos] === 0 && this.bytes[this.pos + 1] === 0)) this.pos += 2;
      if (this.pos + 1 >= this.bytes.length) throw new DecodeError('an inline WBXML string is not terminated');
      const out = this.bytes.subarray(start, this.pos);
      this.pos += 2;
      return out;
    }
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0) throw new DecodeError('an inline WBXML string is not terminated');
    this.pos = end + 1;
    return this.bytes.subarray(start, end);
  }
}

interface Header {
  publicId: number | string;
  charset: string;
  stringTable: Buffer;
  /** Offset of the body (the root element). */
  bodyStart: number;
}

function readHeader(r: Reader): Header {
  const wbxmlVersion = r.byte();
  if (wbxmlVersion > 0x03) throw new DecodeError(`unknown WBXML version byte 0x${wbxmlVersion.toString(16)}`);
  let publicId: number | string = r.uint();
  let literalIndex: number | undefined;
  if (publicId === 0) literalIndex = r.uint();
  // WBXML 1.0 has no charset field.
  const mib = wbxmlVersion === 0x00 ? 106 : r.uint();
  const charset = CHARSETS[mib];
  if (!charset) throw new DecodeError(`unsupported WBXML charset (MIBenum ${mib})`);
  const stringTable = r.take(r.uint());
  if (literalIndex !== undefined) {
    const end = stringTable.indexOf(0, literalIndex);
    publicId = stringTable.subarray(literalIndex, end < 0 ? undefined : end).toString('latin1');
  }
  return { publicId, charset, stringTable, bodyStart: r.pos };
}

function versionOfPublicId(publicId: number | string): CspVersion | undefined {
  return typeof publicId === 'number' ? VERSION_BY_PUBLIC_ID.get(publicId) : versionFromIdentifier(publicId);
}

/** The version named by the root element's xmlns attribute, if it has one we can read. */
function rootNamespaceVersion(r: Reader, header: Header): CspVersion | undefined {
  const saved = r.pos;
  try {
    let tag = r.byte();
    while (tag === SWITCH_PAGE) (r.byte(), (tag = r.byte()));
    if ((tag & 0x80) === 0) return undefined;
    const prefixes = tablesFor('1.3').attrPrefixes;
    let value = '';
    for (let b = r.byte(); b !== END; b = r.byte()) {
      if (b === STR_I) value += new TextDecoder(header.charset).decode(r.terminated(false));
      else if (b === SWITCH_PAGE) r.byte();
      else if (b < 0x80 && prefixes.has(b)) value = prefixes.get(b)!;
      else return versionFromIdentifier(value);
    }
    return versionFromIdentifier(value);
  } catch {
    return undefined;
  } finally {
    r.pos = saved;
  }
}

/** The CSP version of a WBXML body, as far as it can be read (for answering broken bodies). */
export function sniffWbxmlVersion(body: Buffer): CspVersion | undefined {
  try {
    const r = new Reader(body);
    const header = readHeader(r);
    return rootNamespaceVersion(r, header) ?? versionOfPublicId(header.publicId);
  } catch {
    return undefined;
  }
}

function formatOpaqueDateTime(b: Buffer): string {
  // 00YYYYYY YYYYYYMM MMDDDDDh hhhhmmmm mmssssss ZZZZZZZZ
  const year = ((b[0]! & 0x3f) << 6) | (b[1]! >> 2);
  const month = ((b[1]! & 0x03) << 2) | (b[2]! >> 6);
  const day = (b[2]! >> 1) & 0x1f;
  const hour = ((b[2]! & 0x01) << 4) | (b[3]! >> 4);
  const minute = ((b[3]! & 0x0f) << 2) | (b[4]! >> 6);
  const second = b[4]! & 0x3f;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(year, 4)}${p(month)}${p(day)}T${p(hour)}${p(minute)}${p(second)}${b[5] ? String.fromCharCode(b[5]) : ''}`;
}

interface Building {
  name: string | undefined; // undefined: an unknown tag whose subtree is skipped
  attrs: Record<string, string>;
  children: CspElement[];
  text: string;
  bytes: Buffer[];
  hasContent: boolean;
}

/** Parse a WBXML CSP document into a tree with canonical element names. */
export function decodeWbxml(body: Buffer, limits: DecodeLimits): Decoded {
  const r = new Reader(body);
  let header: Header;
  try {
    header = readHeader(r);
  } catch (err) {
    throw new DecodeError(`not a WBXML document: ${(err as Error).message}`);
  }
  const fromNamespace = rootNamespaceVersion(r, header);
  const version = fromNamespace ?? versionOfPublicId(header.publicId);
  if (!version) throw new DecodeError(`no CSP version: public id ${JSON.stringify(header.publicId)} and no CSP namespace on the root`);
  try {
    return { version, root: decodeBody(r, header, version, limits) };
  } catch (err) {
    if (err instanceof DecodeError) throw new DecodeError(err.message, version);
    throw new DecodeError(`malformed WBXML: ${(err as Error).message}`, version);
  }
}

/**
 * Decode the body after the header. With `partial`, a broken document yields what was read
 * before the break (open elements closed), for addressing an error answer.
 */
function decodeBody(r: Reader, header: Header, version: CspVersion, limits: DecodeLimits, partial = false): CspElement {
  const schema = schemaFor(version);
  const tables = tablesFor(version);
  const decoder = new TextDecoder(header.charset, { fatal: true });
  const wide = header.charset.startsWith('utf-16');
  const text = (bytes: Buffer) => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new DecodeError(`a WBXML string is not valid ${header.charset}`);
    }
  };
  const fromTable = (offset: number) => {
    if (offset >= header.stringTable.length) throw new DecodeError(`string table reference ${offset} is outside the table`);
    const end = header.stringTable.indexOf(0, offset);
    return text(header.stringTable.subarray(offset, end < 0 ? undefined : end));
  };

  let tagPage = 0;
  let attrPage = 0;
  const stack: Building[] = [];
  let root: CspElement | undefined;

  const finish = (node: Building): CspElement | undefined => {
    if (node.name === undefined) return undefined;
    const out: CspElement = { name: node.name, children: node.children };
    if (Object.keys(node.attrs).length) out.attrs = node.attrs;
    if (node.children.length === 0) {
      const type = schema.typeOf(node.name);
      if (node.bytes.length) {
        const opaque = Buffer.concat(node.bytes);
        if (type === 'integer') {
          if (opaque.length > 4) throw new DecodeError(`${node.name}: a ${opaque.length}-byte integer`);
          out.text = String(opaque.reduce((n, b) => n * 256 + b, 0));
        } else if (type === 'datetime' && opaque.length === 6) {
          out.text = formatOpaqueDateTime(opaque);
        } else {
          // Binary content (ContentData from Baraza-era encoders): kept as bytes.
          out.bytes = opaque;
          out.text = node.text;
        }
      } else if (node.text !== '' || node.hasContent) {
        if (node.text !== '') out.text = node.text;
      }
    }
    return out;
  };

  const valueToken = (index: number, element: string | undefined): string => {
    // 0x3D is GROUP_ID (a search element) in every version and History (a property name) in 1.3.
    if (version === '1.3' && index === 0x3d) return element === 'SearchElement' ? 'GROUP_ID' : 'History';
    return tables.valueByIndex.get(index) ?? String(index);
  };

  const readAttributes = (node: Building) => {
    let current: string | undefined;
    let value = '';
    const flush = () => {
      if (current) node.attrs[current] = value;
      current = undefined;
      value = '';
    };
    for (;;) {
      const b = r.byte();
      if (b === END) break;
      if (b === SWITCH_PAGE) attrPage = r.byte();
      else if (b === STR_I) value += text(r.terminated(wide));
      else if (b === STR_T) value += fromTable(r.uint());
      else if (b === ENTITY) value += String.fromCodePoint(r.uint());
      else if (b === OPAQUE) r.take(r.uint());
      else if (b === LITERAL) (flush(), (current = `literal-${fromTable(r.uint())}`));
      else if (b >= EXT_T_0 && b <= EXT_T_2) value += valueToken(r.uint(), undefined);
      else if (b >= EXT_I_0 && b <= EXT_I_2) value += text(r.terminated(wide));
      else if (b >= EXT_0 && b <= EXT_2) continue;
      else if (b < 0x80) {
        flush();
        const prefix = attrPage === 0 ? tables.attrPrefixes.get(b) : undefined;
        current = prefix !== undefined ? 'xmlns' : `unknown-${attrPage}-${b}`;
        value = prefix ?? '';
      }
      // ≥ 0x80 attribute-value tokens: CSP defines none; ignored.
    }
    flush();
    for (const key of Object.keys(node.attrs)) if (key !== 'xmlns') delete node.attrs[key];
  };

  const openTag = (b: number, name: string | undefined) => {
    if (stack.length >= limits.maxDepth) throw new DecodeError(`elements nested deeper than ${limits.maxDepth} levels`);
    const node: Building = { name, attrs: {}, children: [], text: '', bytes: [], hasContent: (b & 0x40) !== 0 };
    // Inside an unknown (skipped) element everything is skipped.
    if (stack.length && stack[stack.length - 1]!.name === undefined) node.name = undefined;
    if (b & 0x80) readAttributes(node);
    if (node.hasContent) stack.push(node);
    else close(node);
  };

  const close = (node: Building) => {
    const done = finish(node);
    const parent = stack[stack.length - 1];
    if (!parent) {
      if (!done) throw new DecodeError('the root element is not a CSP element');
      root = done;
    } else if (done) parent.children.push(done);
  };

  try {
    decodeElements();
  } catch (err) {
    if (!partial) throw err;
    while (stack.length && root === undefined) close(stack.pop()!);
  }
  if (!root) throw new DecodeError('no root element');
  return root;

  function decodeElements() {
  while (root === undefined) {
    const b = r.byte();
    const top = stack[stack.length - 1];
    switch (b) {
      case SWITCH_PAGE:
        tagPage = r.byte();
        continue;
      case END: {
        const node = stack.pop();
        if (!node) throw new DecodeError('END with no open element');
        close(node);
        continue;
      }
      case ENTITY:
        if (top) top.text += String.fromCodePoint(r.uint());
        else r.uint();
        continue;
      case STR_I: {
        const s = text(r.terminated(wide));
        if (top) top.text += s;
        continue;
      }
      case STR_T: {
        const s = fromTable(r.uint());
        if (top) top.text += s;
        continue;
      }
      case OPAQUE: {
        const bytes = r.take(r.uint());
        if (top) top.bytes.push(bytes);
        continue;
      }
      case PI:
        // Processing instruction: attribute-like content up to END; meaningless in CSP.
        readAttributes({ name: undefined, attrs: {}, children: [], text: '', bytes: [], hasContent: false });
        continue;
      case LITERAL:
      case LITERAL_C:
      case LITERAL_A:
      case LITERAL_AC:
        r.uint(); // a tag named by the string table: not a CSP element, skipped with its subtree
        openTag(b === LITERAL ? 0 : b === LITERAL_C ? 0x40 : b === LITERAL_A ? 0x80 : 0xc0, undefined);
        continue;
    }
    if (b >= EXT_T_0 && b <= EXT_T_2) {
      const s = valueToken(r.uint(), top?.name);
      if (top) top.text += s;
      continue;
    }
    if (b >= EXT_I_0 && b <= EXT_I_2) {
      const s = text(r.terminated(wide));
      if (top) top.text += s;
      continue;
    }
    if (b >= EXT_0 && b <= EXT_2) continue;
    const name = tables.tagByToken.get((tagPage << 8) | (b & 0x3f));
    openTag(b, name);
  }
  }
}

// ── Encoding ────────────────────────────────────────────────────────────────────────────────

/** A growable byte buffer. */
class Writer {
  private buf = Buffer.allocUnsafe(1024);
  private length = 0;

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + extra));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  uint(n: number): void {
    const groups = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) groups.unshift((n & 0x7f) | 0x80);
    for (const g of groups) this.byte(g);
  }

  bytes(b: Buffer | number[]): void {
    this.ensure(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.length++] = b[i]!;
  }

  str(s: string): void {
    // NUL cannot appear inside STR_I; it is replaced, as XML replaces what it cannot carry.
    const text = s.includes('\u0000') ? s.replace(/\u0000/g, '\uFFFD') : s;
    this.ensure(Buffer.byteLength(text, 'utf8') + 2);
    this.buf[this.length++] = STR_I;
    this.length += this.buf.write(text, this.length, 'utf8');
    this.buf[this.length++] = 0;
  }

  buffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** Minimal big-endian bytes of an unsigned integer; 0 is one zero byte (as Android writes it). */
function integerBytes(n: number): number[] {
  const out: number[] = [];
  do {
    out.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return out;
}

/** Serialize a tree as a WBXML CSP document of the given version. */
export function encodeWbxml(root: CspElement, version: CspVersion): Buffer {
  const schema = schemaFor(version);
  const tables = tablesFor(version);
  const w = new Writer();
  w.byte(0x03); // WBXML 1.3
  w.uint(PUBLIC_IDS[version]);
  w.uint(106); // UTF-8
  w.uint(0); // empty string table
  let page = 0;

  const writeNamespace = (value: string) => {
    let best: [number, string] | undefined;
    for (const [token, prefix] of tables.attrPrefixes) if (value.startsWith(prefix) && (!best || prefix.length > best[1].length)) best = [token, prefix];
    if (!best) return false;
    w.byte(best[0]);
    const rest = value.slice(best[1].length);
    if (rest) w.str(rest);
    return true;
  };

  const writeText = (name: string, text: string) => {
    const type = schema.typeOf(name);
    if (type === 'integer' && /^\d{1,10}$/.test(text) && Number(text) <= 0xffffffff) {
      const bytes = integerBytes(Number(text));
      w.byte(OPAQUE);
      w.uint(bytes.length);
      w.bytes(bytes);
      return;
    }
    const index = tables.indexByValue.get(text);
    if (index !== undefined && type !== 'integer') {
      w.byte(EXT_T_0);
      w.uint(index);
      return;
    }
    w.str(text);
  };

  const write = (node: CspElement, parent: string | undefined) => {
    const def = schema.get(node.name);
    if (!def?.token) throw new Error(`CSP ${version} has no WBXML token for ${node.name}${parent ? ` (in ${parent})` : ''}`);
    if (def.token.page !== page) {
      w.byte(SWITCH_PAGE);
      w.byte(def.token.page);
      page = def.token.page;
    }
    const namespace = node.attrs?.['xmlns'];
    const children = schema.orderChildren(node.name, node.children);
    const content = children.length > 0 || (node.text !== undefined && node.text !== '') || (node.bytes !== undefined && node.bytes.length > 0);
    w.byte(def.token.token | (content ? 0x40 : 0) | (namespace ? 0x80 : 0));
    if (namespace) {
      if (!writeNamespace(namespace)) throw new Error(`no WBXML attribute token for the namespace ${namespace}`);
      w.byte(END);
    }
    if (!content) return;
    if (children.length) for (const c of children) write(c, node.name);
    else if (node.bytes?.length) {
      w.byte(OPAQUE);
      w.uint(node.bytes.length);
      w.bytes(node.bytes);
    } else writeText(node.name, node.text!);
    w.byte(END);
  };

  write(root, undefined);
  return w.buffer();
}

/** TransactionID and SessionID of a broken WBXML body, read as far as it goes. */
export function salvageWbxml(body: Buffer): Salvaged {
  const found: Salvaged = {};
  try {
    const r = new Reader(body);
    const header = readHeader(r);
    const version = rootNamespaceVersion(r, header) ?? versionOfPublicId(header.publicId);
    if (!version) return found;
    const visit = (n: CspElement) => {
      if (n.name === 'TransactionID' && found.transactionId === undefined && n.text) found.transactionId = n.text;
      if (n.name === 'SessionID' && found.sessionId === undefined && n.text) found.sessionId = n.text;
      n.children.forEach(visit);
    };
    visit(decodeBody(r, header, version, { maxDepth: 64 }, true));
  } catch {
    // nothing readable
  }
  return found;
}
