// Login details and server limits over real HTTP against the real server process: 1.3 logins
// that negotiate capabilities and functions inline (also with broken values), ApplicationID
// logins, version discovery, 1.3 session resumption, NewMessage answered with Status and
// MessageDelivered as a request, digest-login robustness (shared ClientIDs, changing cookies,
// empty passwords), per-message transaction limits, one login per message, sessions per user,
// throttling behind a trusted reverse proxy, accounts changed under live sessions, the secret
// key file and data-directory modes, and the Poll flag on Login-Response.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { TestServer } from '../support/server.ts';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { MATRIX, variantKit } from '../support/matrix.ts';
import { villageCli } from '../support/cli.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import { buildMessage, readMessage } from '../../src/csp/envelope.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { CSP_VERSIONS, NAMESPACES } from '../../src/csp/versions.ts';
import { decodeXml } from '../../src/csp/xml-codec.ts';
import { schemaFor } from '../../src/csp/schema/index.ts';
import { computeDigest } from '../../src/auth/digest.ts';

const statusOf = (code: number) => el('Status', [el('Result', [leaf('Code', code)])]);
const infoOf = (p: CspElement) => child(p, 'MessageInfo');
const idOf = (p: CspElement) => textOf(infoOf(p), 'MessageID')!;

/** The function codes (leaf elements in capitals) anywhere under a Functions tree. */
const functionCodes = (tree: CspElement | undefined): string[] => {
  const out: string[] = [];
  const walk = (n: CspElement) => {
    if (n.children.length === 0 && /^[A-Z]+$/.test(n.name)) out.push(n.name);
    n.children.forEach(walk);
  };
  if (tree) walk(tree);
  return out.sort();
};

/** A password Login-Request built from explicit fields (SessionCookie added). */
const loginWith = (user: string, fields: (CspElement | undefined)[], cookie = 'cookie'): CspElement =>
  el('Login-Request', [leaf('UserID', user), ...fields, leaf('SessionCookie', cookie)]);

async function keepAlive(p: Phone): Promise<number> {
  return resultCode((await p.request(el('KeepAlive-Request'))).primitive);
}

/**
 * POST one Request transaction with extra HTTP headers (Phone.postRaw sets only Content-Type),
 * and return the answering primitive, schema-checked like Phone does.
 */
async function postWithHeaders(server: TestServer, version: CspVersion, primitive: CspElement, headers: Record<string, string>): Promise<CspElement> {
  const phone = new Phone(server, { version });
  const id = 'hdr1';
  const body = phone.encode(buildMessage({ version, transactions: [{ mode: 'Request', id, primitive }] }));
  const res = await request(server.url, { method: 'POST', body, headers: { 'content-type': phone.contentType, ...headers } });
  const raw = Buffer.from(await res.body.arrayBuffer());
  assert.equal(res.statusCode, 200, raw.toString('utf8'));
  const decoded = decodeXml(raw, { maxDepth: 100 });
  assert.deepEqual(schemaFor(decoded.version).validate(decoded.root), [], raw.toString('utf8'));
  const tx = readMessage(decoded.root, decoded.version).transactions.find((t) => t.id === id && t.mode === 'Response');
  assert.ok(tx?.primitive, `an answer to ${primitive.name}: ${raw.toString('utf8').slice(0, 500)}`);
  return tx.primitive;
}

