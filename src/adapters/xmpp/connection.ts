// One XMPP server-to-server TCP connection, in either direction: bytes in through a stream
// parser, stanzas out as serialised XML, STARTTLS upgrades (RFC 6120 §5) that swap the socket
// and restart the stream, and orderly or error closes (§4.4, §4.9). What the elements mean is
// decided by outgoing.ts (we initiate) and incoming.ts (the peer initiates).
import type { Socket } from 'node:net';
import { TLSSocket, connect as tlsConnect, checkServerIdentity, type SecureContext, type Server as TlsServer } from 'node:tls';
import type { Logger } from '../../log.ts';
import { StreamParser, type StreamHeader } from './stream-parser.ts';
import { serialize, streamError, streamHeader, STREAM_CLOSE, type XmlNode } from './xml.ts';

export interface ConnectionHandlers {
  header(header: StreamHeader): void;
  element(node: XmlNode): void;
  /** The connection is gone (closed by either side, or failed). */
  closed(reason: string): void;
}

/** What a TLS handshake told us about the peer's certificate for a domain. */
export interface PeerCertificate {
  /** The certificate chains to a trusted CA (system CAs plus xmpp.tls.ca). */
  trusted: boolean;
  /** …and names the domain (RFC 6125 via Node's checkServerIdentity). */
  matches: boolean;
  error?: string;
}

export class XmppConnection {
  private parser: StreamParser;
  private done = false;
  private handlers: ConnectionHandlers;
  /** True once the stream runs over TLS. */
  secure = false;
  /** The stream's closing tag was sent. */
  private closingSent = false;
  /** Our stream header for the current stream was sent. */
  private headerSent = false;

