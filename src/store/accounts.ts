// Accounts: who may log in, and their sealed password. The only SQL about users.
import type { Db } from './db.ts';
import { durably } from './db.ts';

export interface Account {
  userId: string;
  domain: string;
  /** Sealed with PasswordVault; never logged. */
  sealedPassword: string;
  createdAt: number;
  /** Bumped by every password change; live sessions of an older generation end. */
  generation: number;
}

interface Row {
  user_id: string;
  domain: string;
  password: string;
  created_at: number;
  generation: number;
}

const toAccount = (r: Row): Account => ({ userId: r.user_id, domain: r.domain, sealedPassword: r.password, createdAt: r.created_at, generation: r.generation });

export class AccountStore {
  private readonly byId;
  private readonly insertRow;
  private readonly updatePassword;
  private readonly deleteRow;
  private readonly all;
  private readonly allInDomain;

  constructor(private readonly db: Db) {
    this.byId = db.prepare<[string], Row>('SELECT * FROM users WHERE user_id = ?');
    this.insertRow = db.prepare('INSERT INTO users (user_id, domain, password, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING');
    this.updatePassword = db.prepare('UPDATE users SET password = ?, generation = generation + 1 WHERE user_id = ?');
    this.deleteRow = db.prepare('DELETE FROM users WHERE user_id = ?');
    this.all = db.prepare<[], Row>('SELECT * FROM users ORDER BY domain, user_id');
    this.allInDomain = db.prepare<[string], Row>('SELECT * FROM users WHERE domain = ? ORDER BY user_id');
  }

  get(userId: string): Account | undefined {
    const row = this.byId.get(userId);
    return row && toAccount(row);
  }

  /** Create an account; false when it already exists. */
  create(userId: string, domain: string, sealedPassword: string, now = Date.now()): boolean {
    return durably(this.db, () => this.insertRow.run(userId, domain, sealedPassword, now).changes === 1);
  }

  setPassword(userId: string, sealedPassword: string): boolean {
    return durably(this.db, () => this.updatePassword.run(sealedPassword, userId).changes === 1);
  }

  delete(userId: string): boolean {
    return durably(this.db, () => this.deleteRow.run(userId).changes === 1);
  }

  /** The account's generation, or undefined when it no longer exists (cheap: one key lookup). */
  generationOf(userId: string): number | undefined {
    return this.byId.get(userId)?.generation;
  }

  list(domain?: string): Account[] {
    return (domain ? this.allInDomain.all(domain) : this.all.all()).map(toAccount);
  }
}
