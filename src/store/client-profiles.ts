// What each user's phone last said it accepts (content types, largest content), kept so a
// message for a user who is offline now can be checked against it when it is sent.
import type { Db } from './db.ts';

export interface ClientProfile {
  anyContent: boolean;
  /** Accepted MIME types; empty means any. */
  contentTypes: string[];
  /** Largest content (bytes) the phone can take at all; undefined: no limit known. */
  maxLength?: number;
}

export class ClientProfileStore {
  private readonly upsert;
  private readonly select;
  private readonly deleteRow;

  constructor(db: Db) {
    this.upsert = db.prepare(
      `INSERT INTO client_profiles (user_id, any_content, content_types, max_length, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET any_content = excluded.any_content, content_types = excluded.content_types,
         max_length = excluded.max_length, updated_at = excluded.updated_at`,
    );
    this.select = db.prepare<[string], { any_content: number; content_types: string; max_length: number | null }>(
      'SELECT any_content, content_types, max_length FROM client_profiles WHERE user_id = ?',
    );
    this.deleteRow = db.prepare('DELETE FROM client_profiles WHERE user_id = ?');
  }

  save(userId: string, profile: ClientProfile, now: number): void {
    this.upsert.run(userId, profile.anyContent ? 1 : 0, JSON.stringify(profile.contentTypes), profile.maxLength ?? null, now);
  }

  get(userId: string): ClientProfile | undefined {
    const r = this.select.get(userId);
    if (!r) return undefined;
    const profile: ClientProfile = { anyContent: r.any_content === 1, contentTypes: JSON.parse(r.content_types) as string[] };
    if (r.max_length !== null) profile.maxLength = r.max_length;
    return profile;
  }

  forget(userId: string): void {
    this.deleteRow.run(userId);
  }
}