describe('login and limits', () => {
  const server = sharedServer();

  describe('CSP 1.3 login extras', () => {
    const phone = (opts: { clientId?: string } = {}) => new Phone(server(), { version: '1.3', ...opts });
    const androidFunctions = () => el('Functions', [el('WVCSPFeat', [el('FundamentalFeat'), el('PresenceFeat'), el('IMFeat'), el('GroupFeat')])]);

    test('a 1.3 login with CapabilityList and Functions gets AgreedCapabilityList, Functions and CapabilityRequest F', async () => {
      const p = phone();
      const caps = el('CapabilityList', [
        leaf('ClientType', 'MOBILE_PHONE'),
        leaf('InitialDeliveryMethod', 'N'),
        leaf('AnyContent', true),
        leaf('MultiTrans', 5),
        leaf('ParserSize', 262144),
        leaf('SupportedBearer', 'HTTP'),
        leaf('ServerPollMin', 2),
      ]);
      const { primitive: answer } = await p.request(
        loginWith('inl13', [p.clientIdElement(), leaf('Password', 'pw'), leaf('TimeToLive', 600), androidFunctions(), caps]),
        { outband: true },
      );
      assert.equal(answer.name, 'Login-Response');
      assert.equal(resultCode(answer), 200);
      assert.equal(textOf(answer, 'CapabilityRequest'), 'F', 'capabilities were agreed inside the login');
      const agreed = child(answer, 'AgreedCapabilityList');
      assert.ok(agreed, 'AgreedCapabilityList present');
      assert.equal(textOf(agreed, 'SupportedBearer'), 'HTTP');
      assert.equal(textOf(agreed, 'MultiTrans'), '5');
      assert.equal(textOf(agreed, 'ServerPollMin'), '10', 'raised to the configured minimum');
      const functions = child(answer, 'Functions');
      assert.ok(child(functions, 'WVCSPFeat'), 'Functions holds one WVCSPFeat');
      const codes = functionCodes(functions);
      for (const code of ['GETSPI', 'NEWM', 'GETM', 'MDELIV']) assert.ok(codes.includes(code), `${code} agreed (got ${codes.join(',')})`);

      // The agreement is in force: InitialDeliveryMethod N means a message is only announced.
      p.sessionId = textOf(answer, 'SessionID');
      assert.equal(await keepAlive(p), 200);
      const alice = phone();
      assert.equal(resultCode(await alice.loginPassword('inl13-sender', 'pw')), 200);
      assert.equal(resultCode(await alice.sendText('inl13', 'hello')), 200);
      const { transactions } = await p.poll();
      assert.deepEqual(transactions.map((t) => t.primitive.name), ['MessageNotification']);
    });

    test('bad values inside a login CapabilityList are ignored: the login still succeeds', async () => {
      const p = phone();
      const caps = el('CapabilityList', [
        leaf('ClientType', 'MOBILE_PHONE'),
        leaf('MultiTrans', 'x'),
        leaf('ParserSize', '99999999999'),
        leaf('AnyContent', 'maybe'),
        leaf('AcceptedContentLength', '-5'),
        leaf('SupportedBearer', 'HTTP'),
      ]);
      const { primitive: answer, exchange } = await p.request(
        loginWith('badcap13', [p.clientIdElement(), leaf('Password', 'pw'), androidFunctions(), caps]),
        { outband: true },
      );
      assert.equal(exchange.status, 200);
      assert.equal(answer.name, 'Login-Response');
      assert.equal(resultCode(answer), 200);
      assert.ok(textOf(answer, 'SessionID'));
      assert.equal(textOf(answer, 'CapabilityRequest'), 'F');
      assert.equal(textOf(child(answer, 'AgreedCapabilityList'), 'MultiTrans'), '1', 'an unreadable MultiTrans keeps the default');
      assert.ok(child(answer, 'Functions'));
      p.sessionId = textOf(answer, 'SessionID');
      assert.equal(await keepAlive(p), 200);
    });

    test('a 1.3 login with ApplicationID instead of ClientID: 200, and nothing echoed that 1.3 does not allow', async () => {
      const p = phone();
      const login = el('Login-Request', [
        leaf('UserID', 'appid13'),
        leaf('ApplicationID', 'com.example.village-test'),
        leaf('Password', 'pw'),
        leaf('TimeToLive', 600),
        leaf('SessionCookie', 'cookie-appid'),
      ]);
      // Phone's strict check validates the answer against the 1.3 content model of Login-Response.
      const { primitive: answer } = await p.request(login, { outband: true });
      assert.equal(answer.name, 'Login-Response');
      assert.equal(resultCode(answer), 200);
      assert.equal(child(answer, 'ApplicationID'), undefined, 'no ApplicationID echo');
      assert.equal(child(answer, 'ClientID'), undefined, 'no made-up ClientID either');
      assert.ok(textOf(answer, 'SessionID'));
      p.sessionId = textOf(answer, 'SessionID');
      assert.equal(await keepAlive(p), 200);
    });

    test('1.3 session resumption: another user\'s (or client\'s) live SessionID gets 422; the right user and ClientID get 200', async () => {
      const owner = phone({ clientId: 'resume-owner' });
      assert.equal(resultCode(await owner.loginPassword('resowner13', 'pw')), 200);
      const ownerSession = owner.sessionId!;
      const stranger = phone({ clientId: 'resume-stranger' });
      assert.equal(resultCode(await stranger.loginPassword('resstranger13', 'spw')), 200);
      await stranger.logout();

      // Another user, with that user's own right password, names the owner's session.
      const hijack = await stranger.request(
        stranger.loginRequest('resstranger13', [leaf('Password', 'spw')!, leaf('SessionID', ownerSession)!, leaf('TimeToLive', 600)!]),
        { outband: true },
      );
      assert.equal(resultCode(hijack.primitive), 422);
      assert.equal(textOf(hijack.primitive, 'SessionID'), undefined);
      // The owner on another client is refused too.
      const otherClient = phone({ clientId: 'resume-other-client' });
      const fromElsewhere = await otherClient.request(
        otherClient.loginRequest('resowner13', [leaf('Password', 'pw')!, leaf('SessionID', ownerSession)!]),
        { outband: true },
      );
      assert.equal(resultCode(fromElsewhere.primitive), 422);
      // The attempts did no harm to the live session.
      assert.equal(await keepAlive(owner), 200);

      const resumed = await owner.request(owner.loginRequest('resowner13', [leaf('Password', 'pw')!, leaf('SessionID', ownerSession)!, leaf('TimeToLive', 600)!]), {
        outband: true,
      });
      assert.equal(resultCode(resumed.primitive), 200);
      const sessionId = textOf(resumed.primitive, 'SessionID');
      assert.ok(sessionId);
      owner.sessionId = sessionId;
      assert.equal(await keepAlive(owner), 200);
    });
  });

  for (const version of ['1.2', '1.3'] as const) {
    test(`CSP ${version}: VersionDiscovery (outband) lists the CSP namespaces of 1.1, 1.2 and 1.3`, async () => {
      const p = new Phone(server(), { version });
      const { primitive } = await p.request(el('WV-CSP-VersionDiscovery-Request', [el('VersionList', [leaf('SessionNSName', NAMESPACES[version].csp)])]), {
        outband: true,
      });
      assert.equal(primitive.name, 'WV-CSP-VersionDiscovery-Response');
      const names = childrenNamed(child(primitive, 'VersionList'), 'SessionNSName').map((e) => textOf(e));
      assert.deepEqual([...names].sort(), CSP_VERSIONS.map((v) => NAMESPACES[v].csp).sort());
    });
  }

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, phone, loggedIn } = variantKit(server, variant);

    describe(label, () => {
      test('NewMessage answered with Status 200 (Response mode) counts as delivered: not offered again, sender gets report 200', async () => {
        const alice = await loggedIn('st2alice');
        const bob = await loggedIn('st2bob');
        const messageId = textOf(await alice.sendText(user('st2bob'), 'status is enough', { deliveryReport: true }), 'MessageID')!;
        const { transactions } = await bob.poll();
        assert.deepEqual(transactions.map((t) => t.primitive.name), ['NewMessage']);
        assert.equal(idOf(transactions[0]!.primitive), messageId);
        const reply = await bob.post([{ mode: 'Response', id: transactions[0]!.id, primitive: statusOf(200) }]);
        assert.equal(reply.status, 200);
        assert.equal((await bob.poll()).transactions.length, 0);
        // A new session of bob (offers of the old one released at logout) gets nothing either.
        await bob.logout();
        const back = await loggedIn('st2bob');
        assert.deepEqual(await back.receiveAll(), []);

        const reports = (await alice.drain()).filter((p) => p.name === 'DeliveryReport-Request');
        assert.equal(reports.length, 1);
        assert.equal(resultCode(reports[0]), 200);
        assert.equal(idOf(reports[0]!), messageId);
      });

      test('NewMessage answered with an error Status (415) ends delivery; the sender gets report 538', async () => {
        const alice = await loggedIn('st4alice');
        const bob = await loggedIn('st4bob');
        const messageId = textOf(await alice.sendText(user('st4bob'), 'cannot take this', { deliveryReport: true }), 'MessageID')!;
        const { transactions } = await bob.poll();
        assert.deepEqual(transactions.map((t) => t.primitive.name), ['NewMessage']);
        await bob.post([{ mode: 'Response', id: transactions[0]!.id, primitive: statusOf(415) }]);
        assert.equal((await bob.poll()).transactions.length, 0);
        await bob.logout();
        const back = await loggedIn('st4bob');
        assert.deepEqual(await back.receiveAll(), [], 'a refused message is not offered again');

        const reports = (await alice.drain()).filter((p) => p.name === 'DeliveryReport-Request');
        assert.equal(reports.length, 1);
        assert.equal(resultCode(reports[0]), 538);
        assert.equal(idOf(reports[0]!), messageId);
      });

      test('MessageDelivered as a Request (after GetMessage) gets Status 200 and removes the message; an unknown MessageID gets 426', async () => {
        const alice = await loggedIn('mdalice');
        const bob = await loggedIn('mdbob');
        const messageId = textOf(await alice.sendText(user('mdbob'), 'fetched by id', { deliveryReport: true }), 'MessageID')!;
        const { primitive: got } = await bob.request(el('GetMessage-Request', [leaf('MessageID', messageId)]));
        assert.equal(got.name, 'GetMessage-Response');
        const { primitive: ack } = await bob.request(el('MessageDelivered', [leaf('MessageID', messageId)]));
        assert.equal(ack.name, 'Status');
        assert.equal(resultCode(ack), 200);
        assert.equal(resultCode((await bob.request(el('GetMessage-Request', [leaf('MessageID', messageId)]))).primitive), 426);
        await bob.logout();
        const back = await loggedIn('mdbob');
        assert.deepEqual(await back.receiveAll(), [], 'gone for good');
        const reports = (await alice.drain()).filter((p) => p.name === 'DeliveryReport-Request');
        assert.deepEqual(reports.map((r) => [resultCode(r), idOf(r)]), [[200, messageId]]);

        const { primitive: unknown } = await back.request(el('MessageDelivered', [leaf('MessageID', 'no-such-message')]));
        assert.equal(unknown.name, 'Status');
        assert.equal(resultCode(unknown), 426);
      });

      test('digest: a stranger asking a challenge for the same user with the same ClientID ("JiMMY") does not spoil the victim\'s phase 2', async () => {
        assert.equal(resultCode(await phone().loginPassword(user('jimmy'), 'secret')), 200);
        const victim = phone({ clientId: 'JiMMY' });
        const phase1 = (p: Phone) => p.loginRequest(user('jimmy'), [leaf('DigestSchema', 'MD5')!]);
        const { primitive: mine } = await victim.request(phase1(victim), { outband: true });
        assert.equal(resultCode(mine), 401);
        const nonce = textOf(mine, 'Nonce')!;
        assert.ok(nonce);

        const stranger = phone({ clientId: 'JiMMY' });
        const { primitive: theirs } = await stranger.request(phase1(stranger), { outband: true });
        assert.equal(resultCode(theirs), 401);
        assert.notEqual(textOf(theirs, 'Nonce'), nonce);

        const { primitive: answer } = await victim.request(victim.loginRequest(user('jimmy'), [leaf('DigestBytes', computeDigest('MD5', nonce, 'secret'))!]), {
          outband: true,
        });
        assert.equal(resultCode(answer), 200);
      });

      test('digest: phase 2 from a different ClientID and SessionCookie than phase 1 gets 200', async () => {
        assert.equal(resultCode(await phone().loginPassword(user('hop'), 'secret')), 200);
        const first = phone({ clientId: `hop-first-${version}` });
        const { primitive: challenge } = await first.request(loginWith(user('hop'), [first.clientIdElement(), leaf('DigestSchema', 'SHA')], 'cookie-one'), {
          outband: true,
        });
        assert.equal(resultCode(challenge), 401);
        assert.equal(textOf(challenge, 'DigestSchema'), 'SHA');
        const nonce = textOf(challenge, 'Nonce')!;
        const second = phone({ clientId: `hop-second-${version}` });
        const { primitive: answer } = await second.request(
          loginWith(user('hop'), [second.clientIdElement(), leaf('DigestBytes', computeDigest('SHA', nonce, 'secret'))], 'cookie-two'),
          { outband: true },
        );
        assert.equal(resultCode(answer), 200);
        second.sessionId = textOf(answer, 'SessionID');
        assert.equal(await keepAlive(second), 200);
      });

      test('an empty <Password/> for an existing user gets 409, not a challenge', async () => {
        assert.equal(resultCode(await phone().loginPassword(user('empty'), 'secret')), 200);
        const p = phone();
        const { primitive: answer } = await p.request(p.loginRequest(user('empty'), [leaf('Password', '')!]), { outband: true });
        assert.equal(resultCode(answer), 409);
        assert.equal(textOf(answer, 'Nonce'), undefined);
        assert.equal(textOf(answer, 'SessionID'), undefined);
      });

      test('Login-Response says Poll=T when messages wait, Poll=F when nothing does', async () => {
        const bob = await loggedIn('pfbob');
        await bob.logout();
        const alice = await loggedIn('pfalice');
        assert.equal(resultCode(await alice.sendText(user('pfbob'), 'waiting for you')), 200);

        const back = phone();
        const { primitive, exchange } = await back.request(back.loginRequest(user('pfbob'), [leaf('Password', 'pw')!, leaf('TimeToLive', 600)!]), { outband: true });
        assert.equal(resultCode(primitive), 200);
        assert.equal(exchange.message?.poll, true);
        back.sessionId = textOf(primitive, 'SessionID');
        assert.deepEqual((await back.receiveAll()).map((m) => m.text), ['waiting for you']);
        await back.logout();

        for (const name of ['pfbob', 'pfcarol']) {
          const p = phone();
          const answer = await p.request(p.loginRequest(user(name), [leaf('Password', 'pw')!]), { outband: true });
          assert.equal(resultCode(answer.primitive), 200);
          assert.equal(answer.exchange.message?.poll, false, `${name} has nothing waiting`);
        }
      });
    });
  }

  describe('accounts changed under live sessions', () => {
    test('user passwd: the live session\'s next KeepAlive gets 604, the new password works, the old one not', async () => {
      const p = new Phone(server(), { version: '1.2' });
      assert.equal(resultCode(await p.loginPassword('rekeyed', 'old-pw')), 200);
      assert.equal(await keepAlive(p), 200);
      const run = await villageCli(server(), ['user', 'passwd', 'rekeyed', 'new-pw']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await keepAlive(p), 604);
      assert.equal(resultCode(await new Phone(server(), { version: '1.2' }).loginPassword('rekeyed', 'old-pw')), 409);
      const again = new Phone(server(), { version: '1.3' });
      assert.equal(resultCode(await again.loginPassword('rekeyed', 'new-pw')), 200);
      assert.equal(await keepAlive(again), 200);
    });

    test('user del: live sessions get 604 (KeepAlive and Polling)', async () => {
      const a = new Phone(server(), { version: '1.1' });
      const b = new Phone(server(), { version: '1.3' });
      assert.equal(resultCode(await a.loginPassword('doomed', 'pw')), 200);
      assert.equal(resultCode(await b.loginPassword('doomed', 'pw')), 200);
      const run = await villageCli(server(), ['user', 'del', 'doomed']);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await keepAlive(a), 604);
      const { exchange } = await b.poll();
      assert.deepEqual(
        exchange.message?.transactions.map((t) => [t.mode, t.primitive?.name, resultCode(t.primitive)]),
        [['Response', 'Status', 604]],
      );
      assert.equal(await keepAlive(b), 604);
    });
  });
});

