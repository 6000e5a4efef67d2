// The content store (issue 8): media an IMPS user sent to someone who cannot take it inline
// (an XMPP user), kept until it expires and served at an unguessable URL.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export interface StoredContent {
  contentType: string;
  data: Buffer;
  expiresAt: number;
}

export class ContentStore {
  private readonly insert;
  private readonly select;
  private readonly deleteExpired;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO content (token, content_type, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.select = db.prepare<[string, number], { content_type: string; data: Buffer; expires_at: number }>(
      'SELECT content_type, data, expires_at FROM content WHERE token = ? AND expires_at > ?',
    );
    this.deleteExpired = db.prepare('DELETE FROM content WHERE expires_at <= ?');
  }

  /** Keep content under a token (on disk before the link to it is sent anywhere). */
  put(token: string, contentType: string, data: Buffer, now: number, expiresAt: number): void {
    durably(this.db, () => this.insert.run(token, contentType, data, now, expiresAt));
  }

  get(token: string, now: number): StoredContent | undefined {
    const row = this.select.get(token, now);
    return row && { contentType: row.content_type, data: row.data, expiresAt: row.expires_at };
  }

  purgeExpired(now: number): number {
    return this.deleteExpired.run(now).changes;
  }
}
