// A small XMPP c2s client for tests (RFC 6120/6121), on node:net and saxes: plaintext TCP,
// SASL PLAIN, resource binding, then raw stanzas both ways. It talks to the private Prosody of
// test/support/prosody.ts, whose c2s allows plaintext auth on 127.0.0.1.
//
// Why not @xmpp/client (0.14): it always takes STARTTLS when offered — Prosody offers it on c2s
// in every mode but "plain" — and then verifies Prosody's certificate against Node's default CA
// store, with no option to pass our test CA (the upgrade is tls.connect({ socket, host })), so
// login fails with SELF_SIGNED_CERT_IN_CHAIN. Making it work needs NODE_EXTRA_CA_CERTS before
// the process starts or NODE_TLS_REJECT_UNAUTHORIZED=0 process-wide, which would also weaken
// the certificate checks of the very s2s code under test. It also ships no TypeScript types.
// Tests need raw stanzas and waits on them, which this gives directly.
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SaxesParser, type SaxesTagNS } from 'saxes';

/** A received (or built) element: local name, namespace, attributes by qualified name, children. */
export interface XmlElement {
  name: string;
  xmlns: string;
  attrs: Record<string, string>;
  children: (XmlElement | string)[];
}

export interface XmppUserOptions {
  /** c2s port on 127.0.0.1 (Prosody.c2sPort). */
  port: number;
  host?: string;
  /** The server's domain (to='…' of the stream, domain part of the JID). */
  domain: string;
  username: string;
  password: string;
  /** Resource to bind (default: a random one). */
  resource?: string;
  /**
   * Send available presence once bound and wait for the server's echo of it (default true):
   * a user without it has no available resource, so messages to the bare JID go offline.
   */
  initialPresence?: boolean;
  /** Limit for connecting and logging in (default 5000 ms). */
  timeoutMs?: number;
}

export interface PresenceOptions {
  to?: string;
  /** 'unavailable', 'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed', 'probe'; none for available. */
  type?: string;
  show?: 'away' | 'chat' | 'dnd' | 'xa';
  status?: string;
  priority?: number;
}

export interface MessageExtra {
  type?: 'chat' | 'normal' | 'groupchat' | 'headline' | 'error';
  id?: string;
  /** Raw XML appended inside <message/> after <body/>. */
  xml?: string;
}

export type StanzaPredicate = (stanza: XmlElement) => boolean;

export interface XmppUser {
  /** The bound full JID (user@domain/resource). */
  readonly jid: string;
  readonly bareJid: string;
  /** Every top-level element received after login, in order. */
  readonly received: readonly XmlElement[];
  /** Send a raw XML string or an element. */
  send(stanza: string | XmlElement): void;
  /**
   * The first stanza received after login (including ones already received) that matches; fails
   * after timeoutMs with what did arrive. Each stanza satisfies at most one waitFor.
   */
  waitFor(predicate: StanzaPredicate, timeoutMs?: number, description?: string): Promise<XmlElement>;
  /** Send a <message/> with a <body/>; returns its id. */
  sendMessage(to: string, body: string, extra?: MessageExtra): string;
  /** Send a <presence/>. */
  presence(options?: PresenceOptions): void;
  /** Close the stream and the connection. */
  close(): Promise<void>;
}

const NS_STREAM = 'http://etherx.jabber.org/streams';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_CLIENT = 'jabber:client';

