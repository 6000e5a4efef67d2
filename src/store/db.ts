// Opening the SQLite database: WAL mode, full durability, numbered migrations.
import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Db = Database.Database;

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

/** Migrations are `NNN-name.sql`; the database's user_version records the last one applied. */
function migrations(): { version: number; name: string; sql: string }[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}-.+\.sql$/.test(f))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 3)), name, sql: readFileSync(new URL(name, MIGRATIONS_DIR), 'utf8') }));
}

export function openDatabase(dataDir: string): Db {
  // Message bodies are stored in clear: only the server's user may read the data directory.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'village.db');
  // Created 0600 before SQLite opens it; SQLite gives the -wal and -shm files the same mode.
  if (!existsSync(file)) closeSync(openSync(file, 'wx', 0o600));
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // Two tiers of durability. By default (NORMAL) a commit is in the WAL, handed to the OS,
  // before it returns: it survives SIGKILL, not a power cut. What the server acknowledges to a
  // client as kept (an accepted message, a new account) goes through durably(), which also
  // fsyncs (FULL) before returning. Bookkeeping (offers, deliveries acknowledged by the
  // recipient) stays NORMAL: after a power cut it can only cause a duplicate delivery, which
  // at-least-once delivery allows, and it saves an fsync on every poll and acknowledgement.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/** Run fn in a transaction that is fsynced to disk before this returns. */
export function durably<T>(db: Db, fn: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const m of migrations()) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
