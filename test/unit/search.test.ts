// Search pieces below the wire: the user profile store and its search query, the per-session
// store of search results (ids, bounds, expiry), and the Search-Request handler run through a
// real session actor for what a strict encoder would not send (Baraza's untagged 1.3 pairs,
// hex SearchIDs, AdvancedCriteria) and for what ends a search (logout, expiry, eviction).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import { login as loginFeature } from '../../src/features/login.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import type { SessionActor } from '../../actors/session.ts';
import { SearchResults } from '../../src/search-results.ts';
import { makeServices, type TestServices } from '../support/services.ts';

const code = (p: CspElement | undefined) => Number(textOf(child(p, 'Result'), 'Code'));
const value = (name: string, v: string) => el(name, [leaf('Qualifier', true), leaf('PresenceValue', v)]);

function addUsers(t: TestServices, ...ids: string[]): void {
  for (const id of ids) t.services.accounts.create(id, id.split('@')[1]!, t.vault.seal('pw'));
}

function session(t: TestServices, user: string, version: CspVersion = '1.2', clientUrl = 'phone-1'): SessionActor {
  const primitive = el('Login-Request', [leaf('UserID', user), el('ClientID', [leaf('URL', clientUrl)]), leaf('Password', 'pw'), leaf('SessionCookie', 'c1')]);
  const { session: actor, response } = loginFeature(t.services, primitive, version, { address: '10.0.0.1' });
  assert.equal(code(response), 200);
  return actor!;
}

function request(actor: SessionActor, primitive: CspElement): CspElement {
  let answer: CspElement | undefined;
  actor.send({ type: 'REQUEST', primitive, reply: (p) => (answer = p) });
  assert.ok(answer);
  return answer;
}

const pairList = (...pairs: [string, string][]) => pairs.map(([e, s]) => el('SearchPairList', [leaf('SearchElement', e), leaf('SearchString', s)]));
const users = (response: CspElement) => childrenNamed(child(child(response, 'SearchResult'), 'UserList'), 'User').map((u) => textOf(u, 'UserID'));

describe('UserProfileStore', () => {
  test('set merges fields, "" or null clears one, get returns what is stored, forget removes it', () => {
    const { services } = makeServices();
    const profiles = services.userProfiles;
    assert.equal(profiles.get('ann@imps.test'), undefined);
    assert.deepEqual(profiles.set('ann@imps.test', { firstName: 'Ann', city: 'Turku' }, 1), { firstName: 'Ann', city: 'Turku' });
    assert.deepEqual(profiles.set('ann@imps.test', { lastName: 'Lee', city: '' }, 2), { firstName: 'Ann', lastName: 'Lee' });
    assert.deepEqual(profiles.set('ann@imps.test', { firstName: null }, 3), { lastName: 'Lee' });
    assert.deepEqual(profiles.get('ann@imps.test'), { lastName: 'Lee' });
    profiles.forget('ann@imps.test');
    assert.equal(profiles.get('ann@imps.test'), undefined);
  });

  test('search: substrings ignoring case (also outside ASCII), mobile numbers without punctuation, criteria ANDed, in id order, LIMIT honoured', () => {
    const t = makeServices();
    addUsers(t, 'ann@imps.test', 'bob@imps.test', 'cid@imps.test', 'gone@imps.test');
    const { userProfiles: profiles, presence } = t.services;
    profiles.set('ann@imps.test', { firstName: 'Ann', lastName: 'Åström', email: 'Ann@Example.org', mobile: '+358 (40) 123-45', friendlyName: 'Annie' }, 1);
    profiles.set('bob@imps.test', { firstName: 'Bob', lastName: 'ÅSTRÖMBERG', city: 'Turku', country: 'Finland' }, 1);
    profiles.set('nobody@imps.test', { firstName: 'Ann' }, 1); // a profile without an account is never found
    presence.setAttributes('cid@imps.test', [value('Alias', 'Annika'), value('OnlineStatus', 'T')], 1);
    presence.setAttributes('bob@imps.test', [value('OnlineStatus', 'F')], 1);

    assert.deepEqual(profiles.search([{ kind: 'lastName', contains: 'åström' }], 10), ['ann@imps.test', 'bob@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'lastName', contains: 'ÅSTRÖM' }, { kind: 'firstName', contains: 'b' }], 10), ['bob@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'lastName', contains: 'åström' }], 1), ['ann@imps.test'], 'LIMIT');
    assert.deepEqual(profiles.search([{ kind: 'email', contains: 'ann@example' }], 10), ['ann@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'mobile', contains: '4012345' }], 10), ['ann@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'mobile', contains: '40-123' }], 10), ['ann@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'city', contains: 'TURK' }, { kind: 'country', contains: 'finl' }], 10), ['bob@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'name', contains: 'ANN' }], 10), ['ann@imps.test', 'cid@imps.test'], 'friendly name or presence Alias');
    assert.deepEqual(profiles.search([{ kind: 'firstName', contains: 'ann' }], 10), ['ann@imps.test']);
    assert.deepEqual(profiles.search([{ kind: 'id', contains: 'imps.test' }, { kind: 'online', online: true }], 10), ['cid@imps.test']);
    assert.deepEqual(
      profiles.search([{ kind: 'id', contains: 'imps.test' }, { kind: 'online', online: false }], 10),
      ['ann@imps.test', 'bob@imps.test', 'gone@imps.test'],
      'offline: OnlineStatus F or never published',
    );
    assert.deepEqual(profiles.search([], 10), [], 'no criteria: nobody');
  });
});

