// Invitations: what an inviter offered (type, group, note, URLs, presence attributes, validity)
// and, per invitee, where the invitation stands (pending, accepted, declined, cancelled).
// An invitation is named by (inviter, InviteID): the InviteID is the inviter's client's choice.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export type InviteType = 'IM' | 'GR' | 'PR' | 'SC' | 'GM';
export type InviteeState = 'pending' | 'accepted' | 'declined' | 'cancelled';

export interface InviteeRecord {
  invitee: string;
  state: InviteeState;
  responseNote?: string;
  answeredAt?: number;
}

export interface NewInvitation {
  inviter: string;
  inviteId: string;
  type: InviteType;
  groupId?: string;
  /** The inviter's screen name in a group, as the Invite-Request gave it. */
  screenName?: { sName: string; groupId: string };
  note?: string;
  urls?: string[];
  /** Presence attribute names (PR). */
  attributes?: string[];
  /** Seconds, as granted. */
  validity: number;
  createdAt: number;
  expiresAt: number;
  invitees: string[];
}

export interface Invitation extends Omit<NewInvitation, 'invitees'> {
  invitees: InviteeRecord[];
}

interface Row {
  inviter: string;
  invite_id: string;
  invite_type: InviteType;
  group_id: string | null;
  screen_name: string | null;
  note: string | null;
  urls: string | null;
  attributes: string | null;
  validity: number;
  created_at: number;
  expires_at: number;
}

interface InviteeRow {
  invitee: string;
  state: InviteeState;
  response_note: string | null;
  answered_at: number | null;
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

export class InvitationStore {
  private readonly selectOne;
  private readonly selectInvitees;
  private readonly selectForInvitee;
  private readonly insert;
  private readonly insertInvitee;
  private readonly deleteOne;
  private readonly updateInvitee;
  private readonly deleteExpired;

  constructor(private readonly db: Db) {
    this.selectOne = db.prepare<[string, string], Row>('SELECT * FROM invitations WHERE inviter = ? AND invite_id = ?');
    this.selectInvitees = db.prepare<[string, string], InviteeRow>(
      'SELECT invitee, state, response_note, answered_at FROM invitation_invitees WHERE inviter = ? AND invite_id = ? ORDER BY invitee',
    );
    this.selectForInvitee = db.prepare<[string, string], Row>(
      `SELECT i.* FROM invitation_invitees r JOIN invitations i ON i.inviter = r.inviter AND i.invite_id = r.invite_id
       WHERE r.invitee = ? AND r.invite_id = ? ORDER BY i.created_at DESC, i.inviter`,
    );
    this.insert = db.prepare(
      `INSERT INTO invitations (inviter, invite_id, invite_type, group_id, screen_name, note, urls, attributes, validity, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertInvitee = db.prepare("INSERT OR IGNORE INTO invitation_invitees (inviter, invite_id, invitee, state) VALUES (?, ?, ?, 'pending')");
    this.deleteOne = db.prepare('DELETE FROM invitations WHERE inviter = ? AND invite_id = ?');
    this.updateInvitee = db.prepare(
      "UPDATE invitation_invitees SET state = ?, response_note = ?, answered_at = ? WHERE inviter = ? AND invite_id = ? AND invitee = ? AND state = 'pending'",
    );
    this.deleteExpired = db.prepare('DELETE FROM invitations WHERE expires_at <= ?');
  }

  get(inviter: string, inviteId: string): Invitation | undefined {
    const row = this.selectOne.get(inviter, inviteId);
    return row && this.toInvitation(row);
  }

  /** Every invitation with this InviteID that names `invitee`, newest first. */
  forInvitee(invitee: string, inviteId: string): Invitation[] {
    return this.selectForInvitee.all(invitee, inviteId).map((r) => this.toInvitation(r));
  }

  /**
   * Record an invitation (replacing an ended one with the same InviteID), fsynced before this
   * returns. `alsoInside` runs in the same transaction (queueing the invitees' notices).
   */
  create(invitation: NewInvitation, alsoInside?: () => void): void {
    durably(this.db, () => {
      const i = invitation;
      this.deleteOne.run(i.inviter, i.inviteId);
      this.insert.run(i.inviter, i.inviteId, i.type, i.groupId ?? null, json(i.screenName), i.note ?? null, json(i.urls), json(i.attributes), i.validity, i.createdAt, i.expiresAt);
      for (const invitee of i.invitees) this.insertInvitee.run(i.inviter, i.inviteId, invitee);
      alsoInside?.();
    });
  }

  /**
   * A pending invitee answered or was cancelled. False (and nothing done) when they were not
   * pending. `alsoInside` runs in the same transaction (the notice to the other side).
   */
  settle(inviter: string, inviteId: string, invitee: string, state: Exclude<InviteeState, 'pending'>, now: number, responseNote?: string, alsoInside?: () => void): boolean {
    return durably(this.db, () => {
      if (this.updateInvitee.run(state, responseNote ?? null, now, inviter, inviteId, invitee).changes !== 1) return false;
      alsoInside?.();
      return true;
    });
  }

  /** Forget invitations past their validity (their invitees with them). */
  purgeExpired(now: number): number {
    return this.deleteExpired.run(now).changes;
  }

  private toInvitation(r: Row): Invitation {
    return {
      inviter: r.inviter,
      inviteId: r.invite_id,
      type: r.invite_type,
      ...(r.group_id !== null ? { groupId: r.group_id } : {}),
      ...(r.screen_name !== null ? { screenName: JSON.parse(r.screen_name) as { sName: string; groupId: string } } : {}),
      ...(r.note !== null ? { note: r.note } : {}),
      ...(r.urls !== null ? { urls: JSON.parse(r.urls) as string[] } : {}),
      ...(r.attributes !== null ? { attributes: JSON.parse(r.attributes) as string[] } : {}),
      validity: r.validity,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      invitees: this.selectInvitees.all(r.inviter, r.invite_id).map((v) => ({
        invitee: v.invitee,
        state: v.state,
        ...(v.response_note !== null ? { responseNote: v.response_note } : {}),
        ...(v.answered_at !== null ? { answeredAt: v.answered_at } : {}),
      })),
    };
  }
}
