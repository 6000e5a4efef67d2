// XMPP federation end to end (issue 8): phones on Village's imps.test and people on a real
// Prosody's xmpp.test talk through the s2s link, in each of Prosody's four security modes
// (plain dialback, STARTTLS optional, STARTTLS required, secure: CA-valid certificates and
// SASL EXTERNAL); which authentication each stream used is checked too. Everything goes over
// real sockets on 127.0.0.1: phones speak CSP over HTTP to the real server process, XMPP users
// speak c2s to Prosody, and Prosody and Village speak s2s.
//
// Covered both ways: non-ASCII messages, delivery receipts (XEP-0184 ⇄ DeliveryReport), an
// error for an unknown user (531), presence, subscription request / approval / removal, a
// phone's picture as a download link; Prosody restarted while messages wait, and crashed with
// messages written but unread (written again: delivery is confirmed by a ping); Village restarted;
// a peer with a bad dialback key refused; Village with an untrusted certificate refused by a
// secure Prosody; a Prosody whose certificate we cannot validate gets dialback, not SASL
// EXTERNAL, from us. Missing Prosody fails with the install command; nothing here skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect } from 'node:net';
import { request } from 'undici';
import { TestServer } from '../support/server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { Prosody, PROSODY_MODES, freePorts, type ProsodyMode } from '../support/prosody.ts';
import { testPki, type CertAndKey } from '../support/pki.ts';
import { bareOf, bodyOf, childOf, connectXmppUser, messageFrom, textOf as xmlText, type XmlElement, type XmppUser } from '../support/xmpp-client.ts';
import { child, el, leaf, textOf, type CspElement } from '../../src/csp/tree.ts';
import { assertStatus, notified, subscribeRequest, updateRequest, userRefs, value, valueOf } from '../support/presence.ts';

const PASSWORD = 'xmpp-pw ünïcode';
const XMPP_USERS = ['bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan'].map((name) => ({ name, password: PASSWORD }));
const NS_RECEIPTS = 'urn:xmpp:receipts';
const NS_OOB = 'jabber:x:oob';
const WAIT_MS = 15_000;

const pki = testPki();

/**
 * How each mode's links authenticate. We use STARTTLS whenever Prosody offers it. In the
 * STARTTLS-required mode Village presents a certificate from a CA Prosody does not trust (as a
 * self-signed hobby server would): Prosody, not insisting on valid certificates there, lets our
 * stream in with dialback over TLS, while its own valid certificate gets it SASL EXTERNAL with us.
 */
const EXPECTED_LINK: Record<ProsodyMode, { outgoing: string; incoming: string; tls: boolean }> = {
  plain: { outgoing: 'dialback', incoming: 'dialback', tls: false },
  'starttls-optional': { outgoing: 'sasl-external', incoming: 'sasl-external', tls: true },
  'starttls-required': { outgoing: 'dialback', incoming: 'sasl-external', tls: true },
  secure: { outgoing: 'sasl-external', incoming: 'sasl-external', tls: true },
};

/** The certificate Village presents in each mode (see EXPECTED_LINK). */
const certificateFor = (mode: ProsodyMode) => (mode === 'starttls-required' ? pki.untrusted.imps : pki.imps);

/** Village's config for a Prosody mode: TLS (our certificate, the test CA trusted) unless plain. */
function villageConfig(mode: ProsodyMode, villagePort: number, prosodyS2sPort: number, certificate: CertAndKey): Record<string, unknown> {
  return {
    domains: ['imps.test'],
    xmpp: {
      host: '127.0.0.1',
      port: villagePort,
      routes: { 'xmpp.test': `127.0.0.1:${prosodyS2sPort}` },
      ...(mode === 'plain' ? {} : { tls: { cert: certificate.cert, key: certificate.key, ca: pki.ca.cert } }),
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A phone that keeps what it received: waitFor() polls (acknowledging messages as handsets do)
 * until a server request matches, and keeps the others for later waits.
 */
class TestPhone {
  readonly phone: Phone;
  private inbox: CspElement[] = [];
  constructor(server: { url: string }, readonly name: string) {
    this.phone = new Phone(server, { version: '1.2' });
  }

  async login(): Promise<this> {
    const answer = await this.phone.loginPassword(this.name, 'phone-pw');
    assert.equal(resultCode(answer), 200, `${this.name} logs in`);
    return this;
  }

  async request(primitive: CspElement): Promise<CspElement> {
    return (await this.phone.request(primitive)).primitive;
  }

  async waitFor(predicate: (p: CspElement) => boolean, what: string, timeoutMs = WAIT_MS): Promise<CspElement> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(predicate);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > deadline) {
        throw new Error(`${this.name}'s phone got no ${what} within ${timeoutMs} ms; it has: ${this.inbox.map((p) => p.name).join(', ') || 'nothing'}`);
      }
      const got = await this.phone.drain();
      this.inbox.push(...got);
      if (got.length === 0) await sleep(100);
    }
  }

  /** The next NewMessage from `sender`, as sender and text. */
  async message(sender: string, what = `a message from ${sender}`): Promise<{ sender: string; text: string; contentType: string }> {
    const m = await this.waitFor((p) => p.name === 'NewMessage' && senderOf(p) === sender, what);
    return { sender: senderOf(m), text: child(m, 'ContentData')?.text ?? '', contentType: textOf(child(m, 'MessageInfo'), 'ContentType') ?? 'text/plain' };
  }

  /** Everything received so far that nobody waited for. */
  drainKept(): CspElement[] {
    const kept = this.inbox;
    this.inbox = [];
    return kept;
  }
}

