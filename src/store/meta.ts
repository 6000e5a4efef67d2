// Small facts about the installation (key/value), e.g. the fingerprint of the secret key.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export class MetaStore {
  private readonly select;
  private readonly upsert;

  constructor(private readonly db: Db) {
    this.select = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.upsert = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  }

  get(key: string): string | undefined {
    return this.select.get(key)?.value;
  }

  set(key: string, value: string): void {
    durably(this.db, () => this.upsert.run(key, value));
  }
}
