// IMPS groups as XMPP MUC rooms end to end (issue 8, the XEP-0045 subset README maps): phones
// on Village's imps.test and a user on a real Prosody's xmpp.test (plain dialback: the security
// modes are the federation suite's business) share one group over real sockets.
//
// Covered: joining with <presence to='room/nick'> (the occupants' presences, the self-presence
// with status 110, the Topic as <subject>); phones told of the join and the leave
// (GroupChangeNotice); a phone's group message (non-ASCII) as groupchat from room/screen-name;
// the XMPP user's groupchat reaching the phones under the nickname (and reflected to its
// sender); private messages both ways (room/nick → phone, phone → nick); a picture sent to the
// group as a download link; the occupant staying past the rejoin grace (it has no session) and
// across a restart of Village (its full JID is kept); a
// phone leaving as unavailable occupant presence; leaving with unavailable presence (own
// unavailable presence, 110; sending afterwards refused); a groupchat to a room that does not
// exist (item-not-found). Missing Prosody fails; nothing here skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { TestServer } from '../support/server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { Prosody, freePorts } from '../support/prosody.ts';
import { bodyOf, childOf, connectXmppUser, textOf as xmlText, type StanzaPredicate, type XmlElement, type XmppUser } from '../support/xmpp-client.ts';
import { child, el, leaf, textOf, type CspElement } from '../../src/csp/tree.ts';
import { assertStatus, changeNotices, createGroupRequest, groupMessageRequest, joinedIn, joinGroupRequest, leaveGroupRequest, leftIn, newMessages } from '../support/groups.ts';

const WAIT_MS = 15_000;
/** groups.rejoinGrace for this server: short, so the suite sees an XMPP occupant outlast it. */
const REJOIN_GRACE_S = 3;
const PASSWORD = 'muc-pw';
const NS_MUC = 'http://jabber.org/protocol/muc';
const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

const GROUP = 'wv:alice/club@imps.test';
const ROOM = 'alice~club@imps.test';
const TOPIC = 'Über den Gartenzaun ✿';
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082', 'hex');

// ── Reading what arrives ─────────────────────────────────────────────────────────────────────

/** A presence from room/nick (available unless `type`). */
const occupantPresence = (nick: string, type?: string): StanzaPredicate => (s) => s.name === 'presence' && s.attrs['from'] === `${ROOM}/${nick}` && s.attrs['type'] === type;

/** The muc#user status codes of a presence. */
function statusCodes(presence: XmlElement): string[] {
  const x = childOf(presence, 'x', NS_MUC_USER);
  return (x?.children ?? []).filter((c): c is XmlElement => typeof c !== 'string' && c.name === 'status').map((s) => s.attrs['code'] ?? '');
}

const mucItem = (presence: XmlElement) => childOf(childOf(presence, 'x', NS_MUC_USER) ?? presence, 'item', NS_MUC_USER);

/** The stanza error condition of an error stanza. */
function errorCondition(stanza: XmlElement): string | undefined {
  const error = childOf(stanza, 'error');
  return error?.children.find((c): c is XmlElement => typeof c !== 'string' && c.xmlns === NS_STANZAS && c.name !== 'text')?.name;
}

interface GroupMessage {
  from: string;
  /** The recipient's screen name for a private message; undefined when it went to the group. */
  to: string | undefined;
  groupId: string;
  text: string;
}

/** NewMessages addressed to a group (Sender and Recipient are Group elements). */
function groupMessagesIn(got: CspElement[]): GroupMessage[] {
  return newMessages(got).map((m) => {
    const info = child(m, 'MessageInfo');
    const sender = child(child(child(info, 'Sender'), 'Group'), 'ScreenName');
    const recipient = child(child(info, 'Recipient'), 'Group');
    const toScreen = child(recipient, 'ScreenName');
    return {
      from: textOf(sender, 'SName') ?? '',
      to: toScreen ? textOf(toScreen, 'SName') : undefined,
      groupId: textOf(toScreen ?? recipient, 'GroupID') ?? '',
      text: child(m, 'ContentData')?.text ?? '',
    };
  });
}

