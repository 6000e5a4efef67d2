// Independent WBXML encoders/decoders to check our codec against (reference wbxml-oracle.md):
//   * Debian's libwbxml 0.11.8 command-line tools `xml2wbxml` / `wbxml2xml` — CSP 1.1 and 1.2;
//   * Wireshark's WBXML dissector through `tshark` — CSP 1.1, 1.2 and 1.3, fed a pcap that
//     `text2pcap` builds from HTTP POSTs carrying the WBXML (many messages per run).
// Every helper fails with an install hint when its tool is missing; nothing here ever skips.
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { SaxesParser } from 'saxes';
import { schemaFor, type Particle } from '../../src/csp/schema/index.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';

export type LibwbxmlVersion = '1.1' | '1.2';

/** An element tree as a tool printed it: names verbatim, text as decoded, no interpretation. */
export interface OracleElement {
  name: string;
  attrs?: Record<string, string>;
  children: OracleElement[];
  text?: string;
}

const INSTALL_HINT = 'run `bash test/install-peers.sh` (or `apt-get install -y libwbxml2-utils tshark`)';

const PACKAGE_OF: Record<string, string> = {
  xml2wbxml: 'libwbxml2-utils',
  wbxml2xml: 'libwbxml2-utils',
  tshark: 'tshark',
  text2pcap: 'tshark', // text2pcap comes with tshark (wireshark-common)
};

export class ToolMissingError extends Error {
  constructor(readonly tool: string) {
    super(`${PACKAGE_OF[tool] ?? tool} is not installed (no \`${tool}\` on PATH): ${INSTALL_HINT}`);
    this.name = 'ToolMissingError';
  }
}

interface RunResult {
  status: number;
  stdout: Buffer;
  stderr: string;
}

/** Run a tool; a missing binary becomes ToolMissingError, a failing one a RunResult. */
function run(tool: string, args: string[]): RunResult {
  try {
    const stdout = execFileSync(tool, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 30,
      env: { ...process.env, LC_ALL: 'C.UTF-8' },
    });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null; stdout?: Buffer; stderr?: Buffer };
    if (e.code === 'ENOENT') throw new ToolMissingError(tool);
    if (typeof e.status !== 'number') throw err;
    return { status: e.status, stdout: e.stdout ?? Buffer.alloc(0), stderr: e.stderr?.toString('utf8') ?? '' };
  }
}

const available = new Map<string, boolean>();

function onPath(tool: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, tool);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return true;
    } catch {
      // not here
    }
  }
  return false;
}

/** Throws ToolMissingError unless every named tool is on PATH (looked up once per process). */
export function requireTools(...tools: string[]): void {
  for (const tool of tools) {
    let ok = available.get(tool);
    if (ok === undefined) available.set(tool, (ok = onPath(tool)));
    if (!ok) throw new ToolMissingError(tool);
  }
}

/** At most `max` bytes as hex, for failure messages. */
export function hexPreview(bytes: Buffer, max = 256): string {
  const hex = bytes.subarray(0, max).toString('hex');
  return bytes.length > max ? `${hex}… (${bytes.length} bytes)` : hex;
}

