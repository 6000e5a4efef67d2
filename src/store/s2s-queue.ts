// Stanzas waiting for a federation link (issue 8): durable, in order per (local, remote)
// domain pair, until the peer has confirmed taking them (the answer to a ping written after
// them, see federation.ts), or until they expire (the IMPS sender of an expired message is
// told). A stanza written to a stream that dies before that answer is written again.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export interface CarriedMessage {
  messageId: string;
  sender: string;
  recipient: string;
  deliveryReport: boolean;
  contentType: string;
  contentSize: number;
}

export interface QueuedStanza {
  seq: number;
  localDomain: string;
  remoteDomain: string;
  stanza: string;
  createdAt: number;
  expiresAt: number;
  message?: CarriedMessage;
}

interface Row {
  seq: number;
  local_domain: string;
  remote_domain: string;
  stanza: string;
  created_at: number;
  expires_at: number;
  message_id: string | null;
  sender: string | null;
  recipient: string | null;
  delivery_report: number;
  content_type: string | null;
  content_size: number | null;
}

const toQueued = (r: Row): QueuedStanza => ({
  seq: r.seq,
  localDomain: r.local_domain,
  remoteDomain: r.remote_domain,
  stanza: r.stanza,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  ...(r.message_id
    ? {
        message: {
          messageId: r.message_id,
          sender: r.sender ?? '',
          recipient: r.recipient ?? '',
          deliveryReport: r.delivery_report === 1,
          contentType: r.content_type ?? 'text/plain',
          contentSize: r.content_size ?? 0,
        },
      }
    : {}),
});

export class S2sQueue {
  private readonly insert;
  private readonly selectForLink;
  private readonly deleteOne;
  private readonly deleteUpTo;
  private readonly selectExpired;
  private readonly selectLinks;
  private readonly countForLink;
  private readonly countAll;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      `INSERT INTO s2s_queue (local_domain, remote_domain, stanza, created_at, expires_at, message_id, sender, recipient, delivery_report, content_type, content_size)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.selectForLink = db.prepare<[string, string, number, number, number], Row>(
      'SELECT * FROM s2s_queue WHERE local_domain = ? AND remote_domain = ? AND seq > ? AND expires_at > ? ORDER BY seq LIMIT ?',
    );
    this.deleteOne = db.prepare('DELETE FROM s2s_queue WHERE seq = ?');
    this.deleteUpTo = db.prepare('DELETE FROM s2s_queue WHERE local_domain = ? AND remote_domain = ? AND seq <= ?');
    this.selectExpired = db.prepare<[number, number], Row>('SELECT * FROM s2s_queue WHERE expires_at <= ? ORDER BY seq LIMIT ?');
    this.selectLinks = db.prepare<[], { local_domain: string; remote_domain: string }>('SELECT DISTINCT local_domain, remote_domain FROM s2s_queue');
    this.countForLink = db.prepare<[string, string], { n: number }>('SELECT COUNT(*) AS n FROM s2s_queue WHERE local_domain = ? AND remote_domain = ?');
    this.countAll = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM s2s_queue');
  }

  /** Queue a stanza; a message is on disk (fsynced) when this returns, because its sender is told 200. */
  add(localDomain: string, remoteDomain: string, stanza: string, createdAt: number, expiresAt: number, message?: CarriedMessage): void {
    const run = () =>
      this.insert.run(
        localDomain,
        remoteDomain,
        stanza,
        createdAt,
        expiresAt,
        message?.messageId ?? null,
        message?.sender ?? null,
        message?.recipient ?? null,
        message?.deliveryReport ? 1 : 0,
        message?.contentType ?? null,
        message?.contentSize ?? null,
      );
    if (message) durably(this.db, run);
    else run();
  }

  /** The next stanzas for a link after `afterSeq` (what this stream has not written yet), oldest first, expired ones excluded. */
  next(localDomain: string, remoteDomain: string, afterSeq: number, now: number, limit: number): QueuedStanza[] {
    return this.selectForLink.all(localDomain, remoteDomain, afterSeq, now, limit).map(toQueued);
  }

  /** The peer confirmed it took every stanza of the link up to `seq`. */
  confirmed(localDomain: string, remoteDomain: string, seq: number): void {
    this.deleteUpTo.run(localDomain, remoteDomain, seq);
  }

  /** Stanzas waiting for any peer. */
  total(): number {
    return this.countAll.get()!.n;
  }

  count(localDomain: string, remoteDomain: string): number {
    return this.countForLink.get(localDomain, remoteDomain)!.n;
  }

  /**
   * Remove up to `limit` expired stanzas and return them (their IMPS senders are told). Those
   * `inFlight` names (written, their confirmation awaited) stay: they may well have arrived.
   */
  takeExpired(now: number, limit: number, inFlight: (item: QueuedStanza) => boolean = () => false): QueuedStanza[] {
    return this.db.transaction(() => {
      const expired = this.selectExpired.all(now, limit).map(toQueued).filter((item) => !inFlight(item));
      for (const item of expired) this.deleteOne.run(item.seq);
      return expired;
    })();
  }

  /** Domain pairs with something waiting (links to bring up at start). */
  links(): { localDomain: string; remoteDomain: string }[] {
    return this.selectLinks.all().map((r) => ({ localDomain: r.local_domain, remoteDomain: r.remote_domain }));
  }
}
