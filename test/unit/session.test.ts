import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, el, leaf, textOf } from '../../src/csp/tree.ts';
import { login as loginFeature } from '../../src/features/login.ts';
import { computeDigest } from '../../src/auth/digest.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { hasQueued, isActive, type SessionActor, type ServerTransaction } from '../../actors/session.ts';
import { makeServices, type TestServices } from '../support/services.ts';

const code = (p: CspElement | undefined) => Number(textOf(child(p, 'Result'), 'Code'));

function loginPrimitive(user: string, fields: CspElement[], clientUrl = 'phone-1'): CspElement {
  return el('Login-Request', [leaf('UserID', user), el('ClientID', [leaf('URL', clientUrl)]), ...fields, leaf('SessionCookie', 'c1')]);
}

/** Answer a Login-Request the way the CSP exchange does; returns the answer and the session, if one started. */
function login(t: TestServices, primitive: CspElement, version: CspVersion = '1.2', address = '10.0.0.1'): { actor?: SessionActor; answer: CspElement } {
  const { response, session } = loginFeature(t.services, primitive, version, { address });
  return { answer: response, ...(session ? { actor: session } : {}) };
}

function request(actor: SessionActor, primitive: CspElement): CspElement {
  let answer: CspElement | undefined;
  actor.send({ type: 'REQUEST', primitive, reply: (p) => (answer = p) });
  assert.ok(answer);
  return answer;
}

function poll(actor: SessionActor, limit = 1): ServerTransaction[] {
  let items: ServerTransaction[] = [];
  actor.send({ type: 'POLL', limit, reply: (x) => (items = x) });
  return items;
}

function addUser(t: TestServices, id: string, password: string) {
  t.services.accounts.create(id, id.split('@')[1]!, t.vault.seal(password));
}