// ── Elements ─────────────────────────────────────────────────────────────────────────────────

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Serialise an element (its xmlns is written where it differs from the parent's). */
export function serialize(el: XmlElement, parentNs = NS_CLIENT): string {
  const attrs = Object.entries(el.attrs).filter(([k]) => k !== 'xmlns');
  if (el.xmlns !== parentNs) attrs.unshift(['xmlns', el.xmlns]);
  const open = `<${el.name}${attrs.map(([k, v]) => ` ${k}="${escapeXml(v)}"`).join('')}`;
  if (el.children.length === 0) return `${open}/>`;
  const inner = el.children.map((c) => (typeof c === 'string' ? escapeXml(c) : serialize(c, el.xmlns))).join('');
  return `${open}>${inner}</${el.name}>`;
}

/** The first child element with this name (and namespace, if given). */
export function childOf(el: XmlElement, name: string, xmlns?: string): XmlElement | undefined {
  return el.children.find((c): c is XmlElement => typeof c !== 'string' && c.name === name && (xmlns === undefined || c.xmlns === xmlns));
}

/** The element's text content (direct text children only). */
export function textOf(el: XmlElement | undefined): string {
  return el ? el.children.filter((c): c is string => typeof c === 'string').join('') : '';
}

/** The body text of a <message/>, or undefined. */
export function bodyOf(stanza: XmlElement): string | undefined {
  const body = stanza.name === 'message' ? childOf(stanza, 'body') : undefined;
  return body ? textOf(body) : undefined;
}

/** A predicate for a <message/> from this JID (bare or full) with this body. */
export function messageFrom(from: string, body?: string): StanzaPredicate {
  return (s) => s.name === 'message' && bareOf(s.attrs['from'] ?? '') === bareOf(from) && (body === undefined || bodyOf(s) === body);
}

export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash < 0 ? jid : jid.slice(0, slash);
}

// ── The stream ───────────────────────────────────────────────────────────────────────────────

/** Reads one XML stream: the stream header, then each top-level element as it completes. */
class StreamReader {
  private parser!: SaxesParser<{ xmlns: true }>;
  private stack: XmlElement[] = [];
  streamHeader: Record<string, string> | undefined;

  constructor(
    private readonly onElement: (el: XmlElement) => void,
    private readonly onStreamEnd: () => void,
    private readonly onError: (err: Error) => void,
  ) {
    this.reset();
  }

  /** A new XML document (after SASL success the server starts a new stream). */
  reset(): void {
    this.stack = [];
    this.streamHeader = undefined;
    const parser = new SaxesParser({ xmlns: true });
    parser.on('opentag', (tag: SaxesTagNS) => {
      if (!this.streamHeader && tag.local === 'stream' && tag.uri === NS_STREAM) {
        this.streamHeader = Object.fromEntries(Object.values(tag.attributes).map((a) => [a.name, a.value]));
        return;
      }
      const attrs: Record<string, string> = {};
      for (const a of Object.values(tag.attributes)) {
        if (a.name === 'xmlns' || a.prefix === 'xmlns') continue;
        attrs[a.name] = a.value;
      }
      const el: XmlElement = { name: tag.local, xmlns: tag.uri, attrs, children: [] };
      this.stack.at(-1)?.children.push(el);
      this.stack.push(el);
    });
    parser.on('text', (text: string) => {
      const top = this.stack.at(-1);
      if (top) top.children.push(text);
    });
    parser.on('closetag', (tag: SaxesTagNS) => {
      if (this.stack.length === 0) {
        if (tag.local === 'stream' && tag.uri === NS_STREAM) this.onStreamEnd();
        return;
      }
      const el = this.stack.pop()!;
      if (this.stack.length === 0) this.onElement(el);
    });
    parser.on('error', (err: Error) => this.onError(err));
    this.parser = parser;
  }

  write(chunk: string): void {
    this.parser.write(chunk);
  }
}

interface Waiter {
  predicate: StanzaPredicate;
  resolve: (el: XmlElement) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

class Connection {
  readonly socket: Socket;
  private readonly reader: StreamReader;
  /** Elements not yet claimed by a waiter (before login: the negotiation's). */
  private inbox: XmlElement[] = [];
  readonly log: XmlElement[] = [];
  private waiters: Waiter[] = [];
  private restartPending = false;
  closedReason: string | undefined;

