// Opening a stream to a peer server (we are the initiating entity, RFC 6120 §4–§6, XEP-0220):
//
//   TCP ─▶ header ─▶ [features ─▶ STARTTLS ─▶ TLS ─▶ header ─▶ features]
//       ─▶ SASL EXTERNAL when offered (our certificate satisfied them) ─▶ header ─▶ features
//       └▶ otherwise Server Dialback: <db:result> with our key, until they say valid
//
// A pre-1.0 peer (no version on its header, Google-Talk era) gets no features: straight to
// dialback. The same opening, minus authentication, serves a one-off <db:verify> (verify()).
import { connect as tcpConnect } from 'node:net';
import type { TlsIdentity } from './tls.ts';
import type { Logger } from '../../log.ts';
import { XmppConnection, type PeerCertificate } from './connection.ts';
import type { StreamHeader } from './stream-parser.ts';
import { NS, findChild, childElements, textContent, xml, type XmlNode } from './xml.ts';
import type { DialbackKeys } from './dialback.ts';

export interface Target {
  host: string;
  port: number;
}

export interface OutgoingOptions {
  localDomain: string;
  remoteDomain: string;
  target: Target;
  /** Our certificate (xmpp.tls); without it we neither start TLS nor offer a client certificate. */
  tls: TlsIdentity | undefined;
  keys: DialbackKeys;
  log: Logger;
  /** For each step (connect, each answer). */
  stepTimeoutMs: number;
  /** Progress, for the link actor's states. */
  onProgress?(step: 'connected' | 'secured' | 'authenticating'): void;
}

export interface OpenStream {
  connection: XmppConnection;
  streamId: string | undefined;
  method: 'sasl-external' | 'dialback';
  /** The peer's certificate as checked during STARTTLS (undefined without TLS). */
  certificate: PeerCertificate | undefined;
}

export class NegotiationError extends Error {
  constructor(
    message: string,
    /** Whether trying again later may help (network) or not (refused, misconfigured). */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'NegotiationError';
  }
}

/** Hands what the connection receives to whoever awaits it next. */
class Inbox {
  private items: (StreamHeader | XmlNode)[] = [];
  private waiting: { resolve(v: StreamHeader | XmlNode): void; reject(e: Error): void } | undefined;
  private closedReason: string | undefined;

  push(item: StreamHeader | XmlNode): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(item);
    } else this.items.push(item);
  }

  close(reason: string): void {
    this.closedReason = reason;
    this.waiting?.reject(new NegotiationError(`connection closed: ${reason}`, true));
    this.waiting = undefined;
  }

  next(timeoutMs: number, what: string): Promise<StreamHeader | XmlNode> {
    const item = this.items.shift();
    if (item) return Promise.resolve(item);
    if (this.closedReason) return Promise.reject(new NegotiationError(`connection closed: ${this.closedReason}`, true));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new NegotiationError(`no ${what} within ${timeoutMs} ms`, true));
      }, timeoutMs);
      this.waiting = {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }
}

const isHeader = (x: StreamHeader | XmlNode): x is StreamHeader => !('children' in x);

/** A stream error from the peer ends negotiation with its condition. */
function streamErrorOf(node: XmlNode): string | undefined {
  if (node.name !== 'error' || node.ns !== NS.stream) return undefined;
  return childElements(node).find((c) => c.ns === NS.streamErrors && c.name !== 'text')?.name ?? 'undefined-condition';
}

async function expectHeader(inbox: Inbox, timeoutMs: number): Promise<StreamHeader> {
  const item = await inbox.next(timeoutMs, 'stream header');
  if (!isHeader(item)) throw new NegotiationError(`expected a stream header, got <${item.name}>`, false);
  return item;
}

async function expectElement(inbox: Inbox, timeoutMs: number, what: string): Promise<XmlNode> {
  const item = await inbox.next(timeoutMs, what);
  if (isHeader(item)) throw new NegotiationError(`unexpected stream header while waiting for ${what}`, false);
  const error = streamErrorOf(item);
  if (error) throw new NegotiationError(`peer sent stream error ${error}`, error !== 'host-unknown' && error !== 'not-authorized' && error !== 'policy-violation');
  return item;
}

/** Open a TCP connection and the first stream; returns the live connection and what it said. */
async function open(options: OutgoingOptions, inbox: Inbox): Promise<{ connection: XmppConnection; header: StreamHeader }> {
  const { target, stepTimeoutMs, log } = options;
  const socket = tcpConnect({ host: target.host, port: target.port });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new NegotiationError(`could not connect to ${target.host}:${target.port} within ${stepTimeoutMs} ms`, true));
    }, stepTimeoutMs);
    socket.once('connect', () => (clearTimeout(timer), resolve()));
    socket.once('error', (err) => (clearTimeout(timer), reject(new NegotiationError(`connecting to ${target.host}:${target.port}: ${err.message}`, true))));
  });
  const connection = new XmppConnection(socket, { header: (h) => inbox.push(h), element: (n) => inbox.push(n), closed: (r) => inbox.close(r) }, log);
  options.onProgress?.('connected');
  connection.sendHeader({ from: options.localDomain, to: options.remoteDomain, version: '1.0' });
  const header = await expectHeader(inbox, stepTimeoutMs);
  return { connection, header };
}

