// Groups: properties, members (with privileges), joined users (with screen names), rejects.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export type Privilege = 'Admin' | 'Mod' | 'User';

export interface WelcomeNote {
  contentType: string;
  content: string;
  binary: boolean;
}

export interface GroupRecord {
  groupId: string;
  owner: string;
  /** Canonical property name → value. */
  properties: Record<string, string>;
  welcomeNote?: WelcomeNote;
  createdAt: number;
}

export interface JoinedUser {
  userId: string;
  screenName: string;
  subscribeNotice: boolean;
}

interface GroupRow {
  group_id: string;
  owner: string;
  properties: string;
  welcome_note: string | null;
  created_at: number;
}

const toGroup = (r: GroupRow): GroupRecord => ({
  groupId: r.group_id,
  owner: r.owner,
  properties: JSON.parse(r.properties) as Record<string, string>,
  ...(r.welcome_note ? { welcomeNote: JSON.parse(r.welcome_note) as WelcomeNote } : {}),
  createdAt: r.created_at,
});

export class GroupStore {
  private readonly selectGroup;
  private readonly insertGroup;
  private readonly deleteGroup;
  private readonly updateProperties;
  private readonly updateWelcome;
  private readonly countOwned;
  private readonly selectMembers;
  private readonly selectMember;
  private readonly upsertMember;
  private readonly deleteMember;
  private readonly selectJoined;
  private readonly selectEveryJoined;
  private readonly insertJoined;
  private readonly deleteJoined;
  private readonly updateSubscription;
  private readonly joinedGroupsOf;
  private readonly selectOccupantJid;
  private readonly updateOccupantJid;
  private readonly selectRejected;
  private readonly insertRejected;
  private readonly deleteRejected;
  private readonly isRejectedStmt;
  private readonly searchable;

  constructor(private readonly db: Db) {
    this.selectGroup = db.prepare<[string], GroupRow>('SELECT * FROM groups WHERE group_id = ?');
    this.insertGroup = db.prepare('INSERT INTO groups (group_id, owner, properties, welcome_note, created_at) VALUES (?, ?, ?, ?, ?)');
    this.deleteGroup = db.prepare('DELETE FROM groups WHERE group_id = ?');
    this.updateProperties = db.prepare('UPDATE groups SET properties = ? WHERE group_id = ?');
    this.updateWelcome = db.prepare('UPDATE groups SET welcome_note = ? WHERE group_id = ?');
    this.countOwned = db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM groups WHERE owner = ?');
    this.selectMembers = db.prepare<[string], { user_id: string; privilege: Privilege }>('SELECT user_id, privilege FROM group_members WHERE group_id = ? ORDER BY user_id');
    this.selectMember = db.prepare<[string, string], { privilege: Privilege }>('SELECT privilege FROM group_members WHERE group_id = ? AND user_id = ?');
    this.upsertMember = db.prepare(
      'INSERT INTO group_members (group_id, user_id, privilege) VALUES (?, ?, ?) ON CONFLICT (group_id, user_id) DO UPDATE SET privilege = excluded.privilege',
    );
    this.deleteMember = db.prepare('DELETE FROM group_members WHERE group_id = ? AND user_id = ?');
    this.selectJoined = db.prepare<[string], { user_id: string; screen_name: string; subscribe_notice: number }>(
      'SELECT user_id, screen_name, subscribe_notice FROM group_joined WHERE group_id = ? ORDER BY joined_at, user_id',
    );
    this.insertJoined = db.prepare(
      `INSERT INTO group_joined (group_id, user_id, screen_name, subscribe_notice, joined_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (group_id, user_id) DO UPDATE SET screen_name = excluded.screen_name, subscribe_notice = excluded.subscribe_notice`,
    );
    this.deleteJoined = db.prepare('DELETE FROM group_joined WHERE group_id = ? AND user_id = ?');
    this.updateSubscription = db.prepare('UPDATE group_joined SET subscribe_notice = ? WHERE group_id = ? AND user_id = ?');
    this.selectOccupantJid = db.prepare<[string, string], { xmpp_jid: string | null }>('SELECT xmpp_jid FROM group_joined WHERE group_id = ? AND user_id = ?');
    this.updateOccupantJid = db.prepare('UPDATE group_joined SET xmpp_jid = ? WHERE group_id = ? AND user_id = ?');
    this.selectEveryJoined = db.prepare<[], { group_id: string; user_id: string }>('SELECT group_id, user_id FROM group_joined');
    this.joinedGroupsOf = db.prepare<[string], { group_id: string }>('SELECT group_id FROM group_joined WHERE user_id = ?');
    this.selectRejected = db.prepare<[string], { user_id: string }>('SELECT user_id FROM group_rejected WHERE group_id = ? ORDER BY user_id');
    this.insertRejected = db.prepare('INSERT OR IGNORE INTO group_rejected (group_id, user_id) VALUES (?, ?)');
    this.deleteRejected = db.prepare('DELETE FROM group_rejected WHERE group_id = ? AND user_id = ?');
    this.isRejectedStmt = db.prepare<[string, string], { found: number }>('SELECT EXISTS (SELECT 1 FROM group_rejected WHERE group_id = ? AND user_id = ?) AS found');
    this.searchable = db.prepare<[], GroupRow>('SELECT * FROM groups ORDER BY group_id');
  }

