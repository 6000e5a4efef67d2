import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, el, leaf, textOf } from '../../src/csp/tree.ts';
import { parseLoginRequest } from '../../src/features/login.ts';
import { computeDigest } from '../../src/auth/digest.ts';
import { newSessionId } from '../../src/ids.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { hasQueued, isActive, type SessionActor, type ServerTransaction } from '../../actors/session.ts';
import { makeServices, type TestServices } from '../support/services.ts';

const code = (p: CspElement | undefined) => Number(textOf(child(p, 'Result'), 'Code'));

function loginPrimitive(user: string, fields: CspElement[], clientUrl = 'phone-1'): CspElement {
  return el('Login-Request', [leaf('UserID', user), el('ClientID', [leaf('URL', clientUrl)]), ...fields, leaf('SessionCookie', 'c1')]);
}

/** Send a Login-Request the way the CSP exchange does; returns the actor and its answer. */
function login(t: TestServices, primitive: CspElement, version: CspVersion = '1.2', actor?: SessionActor): { actor: SessionActor; answer: CspElement } {
  const req = parseLoginRequest(primitive, 'imps.test');
  const a = actor ?? t.services.router.startSession({ sessionId: newSessionId(), services: t.services, version, login: req, address: '10.0.0.1' });
  let answer: CspElement | undefined;
  a.send({ type: 'LOGIN', login: req, reply: (p) => (answer = p) });
  assert.ok(answer, 'the login is answered synchronously');
  return { actor: a, answer };
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
    assert.ok(isActive(actor.getSnapshot()));
    assert.equal(t.services.router.session(textOf(answer, 'SessionID')!), actor);
    assert.equal(textOf(answer, 'CapabilityRequest'), 'T');
  });

  test('wrong password: 409, the actor ends and is nowhere to be found', () => {
    const t = makeServices();
    addUser(t, 'alice@imps.test', 'pw');
    const { actor, answer } = login(t, loginPrimitive('alice', [leaf('Password', 'nope')!]));
    assert.equal(code(answer), 409);
    assert.equal(actor.getSnapshot().status, 'done');
    assert.equal(t.services.router.sessionCount(), 0);
  });

  test('digest login: 401 challenge with one scheme and a fresh nonce, then 200; the nonce is single-use', () => {
    const t = makeServices();
    addUser(t, 'bob@imps.test', 'secret');
    const phase1 = login(t, loginPrimitive('bob', [leaf('DigestSchema', 'SHA')!, leaf('DigestSchema', 'MD5')!]));
    assert.equal(code(phase1.answer), 401);
    assert.equal(textOf(phase1.answer, 'DigestSchema'), 'MD5');
    const nonce = textOf(phase1.answer, 'Nonce')!;
    assert.match(nonce, /^[0-9a-f]{32}$/);
    assert.equal(t.services.router.challengeFor('bob@imps.test', 'URL=phone-1'), phase1.actor);
    const bytes = computeDigest('MD5', nonce, 'secret');
    const phase2 = login(t, loginPrimitive('bob', [leaf('DigestBytes', bytes)!]), '1.2', phase1.actor);
    assert.equal(code(phase2.answer), 200);
    assert.ok(isActive(phase1.actor.getSnapshot()));
    assert.equal(t.services.router.challengeFor('bob@imps.test', 'URL=phone-1'), undefined);
    // Replaying the same DigestBytes to a new login gets a new challenge, not a session.
    const replay = login(t, loginPrimitive('bob', [leaf('DigestBytes', bytes)!], 'phone-2'));
    assert.equal(code(replay.answer), 401);
    assert.notEqual(textOf(replay.answer, 'Nonce'), nonce);
  });

  test('a wrong digest is refused with 409 and spends the nonce', () => {
    const t = makeServices();
    addUser(t, 'bob@imps.test', 'secret');
    const phase1 = login(t, loginPrimitive('bob', [leaf('DigestSchema', 'MD5')!]));
    const nonce = textOf(phase1.answer, 'Nonce')!;
    const bad = login(t, loginPrimitive('bob', [leaf('DigestBytes', computeDigest('MD5', nonce, 'guess'))!]), '1.2', phase1.actor);
    assert.equal(code(bad.answer), 409);
    assert.equal(phase1.actor.getSnapshot().status, 'done');
  });

  test('a challenge expires after the nonce lifetime', () => {
    const t = makeServices('session: { nonceLifetime: 30 }');
    addUser(t, 'bob@imps.test', 'secret');
    const phase1 = login(t, loginPrimitive('bob', [leaf('DigestSchema', 'MD5')!]));
    t.advance(29_000);
    assert.equal(phase1.actor.getSnapshot().value, 'challenged');
    t.advance(2_000);
    assert.equal(phase1.actor.getSnapshot().status, 'done');
    assert.equal(t.services.router.challengeFor('bob@imps.test', 'URL=phone-1'), undefined);
  });

  test('an unknown user offered PWD is asked for the password so auto-registration can work', () => {
    const t = makeServices();
    const phase1 = login(t, loginPrimitive('newbie', [leaf('DigestSchema', 'PWD,MD5')!]), '1.1');
    assert.equal(textOf(phase1.answer, 'DigestSchema'), 'PWD');
    const phase2 = login(t, loginPrimitive('newbie', [leaf('Password', 'mine')!]), '1.1', phase1.actor);
    assert.equal(code(phase2.answer), 200);
    assert.ok(t.services.accounts.get('newbie@imps.test'));
  });

  test('the session expires after KeepAliveTime without traffic; each request restarts the timer', () => {
    const t = makeServices('session: { keepAliveMin: 60 }');
    addUser(t, 'alice@imps.test', 'pw');
    const { actor } = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!, leaf('TimeToLive', 60)!]));
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
    const alice = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor;
    const bob = login(t, loginPrimitive('bob', [leaf('Password', 'pw')!], 'bob-phone')).actor;
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
    const { actor } = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!]));
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
    const first = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor;
    const other = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!], 'second-phone')).actor;
    const again = login(t, loginPrimitive('alice', [leaf('Password', 'pw')!])).actor;
    assert.equal(first.getSnapshot().status, 'done');
    assert.ok(isActive(other.getSnapshot()) && isActive(again.getSnapshot()));
    assert.equal(t.services.router.sessionsOf('alice@imps.test').length, 2);
  });
});