describe('limits', () => {
  const server = sharedServer({ config: { http: { maxTransactions: 3 }, session: { maxPerUser: 2 } } });

  test('more than http.maxTransactions transactions: the first are answered, the excess gets one Status 400', async () => {
    const p = new Phone(server(), { version: '1.2' });
    const ids = ['g1', 'g2', 'g3', 'g4', 'g5'];
    const exchange = await p.post(ids.map((id) => ({ id, primitive: el('GetSPInfo-Request') })), { outband: true });
    assert.equal(exchange.status, 200);
    const answers = exchange.message?.transactions ?? [];
    const byId = (id: string) => answers.find((t) => t.id === id && t.mode === 'Response')?.primitive;
    for (const id of ['g1', 'g2', 'g3']) assert.equal(byId(id)?.name, 'GetSPInfo-Response', id);
    // One answer for all the excess (addressed to its first transaction), so that a flood of
    // transactions cannot make the answer grow with it.
    assert.equal(byId('g4')?.name, 'Status');
    assert.equal(resultCode(byId('g4')), 400);
    assert.equal(byId('g5'), undefined);
    assert.equal(answers.length, 4);
  });

  test('two Login-Requests in one message: the second gets Status 400 and is not acted on', async () => {
    const p = new Phone(server(), { version: '1.3' });
    const exchange = await p.post(
      [
        { id: 'l1', primitive: p.loginRequest('twologin-a', [leaf('Password', 'pw')!]) },
        { id: 'l2', primitive: p.loginRequest('twologin-b', [leaf('Password', 'pw')!]) },
      ],
      { outband: true },
    );
    const answers = exchange.message?.transactions ?? [];
    const first = answers.find((t) => t.id === 'l1')?.primitive;
    const second = answers.find((t) => t.id === 'l2')?.primitive;
    assert.equal(first?.name, 'Login-Response');
    assert.equal(resultCode(first), 200);
    assert.equal(second?.name, 'Status');
    assert.equal(resultCode(second), 400);
    // The second login did not register twologin-b: a different password now creates it.
    assert.equal(resultCode(await new Phone(server(), { version: '1.3' }).loginPassword('twologin-b', 'other')), 200);
  });

  test('session.maxPerUser 2: a third phone\'s login ends the oldest session (604)', async () => {
    const phones = [1, 2, 3].map((n) => new Phone(server(), { version: '1.2', clientId: `many-${n}` }));
    for (const p of phones) assert.equal(resultCode(await p.loginPassword('manyphones', 'pw')), 200);
    assert.equal(await keepAlive(phones[0]!), 604);
    assert.equal(await keepAlive(phones[1]!), 200);
    assert.equal(await keepAlive(phones[2]!), 200);
  });
});

