import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { chooseDigestSchema, computeDigest, verifyDigest } from '../../src/auth/digest.ts';
import { PasswordVault } from '../../src/auth/password-vault.ts';
import { LoginThrottle, addressKey } from '../../src/auth/login-throttle.ts';
import { ChallengeBook } from '../../src/auth/challenges.ts';
import { parseUserId } from '../../src/csp/address.ts';
import { CspError } from '../../src/csp/status.ts';

describe('digest login', () => {
  test('matches the worked example of the reference (nonce e6b6…, password "secret")', () => {
    assert.equal(computeDigest('MD5', 'e6b68ebd81309d538357e39e2fba3204', 'secret'), 'ofnsv5Ty36paeU1JJ+f8fQ==');
    assert.ok(verifyDigest('MD5', 'e6b68ebd81309d538357e39e2fba3204', 'secret', 'ofnsv5Ty36paeU1JJ+f8fQ=='));
    assert.ok(!verifyDigest('MD5', 'e6b68ebd81309d538357e39e2fba3204', 'secreT', 'ofnsv5Ty36paeU1JJ+f8fQ=='));
    assert.ok(!verifyDigest('MD5', 'other-nonce', 'secret', 'ofnsv5Ty36paeU1JJ+f8fQ=='));
  });

  test('SHA is SHA-1 over nonce then password', () => {
    const d = computeDigest('SHA', 'n', 'p');
    assert.equal(Buffer.from(d, 'base64').length, 20);
    assert.ok(verifyDigest('SHA', 'n', 'p', d));
  });

  test('non-ASCII passwords verify whether the phone hashed UTF-8 or ISO-8859-1 bytes', () => {
    const latin1 = computeDigest('MD5', 'n', 'pässword');
    const utf8 = createHash('md5').update('n').update(Buffer.from('pässword', 'utf8')).digest('base64');
    assert.notEqual(latin1, utf8);
    assert.ok(verifyDigest('MD5', 'n', 'pässword', latin1));
    assert.ok(verifyDigest('MD5', 'n', 'pässword', utf8));
  });

  test('the scheme is chosen by preference, and 1.1 comma lists are split', () => {
    assert.equal(chooseDigestSchema(['SHA', 'MD5']), 'MD5');
    assert.equal(chooseDigestSchema(['PWD,SHA,MD4,MD5,MD6']), 'MD5');
    assert.equal(chooseDigestSchema(['sha']), 'SHA');
    assert.equal(chooseDigestSchema(['PWD']), 'PWD');
    assert.equal(chooseDigestSchema(['MD6']), undefined);
  });
});

describe('password vault', () => {
  test('seals with a 0600 key file; the sealed form hides the password and opens back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vault-'));
    const vault = PasswordVault.open(dir);
    const sealed = vault.seal('hunter2');
    assert.ok(!sealed.includes('hunter2'));
    assert.notEqual(vault.seal('hunter2'), sealed, 'a fresh IV each time');
    assert.equal(vault.open(sealed), 'hunter2');
    assert.equal(statSync(join(dir, 'secret.key')).mode & 0o777, 0o600);
    // The same key file opens it again after a restart.
    assert.equal(PasswordVault.open(dir).open(sealed), 'hunter2');
    assert.equal(Buffer.from(readFileSync(join(dir, 'secret.key'), 'utf8').trim(), 'base64').length, 32);
  });

  test('a tampered seal does not open', () => {
    const vault = PasswordVault.open(mkdtempSync(join(tmpdir(), 'vault-')));
    const parts = vault.seal('pw').split(':');
    parts[3] = Buffer.from('xx').toString('base64');
    assert.throws(() => vault.open(parts.join(':')));
  });
});

