// XMPP server-to-server federation as a whole (issue 8): the s2s listener for streams peers
// open to us, one link actor per (local domain, remote domain) for our streams to them, the
// durable queue between, our TLS identity and dialback keys. What stanzas mean for IMPS users
// is src/features/xmpp-gateway.ts's business; this module moves them.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createActor } from 'xstate';
import type { Config } from '../../config.ts';
import type { Logger } from '../../log.ts';
import type { S2sQueue, CarriedMessage, QueuedStanza } from '../../store/s2s-queue.ts';
import { peerMachine, UNANSWERED_PING, type PeerActor } from '../../../actors/xmpp-peer.ts';
import { DialbackKeys } from './dialback.ts';
import { IncomingStream } from './incoming.ts';
import { openOutgoing, verifyDialbackKey, type OpenStream, type OutgoingOptions } from './outgoing.ts';
import { resolveTargets } from './resolve.ts';
import { tlsIdentity, type TlsIdentity } from './tls.ts';
import { NS, serialize, xml, type XmlNode } from './xml.ts';

export interface FederationHooks {
  /** A stanza from an authenticated peer to one of our domains. */
  stanza(node: XmlNode, link: { local: string; remote: string }): void;
}

/** Seconds a step of stream negotiation may take. */
const STEP_TIMEOUT_MS = 15_000;
/** A link with nothing to send closes after this long. */
const IDLE_CLOSE_MS = 10 * 60_000;
/** Written but unsent bytes on a stream before flushing waits for the socket to drain. */
const MAX_BACKLOG_BYTES = 1024 * 1024;
/** Incoming s2s connections at most, and from one address. */
const MAX_INCOMING_CONNECTIONS = 1000;
const MAX_INCOMING_PER_ADDRESS = 50;
/** How long a barrier ping may go unanswered on an open stream (see flush). */
const BARRIER_TIMEOUT_MS = 60_000;
/** Stanzas written per round, so one busy link cannot hold the event loop. */
const FLUSH_BATCH = 200;

export type XmppConfig = NonNullable<Config['xmpp']>;

/** How far a link's current stream has written and had confirmed; the ping out, if any. */
interface StreamCursor {
  local: string;
  remote: string;
  stream: OpenStream;
  /** The last queue seq written to this stream. */
  seq: number;
  /** The last seq the peer confirmed (by answering a ping) on this stream. */
  confirmedSeq: number;
  /** The id of the ping out, if one is. */
  barrier: string | undefined;
  /** Flushing waits for the socket to drain. */
  awaitingDrain?: boolean;
}


export class XmppFederation {
  private readonly links = new Map<string, PeerActor>();
  private readonly incoming = new Set<IncomingStream>();
  private readonly sockets = new Set<Socket>();
  /** Pings written after stanzas, by id: the answer confirms the link's stanzas up to upToSeq. */
  private readonly barriers = new Map<string, { cursor: StreamCursor; upToSeq: number; timer: NodeJS.Timeout }>();
  /** Per link: the stream being written and how far (a new stream starts over). */
  private readonly cursors = new Map<string, StreamCursor>();

  private constructor(
    private readonly config: Config,
    private readonly xmppConfig: XmppConfig,
    private readonly log: Logger,
    private readonly queue: S2sQueue,
    private readonly hooks: FederationHooks,
    private readonly now: () => number,
    readonly keys: DialbackKeys,
    private readonly tls: TlsIdentity | undefined,
    private readonly server: Server,
  ) {}

  static async start(config: Config, log: Logger, queue: S2sQueue, hooks: FederationHooks, now: () => number): Promise<XmppFederation | undefined> {
    const xmppConfig = config.xmpp;
    if (!xmppConfig) return undefined;
    const keys = DialbackKeys.fromDataDir(config.dataDir);
    const tls = xmppConfig.tls ? tlsIdentity(xmppConfig.tls) : undefined;
    const server = createServer();
    const federation = new XmppFederation(config, xmppConfig, log, queue, hooks, now, keys, tls, server);
    server.on('connection', (socket) => federation.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(xmppConfig.port, xmppConfig.host, () => {
        server.off('error', reject);
        server.on('error', (err) => log.error({ err }, 'XMPP listener error'));
        resolve();
      });
    });
    // Whatever waited when the server last stopped goes out now.
    for (const { localDomain, remoteDomain } of queue.links()) federation.link(localDomain, remoteDomain).send({ type: 'KICK' });
    return federation;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** For /healthz: links up, links being established or waiting, stanzas queued, incoming streams. */
  status(): { linksOpen: number; linksPending: number; queued: number; incoming: number } {
    let linksOpen = 0;
    let linksPending = 0;
    for (const actor of this.links.values()) {
      const state = actor.getSnapshot().value;
      if (typeof state === 'object' && 'open' in state) linksOpen++;
      else if (state !== 'idle') linksPending++;
    }
    return { linksOpen, linksPending, queued: this.queue.total(), incoming: this.incoming.size };
  }