describe('throttling behind a reverse proxy', () => {
  const loginLimits = { maxFailuresPerAddress: 3, maxFailuresPerUser: 10 };
  const attempt = (server: TestServer, user: string, password: string, forwardedFor: string) =>
    postWithHeaders(server, '1.2', loginWith(user, [el('ClientID', [leaf('URL', `xff-${Math.random()}`)]), leaf('Password', password)]), {
      'x-forwarded-for': forwardedFor,
    }).then(resultCode);

  describe('with trustedProxies', () => {
    const server = sharedServer({ config: { http: { trustedProxies: ['127.0.0.1'] }, loginLimits } });

    test('failures from one forwarded client lock that client only', async () => {
      assert.equal(await attempt(server(), 'xvictim', 'right', '203.0.113.6'), 200);
      assert.equal(await attempt(server(), 'xother', 'pw', '203.0.113.6'), 200);
      for (let i = 0; i < 3; i++) assert.equal(await attempt(server(), 'xvictim', `wrong${i}`, '203.0.113.5'), 409);
      assert.equal(await attempt(server(), 'xother', 'pw', '203.0.113.5'), 503, 'the guessing client is locked, whatever the user');
      assert.equal(await attempt(server(), 'xother', 'pw', '203.0.113.6'), 200, 'another client behind the same proxy still logs in');
      assert.equal(await attempt(server(), 'xvictim', 'right', '203.0.113.6'), 200, 'the attacked user is not locked out');
      // The proxy's own address was never counted.
      assert.equal(resultCode(await new Phone(server(), { version: '1.2' }).loginPassword('xother', 'pw')), 200);
    });
  });

  describe('without trustedProxies', () => {
    const server = sharedServer({ config: { loginLimits } });

    test('X-Forwarded-For is ignored: the failures count against the peer address', async () => {
      assert.equal(await attempt(server(), 'nvictim', 'right', '203.0.113.6'), 200);
      assert.equal(await attempt(server(), 'nother', 'pw', '203.0.113.6'), 200);
      for (let i = 0; i < 3; i++) assert.equal(await attempt(server(), 'nvictim', `wrong${i}`, '203.0.113.5'), 409);
      assert.equal(await attempt(server(), 'nother', 'pw', '203.0.113.6'), 503, 'a forged header does not escape the lock');
    });
  });
});

