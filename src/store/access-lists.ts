// Block and grant lists (BlockEntity-Request / GetBlockedList-Request), per owner.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export type AccessList = 'block' | 'grant';
export type EntityKind = 'user' | 'screenname' | 'group';

export interface AccessEntry {
  kind: EntityKind;
  /** Canonical user id, group id, or "sname\ngroupid" for a screen name. */
  entity: string;
}

export interface AccessLists {
  blockInUse: boolean;
  grantInUse: boolean;
  block: AccessEntry[];
  grant: AccessEntry[];
}

/** What matters about one sender for one owner. */
export interface SenderAccess {
  blockInUse: boolean;
  grantInUse: boolean;
  blocked: boolean;
  granted: boolean;
}

export interface AccessChange {
  /** Replace the whole list (EntityList). */
  replace?: AccessEntry[];
  add?: AccessEntry[];
  remove?: AccessEntry[];
  inUse?: boolean;
}

export class AccessListStore {
  private readonly selectEntries;
  private readonly selectFlags;
  private readonly senderQuery;
  private readonly insertEntry;
  private readonly deleteEntry;
  private readonly clearList;
  private readonly upsertFlags;
  private readonly deleteOwner;
  private readonly deleteOwnerFlags;

  constructor(private readonly db: Db) {
    this.selectEntries = db.prepare<[string], { list: AccessList; kind: EntityKind; entity: string }>(
      'SELECT list, kind, entity FROM access_entries WHERE owner = ? ORDER BY list, kind, entity',
    );
    this.selectFlags = db.prepare<[string], { block_in_use: number; grant_in_use: number }>('SELECT * FROM access_flags WHERE owner = ?');
    this.senderQuery = db.prepare<{ owner: string; sender: string }, { block_in_use: number | null; grant_in_use: number | null; blocked: number; granted: number }>(
      `SELECT f.block_in_use, f.grant_in_use,
         EXISTS (SELECT 1 FROM access_entries WHERE owner = :owner AND list = 'block' AND kind = 'user' AND entity = :sender) AS blocked,
         EXISTS (SELECT 1 FROM access_entries WHERE owner = :owner AND list = 'grant' AND kind = 'user' AND entity = :sender) AS granted
       FROM (SELECT :owner AS owner) o LEFT JOIN access_flags f ON f.owner = o.owner`,
    );
    this.insertEntry = db.prepare('INSERT OR IGNORE INTO access_entries (owner, list, kind, entity) VALUES (?, ?, ?, ?)');
    this.deleteEntry = db.prepare('DELETE FROM access_entries WHERE owner = ? AND list = ? AND kind = ? AND entity = ?');
    this.clearList = db.prepare('DELETE FROM access_entries WHERE owner = ? AND list = ?');
    this.upsertFlags = db.prepare(
      `INSERT INTO access_flags (owner, block_in_use, grant_in_use) VALUES (:owner, COALESCE(:block, 0), COALESCE(:grant, 0))
       ON CONFLICT (owner) DO UPDATE SET block_in_use = COALESCE(:block, block_in_use), grant_in_use = COALESCE(:grant, grant_in_use)`,
    );
    this.deleteOwner = db.prepare('DELETE FROM access_entries WHERE owner = ?');
    this.deleteOwnerFlags = db.prepare('DELETE FROM access_flags WHERE owner = ?');
  }

  get(owner: string): AccessLists {
    const flags = this.selectFlags.get(owner);
    const rows = this.selectEntries.all(owner);
    const pick = (list: AccessList) => rows.filter((r) => r.list === list).map((r) => ({ kind: r.kind, entity: r.entity }));
    return { blockInUse: flags?.block_in_use === 1, grantInUse: flags?.grant_in_use === 1, block: pick('block'), grant: pick('grant') };
  }

  sender(owner: string, sender: string): SenderAccess {
    const r = this.senderQuery.get({ owner, sender })!;
    return { blockInUse: r.block_in_use === 1, grantInUse: r.grant_in_use === 1, blocked: r.blocked === 1, granted: r.granted === 1 };
  }

  /** Apply changes to both lists in one transaction (acknowledged to the client, so fsynced). */
  change(owner: string, changes: Partial<Record<AccessList, AccessChange>>): void {
    durably(this.db, () => {
      for (const list of ['block', 'grant'] as const) {
        const c = changes[list];
        if (!c) continue;
        if (c.replace) {
          this.clearList.run(owner, list);
          for (const e of c.replace) this.insertEntry.run(owner, list, e.kind, e.entity);
        }
        for (const e of c.add ?? []) this.insertEntry.run(owner, list, e.kind, e.entity);
        for (const e of c.remove ?? []) this.deleteEntry.run(owner, list, e.kind, e.entity);
        if (c.inUse !== undefined) {
          this.upsertFlags.run({ owner, block: list === 'block' ? Number(c.inUse) : null, grant: list === 'grant' ? Number(c.inUse) : null });
        }
      }
    });
  }

  forgetOwner(owner: string): void {
    this.deleteOwner.run(owner);
    this.deleteOwnerFlags.run(owner);
  }
}
