// A stream a peer server opened to us (we are the receiving entity, RFC 6120 §4–§6, XEP-0220):
//
//   header (to = one of our domains) ─▶ our header with a fresh id ─▶ features:
//     STARTTLS until the stream is secure; then SASL EXTERNAL when the peer's certificate is
//     valid for the domain it claims; dialback always.
//   <db:result>: we ask the claimed domain's own server (verifyKey) and answer valid/invalid;
//   <db:verify>: a server checking a key we sent it gets its answer at once — never made to wait
//     on anything of ours (Prosody only verifies after we authorised its stream).
//   Stanzas are accepted only from a domain the stream authenticated, to a domain we host.
import { randomBytes } from 'node:crypto';
import type { TlsIdentity } from './tls.ts';
import type { Logger } from '../../log.ts';
import { XmppConnection } from './connection.ts';
import type { StreamHeader } from './stream-parser.ts';
import { NS, findChild, textContent, xml, type XmlNode } from './xml.ts';
import type { DialbackKeys } from './dialback.ts';

export interface IncomingOptions {
  localDomains: readonly string[];
  tls: TlsIdentity | undefined;
  keys: DialbackKeys;
  log: Logger;
  /** Ask `remote`'s authoritative server whether it sent `key` for our stream `streamId`. */
  verifyKey(local: string, remote: string, streamId: string, key: string): Promise<boolean>;
  /** A stanza from an authenticated peer domain to one of ours. */
  stanza(node: XmlNode, link: { local: string; remote: string }): void;
  /** The stream authenticated a peer domain (for logs and the link's view). */
  authenticated(local: string, remote: string, method: 'sasl-external' | 'dialback'): void;
}

/** How long a peer has to authenticate its stream. */
const AUTH_DEADLINE_MS = 60_000;
/** Dialback checks one stream may have under way at once. */
const MAX_PENDING_VERIFICATIONS = 4;

const domainOf = (jid: string | undefined) => {
  if (!jid) return undefined;
  const bare = jid.split('/')[0]!;
  return (bare.includes('@') ? bare.slice(bare.indexOf('@') + 1) : bare).toLowerCase();
};

export class IncomingStream {
  private readonly connection: XmppConnection;
  private streamId = '';
  private local: string | undefined;
  private claimed: string | undefined;
  /** Peer domains this stream proved, each with the local domain it was accepted for. */
  private readonly authenticated = new Map<string, Set<string>>();
  /** Dialback checks under way: each costs a lookup and a connection of ours, so few at a time. */
  private verifying = 0;
  private readonly authDeadline: NodeJS.Timeout;

  constructor(
    socket: import('node:net').Socket,
    private readonly options: IncomingOptions,
  ) {
    this.connection = new XmppConnection(
      socket,
      {
        header: (h) => this.header(h),
        element: (n) => this.element(n),
        closed: (reason) => {
          clearTimeout(this.authDeadline);
          options.log.debug({ peer: this.claimed, reason }, 'incoming XMPP stream closed');
        },
      },
      options.log,
    );
    // A peer gets a while to authenticate (STARTTLS, SASL or dialback included), not for ever.
    this.authDeadline = setTimeout(() => {
      if (this.authenticated.size === 0) this.connection.fail('connection-timeout', `not authenticated within ${AUTH_DEADLINE_MS / 1000} s`);
    }, AUTH_DEADLINE_MS);
    this.authDeadline.unref();
  }

  close(): void {
    this.connection.close('server shutting down');
  }

  private header(h: StreamHeader): void {
    const to = h.to?.toLowerCase();
    this.streamId = randomBytes(12).toString('hex');
    // Answer with a header before any error, as RFC 6120 §4.9.1.1 requires.
    const reply = (version?: string) =>
      this.connection.sendHeader({ from: to && this.options.localDomains.includes(to) ? to : this.options.localDomains[0], to: h.from, id: this.streamId, ...(version ? { version } : {}) });
    if (h.ns !== NS.server) {
      reply(h.version ? '1.0' : undefined);
      return this.connection.fail('invalid-namespace', `this is a server-to-server port (${NS.server})`);
    }
    // A pre-1.0 (dialback-era) server may leave out 'to': its db:result names the domains.
    if (!to && !h.version) {
      if (h.from) this.claimed = h.from.toLowerCase();
      return reply();
    }
    if (!to || !this.options.localDomains.includes(to)) {
      reply(h.version ? '1.0' : undefined);
      return this.connection.fail('host-unknown', `${to ?? '(no to)'} is not served here`);
    }
    this.local = to;
    if (h.from) this.claimed = h.from.toLowerCase();
    if (!h.version) {
      reply(); // pre-1.0 peer: no features, dialback only
      return;
    }
    reply('1.0');
    this.connection.send(this.features());
  }

  private features(): XmlNode {
    const offers: XmlNode[] = [];
    if (this.options.tls && !this.connection.secure) offers.push(xml('starttls', NS.tls));
    if (this.connection.secure && this.claimed && !this.authenticated.has(this.claimed)) {
      const cert = this.connection.peerCertificate(this.claimed);
      if (cert.trusted && cert.matches) offers.push(xml('mechanisms', NS.sasl, {}, xml('mechanism', NS.sasl, {}, 'EXTERNAL')));
    }
    offers.push(xml('dialback', NS.dialbackFeature, {}, xml('errors', NS.dialbackFeature)));
    return xml('features', NS.stream, {}, ...offers);
  }

