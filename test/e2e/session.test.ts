// Sessions over real HTTP against the real server process: login (password and 4-way digest),
// capability and service negotiation, keep-alive, SP info, logout, expiry, 604/506, several
// sessions per user, and failed-login throttling.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { MATRIX, variantKit } from '../support/matrix.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import { computeDigest } from '../../src/auth/digest.ts';

const functionCodes = (tree: ReturnType<typeof child>): string[] => {
  const out: string[] = [];
  const walk = (n: NonNullable<typeof tree>) => {
    if (n.children.length === 0 && /^[A-Z]+$/.test(n.name)) out.push(n.name);
    n.children.forEach(walk);
  };
  if (tree) walk(tree);
  return out.sort();
};

describe('sessions', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, phone } = variantKit(server, variant);

    describe(label, () => {
      test('password login: 200, a long random SessionID, KeepAliveTime, CapabilityRequest', async () => {
        const p = phone();
        const answer = await p.loginPassword(user('ann'), 'pw', 300);
        assert.equal(answer.name, 'Login-Response');
        assert.equal(resultCode(answer), 200);
        const sessionId = textOf(answer, 'SessionID')!;
        assert.ok(Buffer.from(sessionId, 'base64url').length * 8 >= 128, `SessionID ${sessionId} carries at least 128 bits`);
        assert.equal(textOf(answer, 'KeepAliveTime'), '300');
        assert.equal(textOf(answer, 'CapabilityRequest'), 'T');
        assert.equal(textOf(child(answer, 'ClientID'), 'URL'), p.clientId, 'ClientID echoed');
        const again = phone();
        const second = await again.loginPassword(user('ann'), 'pw');
        assert.notEqual(textOf(second, 'SessionID'), sessionId);
      });

      for (const schema of ['MD5', 'SHA'] as const) {
        test(`4-way digest login with ${schema}`, async () => {
          await phone().loginPassword(user(`dig${schema}`), 's3cret');
          const p = phone();
          const { challenge, response } = await p.loginDigest(user(`dig${schema}`), 's3cret', [schema]);
          assert.equal(resultCode(challenge), 401);
          assert.equal(textOf(challenge, 'DigestSchema'), schema);
          assert.ok(textOf(challenge, 'Nonce'));
          assert.equal(textOf(challenge, 'SessionID'), undefined);
          assert.equal(resultCode(response), 200);
          assert.ok(p.sessionId);
        });
      }

      test('digest: a wrong digest gets 409 without spending the challenge; a nonce works once', async () => {
        await phone().loginPassword(user('once'), 'right');
        const p = phone();
        const phase1 = el('Login-Request', [leaf('UserID', user('once')), p.clientIdElement(), leaf('DigestSchema', 'MD5'), leaf('SessionCookie', 'c')]);
        const { primitive: challenge } = await p.request(phase1, { outband: true });
        const nonce = textOf(challenge, 'Nonce')!;
        const phase2 = (password: string) =>
          el('Login-Request', [leaf('UserID', user('once')), p.clientIdElement(), leaf('DigestBytes', computeDigest('MD5', nonce, password)), leaf('SessionCookie', 'c')]);
        assert.equal(resultCode((await p.request(phase2('wrong'), { outband: true })).primitive), 409);
        // A wrong guess (perhaps a stranger's) does not spoil the user's challenge…
        assert.equal(resultCode((await p.request(phase2('right'), { outband: true })).primitive), 200);
        // …but a used nonce is gone: replaying the right answer only earns a new challenge.
        const replay = (await p.request(phase2('right'), { outband: true })).primitive;
        assert.equal(resultCode(replay), 401);
        assert.notEqual(textOf(replay, 'Nonce'), nonce);
      });

      test('wrong password 409, unknown domain 516', async () => {
        await phone().loginPassword(user('carl'), 'pw');
        assert.equal(resultCode(await phone().loginPassword(user('carl'), 'PW')), 409);
        assert.equal(resultCode(await phone().loginPassword(`wv:${user('carl')}@elsewhere.example`, 'pw')), 516);
      });

      test('user IDs are case-insensitive, wv: optional, bare IDs in the first domain', async () => {
        await phone().loginPassword(user('Dora'), 'pw');
        assert.equal(resultCode(await phone().loginPassword(`WV:${user('dora').toUpperCase()}@IMPS.TEST`, 'pw')), 200);
        // other.test is hosted too, and a different user.
        assert.equal(resultCode(await phone().loginPassword(`${user('dora')}@other.test`, 'pw2')), 200);
        assert.equal(resultCode(await phone().loginPassword(`${user('dora')}@other.test`, 'pw')), 409);
      });

      test('ClientCapability: the agreed list in the version\'s form', async () => {
        const p = phone();
        await p.loginPassword(user('cap'), 'pw');
        const answer = await p.negotiateCapabilities([leaf('ServerPollMin', 2)!]);
        assert.equal(answer.name, 'ClientCapability-Response');
        if (version === '1.1') {
          assert.equal(textOf(child(answer, 'ClientID'), 'URL'), p.clientId);
          const list = child(answer, 'CapabilityList');
          assert.equal(textOf(list, 'SupportedBearer'), 'HTTP');
          assert.equal(textOf(list, 'ServerPollMin'), '10', 'raised to the configured minimum');
        } else {
          const list = child(answer, 'AgreedCapabilityList');
          assert.equal(textOf(list, 'SupportedBearer'), 'HTTP');
          assert.equal(textOf(list, 'ServerPollMin'), '10');
        }
      });

      test('Service-Request the Android way (empty features, AllFunctionsRequest) gets Functions and AllFunctions', async () => {
        const p = phone();
        await p.loginPassword(user('svc'), 'pw');
        const features = ['FundamentalFeat', 'PresenceFeat', 'IMFeat', 'GroupFeat'].map((f) => el(f));
        const body = [version === '1.1' ? p.clientIdElement() : undefined, el('Functions', [el('WVCSPFeat', features)]), leaf('AllFunctionsRequest', true)];
        const { primitive } = await p.request(el('Service-Request', body));
        assert.equal(primitive.name, 'Service-Response');
        // What each version's feature tree can name of what Village implements (1.3 has no
        // attribute-list or reactive-authorisation function codes).
        const implemented = [
          'BLENT', 'CCLI', 'DCLI', 'FWMSG', 'GCLI', 'GETLM', 'GETM', 'GETPR', 'GETSPI', 'GETWL', 'GLBLU', 'MCLS', 'MDELIV', 'NEWM', 'NOTIF', 'REJCM', 'SETD', 'UPDPR',
          'CAINV', 'INVIT',
          'SRCH', 'STSRC',
          'ADDGM', 'CREAG', 'DELGR', 'GETGM', 'GETGP', 'GRCHN', 'MBRAC', 'REJEC', 'RMVGM', 'SETGP', 'SUBGCN',
          ...(version === '1.3' ? ['GETJU'] : version === '1.2' ? ['CAAUT', 'CALI', 'DALI', 'GALS', 'GETAUT', 'GETJU', 'REACT'] : ['CAAUT', 'CALI', 'DALI', 'GALS', 'REACT']),
        ].sort();
        assert.deepEqual(functionCodes(child(primitive, 'Functions')), implemented);
        assert.deepEqual(functionCodes(child(primitive, 'AllFunctions')), implemented);
      });

      test('Service-Request for one function: only that is agreed, and unagreed primitives get 506', async () => {
        const p = phone();
        await p.loginPassword(user('narrow'), 'pw');
        const wanted = el('WVCSPFeat', [el('FundamentalFeat', [el('ServiceFunc', [el('GETSPI')])])]);
        const body = [version === '1.1' ? p.clientIdElement() : undefined, el('Functions', [wanted]), leaf('AllFunctionsRequest', false)];
        const { primitive } = await p.request(el('Service-Request', body));
        assert.deepEqual(functionCodes(child(primitive, 'Functions')), ['GETSPI']);
        assert.equal(child(primitive, 'AllFunctions'), undefined);
        assert.equal(resultCode(await p.sendText(user('narrow'), 'x')), 506);
        assert.equal((await p.request(el('GetSPInfo-Request'))).primitive.name, 'GetSPInfo-Response');
      });

      test('KeepAlive answers with the granted KeepAliveTime', async () => {
        const p = phone();
        await p.loginPassword(user('ka'), 'pw', 300);
        const { primitive } = await p.request(el('KeepAlive-Request', [leaf('TimeToLive', 100000)]));
        assert.equal(primitive.name, 'KeepAlive-Response');
        assert.equal(resultCode(primitive), 200);
        assert.equal(textOf(primitive, 'KeepAliveTime'), '1800', 'clamped to session.keepAliveMax');
      });

      test('GetSPInfo needs no session', async () => {
        const p = phone();
        const { primitive } = await p.request(el('GetSPInfo-Request', [p.clientIdElement()]), { outband: true });
        assert.equal(primitive.name, 'GetSPInfo-Response');
        assert.equal(textOf(primitive, 'Name'), 'Village');
      });

      test(`Logout is answered with ${version === '1.1' ? 'Disconnect' : 'Status'}; the session is gone afterwards (604)`, async () => {
        const p = phone();
        await p.loginPassword(user('bye'), 'pw');
        const sessionId = p.sessionId;
        const answer = await p.logout();
        assert.equal(answer.name, version === '1.1' ? 'Disconnect' : 'Status');
        assert.equal(resultCode(answer), 200);
        p.sessionId = sessionId;
        const { primitive } = await p.request(el('KeepAlive-Request'));
        assert.equal(resultCode(primitive), 604);
      });

      test('unknown SessionID and session-less requests get 604', async () => {
        const p = phone();
        p.sessionId = 'no-such-session';
        assert.equal(resultCode((await p.request(el('KeepAlive-Request'))).primitive), 604);
        assert.equal(resultCode((await p.request(el('Polling-Request'), { outband: true })).primitive), 604);
      });

      test('one user, two phones: two live sessions, each works', async () => {
        const a = phone();
        const b = phone();
        await a.loginPassword(user('twin'), 'pw');
        await b.loginPassword(user('twin'), 'pw');
        assert.notEqual(a.sessionId, b.sessionId);
        for (const p of [a, b]) assert.equal(resultCode((await p.request(el('KeepAlive-Request'))).primitive), 200);
      });

      test('the same phone logging in again replaces its old session', async () => {
        const a = phone({ clientId: `same-${version}` });
        await a.loginPassword(user('again'), 'pw');
        const old = a.sessionId;
        await a.loginPassword(user('again'), 'pw');
        const stale = phone();
        stale.sessionId = old;
        assert.equal(resultCode((await stale.request(el('KeepAlive-Request'))).primitive), 604);
        assert.equal(resultCode((await a.request(el('KeepAlive-Request'))).primitive), 200);
      });
    });
  }
});