describe('SearchResults', () => {
  const ids = ['a@x', 'b@x'];

  test('SearchIDs are positive integers below 2^31, distinct within a session; one session cannot see another’s', () => {
    const store = new SearchResults({ perSession: 100, keepMs: 60_000 });
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { searchId } = store.add('s1', { kind: 'users', ids, pageSize: 5 }, 0);
      assert.match(searchId, /^[1-9]\d*$/);
      assert.ok(Number(searchId) < 2 ** 31);
      seen.add(searchId);
    }
    assert.equal(seen.size, 50);
    const [one] = seen;
    assert.ok(store.get('s1', one!, 1));
    assert.equal(store.get('s2', one!, 1), undefined);
    assert.equal(store.remove('s2', one!), false);
  });

  test('a session keeps at most perSession searches: a further one forgets the least recently used', () => {
    const store = new SearchResults({ perSession: 2, keepMs: 60_000 });
    const a = store.add('s1', { kind: 'users', ids, pageSize: 5 }, 0);
    const b = store.add('s1', { kind: 'users', ids, pageSize: 5 }, 1);
    assert.ok(store.get('s1', a.searchId, 2), 'a is used again, so b is now the oldest');
    const c = store.add('s1', { kind: 'groups', ids, pageSize: 5 }, 3);
    assert.equal(store.get('s1', b.searchId, 4), undefined);
    assert.ok(store.get('s1', a.searchId, 4));
    assert.ok(store.get('s1', c.searchId, 4));
    assert.equal(store.size, 2);
  });

  test('a search unused for keepMs is gone (each use restarts the clock); forgetSession drops all of a session', () => {
    const store = new SearchResults({ perSession: 4, keepMs: 1000 });
    const a = store.add('s1', { kind: 'users', ids, pageSize: 5 }, 0);
    assert.ok(store.get('s1', a.searchId, 900));
    assert.ok(store.get('s1', a.searchId, 1800), 'the use at 900 restarted the clock');
    assert.equal(store.get('s1', a.searchId, 2800), undefined);
    assert.equal(store.size, 0);

    store.add('s1', { kind: 'users', ids, pageSize: 5 }, 5000);
    store.add('s2', { kind: 'users', ids, pageSize: 5 }, 5000);
    store.forgetSession('s1');
    assert.equal(store.size, 1);
    // Expired searches of sessions nobody asks about again are swept when others search.
    store.add('s3', { kind: 'users', ids, pageSize: 5 }, 100_000);
    assert.equal(store.size, 1, 's2’s search expired and was swept');
  });
});

