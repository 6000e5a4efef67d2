// The per-session waker (actors/cir.ts) on a simulated clock: when a wake-up goes out, that one
// at a time does while the phone has not come, that the next method follows after retryAfter
// or a failed push, and that the phone's own requests and cir.minInterval hold wake-ups back.
// The transports are replaced by a recorder: what travels on the wire is test/e2e/cir.test.ts's.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, el, leaf, textOf } from '../../src/csp/tree.ts';
import { login as loginFeature } from '../../src/features/login.ts';
import type { CirService } from '../../src/adapters/cir/cir-service.ts';
import type { CirMethod } from '../../src/features/cir.ts';
import type { SessionActor, ServerTransaction } from '../../actors/session.ts';
import { makeServices, type TestServices } from '../support/services.ts';

const code = (p: CspElement | undefined) => Number(textOf(child(p, 'Result'), 'Code'));

/** Services whose CIR transports only record: every wake-up as the method index it started from. */
function withRecorder(ladder: CirMethod[], configText = 'cir: { minInterval: 5, retryAfter: 30 }') {
  const t = makeServices(configText);
  const wakes: { at: number; attempt: number; method: CirMethod }[] = [];
  let now = 0;
  const recorder = {
    stcp: undefined,
    counts: new Map(),
    available: () => ladder,
    stcpEndpoint: () => undefined,
    shttpUrl: () => ({ url: 'http://x/cir/t', token: 't' }),
    forgetShttp: () => undefined,
    channelUp: () => true,
    sessionEnded: () => undefined,
    hasMethodFrom: (_id: string, attempt: number) => attempt < ladder.length,
    wake: (_id: string, from: number) => {
      if (from >= ladder.length) return undefined;
      wakes.push({ at: now, attempt: from, method: ladder[from]! });
      return from;
    },
  };
  t.services.cir = recorder as unknown as CirService;
  t.services.messages.onQueued = (user) => t.services.router.wake(user);
  const advance = (ms: number) => {
    now += ms;
    t.advance(ms);
  };
  return { t, wakes, advance };
}

function request(actor: SessionActor, primitive: CspElement): CspElement {
  let answer: CspElement | undefined;
  actor.send({ type: 'REQUEST', primitive, reply: (p) => (answer = p) });
  assert.ok(answer);
  return answer;
}

function poll(actor: SessionActor): ServerTransaction[] {
  let items: ServerTransaction[] = [];
  actor.send({ type: 'POLL', limit: 10, reply: (x) => (items = x) });
  return items;
}

/** A 1.2 session of bob that agreed the recorder's methods. */
function bobWithCir(t: TestServices, methods: CirMethod[]): SessionActor {
  t.services.accounts.create('bob@imps.test', 'imps.test', t.vault.seal('pw'));
  const primitive = el('Login-Request', [leaf('UserID', 'bob'), el('ClientID', [leaf('URL', 'phone')]), leaf('Password', 'pw'), leaf('SessionCookie', 'c1')]);
  const { session, response } = loginFeature(t.services, primitive, '1.2', { address: '127.0.0.1' });
  assert.equal(code(response), 200);
  const answer = request(session!, el('ClientCapability-Request', [el('CapabilityList', methods.map((m) => leaf('SupportedCIRMethod', m)))]));
  assert.equal(answer.name, 'ClientCapability-Response');
  return session!;
}

function queueMessageFor(t: TestServices, n: number): void {
  t.services.messages.enqueue(
    {
      messageId: `m${n}`,
      sender: 'alice@imps.test',
      contentType: 'text/plain',
      content: Buffer.from(`hello ${n}`),
      binary: false,
      createdAt: t.services.now(),
      expiresAt: undefined,
      deliveryReport: false,
      addressedTo: ['bob@imps.test'],
    },
    ['bob@imps.test'],
  );
}

describe('CIR waker', () => {
  test('a message for an idle phone wakes it once, a second after its last request; more messages add no wake-up while it has not come', () => {
    const { t, wakes, advance } = withRecorder(['SUDP']);
    bobWithCir(t, ['SUDP']);
    queueMessageFor(t, 1);
    advance(999);
    assert.equal(wakes.length, 0, 'the answer to its last request (a moment ago) told it Poll=T already');
    advance(1);
    assert.deepEqual(wakes.map((w) => w.method), ['SUDP']);
    queueMessageFor(t, 2);
    queueMessageFor(t, 3);
    advance(10_000);
    assert.equal(wakes.length, 1, 'one wake-up until the phone comes');
  });

  test('a phone that does not come is tried with the next method after retryAfter, then left alone', () => {
    const { t, wakes, advance } = withRecorder(['SUDP', 'WAPUDP']);
    bobWithCir(t, ['SUDP', 'WAPUDP']);
    advance(60_000);
    queueMessageFor(t, 1);
    advance(0);
    assert.deepEqual(wakes.map((w) => w.method), ['SUDP']);
    advance(29_999);
    assert.equal(wakes.length, 1);
    advance(1);
    assert.deepEqual(wakes.map((w) => w.method), ['SUDP', 'WAPUDP']);
    advance(120_000);
    assert.equal(wakes.length, 2, 'no method left: the phone will poll by itself');
  });

  test('a failed push moves on to the next method at once; a failure report of an older attempt is ignored', () => {
    const { t, wakes, advance } = withRecorder(['SUDP', 'WAPUDP', 'WAPSMS']);
    const bob = bobWithCir(t, ['SUDP', 'WAPUDP', 'WAPSMS']);
    advance(60_000);
    queueMessageFor(t, 1);
    advance(0);
    bob.send({ type: 'CIR_FAILED', attempt: 0 });
    assert.deepEqual(wakes.map((w) => w.method), ['SUDP', 'WAPUDP']);
    bob.send({ type: 'CIR_FAILED', attempt: 0 });
    assert.equal(wakes.length, 2, 'stale report');
    bob.send({ type: 'CIR_FAILED', attempt: 1 });
    assert.deepEqual(wakes.map((w) => w.method), ['SUDP', 'WAPUDP', 'WAPSMS']);
  });

  test('the phone polling ends the wake-up; the next message waits for cir.minInterval since the last wake-up', () => {
    const { t, wakes, advance } = withRecorder(['SUDP']);
    const bob = bobWithCir(t, ['SUDP']);
    advance(60_000);
    queueMessageFor(t, 1);
    advance(0);
    assert.equal(wakes.length, 1);
    advance(1500);
    assert.equal(poll(bob).length, 1, 'the phone came and collected it');
    advance(1500); // 3 s after the wake-up, 1.5 s after the poll
    queueMessageFor(t, 2);
    advance(1999);
    assert.equal(wakes.length, 1, 'minInterval (5 s) since the last wake-up has not passed');
    advance(1);
    assert.equal(wakes.length, 2);
    assert.equal(wakes[1]!.at - wakes[0]!.at, 5000);
  });

  test('nothing is sent when the phone collected everything on its own before the wake-up was due', () => {
    const { t, wakes, advance } = withRecorder(['SUDP']);
    const bob = bobWithCir(t, ['SUDP']);
    queueMessageFor(t, 1);
    advance(500);
    assert.equal(poll(bob).length, 1);
    advance(10_000);
    assert.equal(wakes.length, 0);
  });

  test('a phone that agreed no CIR method is never woken', () => {
    const { t, wakes, advance } = withRecorder([]);
    bobWithCir(t, []);
    queueMessageFor(t, 1);
    advance(60_000);
    assert.equal(wakes.length, 0);
  });
});