  constructor(host: string, port: number) {
    this.socket = connect({ host, port });
    this.socket.setEncoding('utf8');
    this.reader = new StreamReader(
      (el) => this.deliver(el),
      () => this.fail('the server closed the stream'),
      (err) => this.fail(`unparsable XML from the server: ${err.message}`),
    );
    this.socket.on('data', (chunk: string) => {
      if (this.restartPending) {
        this.restartPending = false;
        this.reader.reset();
      }
      this.reader.write(chunk);
    });
    this.socket.on('error', (err) => this.fail(`socket error: ${err.message}`));
    this.socket.on('close', () => this.fail('the connection closed'));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
  }

  write(data: string): void {
    if (this.closedReason) throw new Error(`cannot send, ${this.closedReason}: ${data}`);
    this.socket.write(data);
  }

  openStream(domain: string): void {
    this.restartPending = this.reader.streamHeader !== undefined;
    this.write(`<?xml version='1.0'?><stream:stream to='${escapeXml(domain)}' xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAM}' version='1.0' xml:lang='en'>`);
  }

  private deliver(el: XmlElement): void {
    this.log.push(el);
    if (el.name === 'error' && el.xmlns === NS_STREAM) {
      const condition = el.children.find((c): c is XmlElement => typeof c !== 'string')?.name ?? 'unknown';
      this.fail(`stream error <${condition}/>: ${serialize(el, NS_STREAM)}`);
      return;
    }
    const i = this.waiters.findIndex((w) => w.predicate(el));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(el);
    } else {
      this.inbox.push(el);
    }
  }

  waitFor(predicate: StanzaPredicate, timeoutMs: number, description: string, shown: () => readonly XmlElement[]): Promise<XmlElement> {
    const i = this.inbox.findIndex(predicate);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.closedReason) return Promise.reject(new Error(`waiting for ${description}: ${this.closedReason}; received ${describe(shown())}`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`no ${description} within ${timeoutMs} ms; received ${describe(shown())}`));
        }, timeoutMs),
      };
      // Decorate errors from fail() with what arrived, too.
      waiter.reject = (err) => reject(new Error(`waiting for ${description}: ${err.message}; received ${describe(shown())}`));
      this.waiters.push(waiter);
    });
  }

  fail(reason: string): void {
    if (!this.closedReason) this.closedReason = reason;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.waiters = [];
  }

  /** Forget elements nobody claimed (the negotiation's leftovers) and start the log afresh. */
  startLog(): number {
    this.inbox = [];
    return this.log.length;
  }
}

function describe(stanzas: readonly XmlElement[]): string {
  if (stanzas.length === 0) return 'nothing';
  return `${stanzas.length} stanza(s):\n${stanzas.map((s) => `  ${serialize(s, NS_CLIENT)}`).join('\n')}`;
}

/** The promise, or a rejection after ms (the timer does not outlive it). */
function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

let idCounter = 0;
function newId(prefix: string): string {
  return `${prefix}-${++idCounter}-${randomBytes(3).toString('hex')}`;
}