describe('session actor', () => {
  test('password login: active, registered in the router, KeepAliveTime within bounds', () => {
    const t = makeServices('session: { keepAliveMax: 900 }');
    addUser(t, 'alice@imps.test', 'pw');
    const { actor, answer } = login(t, loginPrimitive('wv:alice', [leaf('Password', 'pw')!, leaf('TimeToLive', 86400)!]));
    assert.equal(code(answer), 200);
    assert.equal(textOf(answer, 'KeepAliveTime'), '900');
    assert.ok(actor && isActive(actor.getSnapshot()));
    assert.equal(t.services.router.session(textOf(answer, 'SessionID')!), actor);
    assert.equal(textOf(answer, 'CapabilityRequest'), 'T');
  });

  test('wrong password: 409 and no session; an empty Password is a wrong password, not a request for a challenge', () => {
    const t = makeServices();
    addUser(t, 'alice@imps.test', 'pw');
    const wrong = login(t, loginPrimitive('alice', [leaf('Password', 'nope')!]));
    assert.equal(code(wrong.answer), 409);
    assert.equal(wrong.actor, undefined);
    assert.equal(t.services.router.sessionCount(), 0);
    const empty = login(t, loginPrimitive('alice', [el('Password')]));
    assert.equal(code(empty.answer), 409);
  });

  test('digest login: 401 with one scheme and a fresh nonce, then 200; the nonce is single-use', () => {
    const t = makeServices();
    addUser(t, 'bob@imps.test', 'secret');
    const phase1 = login(t, loginPrimitive('bob', [leaf('DigestSchema', 'SHA')!, leaf('DigestSchema', 'MD5')!]));
    assert.equal(code(phase1.answer), 401);
    assert.equal(phase1.actor, undefined, 'a challenge is not a session');
    assert.equal(textOf(phase1.answer, 'DigestSchema'), 'MD5');
    const nonce = textOf(phase1.answer, 'Nonce')!;
    assert.match(nonce, /^[0-9a-f]{32}$/);
    const bytes = computeDigest('MD5', nonce, 'secret');
    const phase2 = login(t, loginPrimitive('bob', [leaf('DigestBytes', bytes)!]));
    assert.equal(code(phase2.answer), 200);
    // Replaying the same DigestBytes gets a new challenge, not a session.
    const replay = login(t, loginPrimitive('bob', [leaf('DigestBytes', bytes)!], 'phone-2'));
    assert.equal(code(replay.answer), 401);
    assert.notEqual(textOf(replay.answer, 'Nonce'), nonce);
  });

  test('a challenge belongs to the user: another phase 1 (another ClientID, a stranger) does not spoil it', () => {
    const t = makeServices();
    addUser(t, 'bob@imps.test', 'secret');
    const mine = textOf(login(t, loginPrimitive('bob', [leaf('DigestSchema', 'MD5')!], 'JiMMY')).answer, 'Nonce')!;
    // Someone else (same default Android ClientID) asks for a challenge for bob in between.
    login(t, loginPrimitive('bob', [leaf('DigestSchema', 'MD5')!], 'JiMMY'), '1.2', '10.6.6.6');
    // bob answers his own challenge, even from a new ClientID and cookie.
    const phase2 = login(t, loginPrimitive('bob', [leaf('DigestBytes', computeDigest('MD5', mine, 'secret'))!], 'changed-client'));
    assert.equal(code(phase2.answer), 200);
  });

  test('a wrong digest is refused with 409', () => {
    const t = makeServices();
    addUser(t, 'bob@imps.test', 'secret');
    const nonce = textOf(login(t, loginPrimitive('bob', [leaf('DigestSchema', 'MD5')!])).answer, 'Nonce')!;
    const bad = login(t, loginPrimitive('bob', [leaf('DigestBytes', computeDigest('MD5', nonce, 'guess'))!]));
    assert.equal(code(bad.answer), 409);
    assert.equal(bad.actor, undefined);
  });

  test('a challenge expires after the nonce lifetime: the late answer earns a new challenge', () => {
    const t = makeServices('session: { nonceLifetime: 30 }');
    addUser(t, 'bob@imps.test', 'secret');
    const nonce = textOf(login(t, loginPrimitive('bob', [leaf('DigestSchema', 'MD5')!])).answer, 'Nonce')!;
    t.advance(31_000);
    const late = login(t, loginPrimitive('bob', [leaf('DigestBytes', computeDigest('MD5', nonce, 'secret'))!]));
    assert.equal(code(late.answer), 401);
    assert.ok(textOf(late.answer, 'Nonce'));
  });

  test('an unknown user offered PWD is asked for the password so auto-registration can work', () => {
    const t = makeServices();
    const phase1 = login(t, loginPrimitive('newbie', [leaf('DigestSchema', 'PWD,MD5')!]), '1.1');
    assert.equal(textOf(phase1.answer, 'DigestSchema'), 'PWD');
    const phase2 = login(t, loginPrimitive('newbie', [leaf('Password', 'mine')!]), '1.1');
    assert.equal(code(phase2.answer), 200);
    assert.ok(t.services.accounts.get('newbie@imps.test'));
  });

  test('a bad value in a 1.3 login CapabilityList is ignored, not fatal', () => {
    const t = makeServices();
    addUser(t, 'carol@imps.test', 'pw');
    const caps = el('CapabilityList', [leaf('MultiTrans', 'x')!, leaf('ParserSize', '99999999999')!, leaf('AnyContent', 'maybe')!, leaf('ClientType', 'MOBILE_PHONE')!]);
    const { answer, actor } = login(t, loginPrimitive('carol', [leaf('Password', 'pw')!, caps]), '1.3');
    assert.equal(code(answer), 200);
    assert.ok(child(answer, 'AgreedCapabilityList'));
    assert.equal(actor!.getSnapshot().context.capabilities.multiTrans, 1);
  });

  test('the session expires after KeepAliveTime without traffic; each request restarts the timer', () => {
    const t = makeServices('session: { keepAliveMin: 60 }');
    addUser(t, 'alice@imps.test', 'pw');
    const actor = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!, leaf('TimeToLive', 60)!])).actor!;
    t.advance(50_000);
    request(actor, el('KeepAlive-Request'));
    t.advance(50_000);
    assert.ok(isActive(actor.getSnapshot()), 'the keep-alive reset the timer');
    t.advance(20_000);
    assert.equal(actor.getSnapshot().value, 'expired');
    assert.equal(t.services.router.sessionCount(), 0);
  });

  test('NewMessage is handed out on poll, re-offered only after the re-offer interval, removed by MessageDelivered', () => {
    const t = makeServices('messages: { reofferAfter: 100 }');
    addUser(t, 'alice@imps.test', 'pw');
    addUser(t, 'bob@imps.test', 'pw');
    const alice = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor!;
    const bob = login(t, loginPrimitive('bob', [leaf('Password', 'pw')!], 'bob-phone')).actor!;
    const sent = request(alice, el('SendMessage-Request', [
      leaf('DeliveryReport', false),
      el('MessageInfo', [leaf('ContentSize', 2), el('Recipient', [el('User', [leaf('UserID', 'wv:bob@imps.test')])]), el('Sender', [])]),
      leaf('ContentData', 'hi'),
    ]));
    assert.equal(code(sent), 200);
    const messageId = textOf(sent, 'MessageID')!;
    assert.ok(hasQueued(bob.getSnapshot()));
    const [tx] = poll(bob);
    assert.equal(tx!.primitive.name, 'NewMessage');
    assert.equal(textOf(child(tx!.primitive, 'MessageInfo'), 'MessageID'), messageId);
    assert.equal(poll(bob).length, 0, 'not offered twice within the interval');
    assert.ok(!hasQueued(bob.getSnapshot()));
    t.advance(101_000);
    const [again] = poll(bob);
    assert.equal(textOf(child(again!.primitive, 'MessageInfo'), 'MessageID'), messageId);
    bob.send({ type: 'CLIENT_RESPONSE', transactionId: again!.id, primitive: el('MessageDelivered', [leaf('MessageID', messageId)]) });
    t.advance(101_000);
    assert.equal(poll(bob).length, 0);
    assert.equal(t.services.messages.countFor('bob@imps.test'), 0);
  });

  test('primitives outside the agreed service are refused with 506', () => {
    const t = makeServices();
    addUser(t, 'alice@imps.test', 'pw');
    const actor = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor!;
    const service = request(actor, el('Service-Request', [el('Functions', [el('WVCSPFeat', [el('FundamentalFeat')])]), leaf('AllFunctionsRequest', true)]));
    assert.equal(service.name, 'Service-Response');
    assert.ok(child(service, 'AllFunctions'));
    const send = request(actor, el('SendMessage-Request', [el('MessageInfo', [el('Recipient', [])])]));
    assert.equal(code(send), 506);
    assert.equal(code(request(actor, el('Frobnicate-Request'))), 506);
    assert.equal(request(actor, el('GetSPInfo-Request')).name, 'GetSPInfo-Response');
  });

  test('the same client logging in again replaces its old session', () => {
    const t = makeServices();
    addUser(t, 'alice@imps.test', 'pw');
    const first = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor!;
    const other = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!], 'second-phone')).actor!;
    const again = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor!;
    assert.equal(first.getSnapshot().status, 'done');
    assert.ok(isActive(other.getSnapshot()) && isActive(again.getSnapshot()));
    assert.equal(t.services.router.sessionsOf('alice@imps.test').length, 2);
  });
});