/** Run fn in a fresh temporary directory, removed afterwards whatever fn does. */
export function withTempDir<T>(fn: (dir: string) => T, prefix = 'village-oracle-'): T {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ── libwbxml ─────────────────────────────────────────────────────────────────────────────────

const DOCTYPE: Record<LibwbxmlVersion, string> = {
  '1.1': '<!DOCTYPE WV-CSP-Message PUBLIC "-//OMA//DTD WV-CSP 1.1//EN" "http://www.openmobilealliance.org/DTD/WV-CSP.DTD">',
  '1.2': '<!DOCTYPE WV-CSP-Message PUBLIC "-//OMA//DTD WV-CSP 1.2//EN" "http://www.openmobilealliance.org/DTD/WV-CSP.DTD">',
};

/**
 * The XML as xml2wbxml needs it: a DOCTYPE naming the version (its only way to pick the CSP
 * tables; without one a root carrying xmlns is "language unknown"), any existing DOCTYPE
 * replaced, and the whitespace between elements removed (with -k, which keeps significant
 * whitespace such as "  padded id  ", libwbxml would encode indentation as text).
 */
export function prepareForLibwbxml(xml: string, version: LibwbxmlVersion): string {
  let out = xml.replace(/^\uFEFF/, '').replace(/<!DOCTYPE[^>]*>/, '');
  // Comments carry no CSP content (libwbxml drops them anyway); removing them first lets
  // the whitespace around them go too.
  out = out.replace(/<!--[\s\S]*?-->/g, '');
  // (A leaf holding only whitespace would lose it too; the corpus and samples have none.)
  out = out.replace(/>\s+</g, '><').trim();
  const rootAt = out.search(/<(?![?!])/);
  if (rootAt < 0) throw new Error('prepareForLibwbxml: no root element');
  return out.slice(0, rootAt) + DOCTYPE[version] + out.slice(rootAt);
}

/**
 * libwbxml's encoding of an XML CSP document (`xml2wbxml -k`). Throws when it refuses.
 * `wbxmlVersion` picks the WBXML header version (`-v`; default 1.3, as handsets send).
 */
export function xml2wbxml(xml: string, version: LibwbxmlVersion, options: { wbxmlVersion?: '1.0' | '1.1' | '1.2' | '1.3' } = {}): Buffer {
  requireTools('xml2wbxml');
  return withTempDir((dir) => {
    const input = join(dir, 'in.xml');
    const output = join(dir, 'out.wbxml');
    writeFileSync(input, prepareForLibwbxml(xml, version), 'utf8');
    const r = run('xml2wbxml', ['-k', ...(options.wbxmlVersion ? ['-v', options.wbxmlVersion] : []), '-o', output, input]);
    if (r.status !== 0) throw new Error(`xml2wbxml failed (rc ${r.status}): ${(r.stdout.toString() + r.stderr).trim()}`);
    return readFileSync(output);
  });
}

/** libwbxml's decoding of WBXML (`wbxml2xml -k -m 0 -l CSP11|CSP12`), as XML text. */
export function wbxml2xml(wbxml: Buffer, version: LibwbxmlVersion): string {
  requireTools('wbxml2xml');
  return withTempDir((dir) => {
    const input = join(dir, 'in.wbxml');
    const output = join(dir, 'out.xml');
    writeFileSync(input, wbxml);
    // -m 0: compact, so no indentation is mixed into text; -k: keep whitespace in text.
    const r = run('wbxml2xml', ['-k', '-m', '0', '-l', version === '1.1' ? 'CSP11' : 'CSP12', '-o', output, input]);
    if (r.status !== 0) throw new Error(`wbxml2xml failed (rc ${r.status}): ${(r.stdout.toString() + r.stderr).trim()}`);
    return readFileSync(output, 'utf8');
  });
}

/** Parse XML (as a tool wrote it) into a raw tree: names verbatim, prefixes kept, no aliases. */
export function parseOracleXml(xml: string): OracleElement {
  const parser = new SaxesParser({ xmlns: false });
  const stack: OracleElement[] = [];
  let root: OracleElement | undefined;
  let failure: Error | undefined;
  parser.on('opentag', (tag) => {
    const node: OracleElement = { name: tag.name, children: [] };
    const attrs = Object.entries(tag.attributes).map(([k, v]) => [k, String(v)] as const);
    if (attrs.length) node.attrs = Object.fromEntries(attrs);
    if (stack.length) stack[stack.length - 1]!.children.push(node);
    else root = node;
    stack.push(node);
  });
  const onText = (t: string) => {
    const top = stack[stack.length - 1];
    if (top) top.text = (top.text ?? '') + t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => void stack.pop());
  parser.on('error', (err) => void (failure ??= err));
  parser.write(xml).close();
  if (failure) throw new Error(`tool output is not well-formed XML: ${failure.message}`);
  if (!root) throw new Error('tool output has no root element');
  // Text beside child elements (indentation) is not content.
  const clean = (n: OracleElement) => {
    if (n.children.length) {
      if (n.text !== undefined && n.text.trim() === '') delete n.text;
      n.children.forEach(clean);
    }
  };
  clean(root);
  return root;
}

/** wbxml2xml, parsed. */
export function libwbxmlDecode(wbxml: Buffer, version: LibwbxmlVersion): OracleElement {
  // wbxml2xml writes a CR of the text as a raw byte, which every XML parser must turn into LF
  // (end-of-line handling); as a reference it survives — the CR is what libwbxml decoded.
  return parseOracleXml(wbxml2xml(wbxml, version).replace(/\r/g, '&#13;'));
}

// ── tshark ───────────────────────────────────────────────────────────────────────────────────

export interface TsharkDecoded {
  /** The element tree tshark shows (undefined if it showed no WBXML at all). */
  root: OracleElement | undefined;
  /** Public identifier tshark read from the header. */
  publicId: string | undefined;
  /** Tag, attribute and value tokens tshark could not name in the version it chose. */
  unknown: string[];
  /** Anything else tshark complained about (malformed packets, invalid opaque data, …). */
  errors: string[];
}

const CONTENT_TYPE = 'application/vnd.wv.csp.wbxml';

/** text2pcap input: one packet per buffer, as offset-prefixed hex lines. */
function hexdump(packets: Buffer[]): string {
  const lines: string[] = [];
  for (const p of packets) {
    for (let off = 0; off < p.length; off += 16) {
      const chunk = p.subarray(off, off + 16);
      lines.push(`${off.toString(16).padStart(6, '0')} ${[...chunk].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

function httpPost(body: Buffer, index: number): Buffer {
  const head =
    `POST /imps/${index} HTTP/1.1\r\nHost: village.test\r\nContent-Type: ${CONTENT_TYPE}\r\n` + `Content-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** TCP payload per captured packet: IPv4's 16-bit total length must not overflow. */
const SEGMENT = 32768;

/**
 * tshark's reading of many WBXML documents at once: one pcap (one TCP stream of HTTP POSTs to
 * /imps/<index>, each cut into segments that tshark reassembles, built by text2pcap), one
 * `tshark -T pdml` run. Results are in input order.
 */
export function tsharkDecodeMany(documents: Buffer[]): TsharkDecoded[] {
  requireTools('text2pcap', 'tshark');
  if (documents.length === 0) return [];
  return withTempDir((dir) => {
    const hex = join(dir, 'in.txt');
    const pcap = join(dir, 'in.pcap');
    const segments: Buffer[] = [];
    documents.forEach((d, i) => {
      const post = httpPost(d, i);
      for (let off = 0; off < post.length; off += SEGMENT) segments.push(post.subarray(off, off + SEGMENT));
    });
    writeFileSync(hex, hexdump(segments));
    const t = run('text2pcap', ['-q', '-4', '10.0.0.1,10.0.0.2', '-T', '40000,80', hex, pcap]);
    if (t.status !== 0) throw new Error(`text2pcap failed (rc ${t.status}): ${t.stderr.trim()}`);
    // -o: tokens mapped to names, body parsed, TCP/HTTP reassembly on (the defaults, stated so
    // a user's preferences cannot change them).
    const prefs = ['wbxml.skip_wbxml_token_mapping:FALSE', 'wbxml.disable_wbxml_token_parsing:FALSE', 'tcp.desegment_tcp_streams:TRUE', 'http.desegment_body:TRUE'];
    const r = run('tshark', ['-n', '-r', pcap, ...prefs.flatMap((p) => ['-o', p]), '-T', 'pdml']);
    if (r.status !== 0) throw new Error(`tshark failed (rc ${r.status}): ${r.stderr.trim()}`);
    const byIndex = parsePdml(r.stdout.toString('utf8'));
    return documents.map(
      (_, i) => byIndex.get(i) ?? { root: undefined, publicId: undefined, unknown: [], errors: [`tshark shows no HTTP request for document ${i}`] },
    );
  });
}

/** tshark's reading of one WBXML document. */
export function tsharkDecode(wbxml: Buffer): TsharkDecoded {
  return tsharkDecodeMany([wbxml])[0]!;
}

interface PdmlField {
  name: string;
  show: string;
  showname: string;
  value: string;
}

/** The WBXML token trees of a PDML document, by the document index in the request URI. */
function parsePdml(pdml: string): Map<number, TsharkDecoded> {
  const packets: { index: number | undefined; fields: PdmlField[] }[] = [];
  let current: { index: number | undefined; fields: PdmlField[] } | undefined;
  let protoDepth = 0; // > 0 while inside <proto name="wbxml"> (or a malformed-packet note)
  let depth = 0;
  const parser = new SaxesParser({ xmlns: false });
  let failure: Error | undefined;
  parser.on('opentag', (tag) => {
    depth++;
    const a = tag.attributes as Record<string, string>;
    if (tag.name === 'packet') {
      current = { index: undefined, fields: [] };
      packets.push(current);
    } else if (tag.name === 'proto' && (a['name'] === 'wbxml' || a['name'] === '_ws.malformed')) {
      protoDepth = depth;
    } else if (tag.name === 'field' && current) {
      const name = a['name'] ?? '';
      if (name === 'http.request.uri') {
        const m = /^\/imps\/(\d+)$/.exec(a['show'] ?? '');
        if (m) current.index = Number(m[1]);
      }
      // Only the WBXML layer: the HTTP layer adds chatty expert infos of its own.
      if (protoDepth > 0 && (name.startsWith('wbxml.') || name === '_ws.expert.message' || name.startsWith('_ws.malformed'))) {
        current.fields.push({ name, show: a['show'] ?? '', showname: a['showname'] ?? '', value: a['value'] ?? '' });
      }
    }
    if (tag.isSelfClosing) depth--;
  });
  parser.on('closetag', (tag) => {
    if (tag.isSelfClosing) return;
    if (tag.name === 'proto' && depth === protoDepth) protoDepth = 0;
    depth--;
  });
  parser.on('error', (err) => void (failure ??= err));
  parser.write(pdml).close();
  if (failure) throw new Error(`tshark PDML is not well-formed: ${failure.message}`);
  const out = new Map<number, TsharkDecoded>();
  for (const p of packets) {
    if (p.index === undefined) continue; // a segment of a request reassembled in a later packet
    const decoded = buildTsharkTree(p.fields);
    if (!decoded.root && decoded.errors.length === 0) decoded.errors.push('tshark shows no WBXML body');
    out.set(p.index, decoded);
  }
  return out;
}

const UNDEFINED_TOKEN = '(Requested token not defined for this content type)';

/** The last column of a wbxml showname ("Level | State | Codepage | Description | Rendering"). */
function rendering(showname: string): string {
  const parts = showname.split('|');
  return parts.length >= 5 ? parts.slice(4).join('|').trim() : showname.trim();
}

/** STR_I text from the field's raw bytes (03 … 00): tshark's `show` escapes \n and truncates. */
function inlineString(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  const start = bytes[0] === 0x03 ? 1 : 0;
  const end = bytes[bytes.length - 1] === 0x00 ? bytes.length - 1 : bytes.length;
  return bytes.subarray(start, end).toString('utf8');
}

function buildTsharkTree(fields: PdmlField[]): TsharkDecoded {
  const out: TsharkDecoded = { root: undefined, publicId: undefined, unknown: [], errors: [] };
  const stack: OracleElement[] = [];
  let page = 0;
  let attrPage = 0;
  // An element whose attribute list is being read, and whether it has content.
  let pending: { node: OracleElement; content: boolean } | undefined;
  let attr: string | undefined;

  const attach = (node: OracleElement) => {
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(node);
    else if (!out.root) out.root = node;
    else out.errors.push(`a second root element <${node.name}>`);
  };
  const appendText = (s: string) => {
    if (pending) {
      if (attr !== undefined) pending.node.attrs![attr] += s;
      return;
    }
    const top = stack[stack.length - 1];
    if (top) top.text = (top.text ?? '') + s;
    else out.errors.push(`text outside the root: ${JSON.stringify(s)}`);
  };

  for (const f of fields) {
    switch (f.name) {
      case 'wbxml.public_id.known':
      case 'wbxml.public_id.literal':
        out.publicId = f.show;
        break;
      case 'wbxml.version':
      case 'wbxml.charset':
      case 'wbxml.string_table_item_offset':
      case 'wbxml.string_table_item_string':
      case 'wbxml.end_known_tag.uint':
        break;
      case 'wbxml.switch_page': {
        const m = /(T|A) -->\s*(\d+)/.exec(f.showname);
        if (m?.[1] === 'A') attrPage = Number(m[2]);
        else page = Number(m?.[2] ?? f.show);
        break;
      }
      case 'wbxml.known_tag': {
        const token = /Known Tag 0x([0-9A-Fa-f]+)/.exec(f.showname)?.[1] ?? '??';
        const flags = /\(([A.])([C.])\)/.exec(f.showname);
        let name = f.show;
        if (name === UNDEFINED_TOKEN) {
          name = `?tag ${page}:0x${token.toUpperCase()}`;
          out.unknown.push(name);
        }
        const node: OracleElement = { name, children: [] };
        attach(node);
        const hasAttrs = flags?.[1] === 'A';
        const content = flags?.[2] === 'C';
        if (hasAttrs) {
          node.attrs = {};
          pending = { node, content };
          attr = undefined;
        } else if (content) stack.push(node);
        break;
      }
      case 'wbxml.known_attrstart': {
        if (!pending) {
          out.errors.push(`attribute outside an attribute list: ${f.show}`);
          break;
        }
        // "xmlns='http://…/WV-CSP'"; the TRC tokens print as "xmlns http://…/WV-TRC'" (a tshark typo).
        const m = /^([^=\s']+)(?:=|\s+)'?(.*?)'?$/s.exec(f.show);
        if (!m || f.show.includes(UNDEFINED_TOKEN)) {
          const name = `?attr ${attrPage}:0x${f.value.toUpperCase()}`;
          out.unknown.push(name);
          attr = name;
          pending.node.attrs![name] = '';
        } else {
          attr = m[1]!;
          pending.node.attrs![attr] = m[2]!;
        }
        break;
      }
      case 'wbxml.end_attribute_list':
        if (pending) {
          if (pending.content) stack.push(pending.node);
          pending = undefined;
          attr = undefined;
        }
        break;
      case 'wbxml.end_known_tag': {
        const node = stack.pop();
        if (!node) out.errors.push(`END with no open element (${f.show})`);
        break;
      }
      case 'wbxml.str_i':
        appendText(inlineString(f.value));
        break;
      case 'wbxml.entity':
        appendText(String.fromCodePoint(Number(f.show)));
        break;
      case 'wbxml.ext_t': {
        const m = /^[^:']*:\s*'([\s\S]*)'$/.exec(f.show);
        const value = m ? m[1]! : f.show;
        if (/^<Unknown .*token/.test(value)) {
          out.unknown.push(`?value ${value}`);
          appendText(`?value ${value}`);
        } else appendText(value);
        break;
      }
      case 'wbxml.opaque_data': {
        const shown = rendering(f.showname);
        let m: RegExpExecArray | null;
        if ((m = /^WV-CSP Integer: (-?\d+)$/.exec(shown))) {
          // tshark prints 4-byte integers signed (4294967295 → -1).
          const n = Number(m[1]);
          appendText(String(n < 0 ? n + 2 ** 32 : n));
        } else if ((m = /^WV-CSP DateTime: (\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\S*)$/.exec(shown))) {
          // tshark prints the opaque DateTime in extended format and omits a zero zone byte.
          appendText(`${m[1]}${m[2]}${m[3]}T${m[4]}${m[5]}${m[6]}${m[7]}`);
        } else {
          out.errors.push(`opaque data: ${shown}`);
          appendText(`?opaque ${f.value}`);
        }
        break;
      }
      default:
        if (f.name.startsWith('_ws.')) out.errors.push(`${f.name}: ${f.show || f.showname}`);
        else out.errors.push(`unexpected token ${f.name}: ${rendering(f.showname) || f.show}`);
    }
  }
  if (stack.length) out.errors.push(`unclosed elements: ${stack.map((n) => n.name).join(' > ')}`);
  return out;
}

// ── Comparing trees ──────────────────────────────────────────────────────────────────────────

/** Anything tree-shaped: our CspElement or a tool's OracleElement. */
export interface TreeLike {
  name: string;
  attrs?: Record<string, string>;
  children: TreeLike[];
  text?: string;
}

/**
 * A tree as one line per element — indentation for nesting, the name, attributes, and the text
 * of leaves as a JSON string — so two trees compare as text and a difference reads as a diff.
 * A leaf's missing text and empty text are the same thing (`<X/>` = `<X></X>`).
 */
export function renderTree(node: TreeLike, depth = 0, lines: string[] = []): string {
  let line = `${'  '.repeat(depth)}${node.name}`;
  const attrs = Object.entries(node.attrs ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (attrs.length) line += ` [${attrs.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}]`;
  if (node.children.length === 0) line += ` = ${JSON.stringify(node.text ?? '')}`;
  lines.push(line);
  for (const c of node.children) renderTree(c, depth + 1, lines);
  return depth === 0 ? lines.join('\n') : '';
}

/** The first difference between two rendered trees, with context; undefined when equal. */
export function firstDifference(expected: string, actual: string, context = 3): string | undefined {
  if (expected === actual) return undefined;
  const e = expected.split('\n');
  const a = actual.split('\n');
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  const from = Math.max(0, i - context);
  const show = (lines: string[]) => lines.slice(from, i + context).map((l, k) => `${from + k === i ? '>' : ' '} ${l}`).join('\n');
  return `first difference at line ${i + 1}\n--- expected\n${show(e)}\n--- actual\n${show(a)}`;
}

/** A deep copy with every element passed through `fn` (children first); `fn` may drop it. */
export function mapTree<T extends TreeLike>(node: T, fn: (n: TreeLike, parent: TreeLike | undefined) => TreeLike | undefined): TreeLike | undefined {
  const walk = (n: TreeLike, parent: TreeLike | undefined): TreeLike | undefined => {
    const copy: TreeLike = { name: n.name, children: [] };
    if (n.attrs) copy.attrs = { ...n.attrs };
    if (n.text !== undefined) copy.text = n.text;
    copy.children = n.children.map((c) => walk(c, copy)).filter((c): c is TreeLike => c !== undefined);
    return fn(copy, parent);
  };
  return walk(node, undefined);
}

function particlePattern(p: Particle): string {
  const q = p.min === 1 && p.max === 1 ? '' : p.min === 0 && p.max === 1 ? '?' : p.min === 0 ? '*' : '+';
  if (p.kind === 'element') return `(?:<${p.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>)${q}`;
  return `(?:${p.items.map(particlePattern).join(p.kind === 'sequence' ? '' : '|')})${q}`;
}

/**
 * The order in which a correct encoder writes a tree's children: as given where they already
 * match the parent's content model (reordering a conforming sequence can only break it), else
 * in model order (what our encoders do for out-of-order input such as Android's
 * DateTime-before-ContentSize in 12-sendmessage-request.xml).
 */
export function encoderOrder(version: CspVersion, tree: CspElement): CspElement {
  const schema = schemaFor(version);
  const patterns = new Map<string, RegExp>();
  const walk = (n: CspElement): CspElement => {
    const out: CspElement = { ...n, children: n.children.map(walk) };
    const model = schema.get(n.name)?.model;
    if (model && out.children.length > 1) {
      let re = patterns.get(n.name);
      if (!re) patterns.set(n.name, (re = new RegExp(`^${particlePattern(model)}$`)));
      if (!re.test(out.children.map((c) => `<${c.name}>`).join(''))) out.children = schema.orderChildren(n.name, out.children);
    }
    return out;
  };
  return walk(tree);
}