  /** Whether a domain is one we would federate to (anything not hosted here). */
  isRemote(domain: string): boolean {
    return !this.config.domains.includes(domain);
  }

  /** Queue a stanza for a remote domain and have its link send it. */
  send(local: string, remote: string, stanza: XmlNode, expiresAt: number, message?: CarriedMessage): void {
    this.queue.add(local, remote, serialize(stanza), this.now(), expiresAt, message);
    this.link(local, remote).send({ type: 'KICK' });
  }

  /** Remove expired queued stanzas (the caller tells IMPS senders). */
  takeExpired(limit = 1000): QueuedStanza[] {
    return this.queue.takeExpired(this.now(), limit, (item) => {
      const cursor = this.cursors.get(`${item.localDomain} ${item.remoteDomain}`);
      return cursor !== undefined && cursor.stream.connection.isOpen && item.seq <= cursor.seq;
    });
  }

  /** The link actor of a domain pair (created on first use). */
  link(local: string, remote: string): PeerActor {
    const key = `${local} ${remote}`;
    let actor = this.links.get(key);
    if (actor) return actor;
    actor = createActor(peerMachine, {
      input: {
        local,
        remote,
        log: this.log,
        idleCloseMs: IDLE_CLOSE_MS,
        hasQueued: () => this.queue.count(local, remote) > 0,
        establish: (progress) => this.establish(local, remote, progress),
        flush: (stream) => this.flush(local, remote, stream),
      },
    });
    actor.subscribe({
      // A link back in idle with nothing to send is let go: a phone writing to many made-up
      // domains must not leave an actor behind for each. The next stanza makes a new one.
      next: (snapshot) => {
        if (snapshot.value === 'idle' && !this.queue.count(local, remote)) setImmediate(() => this.forget(key, actor!));
      },
      error: (err) => (this.log.error({ err, local, remote }, 'XMPP link actor failed'), this.forget(key, actor!)),
    });
    actor.start();
    this.links.set(key, actor);
    return actor;
  }

  /** Stop and drop a link actor still idle with nothing queued (or failed). */
  private forget(key: string, actor: PeerActor): void {
    if (this.links.get(key) !== actor) return;
    const snapshot = actor.getSnapshot();
    const [local, remote] = key.split(' ') as [string, string];
    if (snapshot.status === 'active' && (snapshot.value !== 'idle' || this.queue.count(local, remote) > 0)) return;
    actor.stop();
    this.links.delete(key);
    this.cursors.delete(key);
  }

  /**
   * Write what the link's current stream has not written yet, then a ping: its answer (result or
   * error, RFC 6120 requires one) comes after the peer processed everything before it, since a
   * stream's stanzas are handled in order. Only then do the stanzas leave the queue; a stream
   * that dies first has them written again on the next one (at least once, never lost).
   * One ping is out per stream at a time, covering whatever was written before it: a burst of
   * messages costs one round trip, not one each. Returns true when there may be more to write.
   */
  private flush(local: string, remote: string, stream: OpenStream): boolean {
    const key = `${local} ${remote}`;
    let cursor = this.cursors.get(key);
    if (!cursor || cursor.stream !== stream) this.cursors.set(key, (cursor = { local, remote, stream, seq: 0, confirmedSeq: 0, barrier: undefined }));
    // A peer reading slower than we write: wait for our buffer to drain rather than pile the
    // whole queue into memory.
    if (stream.connection.backlogBytes > MAX_BACKLOG_BYTES) {
      if (!cursor.awaitingDrain) {
        cursor.awaitingDrain = true;
        stream.connection.onceDrained(() => {
          cursor!.awaitingDrain = false;
          this.links.get(key)?.send({ type: 'KICK' });
        });
      }
      return false;
    }
    const items = this.queue.next(local, remote, cursor.seq, this.now(), FLUSH_BATCH);
    for (const item of items) {
      if (!stream.connection.isOpen) return false;
      stream.connection.send(item.stanza);
      cursor.seq = item.seq;
    }
    if (items.length > 0 && cursor.barrier === undefined) this.sendBarrier(cursor);
    return items.length === FLUSH_BATCH;
  }