/**
 * Drain a phone (acknowledging everything) until what it received satisfies `done`; what
 * arrives over s2s takes a moment. Returns everything received.
 */
async function drainUntil(phone: Phone, done: (got: CspElement[]) => boolean, what: string): Promise<CspElement[]> {
  const got: CspElement[] = [];
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    got.push(...(await phone.drain()));
    if (done(got)) return got;
    if (Date.now() > deadline) assert.fail(`${what}: not received within ${WAIT_MS} ms; got ${got.map((p) => p.name).join(', ') || 'nothing'}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SendMessage, asserting a SendMessage-Response with 200. */
async function sent(phone: Phone, primitive: CspElement, what: string): Promise<void> {
  const { primitive: answer } = await phone.request(primitive);
  assert.equal(answer.name, 'SendMessage-Response', `${what}: ${answer.name}`);
  assert.equal(resultCode(answer), 200, `${what}: ${textOf(child(answer, 'Result'), 'Description') ?? ''}`);
}

async function loggedIn(server: TestServer, name: string): Promise<Phone> {
  const phone = new Phone(server, { version: '1.2' });
  assert.equal(resultCode(await phone.loginPassword(name, 'pw')), 200, `${name} logs in`);
  return phone;
}

function groupPictureRequest(bytes: Buffer): CspElement {
  return el('SendMessage-Request', [
    leaf('DeliveryReport', false),
    el('MessageInfo', [
      leaf('ContentType', 'image/png'),
      leaf('ContentEncoding', 'BASE64'),
      leaf('ContentSize', bytes.length),
      el('Recipient', [el('Group', [leaf('GroupID', GROUP)])]),
    ]),
    leaf('ContentData', bytes.toString('base64')),
  ]);
}

// ── The suite ────────────────────────────────────────────────────────────────────────────────

describe('IMPS groups as XMPP MUC rooms, with a real Prosody', () => {
  let prosody: Prosody;
  let server: TestServer;
  let bob: XmppUser;
  let alice: Phone;
  let dave: Phone;
  let startedAt: number;
  let bobJoinedAt: number;

  before(async () => {
    const [villagePort] = await freePorts(1);
    prosody = await Prosody.start({ mode: 'plain', villageS2sPort: villagePort!, users: [{ name: 'bob', password: PASSWORD }] });
    server = await TestServer.start({
      config: {
        domains: ['imps.test'],
        groups: { rejoinGrace: REJOIN_GRACE_S },
        xmpp: { host: '127.0.0.1', port: villagePort, routes: { 'xmpp.test': `127.0.0.1:${prosody.s2sPort}` } },
      },
    });
    startedAt = Date.now();
    bob = await connectXmppUser({ port: prosody.c2sPort, domain: 'xmpp.test', username: 'bob', password: PASSWORD });
    alice = await loggedIn(server, 'alice');
    dave = await loggedIn(server, 'dave');
    const created = await alice.request(createGroupRequest(GROUP, { props: [['Name', 'Der Klub'], ['Topic', TOPIC]], join: true, screenName: 'Alice', subscribe: true }));
    assertStatus(created.primitive, 200, 'CreateGroup');
    const joined = await dave.request(joinGroupRequest('1.2', GROUP, { screenName: 'Dave', subscribe: true }));
    assert.equal(joined.primitive.name, 'JoinGroup-Response', `Dave joins: ${resultCode(joined.primitive)}`);
    await alice.drain();
  });

  after(async () => {
    await bob?.close();
    await server?.dispose();
    await prosody?.dispose();
  });

  /** On failure, what the server logged about XMPP is the likeliest clue. */
  async function withLogs(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      const xmpp = server.logs.filter((l) => /xmpp|XMPP|group|stanza/.test(l)).slice(-20).join('\n');
      throw Object.assign(err as Error, { message: `${(err as Error).message}\n── village log ──\n${xmpp}\n── prosody log ──\n${prosody.logTail?.(20) ?? ''}` });
    }
  }

  test('an XMPP user joins: the occupants, its own presence (110), the Topic as subject; phones are told', () =>
    withLogs(async () => {
      bob.send(`<presence to='${ROOM}/Bob'><x xmlns='${NS_MUC}'/></presence>`);
      const ofAlice = await bob.waitFor(occupantPresence('Alice'), WAIT_MS, 'Alice as an occupant');
      assert.deepEqual({ ...mucItem(ofAlice)?.attrs }, { affiliation: 'owner', role: 'moderator' }, 'the group admin is the room owner');
      const ofDave = await bob.waitFor(occupantPresence('Dave'), WAIT_MS, 'Dave as an occupant');
      assert.equal(mucItem(ofDave)?.attrs['role'], 'participant');
      assert.deepEqual(statusCodes(ofAlice), [], 'another occupant is not marked as self');
      const self = await bob.waitFor(occupantPresence('Bob'), WAIT_MS, 'its own presence');
      bobJoinedAt = Date.now();
      assert.ok(statusCodes(self).includes('110'), `the self-presence carries status 110: ${JSON.stringify(self)}`);
      const subject = await bob.waitFor((s) => s.name === 'message' && s.attrs['from'] === ROOM && childOf(s, 'subject') !== undefined, WAIT_MS, 'the subject');
      assert.equal(subject.attrs['type'], 'groupchat');
      assert.equal(xmlText(childOf(subject, 'subject')), TOPIC, 'the Topic is the subject');
      const order = bob.received.filter((s) => [ofAlice, ofDave, self, subject].includes(s));
      assert.deepEqual(order, [ofAlice, ofDave, self, subject], 'occupants first, then self, then the subject (XEP-0045 §7.2)');

      for (const [phone, name] of [[alice, 'Alice'], [dave, 'Dave']] as const) {
        const got = await drainUntil(phone, (g) => changeNotices(g, GROUP).some((n) => joinedIn('1.2', n).some((j) => j.sname === 'Bob')), `${name}'s GroupChangeNotice`);
        const joined = changeNotices(got, GROUP).flatMap((n) => joinedIn('1.2', n));
        assert.deepEqual(joined.map((j) => j.sname), ['Bob'], `${name} sees Bob join, under his nickname`);
      }
    }));

  test("a phone's group message reaches the XMPP user as groupchat from room/screen-name", () =>
    withLogs(async () => {
      const text = 'Grüße an alle ✓ — こんにちは';
      await sent(alice, groupMessageRequest(GROUP, text, { from: 'Alice' }), 'the group message');
      const got = await bob.waitFor((s) => s.name === 'message' && s.attrs['from'] === `${ROOM}/Alice` && bodyOf(s) === text, WAIT_MS, 'the group message');
      assert.equal(got.attrs['type'], 'groupchat');
      assert.equal(got.attrs['to'], bob.jid, 'to the resource that joined');
      const atDave = groupMessagesIn(await dave.drain());
      assert.deepEqual(atDave, [{ from: 'Alice', to: undefined, groupId: GROUP, text }], 'the phones get it as before');
    }));

  test("the XMPP user's groupchat reaches the phones under its nickname, and is reflected to it", () =>
    withLogs(async () => {
      const text = 'Hallo aus XMPP ☺ ½';
      const id = bob.sendMessage(ROOM, text, { type: 'groupchat' });
      const reflected = await bob.waitFor((s) => s.name === 'message' && s.attrs['from'] === `${ROOM}/Bob`, WAIT_MS, 'the reflection');
      assert.equal(bodyOf(reflected), text);
      assert.equal(reflected.attrs['id'], id, 'the reflection keeps the id');
      assert.equal(reflected.attrs['type'], 'groupchat');
      for (const [phone, name] of [[alice, 'Alice'], [dave, 'Dave']] as const) {
        const got = groupMessagesIn(await drainUntil(phone, (g) => groupMessagesIn(g).length > 0, `the groupchat at ${name}`));
        assert.deepEqual(got, [{ from: 'Bob', to: undefined, groupId: GROUP, text }], `${name} sees Bob's message in the group`);
      }
    }));

  test('a private message to room/nick reaches that phone alone; a phone answers the nickname privately', () =>
    withLogs(async () => {
      const text = 'Nur für dich, Dave';
      bob.sendMessage(`${ROOM}/Dave`, text, { type: 'chat' });
      const got = groupMessagesIn(await drainUntil(dave, (g) => groupMessagesIn(g).length > 0, 'the private message at Dave'));
      assert.deepEqual(got, [{ from: 'Bob', to: 'Dave', groupId: GROUP, text }], 'a private message inside the group');
      assert.deepEqual(groupMessagesIn(await alice.drain()), [], 'Alice does not see it');

      const answer = 'Danke, Bob';
      await sent(dave, groupMessageRequest(GROUP, answer, { to: 'Bob', from: 'Dave' }), 'the private answer');
      const back = await bob.waitFor((s) => s.name === 'message' && s.attrs['from'] === `${ROOM}/Dave` && bodyOf(s) === answer, WAIT_MS, 'the private answer');
      assert.equal(back.attrs['type'], 'chat', 'a private message in a room is type chat');
      assert.ok(childOf(back, 'x', NS_MUC_USER), 'marked as from a room occupant');
      assert.deepEqual(groupMessagesIn(await alice.drain()), [], 'Alice does not see the answer either');
    }));

  test('a picture sent to the group is a download link for the XMPP user', () =>
    withLogs(async () => {
      await sent(alice, groupPictureRequest(PNG), 'the picture');
      const got = await bob.waitFor((s) => s.name === 'message' && s.attrs['from'] === `${ROOM}/Alice` && /content\//.test(bodyOf(s) ?? ''), WAIT_MS, 'the picture');
      assert.equal(got.attrs['type'], 'groupchat');
      const link = /https?:\/\/\S+\/content\/[A-Za-z0-9_-]{32,}/.exec(bodyOf(got)!)?.[0];
      assert.ok(link, `the body carries a download link: ${bodyOf(got)}`);
      const response = await request(new URL(new URL(link).pathname, server.url));
      const bytes = Buffer.from(await response.body.arrayBuffer());
      assert.equal(response.statusCode, 200);
      assert.equal(response.headers['content-type'], 'image/png');
      assert.deepEqual(bytes, PNG, 'the very bytes the phone sent');
      const atDave = newMessages(await dave.drain());
      assert.equal(atDave.length, 1, 'the phone gets the picture itself');
      assert.equal(textOf(child(atDave[0], 'MessageInfo'), 'ContentType'), 'image/png');
    }));

  test('an XMPP occupant outlasts the rejoin grace (it has no session here, yet it is there)', () =>
    withLogs(async () => {
      const graceEnds = startedAt + REJOIN_GRACE_S * 1000;
      assert.ok(bobJoinedAt < graceEnds, `Bob joined ${bobJoinedAt - startedAt} ms after the start, before the grace ended: else this proves nothing`);
      await new Promise((r) => setTimeout(r, Math.max(0, graceEnds + 500 - Date.now())));
      const text = 'immer noch da';
      bob.sendMessage(ROOM, text, { type: 'groupchat' });
      const got = await drainUntil(alice, (g) => groupMessagesIn(g).length > 0, 'the groupchat after the grace');
      assert.deepEqual(groupMessagesIn(got), [{ from: 'Bob', to: undefined, groupId: GROUP, text }], 'Bob is still in the group');
      assert.ok(!changeNotices(got, GROUP).some((n) => leftIn('1.2', n).includes('Bob')), 'nobody saw Bob leave');
      await dave.drain();
    }));

  test('Village restarted: the XMPP occupant is still in the room, past the new grace, at its own resource', () =>
    withLogs(async () => {
      await server.stop();
      await server.restart();
      startedAt = Date.now();
      alice = await loggedIn(server, 'alice');
      dave = await loggedIn(server, 'dave');
      for (const [phone, name] of [[alice, 'Alice'], [dave, 'Dave']] as const) {
        const rejoined = await phone.request(joinGroupRequest('1.2', GROUP, { screenName: name, subscribe: true }));
        assert.equal(rejoined.primitive.name, 'JoinGroup-Response', `${name} is back in the group: ${resultCode(rejoined.primitive)}`);
      }
      await new Promise((r) => setTimeout(r, REJOIN_GRACE_S * 1000 + 500));
      // A groupchat to a bare JID is not delivered (RFC 6121 §8.5.2.1.1): this arrives only if
      // Village kept the full JID Bob joined from.
      const text = 'nach dem Neustart ✓';
      await sent(alice, groupMessageRequest(GROUP, text, { from: 'Alice' }), 'the group message');
      const got = await bob.waitFor((s) => s.name === 'message' && s.attrs['from'] === `${ROOM}/Alice` && bodyOf(s) === text, WAIT_MS, 'the group message after the restart');
      assert.equal(got.attrs['to'], bob.jid);
      const back = 'ich bin noch da';
      bob.sendMessage(ROOM, back, { type: 'groupchat' });
      const atAlice = await drainUntil(alice, (g) => groupMessagesIn(g).some((m) => m.text === back), 'Bob’s groupchat after the restart');
      assert.ok(!changeNotices(atAlice, GROUP).some((n) => leftIn('1.2', n).includes('Bob')), 'nobody saw Bob leave');
      await dave.drain();
    }));

  test('a phone leaving shows as unavailable occupant presence', () =>
    withLogs(async () => {
      const left = await dave.request(leaveGroupRequest(GROUP));
      assert.equal(resultCode(left.primitive), 200, 'Dave leaves');
      const gone = await bob.waitFor(occupantPresence('Dave', 'unavailable'), WAIT_MS, "Dave's unavailable presence");
      assert.equal(mucItem(gone)?.attrs['role'], 'none', 'no role any more');
      assert.deepEqual(statusCodes(gone), [], 'not marked as self');
    }));

  test('the XMPP user leaves: its own unavailable presence (110), the phones told, sending refused afterwards', () =>
    withLogs(async () => {
      bob.send(`<presence to='${ROOM}/Bob' type='unavailable'/>`);
      const self = await bob.waitFor(occupantPresence('Bob', 'unavailable'), WAIT_MS, 'its own unavailable presence');
      assert.ok(statusCodes(self).includes('110'), `marked as self: ${JSON.stringify(self)}`);
      const got = await drainUntil(alice, (g) => changeNotices(g, GROUP).some((n) => leftIn('1.2', n).includes('Bob')), "Alice's GroupChangeNotice");
      assert.ok(changeNotices(got, GROUP).some((n) => leftIn('1.2', n).includes('Bob')), 'Alice sees Bob leave');

      const id = bob.sendMessage(ROOM, 'noch da?', { type: 'groupchat' });
      const refused = await bob.waitFor((s) => s.name === 'message' && s.attrs['id'] === id && s.attrs['type'] === 'error', WAIT_MS, 'the refusal');
      assert.equal(refused.attrs['from'], ROOM);
      assert.equal(errorCondition(refused), 'not-acceptable', 'an occupant no more (808)');
      assert.deepEqual(groupMessagesIn(await alice.drain()), [], 'nothing reaches the phones');
    }));

  test('a groupchat to a room that does not exist gets item-not-found', () =>
    withLogs(async () => {
      const id = bob.sendMessage('nobody~nothing@imps.test', 'hallo?', { type: 'groupchat' });
      const error = await bob.waitFor((s) => s.name === 'message' && s.attrs['id'] === id, WAIT_MS, 'the error');
      assert.equal(error.attrs['type'], 'error');
      assert.equal(error.attrs['from'], 'nobody~nothing@imps.test');
      assert.equal(errorCondition(error), 'item-not-found');
    }));
});