describe('sessions: expiry, registration policy and throttling', () => {
  const server = sharedServer({
      config: {
        autoRegister: false,
        session: { keepAliveMin: 1, keepAliveDefault: 1 },
        loginLimits: { windowSeconds: 600, maxFailuresPerUser: 3, maxFailuresPerAddress: 6, lockoutSeconds: 600 },
      },
    });

  test('a session expires after KeepAliveTime without traffic (604 afterwards)', async () => {
    const admin = await import('../support/cli.ts');
    await admin.villageCli(server(), ['user', 'add', 'sleepy', 'pw']);
    const p = new Phone(server(), { version: '1.2' });
    const answer = await p.loginPassword('sleepy', 'pw', 1);
    assert.equal(textOf(answer, 'KeepAliveTime'), '1');
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(resultCode((await p.request(el('KeepAlive-Request'))).primitive), 604);
    const ended = server().logEntries().find((e) => e.msg === 'session ended' && e.reason === 'expired');
    assert.ok(ended, 'the expiry is logged');
  });

  test('without auto-registration an unknown user gets 531', async () => {
    assert.equal(resultCode(await new Phone(server(), { version: '1.3' }).loginPassword('nobody', 'pw')), 531);
  });

  test('a 1.1 DigestSchema list "PWD,SHA,MD4,MD5,MD6" is split and MD5 chosen', async () => {
    const admin = await import('../support/cli.ts');
    await admin.villageCli(server(), ['user', 'add', 'oldnokia', 'pw']);
    const p = new Phone(server(), { version: '1.1' });
    const { challenge, response } = await p.loginDigest('oldnokia', 'pw', ['PWD,SHA,MD4,MD5,MD6']);
    assert.equal(textOf(challenge, 'DigestSchema'), 'MD5');
    assert.equal(resultCode(response), 200);
    assert.equal(childrenNamed(challenge, 'DigestSchema').length, 1);
  });

  test('failed logins are throttled per user, then per address', async () => {
    const admin = await import('../support/cli.ts');
    await admin.villageCli(server(), ['user', 'add', 'target', 'right']);
    const p = () => new Phone(server(), { version: '1.2' });
    for (let i = 0; i < 3; i++) assert.equal(resultCode(await p().loginPassword('target', 'wrong')), 409);
    const locked = await p().loginPassword('target', 'right');
    assert.equal(resultCode(locked), 503, 'even the right password waits out the lockout');
    assert.match(textOf(child(locked, 'Result'), 'Description')!, /try again/i);
    // The address has 4 failures (3 here, the 531 above). Two more, on a user still below the
    // per-user limit, reach the address limit of 6: now nobody logs in from here.
    await admin.villageCli(server(), ['user', 'add', 'bystander', 'pw']);
    for (let i = 0; i < 2; i++) assert.equal(resultCode(await p().loginPassword('bystander', `wrong${i}`)), 409);
    assert.equal(resultCode(await p().loginPassword('bystander', 'pw')), 503);
    const entries = server().logEntries().filter((e) => e.msg === 'login refused');
    assert.ok(entries.length >= 3);
    assert.ok(!server().logs.some((l) => l.includes('"right"') || l.includes('wrong0')), 'passwords never reach the log');
  });
});
