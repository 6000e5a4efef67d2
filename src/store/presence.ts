// Presence state: each user's published attributes, who watches whom, what owners granted
// or denied, attribute lists, and per-user authorisation policies.
import type { Db } from './db.ts';
import { durably } from './db.ts';
import type { CspElement } from '../csp/tree.ts';

export type GrantState = 'granted' | 'denied' | 'pending';
export type Policy = 'ask' | 'auto' | 'deny';

export interface Subscription {
  watcher: string;
  target: string;
  /** Attribute names asked for; undefined: all. */
  attributes?: string[];
  viaList?: string;
}

export interface Grant {
  state: GrantState;
  /** Attribute names granted; undefined: all. */
  attributes?: string[];
}

export type AttributeListScope = 'default' | 'user' | 'list';

const json = (names: string[] | undefined) => (names === undefined ? null : JSON.stringify(names));
const names = (text: string | null) => (text === null ? undefined : (JSON.parse(text) as string[]));

interface SubscriptionRow {
  watcher: string;
  target: string;
  attributes: string | null;
  via_list: string | null;
}

const toSubscription = (r: SubscriptionRow): Subscription => ({
  watcher: r.watcher,
  target: r.target,
  ...(r.attributes !== null ? { attributes: names(r.attributes)! } : {}),
  ...(r.via_list !== null ? { viaList: r.via_list } : {}),
});

export class PresenceStore {
  private readonly selectPresence;
  private readonly upsertPresence;
  private readonly selectAll;
  private readonly upsertSubscription;
  private readonly deleteSubscription;
  private readonly deleteSubscriptionsVia;
  private readonly selectWatchers;
  private readonly selectWatched;
  private readonly selectSubscription;
  private readonly selectGrant;
  private readonly upsertGrant;
  private readonly selectGrants;
  private readonly selectAttributeList;
  private readonly upsertAttributeList;
  private readonly deleteAttributeList;
  private readonly selectPolicy;
  private readonly upsertPolicy;
  private readonly deletePolicy;
  private readonly forgetStatements;

  constructor(private readonly db: Db) {
    this.selectPresence = db.prepare<[string], { attributes: string }>('SELECT attributes FROM presence WHERE user_id = ?');
    this.selectAll = db.prepare<[], { user_id: string; attributes: string }>("SELECT user_id, attributes FROM presence WHERE attributes LIKE '%OnlineStatus%'");
    this.upsertPresence = db.prepare(
      'INSERT INTO presence (user_id, attributes, updated_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at',
    );
    this.upsertSubscription = db.prepare(
      `INSERT INTO subscriptions (watcher, target, attributes, via_list, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (watcher, target) DO UPDATE SET attributes = excluded.attributes, via_list = COALESCE(excluded.via_list, via_list)`,
    );
    this.deleteSubscription = db.prepare('DELETE FROM subscriptions WHERE watcher = ? AND target = ?');
    this.deleteSubscriptionsVia = db.prepare('DELETE FROM subscriptions WHERE watcher = ? AND via_list = ?');
    this.selectWatchers = db.prepare<[string], SubscriptionRow>('SELECT * FROM subscriptions WHERE target = ? ORDER BY created_at, watcher');
    this.selectWatched = db.prepare<[string], SubscriptionRow>('SELECT * FROM subscriptions WHERE watcher = ? ORDER BY created_at, target');
    this.selectSubscription = db.prepare<[string, string], SubscriptionRow>('SELECT * FROM subscriptions WHERE watcher = ? AND target = ?');
    this.selectGrant = db.prepare<[string, string], { state: GrantState; attributes: string | null }>('SELECT state, attributes FROM presence_grants WHERE owner = ? AND watcher = ?');
    this.upsertGrant = db.prepare(
      `INSERT INTO presence_grants (owner, watcher, state, attributes, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (owner, watcher) DO UPDATE SET state = excluded.state, attributes = excluded.attributes, updated_at = excluded.updated_at`,
    );
    this.selectGrants = db.prepare<[string], { watcher: string; state: GrantState; attributes: string | null }>(
      'SELECT watcher, state, attributes FROM presence_grants WHERE owner = ? ORDER BY watcher',
    );
    this.selectAttributeList = db.prepare<[string, AttributeListScope, string], { attributes: string }>(
      'SELECT attributes FROM attribute_lists WHERE owner = ? AND scope = ? AND target = ?',
    );
    this.upsertAttributeList = db.prepare(
      'INSERT INTO attribute_lists (owner, scope, target, attributes) VALUES (?, ?, ?, ?) ON CONFLICT (owner, scope, target) DO UPDATE SET attributes = excluded.attributes',
    );
    this.deleteAttributeList = db.prepare('DELETE FROM attribute_lists WHERE owner = ? AND scope = ? AND target = ?');
    this.selectPolicy = db.prepare<[string], { policy: Policy }>('SELECT policy FROM presence_policies WHERE user_id = ?');
    this.upsertPolicy = db.prepare('INSERT INTO presence_policies (user_id, policy) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET policy = excluded.policy');
    this.deletePolicy = db.prepare('DELETE FROM presence_policies WHERE user_id = ?');
    this.forgetStatements = [
      'DELETE FROM presence WHERE user_id = :user',
      'DELETE FROM subscriptions WHERE watcher = :user OR target = :user',
      'DELETE FROM presence_grants WHERE owner = :user OR watcher = :user',
      "DELETE FROM attribute_lists WHERE owner = :user OR (scope = 'user' AND target = :user)",
      'DELETE FROM presence_policies WHERE user_id = :user',
    ].map((sql) => db.prepare(sql));
  }

