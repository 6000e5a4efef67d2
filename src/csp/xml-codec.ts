// CSP in XML: bytes ⇄ element tree, interpreted through the schema.
//
// Parsing is strict about well-formedness (saxes) and liberal about everything CSP handsets
// get wrong: element prefixes are ignored, names are matched case-insensitively and through
// known aliases, order is never enforced. No DTD is ever loaded and no entity other than the
// five predefined ones and character references is expanded.
import { SaxesParser } from 'saxes';
import { TextDecoder } from 'node:util';
import type { CspElement } from './tree.ts';
import type { CspVersion } from './versions.ts';
import { versionFromIdentifier } from './versions.ts';
import { schemaFor } from './schema/index.ts';

export interface DecodeLimits {
  maxDepth: number;
  /** The charset named by the HTTP Content-Type, used when the body declares none itself. */
  charset?: string;
}

/** Why a body could not be decoded; `version` is set when it could still be read. */
export class DecodeError extends Error {
  constructor(
    message: string,
    readonly version?: CspVersion,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

export interface Decoded {
  version: CspVersion;
  root: CspElement;
}

interface RawElement {
  name: string;
  attrs: Record<string, string>;
  children: RawElement[];
  text: string;
}

const localName = (qualified: string) => qualified.slice(qualified.indexOf(':') + 1);

/** Best-effort version from raw bytes, for answering a body that does not parse. */
export function sniffXmlVersion(body: Buffer): CspVersion | undefined {
  const head = body.subarray(0, 4096).toString('latin1');
  const ns = /xmlns(?::\w+)?\s*=\s*["']([^"']*(?:CSP|TRC)[^"']*)["']/i.exec(head);
  return versionFromIdentifier(ns?.[1]) ?? versionFromIdentifier(/<!DOCTYPE[^>]*PUBLIC\s+["']([^"']*)["']/i.exec(head)?.[1]);
}

/** The body's character encoding: its BOM, else its XML declaration, else the HTTP charset, else UTF-8. */
function declaredEncoding(body: Buffer, httpCharset: string | undefined): string {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'utf-8';
  if ((body[0] === 0xfe && body[1] === 0xff) || (body[0] === 0xff && body[1] === 0xfe)) return 'utf-16';
  const decl = /^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(body.subarray(0, 200).toString('latin1'));
  return (decl?.[1] ?? httpCharset ?? 'utf-8').toLowerCase();
}

function bytesToText(body: Buffer, httpCharset: string | undefined): string {
  const encoding = declaredEncoding(body, httpCharset);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding, { fatal: true });
  } catch {
    throw new DecodeError(`unsupported character encoding "${encoding}"`, sniffXmlVersion(body));
  }
  try {
    return decoder.decode(body);
  } catch {
    throw new DecodeError(`body is not valid ${encoding}`, sniffXmlVersion(body));
  }
}

/** Parse an XML CSP document into a tree with canonical element names. */
export function decodeXml(body: Buffer, limits: DecodeLimits): Decoded {
  const text = bytesToText(body, limits.charset);
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: RawElement[] = [];
  let root: RawElement | undefined;
  let doctype: string | undefined;
  let failure: Error | undefined;

  parser.on('doctype', (dt) => {
    doctype = /PUBLIC\s+["']([^"']*)["']/i.exec(dt)?.[1] ?? dt;
  });
  // Handlers throw to stop saxes at the first problem: carrying on through a hostile body
  // (hundreds of thousands of unclosed tags) only costs time.
  parser.on('opentag', (tag) => {
    if (stack.length >= limits.maxDepth) {
      failure = new DecodeError(`elements nested deeper than ${limits.maxDepth} levels`);
      throw failure;
    }
    const attrs: Record<string, string> = {};
    for (const [name, value] of Object.entries(tag.attributes)) attrs[name] = String(value);
    const node: RawElement = { name: localName(tag.name), attrs, children: [], text: '' };
    if (stack.length) stack[stack.length - 1]!.children.push(node);
    else root = node;
    stack.push(node);
  });
  const onText = (t: string) => {
    if (stack.length) stack[stack.length - 1]!.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('error', (err) => {
    failure ??= err;
    throw err;
  });

  try {
    parser.write(text).close();
  } catch (err) {
    failure ??= err as Error;
  }
  const version =
    versionFromIdentifier(root?.attrs['xmlns'] ?? Object.entries(root?.attrs ?? {}).find(([k]) => k.startsWith('xmlns:'))?.[1]) ??
    versionFromIdentifier(doctype) ??
    versionFromIdentifier(findTransactionNamespace(root)) ??
    sniffXmlVersion(body);
  if (failure) throw new DecodeError(`not well-formed XML: ${failure.message.replace(/\s+/g, ' ')}`, version);
  if (!root) throw new DecodeError('empty document', version);
  if (!version) throw new DecodeError('no CSP version: the root element carries no known CSP namespace');
  return { version, root: canonicalize(root, version) };
}

/** The namespace on the first TransactionContent (WV-CSP-Message/Session/Transaction/TransactionContent). */
function findTransactionNamespace(root: RawElement | undefined): string | undefined {
  const step = (node: RawElement | undefined, name: string) => node?.children.find((c) => c.name.toLowerCase() === name.toLowerCase());
  return step(step(step(root, 'Session'), 'Transaction'), 'TransactionContent')?.attrs['xmlns'];
}

function canonicalize(raw: RawElement, version: CspVersion): CspElement {
  const schema = schemaFor(version);
  const convert = (node: RawElement): CspElement => {
    const out: CspElement = { name: schema.canonicalName(node.name) ?? node.name, children: node.children.map(convert) };
    if (node.children.length === 0 && node.text !== '') out.text = node.text;
    const attrs = Object.keys(node.attrs);
    if (attrs.length) out.attrs = node.attrs;
    return out;
  };
  return convert(raw);
}

// XML 1.0 forbids most C0 controls and lone surrogates even as references; content coming
// from other encodings (WBXML, JSON) may hold them, so they are replaced rather than emitted.
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function escapeText(s: string): string {
  // A raw CR would be normalised away by every XML parser (CRLF → LF): vCards and other
  // CRLF-separated text must keep theirs, so CR is written as a character reference.
  return s.replace(INVALID_XML_CHARS, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

function escapeAttr(s: string): string {
  return escapeText(s).replace(/"/g, '&quot;');
}

/** Serialize a tree as a CSP XML document of the given version (children in schema order). */
export function encodeXml(root: CspElement, version: CspVersion): Buffer {
  const schema = schemaFor(version);
  const parts: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const write = (node: CspElement) => {
    const name = schema.wireName(node.name);
    let open = `<${name}`;
    for (const [k, v] of Object.entries(node.attrs ?? {})) open += ` ${k}="${escapeAttr(v)}"`;
    if (node.children.length) {
      parts.push(open + '>');
      for (const c of schema.orderChildren(node.name, node.children)) write(c);
      parts.push(`</${name}>`);
    } else if (node.text !== undefined && node.text !== '') {
      parts.push(`${open}>${escapeText(node.text)}</${name}>`);
    } else {
      parts.push(open + '/>');
    }
  };
  write(root);
  return Buffer.from(parts.join(''), 'utf8');
}
