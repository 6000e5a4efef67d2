// XML as XMPP uses it (RFC 6120 §11): namespaced elements with attributes and text, built and
// serialised here, parsed by stream-parser.ts. Stanzas travel in the stream's default namespace
// (jabber:server); dialback elements keep the conventional "db:" prefix the stream header
// declares, because some servers still match on it.
export const NS = {
  server: 'jabber:server',
  stream: 'http://etherx.jabber.org/streams',
  dialback: 'jabber:server:dialback',
  dialbackFeature: 'urn:xmpp:features:dialback',
  tls: 'urn:ietf:params:xml:ns:xmpp-tls',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  streamErrors: 'urn:ietf:params:xml:ns:xmpp-streams',
  stanzaErrors: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  receipts: 'urn:xmpp:receipts',
  xhtmlIm: 'http://jabber.org/protocol/xhtml-im',
  oob: 'jabber:x:oob',
  delay: 'urn:xmpp:delay',
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
  chatStates: 'http://jabber.org/protocol/chatstates',
  ping: 'urn:xmpp:ping',
  discoInfo: 'http://jabber.org/protocol/disco#info',
} as const;

export interface XmlNode {
  /** Local name ("message", "result"). */
  name: string;
  /** Namespace URI the element is in. */
  ns: string;
  /** Attributes without namespace declarations (xml:lang is kept under that name). */
  attrs: Record<string, string>;
  children: (XmlNode | string)[];
}

/** Build an element; undefined/false children and attributes are left out. */
export function xml(name: string, ns: string, attrs: Record<string, string | undefined> = {}, ...children: (XmlNode | string | undefined | false)[]): XmlNode {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) kept[k] = v;
  return { name, ns, attrs: kept, children: children.filter((c): c is XmlNode | string => c !== undefined && c !== false) };
}

export function childElements(node: XmlNode | undefined): XmlNode[] {
  return (node?.children ?? []).filter((c): c is XmlNode => typeof c !== 'string');
}

export function findChild(node: XmlNode | undefined, name: string, ns?: string): XmlNode | undefined {
  return childElements(node).find((c) => c.name === name && (ns === undefined || c.ns === ns));
}

/** All text directly inside an element. */
export function textContent(node: XmlNode | undefined): string {
  return (node?.children ?? []).filter((c): c is string => typeof c === 'string').join('');
}

export function childText(node: XmlNode | undefined, name: string, ns?: string): string | undefined {
  const c = findChild(node, name, ns);
  return c ? textContent(c) : undefined;
}

const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;');

/** Characters XML 1.0 cannot carry at all: dropped rather than sent, so a peer never sees ill-formed XML. */
// eslint-disable-next-line no-control-regex
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

/**
 * Serialise an element whose parent's default namespace is `parentNs`. The namespace is
 * declared where it changes; dialback and stream elements use the header's "db:" and "stream:" prefixes.
 */
export function serialize(node: XmlNode, parentNs: string = NS.server): string {
  // Stream-level elements (<stream:features>) and dialback ones keep the header's prefixes.
  const prefix = node.ns === NS.dialback ? 'db' : node.ns === NS.stream ? 'stream' : undefined;
  const dialback = prefix !== undefined;
  const tag = prefix ? `${prefix}:${node.name}` : node.name;
  let out = `<${tag}`;
  if (!dialback && node.ns !== parentNs) out += ` xmlns="${escapeAttr(node.ns)}"`;
  for (const [k, v] of Object.entries(node.attrs)) out += ` ${k}="${escapeAttr(v.replace(NOT_XML, ''))}"`;
  if (node.children.length === 0) return out + '/>';
  out += '>';
  const inner = dialback ? parentNs : node.ns;
  for (const c of node.children) out += typeof c === 'string' ? escapeText(c.replace(NOT_XML, '')) : serialize(c, inner);
  return `${out}</${tag}>`;
}

/** The opening of a server-to-server stream (RFC 6120 §4.7, XEP-0220 for xmlns:db). */
export function streamHeader(attrs: { from?: string; to?: string; id?: string; version?: string }): string {
  let out = `<?xml version='1.0'?><stream:stream xmlns='${NS.server}' xmlns:stream='${NS.stream}' xmlns:db='${NS.dialback}'`;
  for (const key of ['from', 'to', 'id', 'version'] as const) {
    const v = attrs[key];
    if (v !== undefined) out += ` ${key}='${escapeAttr(v)}'`;
  }
  return out + '>';
}

export const STREAM_CLOSE = '</stream:stream>';

/** A stream-level error element (RFC 6120 §4.9), serialised with the stream prefix. */
export function streamError(condition: string, text?: string): string {
  const body = `<${condition} xmlns='${NS.streamErrors}'/>` + (text ? `<text xmlns='${NS.streamErrors}'>${escapeText(text)}</text>` : '');
  return `<stream:error>${body}</stream:error>`;
}