const senderOf = (newMessage: CspElement) => textOf(child(child(child(newMessage, 'MessageInfo'), 'Sender'), 'User'), 'UserID') ?? '';

/** A DeliveryReport-Request about one message: its result code. */
function reportFor(messageId: string): (p: CspElement) => boolean {
  return (p) => p.name === 'DeliveryReport-Request' && textOf(child(p, 'MessageInfo'), 'MessageID') === messageId;
}
const reportCode = (report: CspElement) => Number(textOf(child(report, 'Result'), 'Code'));

const sentMessageId = (answer: CspElement) => {
  assert.equal(answer.name, 'SendMessage-Response', `SendMessage is answered: ${answer.name} ${resultCode(answer)}`);
  assert.equal(resultCode(answer), 200, 'SendMessage is accepted');
  return textOf(answer, 'MessageID') ?? '';
};

const presenceFrom = (from: string, type?: string) => (s: XmlElement) =>
  s.name === 'presence' && bareOf(s.attrs['from'] ?? '') === from && (s.attrs['type'] ?? undefined) === type;

/** A PresenceNotification about `userId` whose attributes satisfy `check`. */
const presenceNotice = (userId: string, check: (list: CspElement) => boolean) => (p: CspElement) => notified([p], userId).some(check);

/** A tiny but real PNG (1×1, red). */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