  /** A user's published attributes (canonical element trees). */
  attributes(userId: string): CspElement[] {
    const row = this.selectPresence.get(userId);
    return row ? (JSON.parse(row.attributes) as CspElement[]) : [];
  }

  /** Users whose stored OnlineStatus says T. */
  usersOnline(): string[] {
    return this.selectAll.all().filter((r) => (JSON.parse(r.attributes) as CspElement[]).some((a) => a.name === 'OnlineStatus' && a.children.some((c) => c.name === 'PresenceValue' && c.text?.trim().toUpperCase() === 'T'))).map((r) => r.user_id);
  }

  setAttributes(userId: string, attributes: CspElement[], now: number): void {
    this.upsertPresence.run(userId, JSON.stringify(attributes), now);
  }

  subscribe(s: Subscription, now: number): void {
    durably(this.db, () => this.upsertSubscription.run(s.watcher, s.target, json(s.attributes), s.viaList ?? null, now));
  }

  unsubscribe(watcher: string, target: string): boolean {
    return durably(this.db, () => this.deleteSubscription.run(watcher, target).changes === 1);
  }

  unsubscribeVia(watcher: string, listId: string): void {
    durably(this.db, () => this.deleteSubscriptionsVia.run(watcher, listId));
  }

  subscription(watcher: string, target: string): Subscription | undefined {
    const row = this.selectSubscription.get(watcher, target);
    return row && toSubscription(row);
  }

  /** Who watches `target`. */
  watchersOf(target: string): Subscription[] {
    return this.selectWatchers.all(target).map(toSubscription);
  }

  /** Whom `watcher` watches. */
  watchedBy(watcher: string): Subscription[] {
    return this.selectWatched.all(watcher).map(toSubscription);
  }

  grant(owner: string, watcher: string): Grant | undefined {
    const row = this.selectGrant.get(owner, watcher);
    return row && { state: row.state, ...(row.attributes !== null ? { attributes: names(row.attributes)! } : {}) };
  }

  setGrant(owner: string, watcher: string, grant: Grant, now: number): void {
    durably(this.db, () => this.upsertGrant.run(owner, watcher, grant.state, json(grant.attributes), now));
  }

  grants(owner: string): (Grant & { watcher: string })[] {
    return this.selectGrants.all(owner).map((r) => ({ watcher: r.watcher, state: r.state, ...(r.attributes !== null ? { attributes: names(r.attributes)! } : {}) }));
  }

  attributeList(owner: string, scope: AttributeListScope, target = ''): string[] | undefined {
    return names(this.selectAttributeList.get(owner, scope, target)?.attributes ?? null);
  }

  setAttributeList(owner: string, scope: AttributeListScope, target: string, attributes: string[]): void {
    durably(this.db, () => this.upsertAttributeList.run(owner, scope, target, JSON.stringify(attributes)));
  }

  removeAttributeList(owner: string, scope: AttributeListScope, target: string): boolean {
    return durably(this.db, () => this.deleteAttributeList.run(owner, scope, target).changes === 1);
  }

  policy(userId: string): Policy | undefined {
    return this.selectPolicy.get(userId)?.policy;
  }

  /** Set a user's own policy; undefined returns them to the configured default. */
  setPolicy(userId: string, policy: Policy | undefined): void {
    durably(this.db, () => (policy ? this.upsertPolicy.run(userId, policy) : this.deletePolicy.run(userId)));
  }

  /** Forget everything about a user whose account is gone. */
  forgetUser(userId: string): void {
    durably(this.db, () => {
      for (const statement of this.forgetStatements) statement.run({ user: userId });
    });
  }
}
