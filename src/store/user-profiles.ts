// User profiles: the names, addresses and places an operator records for a user, and the user
// search (Search-Request) over them. The search is the one read that spans aggregates: it
// looks at account ids (users), profiles, and the Alias and OnlineStatus users publish
// (presence, stored as element trees in JSON), so a search with several criteria is one query
// with one LIMIT.
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.ts';
import { durably } from './db.ts';

export const PROFILE_FIELDS = ['firstName', 'lastName', 'email', 'mobile', 'city', 'country', 'friendlyName'] as const;
export type ProfileField = (typeof PROFILE_FIELDS)[number];
export type UserProfile = Partial<Record<ProfileField, string>>;

const COLUMNS: Record<ProfileField, string> = {
  firstName: 'first_name',
  lastName: 'last_name',
  email: 'email',
  mobile: 'mobile',
  city: 'city',
  country: 'country',
  friendlyName: 'friendly_name',
};

/**
 * One condition of a user search; a search ANDs them. Text conditions match a substring,
 * ignoring case (and, for mobile numbers, spaces, dashes, dots and brackets).
 *   id      the canonical user id ("alice@imps.test")
 *   name    what users call themselves: the profile's friendly name or their presence Alias
 *   online  whether the user's published OnlineStatus is T (the server keeps it in step with
 *           live sessions)
 */
export type UserCriterion =
  | { kind: 'id' | 'name' | Exclude<ProfileField, 'friendlyName'>; contains: string }
  | { kind: 'online'; online: boolean };

/** Lower-case, compatibility-normalised text: what case-insensitive comparisons compare. */
export function foldText(s: string): string {
  return s.normalize('NFKC').toLowerCase();
}

/** A phone number as compared: without spaces, dashes, dots and brackets. */
export function foldNumber(s: string): string {
  return foldText(s).replace(/[\s\-.()/]/g, '');
}

/** Whether a presence attribute (JSON element tree) of the user has a PresenceValue passing `test`. */
const presenceValue = (attribute: string, test: string) =>
  `EXISTS (SELECT 1 FROM presence pr, json_each(pr.attributes) a, json_each(a.value, '$.children') c
     WHERE pr.user_id = u.user_id AND json_extract(a.value, '$.name') = '${attribute}'
       AND json_extract(c.value, '$.name') = 'PresenceValue' AND ${test.replace(/\$value/g, "json_extract(c.value, '$.text')")})`;

/** SQL condition per criterion kind; each `?` is the folded needle (or 1/0 for online). */
const CONDITIONS: Record<UserCriterion['kind'], string> = {
  id: 'instr(u.user_id, ?) > 0',
  firstName: 'instr(village_fold(p.first_name), ?) > 0',
  lastName: 'instr(village_fold(p.last_name), ?) > 0',
  email: 'instr(village_fold(p.email), ?) > 0',
  mobile: 'instr(village_fold_number(p.mobile), ?) > 0',
  city: 'instr(village_fold(p.city), ?) > 0',
  country: 'instr(village_fold(p.country), ?) > 0',
  name: `(instr(village_fold(p.friendly_name), ?) > 0 OR ${presenceValue('Alias', 'instr(village_fold($value), ?) > 0')})`,
  online: `${presenceValue('OnlineStatus', "upper(trim($value)) = 'T'")} = ?`,
};

const PLACEHOLDERS = Object.fromEntries(Object.entries(CONDITIONS).map(([k, sql]) => [k, sql.split('?').length - 1])) as Record<UserCriterion['kind'], number>;

/** Distinct statement shapes kept prepared (criteria kinds in order). */
const MAX_PREPARED = 64;

interface Row {
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  mobile: string | null;
  city: string | null;
  country: string | null;
  friendly_name: string | null;
}

export class UserProfileStore {
  private readonly select;
  private readonly upsert;
  private readonly deleteRow;
  private readonly searches = new Map<string, Statement<(string | number)[], { user_id: string }>>();

  constructor(private readonly db: Db) {
    const fold = (v: unknown) => (typeof v === 'string' ? foldText(v) : null);
    const foldNum = (v: unknown) => (typeof v === 'string' ? foldNumber(v) : null);
    db.function('village_fold', { deterministic: true }, fold);
    db.function('village_fold_number', { deterministic: true }, foldNum);
    this.select = db.prepare<[string], Row>('SELECT first_name, last_name, email, mobile, city, country, friendly_name FROM user_profiles WHERE user_id = ?');
    this.upsert = db.prepare(
      `INSERT INTO user_profiles (user_id, first_name, last_name, email, mobile, city, country, friendly_name, updated_at)
       VALUES (@userId, @firstName, @lastName, @email, @mobile, @city, @country, @friendlyName, @now)
       ON CONFLICT (user_id) DO UPDATE SET first_name = excluded.first_name, last_name = excluded.last_name, email = excluded.email,
         mobile = excluded.mobile, city = excluded.city, country = excluded.country, friendly_name = excluded.friendly_name,
         updated_at = excluded.updated_at`,
    );
    this.deleteRow = db.prepare('DELETE FROM user_profiles WHERE user_id = ?');
  }

  /** The user's profile; undefined when nothing was ever recorded. */
  get(userId: string): UserProfile | undefined {
    const row = this.select.get(userId);
    if (!row) return undefined;
    const profile: UserProfile = {};
    for (const field of PROFILE_FIELDS) {
      const value = row[COLUMNS[field] as keyof Row];
      if (value !== null) profile[field] = value;
    }
    return profile;
  }

  /** Change some fields (null or "" clears one); returns the whole profile as it is now. */
  set(userId: string, changes: Partial<Record<ProfileField, string | null>>, now: number): UserProfile {
    return durably(this.db, () => {
      const merged: UserProfile = { ...this.get(userId) };
      for (const field of PROFILE_FIELDS) {
        if (!(field in changes)) continue;
        const value = changes[field];
        if (value === null || value === undefined || value === '') delete merged[field];
        else merged[field] = value;
      }
      const params: Record<string, string | number | null> = { userId, now };
      for (const field of PROFILE_FIELDS) params[field] = merged[field] ?? null;
      this.upsert.run(params);
      return merged;
    });
  }

  /** Forget the profile of a user whose account is gone. */
  forget(userId: string): void {
    durably(this.db, () => this.deleteRow.run(userId));
  }

  /**
   * Accounts meeting every criterion, in user id order, at most `limit` of them (ask for one
   * more than you can use to learn that there were too many). No criteria: nobody.
   */
  search(criteria: UserCriterion[], limit: number): string[] {
    if (criteria.length === 0) return [];
    const key = criteria.map((c) => c.kind).join(',');
    let statement = this.searches.get(key);
    if (!statement) {
      statement = this.db.prepare<(string | number)[], { user_id: string }>(
        `SELECT u.user_id FROM users u LEFT JOIN user_profiles p ON p.user_id = u.user_id WHERE ${criteria.map((c) => CONDITIONS[c.kind]).join(' AND ')} ORDER BY u.user_id LIMIT ?`,
      );
      if (this.searches.size >= MAX_PREPARED) this.searches.delete(this.searches.keys().next().value!);
      this.searches.set(key, statement);
    }
    // A condition that compares its needle twice takes it twice.
    const params = criteria.flatMap((c) => {
      const value = c.kind === 'online' ? (c.online ? 1 : 0) : c.kind === 'mobile' ? foldNumber(c.contains) : foldText(c.contains);
      return Array<string | number>(PLACEHOLDERS[c.kind]).fill(value);
    });
    return statement.all(...params, limit).map((r) => r.user_id);
  }
}