for (const mode of PROSODY_MODES) {
  describe(`XMPP federation with Prosody, mode ${mode}`, () => {
    let villagePort: number;
    let prosody: Prosody;
    let server: TestServer;
    const xmppUsers: XmppUser[] = [];

    /** An xmpp.test user logged in to Prosody, with available presence and the roster asked for. */
    const xmppUser = async (name: string): Promise<XmppUser> => {
      const user = await connectXmppUser({ port: prosody.c2sPort, domain: 'xmpp.test', username: name, password: PASSWORD });
      xmppUsers.push(user);
      // Only resources that asked for the roster get subscription pushes (Prosody's "interested" resources).
      user.send(`<iq type='get' id='roster-1'><query xmlns='jabber:iq:roster'/></iq>`);
      await user.waitFor((s) => s.name === 'iq' && s.attrs['id'] === 'roster-1', 5000, 'the roster');
      return user;
    };

    const withLogs = async <T>(what: () => Promise<T>): Promise<T> => {
      try {
        return await what();
      } catch (err) {
        const village = server.logs.filter((l) => /XMPP|xmpp|dialback|TLS/.test(l)).slice(-20).join('\n');
        (err as Error).message += `\n--- Village (XMPP lines) ---\n${village}\n--- Prosody ---\n${prosody.logTail(30)}`;
        throw err;
      }
    };

    /** A phone whose message reached frank (so the link is up); then frank logs off (offline storage from then on). */
    const linkUpFrankAway = async (phoneName: string): Promise<TestPhone> => {
      const phone = await new TestPhone(server, phoneName).login();
      const frank = await xmppUser('frank');
      sentMessageId(await phone.request(sendText('wv:frank@xmpp.test', 'Link steht')));
      await frank.waitFor(messageFrom(`${phoneName}@imps.test`, 'Link steht'), WAIT_MS, 'the first message');
      await frank.close();
      return phone;
    };

    before(async () => {
      [villagePort] = (await freePorts(1)) as [number];
      prosody = await Prosody.start({ mode, villageS2sPort: villagePort, users: XMPP_USERS, pki });
      server = await TestServer.start({ config: villageConfig(mode, villagePort, prosody.s2sPort, certificateFor(mode)) });
    });

    after(async () => {
      for (const user of xmppUsers) await user.close().catch(() => {});
      await server?.dispose();
      await prosody?.dispose();
    });

    test('a phone and an XMPP user exchange non-ASCII messages both ways', () =>
      withLogs(async () => {
        const bob = await xmppUser('bob');
        const alice = await new TestPhone(server, 'alice').login();
        const text = 'Grüße aus dem Dorf — Ünïcödé ✓ 日本語 🙂 <b>&amp;</b>';
        sentMessageId(await alice.request(sendText('wv:bob@xmpp.test', text)));
        const got = await bob.waitFor(messageFrom('alice@imps.test'), WAIT_MS, 'alice’s message');
        assert.equal(bodyOf(got), text, 'the text arrives unchanged');
        assert.equal(got.attrs['type'], 'chat');
        assert.match(got.attrs['from'] ?? '', /^alice@imps\.test\/village-[0-9a-f]+$/, 'from a resource of the sending session');

        const reply = 'Hallo zurück ☺ — straße, ёлка, 🚲';
        bob.sendMessage('alice@imps.test', reply);
        const received = await alice.message('wv:bob@xmpp.test');
        assert.equal(received.text, reply);
        assert.equal(received.contentType, 'text/plain');

        // A message to nobody here comes back as an error; disco#info tells what the server and
        // an account are, and that nobody is nobody.
        const lost = bob.sendMessage('nobody@imps.test', 'Hallo?');
        const error = await bob.waitFor((st) => st.name === 'message' && st.attrs['id'] === lost, WAIT_MS, 'the error for nobody');
        assert.equal(error.attrs['type'], 'error');
        assert.ok(childOf(childOf(error, 'error')!, 'service-unavailable', 'urn:ietf:params:xml:ns:xmpp-stanzas'), 'service-unavailable (RFC 6121 §8.5.2)');
        const disco = async (to: string) => {
          const id = `disco-${to}`;
          bob.send(`<iq type='get' to='${to}' id='${id}'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
          return bob.waitFor((st) => st.name === 'iq' && st.attrs['id'] === id, WAIT_MS, `disco#info of ${to}`);
        };
        const identityOf = (iq: XmlElement) => childOf(childOf(iq, 'query', 'http://jabber.org/protocol/disco#info')!, 'identity', 'http://jabber.org/protocol/disco#info')?.attrs;
        const ofServer = await disco('imps.test');
        assert.equal(ofServer.attrs['type'], 'result');
        assert.deepEqual({ category: identityOf(ofServer)?.['category'], type: identityOf(ofServer)?.['type'] }, { category: 'server', type: 'im' });
        const account = await disco('alice@imps.test');
        assert.deepEqual({ category: identityOf(account)?.['category'], type: identityOf(account)?.['type'] }, { category: 'account', type: 'registered' });
        assert.equal((await disco('nobody@imps.test')).attrs['type'], 'error');

        // Both streams were secured and authenticated as this mode allows.
        const outgoing = await logEntry(server, 'XMPP link up');
        const incoming = await logEntry(server, 'XMPP peer authenticated');
        const expected = EXPECTED_LINK[mode];
        assert.deepEqual({ method: outgoing?.['method'], tls: outgoing?.['tls'] }, { method: expected.outgoing, tls: expected.tls }, 'our stream to Prosody');
        assert.equal(incoming?.['method'], expected.incoming, 'Prosody’s stream to us');
      }));

    test('delivery receipts: a DeliveryReport becomes XEP-0184 and back, both ways', () =>
      withLogs(async () => {
        const carol = await xmppUser('carol');
        const phone = await new TestPhone(server, 'ruth').login();
        const messageId = sentMessageId(await phone.request(sendText('wv:carol@xmpp.test', 'Quittung, bitte', { deliveryReport: true })));
        const got = await carol.waitFor(messageFrom('ruth@imps.test'), WAIT_MS, 'ruth’s message');
        assert.ok(childOf(got, 'request', NS_RECEIPTS), 'the message asks for a receipt');
        assert.ok(got.attrs['id'], 'the message has an id the receipt can name');
        carol.send(`<message to='${got.attrs['from']}' id='ack-1'><received xmlns='${NS_RECEIPTS}' id='${got.attrs['id']}'/></message>`);
        const report = await phone.waitFor(reportFor(messageId), 'a DeliveryReport');
        assert.equal(reportCode(report), 200, 'the phone learns its message was delivered');

        // The other way: the XMPP user asks, the phone fetching the message sends the receipt.
        const id = carol.sendMessage('ruth@imps.test', 'Hast du das?', { xml: `<request xmlns='${NS_RECEIPTS}'/>` });
        await phone.message('wv:carol@xmpp.test'); // fetched and acknowledged (MessageDelivered)
        const receipt = await carol.waitFor((s) => s.name === 'message' && childOf(s, 'received', NS_RECEIPTS)?.attrs['id'] === id, WAIT_MS, 'a receipt');
        assert.equal(bareOf(receipt.attrs['from'] ?? ''), 'ruth@imps.test');
      }));

    test('a message to an unknown XMPP user comes back as a 531 delivery report', () =>
      withLogs(async () => {
        const phone = await new TestPhone(server, 'sam').login();
        const messageId = sentMessageId(await phone.request(sendText('wv:nobody@xmpp.test', 'Hallo?', { deliveryReport: true })));
        const report = await phone.waitFor(reportFor(messageId), 'a DeliveryReport');
        assert.equal(reportCode(report), 531, 'unknown user');
      }));

    test('presence and subscriptions: request, approve, updates and removal, both ways', () =>
      withLogs(async () => {
        const dave = await xmppUser('dave');
        const dora = await new TestPhone(server, 'dora').login();
        assertStatus(await dora.request(updateRequest('1.2', [value('OnlineStatus', 'T'), value('UserAvailability', 'AVAILABLE')])), 200, 'UpdatePresence');

        // The phone subscribes to the XMPP user, who approves; their presence follows.
        assertStatus(await dora.request(subscribeRequest('1.2', { users: ['wv:dave@xmpp.test'] })), 200, 'SubscribePresence');
        await dave.waitFor(presenceFrom('dora@imps.test', 'subscribe'), WAIT_MS, 'a subscription request');
        dave.presence({ to: 'dora@imps.test', type: 'subscribed' });
        await dora.waitFor(presenceNotice('wv:dave@xmpp.test', (l) => valueOf(l, 'OnlineStatus') === 'T'), 'dave online');
        dave.presence({ show: 'dnd', status: 'Im Zug 🚆' });
        const busy = await dora.waitFor(presenceNotice('wv:dave@xmpp.test', (l) => valueOf(l, 'StatusText') === 'Im Zug 🚆'), 'dave busy');
        assert.equal(valueOf(notified([busy], 'wv:dave@xmpp.test')[0], 'UserAvailability'), 'DISCREET', 'dnd shows as DISCREET');
        dave.presence({ show: 'chat', status: 'Da!' });
        const back = await dora.waitFor(presenceNotice('wv:dave@xmpp.test', (l) => valueOf(l, 'StatusText') === 'Da!'), 'dave back');
        assert.equal(valueOf(notified([back], 'wv:dave@xmpp.test')[0], 'UserAvailability'), 'AVAILABLE');

        // A second client of dave's: the one with the higher priority is shown, and when it
        // leaves, the first one is still online.
        const davesPhone = await xmppUser('dave');
        davesPhone.presence({ status: 'Zweitgerät', priority: 5 });
        await dora.waitFor(presenceNotice('wv:dave@xmpp.test', (l) => valueOf(l, 'StatusText') === 'Zweitgerät'), 'dave’s second client');
        davesPhone.presence({ type: 'unavailable' });
        const first = await dora.waitFor(presenceNotice('wv:dave@xmpp.test', (l) => valueOf(l, 'StatusText') === 'Da!'), 'dave’s first client again');
        assert.equal(valueOf(notified([first], 'wv:dave@xmpp.test')[0], 'OnlineStatus'), 'T', 'still online on the first client');

        // The XMPP user subscribes to the phone's user, who is asked and grants.
        dave.presence({ to: 'dora@imps.test', type: 'subscribe' });
        await dora.waitFor((p) => p.name === 'PresenceAuth-Request' && textOf(p, 'UserID') === 'wv:dave@xmpp.test', 'a PresenceAuth-Request');
        assertStatus(await dora.request(el('PresenceAuth-User', [leaf('UserID', 'wv:dave@xmpp.test'), leaf('Acceptance', true)])), 200, 'PresenceAuth-User');
        await dave.waitFor(presenceFrom('dora@imps.test', 'subscribed'), WAIT_MS, 'the approval');
        await dave.waitFor(presenceFrom('dora@imps.test'), WAIT_MS, 'dora’s presence');
        assertStatus(await dora.request(updateRequest('1.2', [value('UserAvailability', 'DISCREET'), value('StatusText', 'Beim Bäcker 🥨')])), 200, 'UpdatePresence');
        const update = await dave.waitFor((s) => presenceFrom('dora@imps.test')(s) && xmlText(childOf(s, 'status')) === 'Beim Bäcker 🥨', WAIT_MS, 'dora’s new status');
        assert.equal(xmlText(childOf(update, 'show')), 'dnd', 'DISCREET shows as dnd');
        assertStatus(await dora.request(updateRequest('1.2', [value('OnlineStatus', 'F')])), 200, 'UpdatePresence');
        await dave.waitFor(presenceFrom('dora@imps.test', 'unavailable'), WAIT_MS, 'dora offline');

        // Removal: the phone unsubscribes; the XMPP user is told.
        assertStatus(await dora.request(el('UnsubscribePresence-Request', userRefs('1.2', ['wv:dave@xmpp.test']))), 200, 'UnsubscribePresence');
        await dave.waitFor(presenceFrom('dora@imps.test', 'unsubscribe'), WAIT_MS, 'the unsubscription');
        // And the XMPP user revokes the phone user's view of them: a later presence is not shown.
        dave.presence({ to: 'dora@imps.test', type: 'unsubscribed' });
        await sleep(300);
        dave.presence({ status: 'nicht für dora' });
        await sleep(1000);
        const shown = dora.drainKept().concat(await dora.phone.drain());
        assert.deepEqual(
          notified(shown, 'wv:dave@xmpp.test').filter((l) => valueOf(l, 'StatusText') === 'nicht für dora'),
          [],
          'no presence after the subscription ended',
        );

        // Subscribing again asks the XMPP user again (their server dropped the old approval).
        assertStatus(await dora.request(subscribeRequest('1.2', { users: ['wv:dave@xmpp.test'] })), 200, 'SubscribePresence again');
        await dave.waitFor(presenceFrom('dora@imps.test', 'subscribe'), WAIT_MS, 'a new subscription request');
      }));

    test('a picture from a phone reaches the XMPP user as a working download link', () =>
      withLogs(async () => {
        const erin = await xmppUser('erin');
        const phone = await new TestPhone(server, 'paula').login();
        sentMessageId(await phone.request(picture('wv:erin@xmpp.test', 'image/png')));
        const got = await erin.waitFor(messageFrom('paula@imps.test'), WAIT_MS, 'the picture');
        const oob = xmlText(childOf(childOf(got, 'x', NS_OOB)!, 'url', NS_OOB));
        assert.ok(oob, 'the link is also given as jabber:x:oob');
        assert.ok(bodyOf(got)?.includes(oob), `the body carries the link: ${bodyOf(got)}`);
        const url = new URL(oob);
        assert.equal(url.hostname, 'imps.test', 'the link names the server by its domain');
        assert.equal(Number(url.port), server.port, 'on the HTTP port it listens on');
        assert.match(url.pathname, /^\/content\/[A-Za-z0-9_-]{32,}$/, 'an unguessable token');

        const local = new URL(url.pathname, server.url);
        const response = await request(local);
        const bytes = Buffer.from(await response.body.arrayBuffer());
        assert.equal(response.statusCode, 200);
        assert.equal(response.headers['content-type'], 'image/png');
        assert.equal(Number(response.headers['content-length']), PNG.length);
        assert.deepEqual(bytes, PNG, 'the very bytes the phone sent');

        const unknown = await request(new URL(`/content/${'x'.repeat(32)}`, server.url));
        await unknown.body.dump();
        assert.equal(unknown.statusCode, 404, 'an unknown token is not found');

        // A content type no HTTP header can carry (a non-ASCII file name) is served as bytes.
        sentMessageId(await phone.request(picture('wv:erin@xmpp.test', 'image/png; name="Dorf – 日本.png"')));
        const second = await erin.waitFor(messageFrom('paula@imps.test'), WAIT_MS, 'the second picture');
        const link = new URL(xmlText(childOf(childOf(second, 'x', NS_OOB)!, 'url', NS_OOB)));
        const served = await request(new URL(link.pathname, server.url));
        assert.equal(served.statusCode, 200);
        assert.equal(served.headers['content-type'], 'application/octet-stream');
        assert.deepEqual(Buffer.from(await served.body.arrayBuffer()), PNG);
      }));

    test('Prosody restarted: messages sent meanwhile wait, and arrive once the link is back', () =>
      withLogs(async () => {
        const phone = await linkUpFrankAway('quinn');

        await prosody.stop();
        const whileDown = ['während Prosody schläft 1', 'während Prosody schläft 2 — ü'];
        for (const text of whileDown) sentMessageId(await phone.request(sendText('wv:frank@xmpp.test', text)));
        await sleep(500);
        const down = await xmppHealth(server);
        assert.ok(down.queued >= whileDown.length, `/healthz shows them waiting: ${JSON.stringify(down)}`);
        assert.equal(down.linksOpen, 0, 'and no link up');
        await prosody.restart();

        // Frank logs in again: what Prosody took for him while he was away (offline storage), or live.
        const frank = await xmppUser('frank');
        for (const text of whileDown) await frank.waitFor(messageFrom('quinn@imps.test', text), 30_000, `"${text}"`);
        // Confirmed by Prosody, they leave the queue.
        const deadline = Date.now() + WAIT_MS;
        let up = await xmppHealth(server);
        while ((up.queued > 0 || up.linksOpen === 0) && Date.now() < deadline) {
          await sleep(100);
          up = await xmppHealth(server);
        }
        assert.deepEqual({ queued: up.queued, linksOpen: up.linksOpen }, { queued: 0, linksOpen: 1 }, 'nothing left waiting, the link up');
        // And the other way over the new link.
        frank.sendMessage('quinn@imps.test', 'wieder da ✓');
        assert.equal((await phone.message('wv:frank@xmpp.test')).text, 'wieder da ✓');
      }));

    test('Prosody crashed with our messages unread: they are written again, none lost', () =>
      withLogs(async () => {
        const phone = await linkUpFrankAway('ursula');

        // Frozen, Prosody leaves what we write in its socket unread; then it dies with it.
        prosody.freeze();
        const unread = ['ungelesen 1 ✉', 'ungelesen 2 ✉'];
        for (const text of unread) sentMessageId(await phone.request(sendText('wv:frank@xmpp.test', text)));
        await sleep(500);
        await prosody.crash();
        await prosody.restart();

        const frank = await xmppUser('frank');
        for (const text of unread) await frank.waitFor(messageFrom('ursula@imps.test', text), 30_000, `"${text}"`);
      }));

    test('a phone logging in sees its XMPP contacts as they are now, even after a Village restart (probes)', () =>
      withLogs(async () => {
        const heidi = await xmppUser('heidi');
        let olga = await new TestPhone(server, 'olga').login();
        assertStatus(await olga.request(subscribeRequest('1.2', { users: ['wv:heidi@xmpp.test'] })), 200, 'SubscribePresence');
        await heidi.waitFor(presenceFrom('olga@imps.test', 'subscribe'), WAIT_MS, 'the subscription request');
        heidi.presence({ to: 'olga@imps.test', type: 'subscribed' });
        heidi.presence({ show: 'away', status: 'Am Strand 🏖' });
        await olga.waitFor(presenceNotice('wv:heidi@xmpp.test', (l) => valueOf(l, 'StatusText') === 'Am Strand 🏖'), 'heidi’s presence');

        // A restart shows everyone offline until heard from; olga's login asks heidi's server.
        await server.stop();
        await server.restart();
        olga = await new TestPhone(server, 'olga').login();
        const now = await olga.waitFor(
          presenceNotice('wv:heidi@xmpp.test', (l) => valueOf(l, 'OnlineStatus') === 'T' && valueOf(l, 'StatusText') === 'Am Strand 🏖'),
          'heidi online again, from the probe',
        );
        assert.equal(valueOf(notified([now], 'wv:heidi@xmpp.test')[0], 'UserAvailability'), 'DISCREET', 'away shows as DISCREET');
      }));

    test('Village killed: once back, it tells XMPP watchers that our users are offline', () =>
      withLogs(async () => {
        const ivan = await xmppUser('ivan');
        const petra = await new TestPhone(server, 'petra').login();
        ivan.presence({ to: 'petra@imps.test', type: 'subscribe' });
        await petra.waitFor((p) => p.name === 'PresenceAuth-Request' && textOf(p, 'UserID') === 'wv:ivan@xmpp.test', 'a PresenceAuth-Request');
        assertStatus(await petra.request(el('PresenceAuth-User', [leaf('UserID', 'wv:ivan@xmpp.test'), leaf('Acceptance', true)])), 200, 'PresenceAuth-User');
        await ivan.waitFor(presenceFrom('petra@imps.test'), WAIT_MS, 'petra online');

        await server.kill(); // no goodbye to anyone
        await server.restart();
        await ivan.waitFor(presenceFrom('petra@imps.test', 'unavailable'), WAIT_MS, 'petra offline after the restart');
      }));

    test('Village restarted: the links come back both ways', () =>
      withLogs(async () => {
        const grace = await xmppUser('grace');
        await server.stop();
        await server.restart();
        const phone = await new TestPhone(server, 'vera').login();
        // Prosody's stream to the old process is gone: it must connect anew.
        grace.sendMessage('vera@imps.test', 'nach dem Neustart ✓');
        assert.equal((await phone.message('wv:grace@xmpp.test', 'the message over a new inbound link')).text, 'nach dem Neustart ✓');
        sentMessageId(await phone.request(sendText('wv:grace@xmpp.test', 'und zurück ✓')));
        await grace.waitFor(messageFrom('vera@imps.test', 'und zurück ✓'), WAIT_MS, 'the message over a new outbound link');
      }));

    if (mode === 'plain') {
      test('a peer whose dialback key its domain does not confirm is refused', () =>
        withLogs(async () => {
          const phone = await new TestPhone(server, 'wendy').login();
          const peer = await rawS2s(villagePort);
          peer.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='xmpp.test' to='imps.test' version='1.0'>`);
          await peer.until(/<\/stream:features>/, 'the stream features');
          assert.match(peer.text, /<stream:stream[^>]*\sid=['"][^'"]+['"]/, 'our header carries an id');
          assert.match(peer.text, /xmlns:db=['"]jabber:server:dialback['"]/, 'and the dialback namespace');
          assert.match(peer.text, /<dialback xmlns=['"]urn:xmpp:features:dialback['"]/, 'dialback is offered');
          peer.send(`<db:result from='xmpp.test' to='imps.test'>${'0'.repeat(64)}</db:result>`);
          await peer.until(/type=['"]invalid['"]/, 'the refusal');
          await peer.until(/not-authorized/, 'a stream error');
          await peer.closed();
          // Nothing such a peer sends reaches a phone.
          assert.equal(peer.write(`<message from='bob@xmpp.test' to='wendy@imps.test' type='chat'><body>forged</body></message>`), false, 'the connection is closed');
          await sleep(300);
          assert.deepEqual((await phone.phone.receiveAll()).map((m) => m.text), []);
        }));

      test('a pre-1.0 peer (no version, no features) is answered with a header and an id', () =>
        withLogs(async () => {
          const peer = await rawS2s(villagePort);
          peer.send(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='imps.test'>`);
          await peer.until(/<stream:stream[^>]*>/, 'our header');
          await sleep(200);
          assert.match(peer.text, /\sid=['"][^'"]+['"]/, 'an id');
          assert.doesNotMatch(peer.text, /<stream:stream[^>]*\sversion=/, 'no version for a version-less peer');
          assert.doesNotMatch(peer.text, /features/, 'no features for a pre-1.0 peer');
          peer.destroy();
        }));
    }

    if (mode === 'secure') {
      test('Village with a certificate from an untrusted CA is refused by a secure Prosody', () =>
        withLogs(async () => {
          await server.dispose();
          server = await TestServer.start({ config: villageConfig(mode, villagePort, prosody.s2sPort, pki.untrusted.imps) });
          const bob = await xmppUser('bob');
          const phone = await new TestPhone(server, 'mallory').login();
          // Prosody will not accept our stream to it (no valid certificate, no dialback allowed)...
          sentMessageId(await phone.request(sendText('wv:bob@xmpp.test', 'darf nicht ankommen')));
          // ...nor its stream to us: Bob's message bounces.
          bob.sendMessage('mallory@imps.test', 'auch nicht');
          const bounced = await bob.waitFor((s) => s.name === 'message' && s.attrs['type'] === 'error' && bareOf(s.attrs['from'] ?? '') === 'mallory@imps.test', 30_000, 'an error for the message');
          assert.ok(childOf(bounced, 'error'), 'an error stanza');
          await sleep(1000);
          assert.equal(bob.received.filter((s) => bodyOf(s) === 'darf nicht ankommen').length, 0, 'the phone’s message did not get through');
          assert.deepEqual((await phone.phone.receiveAll()).map((m) => m.text), [], 'nor did Bob’s');
          await logEntry(server, 'XMPP link failed');
          assert.match(prosody.logText(), /certificate/i, 'Prosody refused over the certificate');
        }));
    }
  });
}