  constructor(
    private socket: Socket | TLSSocket,
    handlers: ConnectionHandlers,
    private readonly log: Logger,
  ) {
    this.handlers = handlers;
    this.parser = this.newParser();
    this.attach(socket);
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get isOpen(): boolean {
    return !this.done;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    this.handlers = handlers;
  }

  send(data: string | XmlNode): void {
    if (this.done || this.closingSent) return;
    this.socket.write(typeof data === 'string' ? data : serialize(data));
  }

  /** Open our side of the (current) stream. */
  sendHeader(attrs: Parameters<typeof streamHeader>[0]): void {
    this.headerSent = true;
    this.send(streamHeader(attrs));
  }

  /** Bytes written but not yet handed to the kernel: a peer that reads slowly makes this grow. */
  get backlogBytes(): number {
    return this.socket.writableLength;
  }

  /** Call `then` once the backlog has been written out. */
  onceDrained(then: () => void): void {
    if (this.socket.writableLength === 0) return void setImmediate(then);
    this.socket.once('drain', then);
  }

  /** A stream error ends the stream (RFC 6120 §4.9.1): error, closing tag, then the socket. */
  fail(condition: string, text?: string): void {
    if (this.done) return;
    this.log.info({ peer: this.socket.remoteAddress, condition, text }, 'XMPP stream error sent');
    // Even an error comes inside a stream: open ours first if we had not (§4.9.1.1).
    if (!this.headerSent) this.sendHeader({ version: '1.0' });
    this.send(streamError(condition, text));
    this.close(`stream error ${condition}`);
  }

  /** Close our side politely; the socket goes once the peer closes too or after a moment. */
  close(reason = 'closed'): void {
    if (this.done) return;
    if (!this.closingSent) {
      this.socket.write(STREAM_CLOSE);
      this.closingSent = true;
    }
    this.socket.end();
    setTimeout(() => this.destroy(reason), 2000).unref();
  }

  destroy(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.socket.destroy();
    this.handlers.closed(reason);
  }

  /** Start parsing a new stream on the same socket (after STARTTLS or SASL success). */
  restartStream(): void {
    this.parser = this.newParser();
    this.headerSent = false;
  }

  /** Initiating side of STARTTLS: upgrade the socket, present our certificate, check theirs. */
  async upgradeAsClient(secureContext: SecureContext, servername: string): Promise<PeerCertificate> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const tlsSocket = tlsConnect({ socket: raw, servername, secureContext, rejectUnauthorized: false });
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        tlsSocket.once('secureConnect', resolve);
        tlsSocket.once('error', reject);
      }),
      TLS_HANDSHAKE_TIMEOUT_MS,
      () => tlsSocket.destroy(),
    );
    this.swap(tlsSocket);
    return certificateOf(tlsSocket, servername);
  }

  /**
   * Receiving side of STARTTLS: after <proceed/>, the handshake with the peer's client
   * certificate requested. The socket is handed to a (never listening) tls.Server because only
   * a server-made TLSSocket gets its client certificate verified (`authorized`).
   */
  async upgradeAsServer(tlsServer: TlsServer): Promise<TLSSocket> {
    const raw = this.socket;
    raw.removeAllListeners('data');
    const ours = (s: TLSSocket) => s.remotePort === raw.remotePort && s.remoteAddress === raw.remoteAddress;
    let done = () => {};
    const tlsSocket = await withDeadline(
      new Promise<TLSSocket>((resolve, reject) => {
        done = () => {
          tlsServer.off('secureConnection', onSecure);
          tlsServer.off('tlsClientError', onError);
        };
        const onSecure = (s: TLSSocket) => ours(s) && (done(), resolve(s));
        const onError = (err: Error, s: TLSSocket) => ours(s) && (done(), reject(err));
        tlsServer.on('secureConnection', onSecure);
        tlsServer.on('tlsClientError', onError);
        tlsServer.emit('connection', raw);
      }),
      TLS_HANDSHAKE_TIMEOUT_MS,
      () => (done(), raw.destroy()),
    );
    this.swap(tlsSocket);
    return tlsSocket;
  }

  /** The peer's certificate checked for a domain (incoming streams learn the domain after TLS). */
  peerCertificate(domain: string): PeerCertificate {
    return this.socket instanceof TLSSocket ? certificateOf(this.socket, domain) : { trusted: false, matches: false, error: 'no TLS' };
  }

  private swap(tlsSocket: TLSSocket): void {
    this.socket = tlsSocket;
    this.secure = true;
    this.parser = this.newParser();
    this.headerSent = false;
    this.attach(tlsSocket);
  }

  private attach(socket: Socket | TLSSocket): void {
    // A stream silent this long is dead or forgotten (s2s peers send whitespace keep-alives or
    // close idle streams long before): close it rather than hold it for ever.
    socket.setTimeout(IDLE_TIMEOUT_MS, () => this.fail('connection-timeout', 'nothing received for too long'));
    socket.setKeepAlive(true, 60_000);
    socket.on('data', (chunk: Buffer) => this.parser.write(chunk));
    socket.on('error', (err) => this.destroy(`socket error: ${err.message}`));
    socket.on('close', () => this.destroy('connection closed'));
  }

  private newParser(): StreamParser {
    return new StreamParser({
      header: (h) => this.handlers.header(h),
      element: (n) => this.handlers.element(n),
      end: () => this.close('peer closed the stream'),
      error: (condition, message) => this.fail(condition, message),
    });
  }
}

/** How long a TLS handshake may take before the connection is dropped. */
const TLS_HANDSHAKE_TIMEOUT_MS = 15_000;
/** How long a stream may stay silent. */
const IDLE_TIMEOUT_MS = 30 * 60_000;

/** The promise, or a rejection (after `onTimeout`) once ms have passed. */
function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`TLS handshake not done within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function certificateOf(socket: TLSSocket, domain: string): PeerCertificate {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return { trusted: false, matches: false, error: 'no certificate' };
  const trusted = socket.authorized;
  const identityError = checkServerIdentity(domain, cert);
  return {
    trusted,
    matches: identityError === undefined,
    ...(trusted ? {} : { error: String(socket.authorizationError ?? 'untrusted') }),
    ...(identityError ? { error: identityError.message } : {}),
  };
}