describe('the secret key and the data directory', () => {
  const server = sharedServer();

  test('the data directory is 0700 and the database 0600', () => {
    const data = join(server().dataDir, 'data');
    assert.equal(statSync(data).mode & 0o777, 0o700);
    assert.equal(statSync(join(data, 'village.db')).mode & 0o777, 0o600);
    assert.equal(statSync(join(data, 'secret.key')).mode & 0o777, 0o600);
  });

  test('a missing or different secret.key stops the start, naming the file and saying to restore it', async () => {
    assert.equal(resultCode(await new Phone(server(), { version: '1.2' }).loginPassword('keyholder', 'pw')), 200);
    const keyFile = join(server().dataDir, 'data', 'secret.key');
    const original = readFileSync(keyFile);
    assert.equal(await server().stop(), 0);

    rmSync(keyFile);
    await assert.rejects(server().restart(), (err: Error) => {
      assert.match(err.message, /secret\.key/);
      assert.match(err.message, /restore/i);
      return true;
    });

    writeFileSync(keyFile, randomBytes(32).toString('base64') + '\n', { mode: 0o600 });
    await assert.rejects(server().restart(), (err: Error) => {
      assert.match(err.message, /secret\.key/);
      assert.match(err.message, /restore/i);
      return true;
    });

    // With the right key back, the server starts and the account works.
    writeFileSync(keyFile, original, { mode: 0o600 });
    await server().restart();
    assert.equal(resultCode(await new Phone(server(), { version: '1.2' }).loginPassword('keyholder', 'pw')), 200);
  });
});