  private sendBarrier(cursor: StreamCursor): void {
    const { local, remote, stream } = cursor;
    if (!stream.connection.isOpen || cursor.seq <= cursor.confirmedSeq) return;
    const id = `village-ack-${randomBytes(9).toString('base64url')}`;
    const upToSeq = cursor.seq;
    // No answer in time: the connection died silently, or the peer stopped reading (what we wrote
    // may still sit in our own buffers). Either way nothing is confirmed: the stream is dropped and
    // the stanzas go again on the next one, after the link's back-off.
    const timer = setTimeout(() => {
      if (!this.barriers.delete(id) || !stream.connection.isOpen) return;
      this.log.warn({ local, remote }, 'XMPP peer did not answer a ping: dropping the stream, its stanzas go again');
      stream.connection.destroy(UNANSWERED_PING);
    }, BARRIER_TIMEOUT_MS);
    timer.unref();
    cursor.barrier = id;
    this.barriers.set(id, { cursor, upToSeq, timer });
    stream.connection.send(serialize(xml('iq', NS.server, { type: 'get', id, from: local, to: remote }, xml('ping', NS.ping))));
  }

  /** The stanzas up to upToSeq are with the peer: out of the queue; a ping for any written since. */
  private confirm(cursor: StreamCursor, upToSeq: number): void {
    this.queue.confirmed(cursor.local, cursor.remote, upToSeq);
    cursor.confirmedSeq = Math.max(cursor.confirmedSeq, upToSeq);
    cursor.barrier = undefined;
    this.sendBarrier(cursor);
  }

  /** An iq answer from a peer: when it answers one of our barrier pings, what came before it is delivered. */
  private barrierAnswered(node: XmlNode, link: { local: string; remote: string }): boolean {
    if (node.name !== 'iq' || (node.attrs['type'] !== 'result' && node.attrs['type'] !== 'error')) return false;
    const id = node.attrs['id'] ?? '';
    const barrier = this.barriers.get(id);
    if (!barrier || barrier.cursor.local !== link.local || barrier.cursor.remote !== link.remote) return false;
    this.barriers.delete(id);
    clearTimeout(barrier.timer);
    this.confirm(barrier.cursor, barrier.upToSeq);
    return true;
  }

  async close(): Promise<void> {
    for (const barrier of this.barriers.values()) clearTimeout(barrier.timer);
    this.barriers.clear();
    for (const actor of this.links.values()) {
      actor.getSnapshot().context.stream?.connection.close('server shutting down');
      actor.stop();
    }
    this.links.clear();
    for (const stream of this.incoming) stream.close();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, 1000).unref();
    });
  }

  private outgoingOptions(local: string, remote: string, target: { host: string; port: number }): OutgoingOptions {
    return { localDomain: local, remoteDomain: remote, target, tls: this.tls, keys: this.keys, log: this.log, stepTimeoutMs: STEP_TIMEOUT_MS };
  }

  private async establish(local: string, remote: string, progress: (step: 'resolved' | 'connected' | 'secured' | 'authenticating') => void) {
    const targets = await resolveTargets(remote, this.xmppConfig.routes);
    if (targets.length === 0) throw new Error(`${remote} has no XMPP server-to-server service`);
    progress('resolved');
    let lastError: unknown;
    for (const target of targets) {
      try {
        return await openOutgoing({ ...this.outgoingOptions(local, remote, target), onProgress: progress });
      } catch (err) {
        lastError = err;
      }
    }
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /** Dialback: ask `remote`'s authoritative server about a key, over a fresh connection. */
  private async verifyKey(local: string, remote: string, streamId: string, key: string): Promise<boolean> {
    const targets = await resolveTargets(remote, this.xmppConfig.routes);
    for (const target of targets) {
      try {
        return await verifyDialbackKey(this.outgoingOptions(local, remote, target), streamId, key);
      } catch (err) {
        this.log.info({ remote, target, err: (err as Error).message }, 'dialback verification attempt failed');
      }
    }
    return false;
  }

  private accept(socket: Socket): void {
    // Bounded: in all, and per address (one busy peer server needs a few streams, not hundreds).
    const address = socket.remoteAddress ?? 'unknown';
    const fromAddress = [...this.sockets].filter((s) => s.remoteAddress === address).length;
    if (this.sockets.size >= MAX_INCOMING_CONNECTIONS || fromAddress >= MAX_INCOMING_PER_ADDRESS) {
      this.log.warn({ address, open: this.sockets.size, fromAddress }, 'XMPP connection refused: too many open');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const stream = new IncomingStream(socket, {
      localDomains: this.config.domains,
      tls: this.tls,
      keys: this.keys,
      log: this.log,
      verifyKey: (local, remote, id, key) => this.verifyKey(local, remote, id, key),
      stanza: (node, link) => {
        if (!this.barrierAnswered(node, link)) this.hooks.stanza(node, link);
      },
      authenticated: (local, remote, method) => this.log.info({ local, remote, method }, 'XMPP peer authenticated'),
    });
    this.incoming.add(stream);
    socket.on('close', () => this.incoming.delete(stream));
  }
}