  get(groupId: string): GroupRecord | undefined {
    const row = this.selectGroup.get(groupId);
    return row && toGroup(row);
  }

  /** Create a group with its owner as Admin; false when the id is taken. */
  create(group: GroupRecord): boolean {
    return durably(this.db, () => {
      if (this.selectGroup.get(group.groupId)) return false;
      this.insertGroup.run(group.groupId, group.owner, JSON.stringify(group.properties), group.welcomeNote ? JSON.stringify(group.welcomeNote) : null, group.createdAt);
      this.upsertMember.run(group.groupId, group.owner, 'Admin');
      return true;
    });
  }

  delete(groupId: string): boolean {
    return durably(this.db, () => this.deleteGroup.run(groupId).changes === 1);
  }

  setProperties(groupId: string, properties: Record<string, string>, welcomeNote?: WelcomeNote | null): void {
    durably(this.db, () => {
      this.updateProperties.run(JSON.stringify(properties), groupId);
      if (welcomeNote !== undefined) this.updateWelcome.run(welcomeNote ? JSON.stringify(welcomeNote) : null, groupId);
    });
  }

  ownedBy(userId: string): number {
    return this.countOwned.get(userId)!.n;
  }

  members(groupId: string): { userId: string; privilege: Privilege }[] {
    return this.selectMembers.all(groupId).map((r) => ({ userId: r.user_id, privilege: r.privilege }));
  }

  privilegeOf(groupId: string, userId: string): Privilege | undefined {
    return this.selectMember.get(groupId, userId)?.privilege;
  }

  setMembers(groupId: string, changes: { userId: string; privilege: Privilege | null }[]): void {
    durably(this.db, () => {
      for (const c of changes) {
        if (c.privilege) this.upsertMember.run(groupId, c.userId, c.privilege);
        else this.deleteMember.run(groupId, c.userId);
      }
    });
  }

  joined(groupId: string): JoinedUser[] {
    return this.selectJoined.all(groupId).map((r) => ({ userId: r.user_id, screenName: r.screen_name, subscribeNotice: r.subscribe_notice === 1 }));
  }

  join(groupId: string, user: JoinedUser, now: number): void {
    this.insertJoined.run(groupId, user.userId, user.screenName, user.subscribeNotice ? 1 : 0, now);
  }

  leave(groupId: string, userId: string): void {
    this.deleteJoined.run(groupId, userId);
  }

  /** The full JID an XMPP occupant joined from (room traffic goes there). */
  occupantJid(groupId: string, userId: string): string | undefined {
    return this.selectOccupantJid.get(groupId, userId)?.xmpp_jid ?? undefined;
  }

  setOccupantJid(groupId: string, userId: string, jid: string): void {
    this.updateOccupantJid.run(jid, groupId, userId);
  }

  setNoticeSubscription(groupId: string, userId: string, on: boolean): void {
    this.updateSubscription.run(on ? 1 : 0, groupId, userId);
  }

  /** Every joined user of every group. */
  everyJoined(): { groupId: string; userId: string }[] {
    return this.selectEveryJoined.all().map((r) => ({ groupId: r.group_id, userId: r.user_id }));
  }

  /** Groups a user is joined to. */
  joinedBy(userId: string): string[] {
    return this.joinedGroupsOf.all(userId).map((r) => r.group_id);
  }

  rejected(groupId: string): string[] {
    return this.selectRejected.all(groupId).map((r) => r.user_id);
  }

  isRejected(groupId: string, userId: string): boolean {
    return this.isRejectedStmt.get(groupId, userId)!.found === 1;
  }

  changeRejected(groupId: string, add: string[], remove: string[]): void {
    durably(this.db, () => {
      for (const u of add) this.insertRejected.run(groupId, u);
      for (const u of remove) this.deleteRejected.run(groupId, u);
    });
  }

  /** Every group (for search; filtered by the caller on Searchable and the criteria). */
  all(): GroupRecord[] {
    return this.searchable.all().map(toGroup);
  }
}
