// The STCP CIR listener (reference imps-csp.md §5.1, prior-art.md §4.1–4.2): a phone keeps one
// TCP connection open, names its session with `HELO <SessionID>`, pings it now and then, and
// is sent `WVCI <version> <cookie>` when something waits for it.
//
//   connected ──HELO known session──▶ bound (answered OK; a later HELO of the session replaces it)
//       │  └──HELO unknown session──▶ closed
//       └──no HELO within heloTimeout─▶ closed
//   PING (Nokia "PING", Android "PING ") is answered OK in any state; any other line once bound too.
//
// Nokia reads whatever arrives first after HELO as its answer and only recognises a wake-up at
// the start of a received buffer, so a WVCI is never written within OK_SEPARATION_MS of an OK.
// A bound connection carries no timer of its own: ten thousand idle phones cost a socket each.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../log.ts';

/** Time between an OK and a following WVCI, so the two never share a TCP segment. */
const OK_SEPARATION_MS = 250;
/** Longest line a phone may send; anything longer is not a CIR client. */
const MAX_LINE = 512;
/** Unsent bytes beyond this mean the phone stopped reading: the connection is dropped. */
const MAX_BACKLOG = 8 * 1024;

interface Connection {
  socket: Socket;
  sessionId?: string;
  /** Received bytes not yet ending in a line break. */
  pending: string;
  okSentAt: number;
  heloTimer?: NodeJS.Timeout;
}

export interface StcpOptions {
  host: string;
  port: number;
  heloTimeoutMs: number;
  log: Logger;
  /** Whether a SessionID names a live session that may bind a CIR connection. */
  isLiveSession(sessionId: string): boolean;
  /** A session's connection has just been bound (a wake-up may be due at once). */
  onBound(sessionId: string): void;
  /** A session's connection went away (closed by the phone, the network or us). */
  onUnbound(sessionId: string): void;
}

export class StcpListener {
  private readonly server: Server;
  private readonly bySession = new Map<string, Connection>();
  private readonly all = new Set<Connection>();

  private constructor(private readonly options: StcpOptions) {
    this.server = createServer((socket) => this.accept(socket));
  }

  static start(options: StcpOptions): Promise<StcpListener> {
    const listener = new StcpListener(options);
    return new Promise((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen(options.port, options.host, () => {
        listener.server.off('error', reject);
        listener.server.on('error', (err) => options.log.error({ err }, 'STCP listener error'));
        resolve(listener);
      });
    });
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  isBound(sessionId: string): boolean {
    return this.bySession.has(sessionId);
  }

  boundCount(): number {
    return this.bySession.size;
  }

  /** Write a wake-up line to a session's connection; false when it has none that takes it. */
  sendLine(sessionId: string, line: string): boolean {
    const conn = this.bySession.get(sessionId);
    if (!conn || !conn.socket.writable) return false;
    const wait = conn.okSentAt + OK_SEPARATION_MS - Date.now();
    if (wait > 0) {
      setTimeout(() => this.write(conn, line + '\r\n'), wait).unref();
      return true;
    }
    return this.write(conn, line + '\r\n');
  }

  /** The session is over: its connection is closed. */
  unbind(sessionId: string): void {
    const conn = this.bySession.get(sessionId);
    if (conn) conn.socket.destroy();
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const conn of this.all) conn.socket.destroy();
    });
  }

  private accept(socket: Socket): void {
    const conn: Connection = { socket, pending: '', okSentAt: 0 };
    this.all.add(conn);
    socket.setNoDelay(true);
    // Dead phones (no FIN through a NAT) are found by TCP keep-alive rather than by a timer per connection.
    socket.setKeepAlive(true, 5 * 60_000);
    socket.setEncoding('latin1');
    conn.heloTimer = setTimeout(() => {
      this.options.log.info({ address: socket.remoteAddress }, 'STCP connection without HELO closed');
      socket.destroy();
    }, this.options.heloTimeoutMs);
    conn.heloTimer.unref();
    socket.on('data', (chunk: string) => this.receive(conn, chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.closed(conn));
  }

  private receive(conn: Connection, chunk: string): void {
    conn.pending += chunk;
    let nl: number;
    while ((nl = conn.pending.indexOf('\n')) >= 0) {
      const line = conn.pending.slice(0, nl).trim();
      conn.pending = conn.pending.slice(nl + 1);
      if (!conn.socket.destroyed) this.line(conn, line);
    }
    if (conn.pending.length > MAX_LINE) {
      this.options.log.info({ address: conn.socket.remoteAddress }, 'STCP line too long: connection closed');
      conn.socket.destroy();
    }
  }

  private line(conn: Connection, line: string): void {
    const [command = '', argument] = line.split(/\s+/, 2);
    switch (command.toUpperCase()) {
      case '':
        return;
      case 'HELO':
        this.helo(conn, argument ?? '');
        return;
      case 'PING':
        this.ok(conn);
        return;
      default:
        // Baraza answered every line OK; a bound phone saying something new is still a live phone.
        if (conn.sessionId) this.ok(conn);
    }
  }

  private helo(conn: Connection, sessionId: string): void {
    if (!sessionId || !this.options.isLiveSession(sessionId)) {
      this.options.log.info({ address: conn.socket.remoteAddress }, 'STCP HELO for no live session: connection closed');
      conn.socket.destroy();
      return;
    }
    if (conn.heloTimer) clearTimeout(conn.heloTimer);
    conn.heloTimer = undefined;
    if (conn.sessionId && conn.sessionId !== sessionId) this.release(conn);
    const previous = this.bySession.get(sessionId);
    if (previous && previous !== conn) {
      // A phone that reconnects has given up the old connection, even if we have not seen it close.
      this.bySession.delete(sessionId);
      previous.sessionId = undefined;
      previous.socket.destroy();
    }
    conn.sessionId = sessionId;
    this.bySession.set(sessionId, conn);
    this.ok(conn);
    this.options.onBound(sessionId);
  }

  private ok(conn: Connection): void {
    conn.okSentAt = Date.now();
    this.write(conn, 'OK\r\n');
  }

  private write(conn: Connection, text: string): boolean {
    if (!conn.socket.writable) return false;
    if (conn.socket.writableLength > MAX_BACKLOG) {
      conn.socket.destroy();
      return false;
    }
    conn.socket.write(text, 'latin1');
    return true;
  }

  private release(conn: Connection): void {
    const sessionId = conn.sessionId;
    if (!sessionId) return;
    conn.sessionId = undefined;
    if (this.bySession.get(sessionId) === conn) {
      this.bySession.delete(sessionId);
      this.options.onUnbound(sessionId);
    }
  }

  private closed(conn: Connection): void {
    if (conn.heloTimer) clearTimeout(conn.heloTimer);
    this.all.delete(conn);
    this.release(conn);
  }
}
