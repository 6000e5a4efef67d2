// Contact lists: each owner's named lists of users, with nicknames, display name and default.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export interface ContactList {
  owner: string;
  /** Canonical "alice/friends@imps.test". */
  listId: string;
  displayName?: string;
  isDefault: boolean;
  autoSubscribe: boolean;
}

export interface ListMember {
  member: string;
  nickname?: string;
}

interface ListRow {
  owner: string;
  list_id: string;
  display_name: string | null;
  is_default: number;
  auto_subscribe: number;
}

const toList = (r: ListRow): ContactList => ({
  owner: r.owner,
  listId: r.list_id,
  ...(r.display_name !== null ? { displayName: r.display_name } : {}),
  isDefault: r.is_default === 1,
  autoSubscribe: r.auto_subscribe === 1,
});

export class ContactListStore {
  private readonly selectLists;
  private readonly selectList;
  private readonly insertList;
  private readonly deleteList;
  private readonly updateDisplayName;
  private readonly clearDefault;
  private readonly setDefault;
  private readonly setAutoSubscribe;
  private readonly selectMembers;
  private readonly countMembers;
  private readonly insertMember;
  private readonly deleteMember;
  private readonly listsContaining;
  private readonly deleteOwner;

  constructor(private readonly db: Db) {
    this.selectLists = db.prepare<[string], ListRow>('SELECT * FROM contact_lists WHERE owner = ? ORDER BY created_at, list_id');
    this.selectList = db.prepare<[string, string], ListRow>('SELECT * FROM contact_lists WHERE owner = ? AND list_id = ?');
    this.insertList = db.prepare('INSERT INTO contact_lists (owner, list_id, display_name, is_default, auto_subscribe, created_at) VALUES (?, ?, ?, 0, 0, ?)');
    this.deleteList = db.prepare('DELETE FROM contact_lists WHERE owner = ? AND list_id = ?');
    this.updateDisplayName = db.prepare('UPDATE contact_lists SET display_name = ? WHERE owner = ? AND list_id = ?');
    this.clearDefault = db.prepare('UPDATE contact_lists SET is_default = 0 WHERE owner = ?');
    this.setDefault = db.prepare('UPDATE contact_lists SET is_default = ? WHERE owner = ? AND list_id = ?');
    this.setAutoSubscribe = db.prepare('UPDATE contact_lists SET auto_subscribe = ? WHERE owner = ? AND list_id = ?');
    this.selectMembers = db.prepare<[string, string], { member: string; nickname: string | null }>(
      'SELECT member, nickname FROM contact_list_members WHERE owner = ? AND list_id = ? ORDER BY position',
    );
    this.countMembers = db.prepare<[string, string], { n: number }>('SELECT COUNT(*) AS n FROM contact_list_members WHERE owner = ? AND list_id = ?');
    this.insertMember = db.prepare(
      `INSERT INTO contact_list_members (owner, list_id, member, nickname, position)
       VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM contact_list_members WHERE owner = ? AND list_id = ?))
       ON CONFLICT (owner, list_id, member) DO UPDATE SET nickname = COALESCE(excluded.nickname, nickname)`,
    );
    this.deleteMember = db.prepare('DELETE FROM contact_list_members WHERE owner = ? AND list_id = ? AND member = ?');
    this.listsContaining = db.prepare<[string, string], { list_id: string }>('SELECT list_id FROM contact_list_members WHERE owner = ? AND member = ?');
    this.deleteOwner = db.prepare('DELETE FROM contact_lists WHERE owner = ?');
  }

  lists(owner: string): ContactList[] {
    return this.selectLists.all(owner).map(toList);
  }

  get(owner: string, listId: string): ContactList | undefined {
    const row = this.selectList.get(owner, listId);
    return row && toList(row);
  }

  members(owner: string, listId: string): ListMember[] {
    return this.selectMembers.all(owner, listId).map((r) => ({ member: r.member, ...(r.nickname !== null ? { nickname: r.nickname } : {}) }));
  }

  memberCount(owner: string, listId: string): number {
    return this.countMembers.get(owner, listId)!.n;
  }

  /** The owner's lists a user is on (for attribute lists scoped to a contact list). */
  listsWith(owner: string, member: string): string[] {
    return this.listsContaining.all(owner, member).map((r) => r.list_id);
  }

  /** Create a list with its first members; false when it exists already. */
  create(owner: string, listId: string, displayName: string | undefined, members: ListMember[], now: number): boolean {
    return durably(this.db, () => {
      if (this.selectList.get(owner, listId)) return false;
      this.insertList.run(owner, listId, displayName ?? null, now);
      for (const m of members) this.insertMember.run(owner, listId, m.member, m.nickname ?? null, owner, listId);
      return true;
    });
  }

  delete(owner: string, listId: string): boolean {
    return durably(this.db, () => this.deleteList.run(owner, listId).changes === 1);
  }

  /** Add, remove and set properties in one transaction. */
  change(owner: string, listId: string, change: { add?: ListMember[]; remove?: string[]; displayName?: string; isDefault?: boolean; autoSubscribe?: boolean }): void {
    durably(this.db, () => {
      for (const m of change.add ?? []) this.insertMember.run(owner, listId, m.member, m.nickname ?? null, owner, listId);
      for (const m of change.remove ?? []) this.deleteMember.run(owner, listId, m);
      if (change.displayName !== undefined) this.updateDisplayName.run(change.displayName, owner, listId);
      if (change.isDefault === true) this.clearDefault.run(owner);
      if (change.isDefault !== undefined) this.setDefault.run(change.isDefault ? 1 : 0, owner, listId);
      if (change.autoSubscribe !== undefined) this.setAutoSubscribe.run(change.autoSubscribe ? 1 : 0, owner, listId);
    });
  }

  forgetOwner(owner: string): void {
    this.deleteOwner.run(owner);
  }
}