describe('login throttle', () => {
  const limits = { windowSeconds: 60, maxFailuresPerUser: 3, maxFailuresPerAddress: 5, maxFailuresPerUserAllAddresses: 8, lockoutSeconds: 120, registrationsPerAddressPerHour: 2 };
  test('locks a user at one address after too many failures in the window, until the lockout passes', () => {
    const t = new LoginThrottle(limits);
    t.recordFailure('u', 'a', 0);
    t.recordFailure('u', 'a', 1000);
    assert.equal(t.lockedFor('u', 'a', 2000), 0);
    t.recordFailure('u', 'a', 2000);
    assert.equal(t.lockedFor('u', 'a', 2000), 120);
    assert.equal(t.lockedFor('u', 'elsewhere', 2000), 0, 'a stranger cannot lock the user out everywhere');
    assert.equal(t.lockedFor('u', 'a', 2000 + 121_000), 0);
  });
  test('failures outside the window do not count; success forgives the user at that address', () => {
    const t = new LoginThrottle(limits);
    t.recordFailure('u', 'a', 0);
    t.recordFailure('u', 'a', 1000);
    t.recordFailure('u', 'a', 70_000);
    assert.equal(t.lockedFor('u', 'a', 70_000), 0);
    t.recordSuccess('u', 'a');
    t.recordFailure('u', 'a', 71_000);
    t.recordFailure('u', 'a', 72_000);
    assert.equal(t.lockedFor('u', 'a', 72_000), 0);
  });
  test('locks an address that tries many users, and a user guessed at from many addresses', () => {
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 5; i++) t.recordFailure(`user${i}`, 'attacker', i);
    assert.ok(t.lockedFor('fresh-user', 'attacker', 10) > 0);
    assert.equal(t.lockedFor('fresh-user', 'someone-else', 10), 0);
    const u = new LoginThrottle(limits);
    for (let i = 0; i < 8; i++) u.recordFailure('victim', `10.0.0.${i}`, i);
    assert.ok(u.lockedFor('victim', '10.9.9.9', 10) > 0);
  });
  test('IPv6 addresses count per /64', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    const t = new LoginThrottle(limits);
    for (let i = 0; i < 3; i++) t.recordFailure('u', `2001:db8:0:1::${i + 1}`, i);
    assert.ok(t.lockedFor('u', '2001:db8:0:1:ffff::9', 5) > 0);
  });
  test('auto-registrations are limited per address and hour', () => {
    const t = new LoginThrottle(limits);
    assert.ok(t.allowRegistration('a', 0));
    assert.ok(t.allowRegistration('a', 1));
    assert.ok(!t.allowRegistration('a', 2));
    assert.ok(t.allowRegistration('b', 2));
    assert.ok(t.allowRegistration('a', 3_600_001));
  });
});

describe('challenge book', () => {
  test('nonces are per user, several may be live, each is consumed once, and they expire', () => {
    const book = new ChallengeBook({ lifetimeMs: 1000, perUser: 3, perAddressPerMinute: 100 });
    book.issue('u', { nonce: 'n1', schema: 'MD5' }, 'a', 0);
    book.issue('u', { nonce: 'n2', schema: 'SHA' }, 'b', 10);
    assert.deepEqual(book.live('u', 20).map((c) => c.nonce), ['n1', 'n2']);
    book.consume('u', 'n1');
    assert.deepEqual(book.live('u', 20).map((c) => c.nonce), ['n2']);
    assert.deepEqual(book.live('u', 1011), [], 'expired');
    assert.deepEqual(book.live('other', 20), []);
  });
  test('a user holds a bounded number (oldest dropped); an address may only ask so often', () => {
    const book = new ChallengeBook({ lifetimeMs: 60_000, perUser: 2, perAddressPerMinute: 3 });
    assert.ok(book.issue('u', { nonce: 'a', schema: 'MD5' }, 'x', 0));
    assert.ok(book.issue('u', { nonce: 'b', schema: 'MD5' }, 'x', 1));
    assert.ok(book.issue('u', { nonce: 'c', schema: 'MD5' }, 'x', 2));
    assert.deepEqual(book.live('u', 3).map((c) => c.nonce), ['b', 'c']);
    assert.ok(!book.issue('u', { nonce: 'd', schema: 'MD5' }, 'x', 3), 'fourth in a minute from one address');
    assert.ok(book.issue('u', { nonce: 'd', schema: 'MD5' }, 'y', 3));
    assert.ok(book.issue('u', { nonce: 'e', schema: 'MD5' }, 'x', 61_000));
  });
});

describe('user addresses', () => {
  test('wv: optional, case-insensitive, bare ids in the default domain', () => {
    assert.equal(parseUserId('wv:Alice@IMPS.test', 'd').id, 'alice@imps.test');
    assert.equal(parseUserId('WV:bob', 'imps.test').id, 'bob@imps.test');
    assert.equal(parseUserId('  carol@x.org ', 'imps.test').id, 'carol@x.org');
    assert.equal(parseUserId('wv:+358401234567', 'imps.test').id, '+358401234567@imps.test');
  });
  test('group ids, empty and odd user parts are not users', () => {
    for (const bad of ['wv:john/friends@x.org', 'wv:', '@x.org', 'a b', 'a<b', 'x@bad_domain!', 'аlice' /* Cyrillic а */, 'bob\u200b']) {
      assert.throws(() => parseUserId(bad, 'imps.test'), (e) => e instanceof CspError && e.code === 402, bad);
    }
  });
});