function sendText(to: string, text: string, extra: { deliveryReport?: boolean } = {}): CspElement {
  return el('SendMessage-Request', [
    leaf('DeliveryReport', extra.deliveryReport ?? false),
    el('MessageInfo', [leaf('ContentType', 'text/plain'), leaf('ContentSize', Buffer.byteLength(text, 'utf8')), el('Recipient', [el('User', [leaf('UserID', to)])])]),
    leaf('ContentData', text),
  ]);
}

/**
 * The server's first log entry with this message, waiting for it: the server's stdout reaches
 * us on a pipe of its own, so a line can come after what its sockets did right after it.
 */
async function logEntry(server: TestServer, msg: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const entry = server.logEntries().find((e) => e['msg'] === msg);
    if (entry) return entry;
    if (Date.now() > deadline) throw new Error(`the server logged no "${msg}" within ${WAIT_MS} ms`);
    await sleep(20);
  }
}

/** The xmpp part of /healthz. */
async function xmppHealth(server: TestServer): Promise<{ linksOpen: number; linksPending: number; queued: number; incoming: number }> {
  const res = await request(new URL('/healthz', server.url));
  const body = (await res.body.json()) as { xmpp: { linksOpen: number; linksPending: number; queued: number; incoming: number } };
  return body.xmpp;
}