  private element(node: XmlNode): void {
    if (node.ns === NS.tls && node.name === 'starttls') return void this.startTls();
    if (node.ns === NS.sasl && node.name === 'auth') return this.saslAuth(node);
    if (node.ns === NS.dialback && node.name === 'result') return void this.dialbackResult(node);
    if (node.ns === NS.dialback && node.name === 'verify') return this.dialbackVerify(node);
    if (node.ns === NS.server && (node.name === 'message' || node.name === 'presence' || node.name === 'iq')) return this.stanza(node);
    this.options.log.debug({ peer: this.claimed, element: node.name, ns: node.ns }, 'unexpected element on an incoming XMPP stream');
  }

  private async startTls(): Promise<void> {
    if (!this.options.tls || this.connection.secure) return this.connection.fail('unsupported-feature', 'STARTTLS is not offered on this stream');
    this.connection.send(xml('proceed', NS.tls));
    try {
      await this.connection.upgradeAsServer(this.options.tls.server);
    } catch (err) {
      this.options.log.info({ peer: this.claimed, err: (err as Error).message }, 'TLS handshake with a peer failed');
      this.connection.destroy('TLS handshake failed');
    }
  }

  private saslAuth(node: XmlNode): void {
    const failure = (condition: string) => this.connection.send(xml('failure', NS.sasl, {}, xml(condition, NS.sasl)));
    if (node.attrs['mechanism']?.toUpperCase() !== 'EXTERNAL' || !this.connection.secure || !this.local) return failure('invalid-mechanism');
    const encoded = textContent(node).trim();
    const authzid = encoded && encoded !== '=' ? Buffer.from(encoded, 'base64').toString('utf8').toLowerCase() : this.claimed;
    if (!authzid || (this.claimed && authzid !== this.claimed)) return failure('invalid-authzid');
    const cert = this.connection.peerCertificate(authzid);
    if (!cert.trusted || !cert.matches) {
      this.options.log.info({ peer: authzid, reason: cert.error }, 'SASL EXTERNAL refused: the certificate does not prove the domain');
      return failure('not-authorized');
    }
    this.connection.send(xml('success', NS.sasl));
    this.accept(this.local, authzid, 'sasl-external');
    // The peer restarts the stream; its new header arrives through header().
    this.connection.restartStream();
  }

  private async dialbackResult(node: XmlNode): Promise<void> {
    const remote = node.attrs['from']?.toLowerCase();
    const local = node.attrs['to']?.toLowerCase();
    const answer = (type: 'valid' | 'invalid') => this.connection.send(xml('result', NS.dialback, { from: local, to: remote, type }));
    const refuse = (type: string, condition: string) =>
      this.connection.send(xml('result', NS.dialback, { from: local, to: remote, type: 'error' }, xml('error', NS.server, { type }, xml(condition, NS.stanzaErrors))));
    if (!remote || !local || !this.options.localDomains.includes(local)) return void refuse('cancel', 'item-not-found');
    // Nobody else speaks for our own domains.
    if (this.options.localDomains.includes(remote)) {
      answer('invalid');
      return this.connection.fail('not-authorized', `${remote} is served here`);
    }
    if (this.verifying >= MAX_PENDING_VERIFICATIONS) return void refuse('wait', 'resource-constraint');
    let valid = false;
    this.verifying++;
    try {
      valid = await this.options.verifyKey(local, remote, this.streamId, textContent(node).trim());
    } catch (err) {
      this.options.log.info({ peer: remote, err: (err as Error).message }, 'could not verify a dialback key');
    } finally {
      this.verifying--;
    }
    if (!this.connection.isOpen) return;
    answer(valid ? 'valid' : 'invalid');
    if (valid) this.accept(local, remote, 'dialback');
    else {
      this.options.log.warn({ peer: remote, address: this.connection.remoteAddress }, 'dialback key refused');
      this.connection.fail('not-authorized', `${remote} did not confirm the dialback key`);
    }
  }

  private dialbackVerify(node: XmlNode): void {
    // A server we sent a db:result to asks whether the key is ours: answer at once.
    const asking = node.attrs['from']?.toLowerCase() ?? '';
    const ourDomain = node.attrs['to']?.toLowerCase() ?? '';
    const id = node.attrs['id'] ?? '';
    const valid = this.options.localDomains.includes(ourDomain) && this.options.keys.verify(asking, ourDomain, id, textContent(node));
    this.connection.send(xml('verify', NS.dialback, { from: ourDomain, to: asking, id, type: valid ? 'valid' : 'invalid' }));
  }

  private stanza(node: XmlNode): void {
    const remote = domainOf(node.attrs['from']);
    const local = domainOf(node.attrs['to']);
    if (!remote || !local || !this.authenticated.get(remote)?.has(local)) {
      return this.connection.fail('not-authorized', `stanza from ${remote ?? '?'} to ${local ?? '?'} on a stream not authenticated for them`);
    }
    this.options.stanza(node, { local, remote });
  }

  private accept(local: string, remote: string, method: 'sasl-external' | 'dialback'): void {
    let locals = this.authenticated.get(remote);
    if (!locals) this.authenticated.set(remote, (locals = new Set()));
    locals.add(local);
    this.options.authenticated(local, remote, method);
  }
}
