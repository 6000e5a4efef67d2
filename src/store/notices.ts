// Durable server-originated requests per user (DeliveryReport-Request, …): kept until the
// client answers them, offered to one session at a time like messages. The payload is
// whatever the owning feature needs to render the primitive in the session's CSP version.
import type { Db } from './db.ts';

export interface Notice {
  seq: number;
  recipient: string;
  kind: string;
  payload: unknown;
  createdAt: number;
  expiresAt: number;
}

interface Row {
  seq: number;
  recipient: string;
  kind: string;
  payload: string;
  created_at: number;
  expires_at: number;
}

const toNotice = (r: Row): Notice => ({
  seq: r.seq,
  recipient: r.recipient,
  kind: r.kind,
  payload: JSON.parse(r.payload) as unknown,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

const OFFERABLE = `recipient = :recipient AND expires_at > :now
  AND (offered_session IS NULL OR offered_at <= :reofferBefore)`;

export class NoticeStore {
  private readonly insert;
  private readonly selectOfferable;
  private readonly markOffered;
  private readonly existsOfferable;
  private readonly deleteOne;
  private readonly releaseBySession;
  private readonly releaseAll;
  private readonly deleteExpired;
  private readonly deleteForRecipient;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO notices (recipient, kind, payload, created_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.selectOfferable = db.prepare<{ recipient: string; now: number; reofferBefore: number; limit: number }, Row>(
      `SELECT * FROM notices WHERE ${OFFERABLE} ORDER BY seq LIMIT :limit`,
    );
    this.markOffered = db.prepare('UPDATE notices SET offered_session = ?, offered_at = ? WHERE seq = ?');
    this.existsOfferable = db.prepare<{ recipient: string; now: number; reofferBefore: number }, { found: number }>(
      `SELECT EXISTS (SELECT 1 FROM notices WHERE ${OFFERABLE}) AS found`,
    );
    this.deleteOne = db.prepare('DELETE FROM notices WHERE recipient = ? AND seq = ?');
    this.releaseBySession = db.prepare('UPDATE notices SET offered_session = NULL, offered_at = NULL WHERE offered_session = ?');
    this.releaseAll = db.prepare('UPDATE notices SET offered_session = NULL, offered_at = NULL WHERE offered_session IS NOT NULL');
    this.deleteExpired = db.prepare('DELETE FROM notices WHERE expires_at <= ?');
    this.deleteForRecipient = db.prepare('DELETE FROM notices WHERE recipient = ?');
  }

  /** Told of every recipient something was queued for (the server wakes their phones). */
  onQueued: (recipient: string) => void = () => {};

  add(recipient: string, kind: string, payload: unknown, now: number, expiresAt: number): void {
    this.insert.run(recipient, kind, JSON.stringify(payload), now, expiresAt);
    this.onQueued(recipient);
  }

  offer(recipient: string, sessionId: string, now: number, reofferAfterMs: number, limit: number): Notice[] {
    return this.db.transaction(() => {
      const rows = this.selectOfferable.all({ recipient, now, reofferBefore: now - reofferAfterMs, limit });
      for (const r of rows) this.markOffered.run(sessionId, now, r.seq);
      return rows.map(toNotice);
    })();
  }

  hasOfferable(recipient: string, now: number, reofferAfterMs: number): boolean {
    return this.existsOfferable.get({ recipient, now, reofferBefore: now - reofferAfterMs })!.found === 1;
  }

  /** The client answered the notice: it is done. */
  done(recipient: string, seq: number): void {
    this.deleteOne.run(recipient, seq);
  }

  releaseSession(sessionId: string): void {
    this.releaseBySession.run(sessionId);
  }

  releaseAllOffers(): void {
    this.releaseAll.run();
  }

  purgeExpired(now: number): number {
    return this.deleteExpired.run(now).changes;
  }

  forgetRecipient(recipient: string): void {
    this.deleteForRecipient.run(recipient);
  }
}