describe('Search-Request through a session', () => {
  function setup(config = '') {
    const t = makeServices(`search: { pageSize: 2, keepSeconds: 60, maxPerSession: 2 }\n${config}`);
    addUsers(t, 'searcher@imps.test', 'ann@imps.test', 'anna@imps.test', 'annika@imps.test', 'bob@imps.test');
    t.services.userProfiles.set('ann@imps.test', { firstName: 'Ann', lastName: 'Lee' }, 1);
    t.services.userProfiles.set('anna@imps.test', { firstName: 'Anna', lastName: 'Berg' }, 1);
    return t;
  }

  test("Baraza's 1.3 reading: several untagged (SearchElement, SearchString) pairs in one SearchPairList are ANDed", () => {
    const t = setup();
    const actor = session(t, 'searcher', '1.3');
    const answer = request(
      actor,
      el('Search-Request', [
        el('SearchPairList', [leaf('SearchElement', 'user_first_name'), leaf('SearchString', 'ann'), leaf('PairID', '1'), leaf('SearchElement', 'USER_LAST_NAME'), leaf('SearchString', 'lee')]),
      ]),
    );
    assert.equal(answer.name, 'Search-Response');
    assert.deepEqual(users(answer), ['wv:ann'], 'lower-case element names accepted too');
  });

  test('a SearchID sent back in hex ("0x…", as in the WV 1.1 examples) or with leading zeros continues the search', () => {
    const t = setup();
    const actor = session(t, 'searcher');
    const first = request(actor, el('Search-Request', [...pairList(['USER_ID', 'ann']), leaf('SearchLimit', 1)]));
    assert.deepEqual([users(first), textOf(first, 'SearchFindings'), textOf(first, 'SearchIndex')], [['wv:ann'], '3', '1']);
    const id = Number(textOf(first, 'SearchID'));
    const hex = request(actor, el('Search-Request', [leaf('SearchID', `0x${id.toString(16)}`), leaf('SearchIndex', 1)]));
    assert.deepEqual(users(hex), ['wv:anna'], 'the first request’s SearchLimit (1) still applies');
    const padded = request(actor, el('Search-Request', [leaf('SearchID', `000${id}`), leaf('SearchIndex', 2), leaf('SearchLimit', 9)]));
    assert.deepEqual(users(padded), ['wv:annika']);
    assert.equal(textOf(padded, 'CompletionFlag'), 'T');
  });

  test('405 for AdvancedCriteria and GROUP_USER_ID_AUTOJOIN; 402 for eleven criteria, a pair without SearchString, a continuation without SearchIndex', () => {
    const t = setup();
    const actor = session(t, 'searcher', '1.3');
    assert.equal(code(request(actor, el('Search-Request', [...pairList(['USER_ID', 'ann']), el('AdvancedCriteria')]))), 405);
    assert.equal(code(request(actor, el('Search-Request', pairList(['GROUP_USER_ID_AUTOJOIN', 'searcher'])))), 405);
    const eleven = Array.from({ length: 11 }, () => ['USER_ID', 'ann'] as [string, string]);
    assert.equal(code(request(actor, el('Search-Request', pairList(...eleven)))), 402);
    assert.equal(code(request(actor, el('Search-Request', [el('SearchPairList', [leaf('SearchElement', 'USER_ID')])]))), 402);
    const first = request(actor, el('Search-Request', pairList(['USER_ID', 'ann'])));
    assert.equal(code(request(actor, el('Search-Request', [leaf('SearchID', textOf(first, 'SearchID'))]))), 402);
  });

  test('the searches die with the session (logout); unused ones expire after search.keepSeconds; a third search forgets the oldest', () => {
    const t = setup();
    const actor = session(t, 'searcher');
    const start = () => textOf(request(actor, el('Search-Request', pairList(['USER_ID', 'ann']))), 'SearchID')!;
    const next = (id: string) => request(actor, el('Search-Request', [leaf('SearchID', id), leaf('SearchIndex', 1)]));

    const a = start();
    const b = start();
    t.advance(40_000);
    assert.equal(next(a).name, 'Search-Response');
    t.advance(30_000);
    assert.equal(code(next(b)), 424, 'b unused for 70 s');
    assert.equal(next(a).name, 'Search-Response', 'a used 30 s ago');

    const c = start();
    const d = start();
    assert.equal(code(next(a)), 424, 'two searches kept: the oldest (a) went');
    assert.equal(next(c).name, 'Search-Response');
    assert.equal(next(d).name, 'Search-Response');

    assert.ok(t.services.searches.size > 0);
    let bye: CspElement | undefined;
    actor.send({ type: 'LOGOUT', reply: (p) => (bye = p) });
    assert.ok(bye);
    assert.equal(t.services.searches.size, 0, 'nothing kept for a session that ended');
  });
});