describe('session actor: limits and revocation', () => {
  test('a user with more phones than session.maxPerUser loses the oldest session', () => {
    const t = makeServices('session: { maxPerUser: 2 }');
    addUser(t, 'dan@imps.test', 'pw');
    const sessions = ['p1', 'p2', 'p3'].map((c) => login(t, loginPrimitive('dan', [leaf('Password', 'pw')!], c)).actor!);
    assert.deepEqual(sessions.map((s) => isActive(s.getSnapshot())), [false, true, true]);
  });

  test('a password change or a deleted account ends live sessions at their next request (604)', () => {
    const t = makeServices();
    addUser(t, 'eve@imps.test', 'pw');
    const actor = login(t, loginPrimitive('eve', [leaf('Password', 'pw')!])).actor!;
    assert.equal(code(request(actor, el('KeepAlive-Request'))), 200);
    t.services.accounts.setPassword('eve@imps.test', t.vault.seal('new'));
    assert.equal(code(request(actor, el('KeepAlive-Request'))), 604);
    assert.equal(actor.getSnapshot().value, 'revoked');
    const again = login(t, loginPrimitive('eve', [leaf('Password', 'new')!])).actor!;
    t.services.accounts.delete('eve@imps.test');
    assert.deepEqual(poll(again), []);
    assert.equal(again.getSnapshot().status, 'done');
  });

  test('a store failure inside a request is answered with 500 and the session lives on', () => {
    const t = makeServices();
    addUser(t, 'fay@imps.test', 'pw');
    const actor = login(t, loginPrimitive('fay', [leaf('Password', 'pw')!])).actor!;
    const original = t.services.messages.offer.bind(t.services.messages);
    t.services.messages.offer = () => {
      throw new Error('disk on fire');
    };
    assert.deepEqual(poll(actor), []);
    t.services.messages.offer = original;
    assert.ok(isActive(actor.getSnapshot()));
  });
});