/** A SendMessage of the PNG, BASE64, under the given ContentType. */
function picture(to: string, contentType: string): CspElement {
  return el('SendMessage-Request', [
    leaf('DeliveryReport', false),
    el('MessageInfo', [
      leaf('ContentType', contentType),
      leaf('ContentEncoding', 'BASE64'),
      leaf('ContentSize', PNG.length),
      el('Recipient', [el('User', [leaf('UserID', to)])]),
    ]),
    leaf('ContentData', PNG.toString('base64')),
  ]);
}

/** A raw TCP connection to Village's s2s port, for what no well-behaved server would send. */
async function rawS2s(port: number) {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let isClosed = false;
  socket.on('data', (chunk: string) => (text += chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.on('close', () => ((isClosed = true), resolve())));
  return {
    get text() {
      return text;
    },
    send: (data: string) => void socket.write(data),
    write: (data: string) => !isClosed && !socket.destroyed && socket.write(data),
    async until(pattern: RegExp, what: string, timeoutMs = WAIT_MS) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; received: ${text}`);
        await sleep(25);
      }
    },
    closed: () => withTimeoutPromise(closed, WAIT_MS, 'Village did not close the connection'),
    destroy: () => socket.destroy(),
  };
}

function withTimeoutPromise(promise: Promise<void>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

describe('XMPP federation with a Prosody whose certificate Village cannot validate', () => {
  let villagePort: number;
  let prosody: Prosody;
  let server: TestServer;
  let bob: XmppUser | undefined;

  before(async () => {
    [villagePort] = (await freePorts(1)) as [number];
    // Prosody presents a certificate from a CA Village does not trust (it trusts ours, though).
    prosody = await Prosody.start({ mode: 'starttls-optional', villageS2sPort: villagePort, users: XMPP_USERS, pki: { ...pki, xmpp: pki.untrusted.xmpp } });
    server = await TestServer.start({ config: villageConfig('starttls-optional', villagePort, prosody.s2sPort, pki.imps) });
  });

  after(async () => {
    await bob?.close().catch(() => {});
    await server?.dispose();
    await prosody?.dispose();
  });

  test('its stream to us gets no SASL EXTERNAL, only dialback; ours to it still uses our valid certificate', async () => {
    bob = await connectXmppUser({ port: prosody.c2sPort, domain: 'xmpp.test', username: 'bob', password: PASSWORD });
    const phone = await new TestPhone(server, 'alice').login();
    bob.sendMessage('alice@imps.test', 'über Dialback');
    assert.equal((await phone.message('wv:bob@xmpp.test')).text, 'über Dialback');
    sentMessageId(await phone.request(sendText('wv:bob@xmpp.test', 'über EXTERNAL')));
    await bob.waitFor(messageFrom('alice@imps.test', 'über EXTERNAL'), WAIT_MS, 'alice’s message');

    assert.equal((await logEntry(server, 'XMPP peer authenticated'))['method'], 'dialback', 'Prosody’s stream to us');
    assert.equal((await logEntry(server, 'XMPP link up'))['method'], 'sasl-external', 'our stream to Prosody');
  });
});
