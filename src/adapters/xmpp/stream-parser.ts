// Incremental parsing of one XMPP stream (RFC 6120 §4): the stream header, then each
// top-level element (stanza, features, dialback, TLS and SASL negotiation) as a whole tree,
// then the stream's end. A restarted stream (after STARTTLS or SASL) gets a fresh parser.
//
// Hostile input is bounded: no DOCTYPE, entity declarations or processing instructions
// (RFC 6120 §11.1 restricted XML), a depth limit, and a size limit on everything between two
// boundaries (the header's end, a top-level element's end, text between stanzas): whatever
// saxes holds in memory — a tag that never ends, an endless header, megabytes of whitespace —
// is counted, not only what arrives inside a stanza.
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { StringDecoder } from 'node:string_decoder';
import { NS, type XmlNode } from './xml.ts';

export interface StreamHeader {
  from?: string;
  to?: string;
  id?: string;
  version?: string;
  /** The default namespace the peer declared (jabber:server for s2s). */
  ns: string;
  /** Whether the peer declared the dialback prefix (xmlns:db). */
  dialback: boolean;
}

export interface StreamHandlers {
  header(header: StreamHeader): void;
  element(node: XmlNode): void;
  end(): void;
  /** Ill-formed or restricted XML, or a limit exceeded: `condition` is the RFC 6120 stream error to send. */
  error(condition: 'not-well-formed' | 'restricted-xml' | 'policy-violation' | 'invalid-namespace', message: string): void;
}

export interface StreamLimits {
  maxElementBytes: number;
  maxDepth: number;
}

export class StreamParser {
  private parser!: SaxesParser<{ xmlns: true }>;
  private decoder = new StringDecoder('utf8');
  private stack: XmlNode[] = [];
  /** Bytes written since the last boundary (see above); what the parser may be holding. */
  private bytesSinceBoundary = 0;
  private failed = false;

  constructor(
    private readonly handlers: StreamHandlers,
    private readonly limits: StreamLimits = { maxElementBytes: 256 * 1024, maxDepth: 32 },
  ) {
    this.reset();
  }

  /** Start over for a restarted stream (the next bytes begin with a new header). */
  reset(): void {
    this.decoder = new StringDecoder('utf8');
    this.stack = [];
    this.bytesSinceBoundary = 0;
    this.failed = false;
    const parser = new SaxesParser({ xmlns: true });
    parser.on('doctype', () => this.fail('restricted-xml', 'DOCTYPE is not allowed in XMPP'));
    parser.on('processinginstruction', () => this.fail('restricted-xml', 'processing instructions are not allowed in XMPP'));
    parser.on('opentag', (tag) => this.open(tag));
    parser.on('closetag', () => this.close());
    parser.on('text', (text) => this.text(text));
    parser.on('cdata', (text) => this.text(text));
    parser.on('error', (err) => this.fail('not-well-formed', err.message));
    this.parser = parser;
  }

  write(chunk: Buffer): void {
    if (this.failed) return;
    try {
      this.bytesSinceBoundary += chunk.length;
      if (this.bytesSinceBoundary > this.limits.maxElementBytes) this.fail('policy-violation', `more than ${this.limits.maxElementBytes} bytes without a complete stanza`);
      this.parser.write(this.decoder.write(chunk));
    } catch (err) {
      // fail() throws to stop saxes mid-chunk; anything else saxes threw is ill-formed input.
      this.report('not-well-formed', (err as Error).message);
    }
  }

  /** Report the problem once and stop reading (throws to break out of saxes; write() catches it). */
  private fail(condition: Parameters<StreamHandlers['error']>[0], message: string): never {
    this.report(condition, message);
    throw new Error(message);
  }

  private report(condition: Parameters<StreamHandlers['error']>[0], message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.handlers.error(condition, message);
  }

  private open(tag: SaxesTagNS): void {
    if (this.failed) return;
    if (this.stack.length === 0) {
      if (tag.local !== 'stream' || tag.uri !== NS.stream) return this.fail('invalid-namespace', `expected a stream header, got <${tag.name}>`);
      const attr = (name: string) => tag.attributes[name]?.value;
      const header: StreamHeader = { ns: tag.ns[''] ?? '', dialback: tag.ns['db'] === NS.dialback };
      for (const key of ['from', 'to', 'id', 'version'] as const) {
        const v = attr(key);
        if (v !== undefined) header[key] = v;
      }
      this.stack.push({ name: 'stream', ns: NS.stream, attrs: {}, children: [] });
      this.bytesSinceBoundary = 0;
      this.handlers.header(header);
      return;
    }
    if (this.stack.length > this.limits.maxDepth) return this.fail('policy-violation', 'elements nested too deeply');
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === 'xmlns' || a.name === 'xmlns') continue;
      attrs[a.prefix === 'xml' ? `xml:${a.local}` : a.local] = a.value;
    }
    const node: XmlNode = { name: tag.local, ns: tag.uri, attrs, children: [] };
    if (this.stack.length > 1) this.stack.at(-1)!.children.push(node);
    this.stack.push(node);
  }

  private text(text: string): void {
    if (this.failed) return;
    if (this.stack.length <= 1) {
      // Whitespace between stanzas is a keep-alive, not content; saxes has let go of it now.
      this.bytesSinceBoundary = 0;
      return;
    }
    const parent = this.stack.at(-1)!;
    const last = parent.children.at(-1);
    if (typeof last === 'string') parent.children[parent.children.length - 1] = last + text;
    else parent.children.push(text);
  }

  private close(): void {
    if (this.failed) return;
    const node = this.stack.pop();
    if (!node) return;
    if (this.stack.length === 0) this.handlers.end();
    else if (this.stack.length === 1) {
      this.bytesSinceBoundary = 0;
      this.handlers.element(node);
    }
  }
}
