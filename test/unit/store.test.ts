import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, durably } from '../../src/store/db.ts';
import { MessageStore } from '../../src/store/messages.ts';
import { AccountStore } from '../../src/store/accounts.ts';

const fresh = () => openDatabase(join(mkdtempSync(join(tmpdir(), 'store-')), 'data'));
const FULL = 2;
const NORMAL = 1;

describe('store durability', () => {
  test('bookkeeping commits are NORMAL; durably() runs its transaction with FULL (fsync) and restores NORMAL', () => {
    const db = fresh();
    assert.equal(db.pragma('synchronous', { simple: true }), NORMAL);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const inside = durably(db, () => db.pragma('synchronous', { simple: true }));
    assert.equal(inside, FULL);
    assert.equal(db.pragma('synchronous', { simple: true }), NORMAL);
  });

  test('what is acknowledged to a client (a message, an account) is written under FULL', () => {
    const db = fresh();
    const seen: unknown[] = [];
    const messages = new MessageStore(db);
    const accounts = new AccountStore(db);
    const original = db.pragma.bind(db);
    // Record every change of the synchronous level around the stores' writes.
    db.pragma = ((...args: Parameters<typeof original>) => {
      const result = original(...args);
      if (String(args[0]).startsWith('synchronous =')) seen.push(args[0]);
      return result;
    }) as typeof db.pragma;
    messages.enqueue(
      { messageId: 'm1', sender: 'a@x', contentType: 'text/plain', content: Buffer.from('hi'), binary: false, createdAt: 1, expiresAt: undefined, deliveryReport: false, addressedTo: ['b@x'] },
      ['b@x'],
    );
    accounts.create('c@x', 'x', 'sealed');
    assert.deepEqual(seen, ['synchronous = FULL', 'synchronous = NORMAL', 'synchronous = FULL', 'synchronous = NORMAL']);
  });

  test('the data directory is private to the server (0700) and the database file 0600', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'store-')), 'data');
    openDatabase(dir).close();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'village.db')).mode & 0o777, 0o600);
  });
});