/** Send a fresh header after TLS or SASL and read the new header and features. */
async function restart(options: OutgoingOptions, connection: XmppConnection, inbox: Inbox): Promise<{ header: StreamHeader; features: XmlNode | undefined }> {
  connection.restartStream();
  connection.sendHeader({ from: options.localDomain, to: options.remoteDomain, version: '1.0' });
  const header = await expectHeader(inbox, options.stepTimeoutMs);
  const features = header.version ? await expectElement(inbox, options.stepTimeoutMs, 'stream features') : undefined;
  return { header, features };
}

/** Open a stream and secure it with STARTTLS when the peer offers it (or must, when it requires it). */
async function openSecured(options: OutgoingOptions, inbox: Inbox) {
  const { connection, header: first } = await open(options, inbox);
  try {
    let header = first;
    let features = header.version ? await expectElement(inbox, options.stepTimeoutMs, 'stream features') : undefined;
    let certificate: PeerCertificate | undefined;
    const starttls = findChild(features, 'starttls', NS.tls);
    if (starttls && options.tls) {
      connection.send(xml('starttls', NS.tls));
      const answer = await expectElement(inbox, options.stepTimeoutMs, 'STARTTLS answer');
      if (answer.name !== 'proceed' || answer.ns !== NS.tls) throw new NegotiationError(`peer refused STARTTLS (<${answer.name}>)`, true);
      certificate = await connection.upgradeAsClient(options.tls.client, options.remoteDomain).catch((err: Error) => {
        throw new NegotiationError(`TLS handshake failed: ${err.message}`, true);
      });
      options.onProgress?.('secured');
      ({ header, features } = await restart(options, connection, inbox));
    } else if (starttls && findChild(starttls, 'required', NS.tls)) {
      throw new NegotiationError(`${options.remoteDomain} requires TLS and xmpp.tls is not configured`, false);
    }
    return { connection, header, features, certificate };
  } catch (err) {
    connection.destroy(String((err as Error).message));
    throw err;
  }
}

/** Open an authenticated stream to the peer, for sending our stanzas. */
export async function openOutgoing(options: OutgoingOptions): Promise<OpenStream> {
  const inbox = new Inbox();
  const opened = await openSecured(options, inbox);
  const { connection, certificate } = opened;
  let { header, features } = opened;
  options.onProgress?.('authenticating');
  try {
    const mechanisms = childElements(findChild(features, 'mechanisms', NS.sasl)).map((m) => textContent(m).trim().toUpperCase());
    if (connection.secure && mechanisms.includes('EXTERNAL')) {
      // The peer offers EXTERNAL only when our certificate satisfied it; the authzid is our domain.
      connection.send(xml('auth', NS.sasl, { mechanism: 'EXTERNAL' }, Buffer.from(options.localDomain).toString('base64')));
      const answer = await expectElement(inbox, options.stepTimeoutMs, 'SASL answer');
      if (answer.name === 'success' && answer.ns === NS.sasl) {
        ({ header } = await restart(options, connection, inbox));
        return { connection, streamId: header.id, method: 'sasl-external', certificate };
      }
      options.log.info({ remote: options.remoteDomain, answer: answer.name }, 'SASL EXTERNAL refused; trying dialback');
    }
    const canDialback = !header.version || findChild(features, 'dialback', NS.dialbackFeature) !== undefined || header.dialback;
    if (!canDialback) throw new NegotiationError(`${options.remoteDomain} offers neither SASL EXTERNAL for us nor dialback`, false);
    // An empty id (some old servers) still keys dialback: the peer verifies with the same ''.
    if (header.id === undefined) throw new NegotiationError(`${options.remoteDomain} gave its stream no id: dialback impossible`, false);
    const key = options.keys.key(options.remoteDomain, options.localDomain, header.id);
    connection.send(xml('result', NS.dialback, { from: options.localDomain, to: options.remoteDomain }, key));
    for (;;) {
      const answer = await expectElement(inbox, options.stepTimeoutMs * 2, 'dialback result');
      if (answer.name !== 'result' || answer.ns !== NS.dialback) continue; // e.g. a db:verify meant for elsewhere
      if (answer.attrs['type'] === 'valid') return { connection, streamId: header.id, method: 'dialback', certificate };
      throw new NegotiationError(`${options.remoteDomain} did not accept our dialback key (${answer.attrs['type'] ?? 'no type'})`, false);
    }
  } catch (err) {
    connection.destroy(String((err as Error).message));
    throw err;
  }
}

/**
 * Ask the authoritative server of `remoteDomain` whether `key` is one it sent for stream
 * `streamId` (the receiving side of dialback, XEP-0220 §2.1.2), over a fresh connection.
 */
export async function verifyDialbackKey(options: OutgoingOptions, streamId: string, key: string): Promise<boolean> {
  const inbox = new Inbox();
  const { connection } = await openSecured(options, inbox);
  try {
    connection.send(xml('verify', NS.dialback, { from: options.localDomain, to: options.remoteDomain, id: streamId }, key));
    for (;;) {
      const answer = await expectElement(inbox, options.stepTimeoutMs, 'dialback verification');
      if (answer.name === 'verify' && answer.ns === NS.dialback && answer.attrs['id'] === streamId) return answer.attrs['type'] === 'valid';
    }
  } finally {
    connection.close('verification done');
  }
}