/** Connect, log in (SASL PLAIN, no TLS), bind a resource and (by default) send initial presence. */
export async function connectXmppUser(options: XmppUserOptions): Promise<XmppUser> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 5000;
  const who = `${options.username}@${options.domain} on ${host}:${options.port}`;
  const conn = new Connection(host, options.port);
  const step = (what: string, predicate: StanzaPredicate) => conn.waitFor(predicate, timeoutMs, `${what} (logging in ${who})`, () => conn.log);
  try {
    await withTimeout(conn.connected(), timeoutMs, `could not connect to ${host}:${options.port} within ${timeoutMs} ms`);

    conn.openStream(options.domain);
    const features = await step('<stream:features/>', (s) => s.name === 'features' && s.xmlns === NS_STREAM);
    const mechanisms = childOf(features, 'mechanisms', NS_SASL);
    const offered = mechanisms ? mechanisms.children.filter((c): c is XmlElement => typeof c !== 'string').map(textOf) : [];
    if (!offered.includes('PLAIN')) throw new Error(`${who}: the server does not offer SASL PLAIN without TLS (offers: ${offered.join(', ') || 'none'}): ${serialize(features, NS_STREAM)}`);
    const credentials = Buffer.from(`\0${options.username}\0${options.password}`, 'utf8').toString('base64');
    conn.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${credentials}</auth>`);
    const outcome = await step('SASL <success/> or <failure/>', (s) => s.xmlns === NS_SASL && (s.name === 'success' || s.name === 'failure'));
    if (outcome.name === 'failure') throw new Error(`${who}: authentication failed: ${serialize(outcome, NS_SASL)}`);

    conn.openStream(options.domain);
    const features2 = await step('<stream:features/> after SASL', (s) => s.name === 'features' && s.xmlns === NS_STREAM);
    if (!childOf(features2, 'bind', NS_BIND)) throw new Error(`${who}: no resource binding offered: ${serialize(features2, NS_STREAM)}`);
    const bindId = newId('bind');
    const resource = options.resource ?? `test-${randomBytes(4).toString('hex')}`;
    conn.write(`<iq type='set' id='${bindId}'><bind xmlns='${NS_BIND}'><resource>${escapeXml(resource)}</resource></bind></iq>`);
    const bound = await step('the bind result', (s) => s.name === 'iq' && s.attrs['id'] === bindId);
    const jid = textOf(childOf(childOf(bound, 'bind', NS_BIND) ?? bound, 'jid'));
    if (bound.attrs['type'] !== 'result' || !jid) throw new Error(`${who}: binding failed: ${serialize(bound)}`);

    const logStart = conn.startLog();
    const received = () => conn.log.slice(logStart);
    const user: XmppUser = {
      jid,
      bareJid: bareOf(jid),
      get received() {
        return received();
      },
      send(stanza) {
        conn.write(typeof stanza === 'string' ? stanza : serialize(stanza));
      },
      waitFor(predicate, waitMs = 5000, description = 'a matching stanza') {
        return conn.waitFor(predicate, waitMs, `${description} (for ${jid})`, received);
      },
      sendMessage(to, body, extra = {}) {
        const id = extra.id ?? newId('msg');
        conn.write(`<message to='${escapeXml(to)}' id='${escapeXml(id)}' type='${extra.type ?? 'chat'}'><body>${escapeXml(body)}</body>${extra.xml ?? ''}</message>`);
        return id;
      },
      presence(p = {}) {
        const attrs = `${p.to ? ` to='${escapeXml(p.to)}'` : ''}${p.type ? ` type='${escapeXml(p.type)}'` : ''}`;
        const inner = `${p.show ? `<show>${p.show}</show>` : ''}${p.status !== undefined ? `<status>${escapeXml(p.status)}</status>` : ''}${p.priority !== undefined ? `<priority>${p.priority}</priority>` : ''}`;
        conn.write(inner ? `<presence${attrs}>${inner}</presence>` : `<presence${attrs}/>`);
      },
      async close() {
        if (!conn.closedReason) {
          const ended = new Promise<void>((resolve) => conn.socket.once('close', () => resolve()));
          try {
            conn.write('</stream:stream>');
          } catch {
            // already closing
          }
          conn.socket.end();
          await withTimeout(ended, 1000, 'no close').catch(() => {});
        }
        conn.fail('closed by the test');
        conn.socket.destroy();
      },
    };
    if (options.initialPresence ?? true) {
      user.presence();
      // RFC 6121 §4.2.2: the server sends the initial presence to all the user's available
      // resources, this one included: once it is back, the resource is available.
      await user.waitFor((s) => s.name === 'presence' && s.attrs['from'] === jid && !s.attrs['type'], timeoutMs, 'the echo of our initial presence');
    }
    return user;
  } catch (err) {
    conn.fail('login failed');
    conn.socket.destroy();
    throw err;
  }
}
