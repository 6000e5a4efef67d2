// Invitations over real HTTP (reference imps-csp.md §3.2): Invite-Request → InviteUser-Request
// to each invitee (a durable notice: an invitee who is offline gets it at login) →
// InviteUser-Response (1.1 without Sender, 1.2+ with it) → Invite-Response to the inviter, with
// Acceptance and ResponseNote. What acceptance does: GR / GM make the invitee a member of a
// restricted group (JoinGroup 431 before, 200 after), PR lets the inviter see the invitee's
// presence (the attributes asked for). SC carries its URLList through. CancelInvite-Request →
// CancelInviteUser-Request; a later answer, an unknown InviteID or an expired invitation
// gets 423. Unknown invitees get 531 (in a 201 when others were invited).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharedServer } from '../support/shared-server.ts';
import { detailedResults, resultCode, type Phone } from '../support/phone.ts';
import { MATRIX, type Variant } from '../support/matrix.ts';
import { assertStatus, presenceKit, selectors, value, valueOf, namesOf } from '../support/presence.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';

// ── Requests ─────────────────────────────────────────────────────────────────────────────

interface InviteSpec {
  id: string;
  type: string;
  to: string[];
  groupId?: string;
  attributes?: string[];
  urls?: string[];
  note?: string;
  screenName?: { sName: string; groupId: string };
  validity?: number;
}

const urlList = (urls: string[] | undefined) => (urls ? el('URLList', urls.map((u) => leaf('URL', u))) : undefined);
const recipient = (to: string[]) => el('Recipient', to.map((u) => el('User', [leaf('UserID', u)])));

function inviteRequest(version: CspVersion, o: InviteSpec): CspElement {
  return el('Invite-Request', [
    leaf('InviteID', o.id),
    leaf('InviteType', o.type),
    recipient(o.to),
    leaf('GroupID', o.groupId),
    o.attributes ? selectors(version, o.attributes) : undefined,
    urlList(o.urls),
    leaf('InviteNote', o.note),
    o.screenName ? el('ScreenName', [leaf('SName', o.screenName.sName), leaf('GroupID', o.screenName.groupId)]) : undefined,
    leaf('Validity', o.validity),
  ]);
}

/** InviteUser-Response: 1.1 names no Sender; 1.2+ name the inviter in Sender. */
function inviteUserResponse(version: CspVersion, o: { id: string; accept: boolean; inviter: string; note?: string }): CspElement {
  return el('InviteUser-Response', [
    leaf('InviteID', o.id),
    leaf('Acceptance', o.accept),
    version === '1.1' ? undefined : el('Sender', [el('User', [leaf('UserID', o.inviter)])]),
    leaf('ResponseNote', o.note),
  ]);
}

/** CancelInvite-Request: Recipient is mandatory in 1.1, optional (everyone pending) from 1.2 on. */
function cancelInviteRequest(o: { id: string; to?: string[]; note?: string; urls?: string[] }): CspElement {
  return el('CancelInvite-Request', [leaf('InviteID', o.id), o.to ? recipient(o.to) : undefined, leaf('InviteNote', o.note), urlList(o.urls)]);
}

function createGroupRequest(groupId: string, accessType: 'Open' | 'Restricted'): CspElement {
  return el('CreateGroup-Request', [
    leaf('GroupID', groupId),
    el('GroupProperties', [el('Property', [leaf('Name', 'Name'), leaf('Value', 'The Den')]), el('Property', [leaf('Name', 'AccessType'), leaf('Value', accessType)])]),
    leaf('JoinGroup', false),
    leaf('SubscribeNotification', false),
  ]);
}

const joinGroupRequest = (groupId: string) => el('JoinGroup-Request', [leaf('GroupID', groupId), leaf('JoinedRequest', false), leaf('SubscribeNotification', false)]);

// ── Reading what phones receive ──────────────────────────────────────────────────────────

const named = (got: CspElement[], name: string, inviteId: string) => got.filter((p) => p.name === name && textOf(p, 'InviteID') === inviteId);
const senderOf = (p: CspElement | undefined) => textOf(child(child(p, 'Sender'), 'User'), 'UserID');
const urlsOf = (p: CspElement | undefined) => childrenNamed(child(p, 'URLList'), 'URL').map((u) => textOf(u));

/** The one primitive of this name and InviteID among what a phone received. */
function theOne(got: CspElement[], name: string, inviteId: string): CspElement {
  const found = named(got, name, inviteId);
  assert.equal(found.length, 1, `one ${name} for ${inviteId} (got ${got.map((p) => p.name).join(', ') || 'nothing'})`);
  return found[0]!;
}

// ── The suite ────────────────────────────────────────────────────────────────────────────

function invitationKit(server: () => { url: string }, variant: Variant) {
  const { version } = variant;
  const kit = presenceKit(server, variant);
  const { wv } = kit;

  const invite = async (inviter: Phone, o: InviteSpec, code = 200) => {
    const { primitive } = await inviter.request(inviteRequest(version, o));
    assertStatus(primitive, code, `Invite-Request ${o.id}`);
    return primitive;
  };
  const answer = async (invitee: Phone, o: { id: string; accept: boolean; inviter: string; note?: string }, code = 200) => {
    const { primitive } = await invitee.request(inviteUserResponse(version, { ...o, inviter: wv(o.inviter) }));
    assertStatus(primitive, code, `InviteUser-Response ${o.id}`);
  };
  /** A group id owned by `owner`, as the server spells group ids (always with the domain). */
  const gid = (owner: string, name: string) => `wv:${kit.user(owner)}/${name}@imps.test`;
  return { ...kit, invite, answer, gid };
}

describe('invitations', () => {
  // Expired invitations are swept every second.
  const server = sharedServer({ config: { messages: { sweepInterval: 1 } } });

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, wv, online, loggedIn, invite, answer, gid, update, presenceOf } = invitationKit(server, variant);

    describe(label, () => {
      test('IM invitation accepted, another declined: the invitee gets InviteUser-Request, the inviter Invite-Response with Acceptance and ResponseNote; a second answer gets 423', async () => {
        const [alice, bob] = await online('im-alice', 'im-bob');
        await invite(alice!, { id: 'im-1', type: 'IM', to: [wv('im-bob')], note: 'Shall we talk?' });
        const got = theOne(await bob!.drain(), 'InviteUser-Request', 'im-1');
        assert.equal(textOf(got, 'InviteType'), 'IM');
        assert.equal(senderOf(got), wv('im-alice'), 'Sender is the inviter');
        assert.equal(textOf(got, 'InviteNote'), 'Shall we talk?');
        assert.ok(Number(textOf(got, 'Validity')) > 0, 'the invitation says how long it is valid');

        await answer(bob!, { id: 'im-1', accept: true, inviter: 'im-alice', note: 'Gladly' });
        const yes = theOne(await alice!.drain(), 'Invite-Response', 'im-1');
        assert.equal(textOf(yes, 'Acceptance'), 'T');
        assert.equal(senderOf(yes), wv('im-bob'), 'Sender of Invite-Response is the invitee');
        assert.equal(textOf(yes, 'ResponseNote'), 'Gladly');
        await answer(bob!, { id: 'im-1', accept: false, inviter: 'im-alice' }, 423);
        assert.deepEqual(named(await alice!.drain(), 'Invite-Response', 'im-1'), [], 'an answer refused with 423 is not relayed');

        await invite(alice!, { id: 'im-2', type: 'IM', to: [wv('im-bob')] });
        theOne(await bob!.drain(), 'InviteUser-Request', 'im-2');
        await answer(bob!, { id: 'im-2', accept: false, inviter: 'im-alice', note: 'Busy, sorry' });
        const no = theOne(await alice!.drain(), 'Invite-Response', 'im-2');
        assert.equal(textOf(no, 'Acceptance'), 'F');
        assert.equal(senderOf(no), wv('im-bob'));
        assert.equal(textOf(no, 'ResponseNote'), 'Busy, sorry');
      });

      test('an invitee offline at invite time gets the InviteUser-Request at login; an inviter offline at answer time gets the Invite-Response at login', async () => {
        const carolFirst = await loggedIn('off-carol');
        await carolFirst.logout();
        const alice = await loggedIn('off-alice');
        await invite(alice, { id: 'off-1', type: 'IM', to: [wv('off-carol')], note: 'When you are back' });
        await alice.logout();

        const carol = await loggedIn('off-carol');
        const got = theOne(await carol.drain(), 'InviteUser-Request', 'off-1');
        assert.equal(senderOf(got), wv('off-alice'));
        assert.equal(textOf(got, 'InviteNote'), 'When you are back');
        assert.deepEqual(named(await carol.drain(), 'InviteUser-Request', 'off-1'), [], 'answered with Status 200, it is not offered again');
        await answer(carol, { id: 'off-1', accept: true, inviter: 'off-alice', note: 'I am back' });

        const aliceAgain = await loggedIn('off-alice');
        const yes = theOne(await aliceAgain.drain(), 'Invite-Response', 'off-1');
        assert.equal(textOf(yes, 'Acceptance'), 'T');
        assert.equal(textOf(yes, 'ResponseNote'), 'I am back');
      });

      test('GR invitation to a restricted group: JoinGroup 431 before, the invitee becomes a member on accepting and joins; only admins and moderators may invite into it (816); no such group 800', async () => {
        const [alice, bob, carol] = await online('gr-alice', 'gr-bob', 'gr-carol');
        const den = gid('gr-alice', 'den');
        const created = (await alice!.request(createGroupRequest(den, 'Restricted'))).primitive;
        assertStatus(created, 200, 'CreateGroup');
        assert.equal(resultCode((await bob!.request(joinGroupRequest(den))).primitive), 431, 'a non-member cannot join a restricted group');

        await invite(carol!, { id: 'gr-0', type: 'GR', to: [wv('gr-bob')], groupId: den }, 816);
        await invite(alice!, { id: 'gr-x', type: 'GR', to: [wv('gr-bob')], groupId: gid('gr-alice', 'nowhere') }, 800);
        await invite(alice!, { id: 'gr-y', type: 'GR', to: [wv('gr-bob')] }, 402);

        await invite(alice!, { id: 'gr-1', type: 'GR', to: [wv('gr-bob')], groupId: den, screenName: { sName: 'Ali', groupId: den }, note: 'Come in' });
        const got = theOne(await bob!.drain(), 'InviteUser-Request', 'gr-1');
        assert.equal(textOf(got, 'InviteType'), 'GR');
        assert.equal(textOf(got, 'GroupID'), den);
        assert.equal(textOf(child(got, 'ScreenName'), 'SName'), 'Ali', 'the inviter’s screen name is passed on');
        assert.equal(textOf(child(got, 'ScreenName'), 'GroupID'), den);
        assert.equal(resultCode((await bob!.request(joinGroupRequest(den))).primitive), 431, 'an invitation alone lets nobody in');

        await answer(bob!, { id: 'gr-1', accept: true, inviter: 'gr-alice' });
        const joined = (await bob!.request(joinGroupRequest(den))).primitive;
        assert.equal(joined.name, 'JoinGroup-Response', `JoinGroup after accepting: ${joined.name} ${resultCode(joined)}`);
        assert.equal(textOf(theOne(await alice!.drain(), 'Invite-Response', 'gr-1'), 'Acceptance'), 'T');

        // A declined invitation leaves the group closed.
        await invite(alice!, { id: 'gr-2', type: 'GR', to: [wv('gr-carol')], groupId: den });
        await carol!.drain();
        await answer(carol!, { id: 'gr-2', accept: false, inviter: 'gr-alice' });
        assert.equal(resultCode((await carol!.request(joinGroupRequest(den))).primitive), 431, 'declining makes nobody a member');

        if (version !== '1.1') {
          // GM (group membership, 1.2+) does the same.
          const dave = await loggedIn('gr-dave');
          await invite(alice!, { id: 'gm-1', type: 'GM', to: [wv('gr-dave')], groupId: den });
          assert.equal(textOf(theOne(await dave.drain(), 'InviteUser-Request', 'gm-1'), 'InviteType'), 'GM');
          await answer(dave, { id: 'gm-1', accept: true, inviter: 'gr-alice' });
          assert.equal((await dave.request(joinGroupRequest(den))).primitive.name, 'JoinGroup-Response');
        }
      });

      test('PR invitation accepted: the inviter sees the invitee’s presence (the attributes asked for)', async () => {
        const [alice, bob] = await online('pr-alice', 'pr-bob');
        await update(bob!, [value('StatusText', 'not for everyone')]);
        assert.equal(await presenceOf(alice!, 'pr-bob'), undefined, 'nothing is shown before the invitation');

        await invite(alice!, { id: 'pr-1', type: 'PR', to: [wv('pr-bob')], attributes: ['OnlineStatus', 'UserAvailability'] });
        const got = theOne(await bob!.drain(), 'InviteUser-Request', 'pr-1');
        assert.equal(textOf(got, 'InviteType'), 'PR');
        assert.deepEqual(namesOf(child(got, 'PresenceSubList')), ['OnlineStatus', 'UserAvailability']);
        assert.equal(await presenceOf(alice!, 'pr-bob'), undefined, 'nothing is shown before the invitee accepts');

        await answer(bob!, { id: 'pr-1', accept: true, inviter: 'pr-alice' });
        const shown = await presenceOf(alice!, 'pr-bob');
        assert.equal(valueOf(shown, 'OnlineStatus'), 'T');
        assert.equal(valueOf(shown, 'UserAvailability'), 'AVAILABLE');
        assert.equal(child(shown, 'StatusText'), undefined, 'only the attributes the invitation named');
        assert.equal(textOf(theOne(await alice!.drain(), 'Invite-Response', 'pr-1'), 'Acceptance'), 'T');
      });

      test('SC invitation: the URLList reaches the invitee; SC without a URLList gets 402', async () => {
        const [alice, bob] = await online('sc-alice', 'sc-bob');
        const urls = ['http://example.org/photos/1.jpg', 'http://example.org/songs/2.mp3'];
        await invite(alice!, { id: 'sc-1', type: 'SC', to: [wv('sc-bob')], urls, note: 'Holiday' });
        const got = theOne(await bob!.drain(), 'InviteUser-Request', 'sc-1');
        assert.equal(textOf(got, 'InviteType'), 'SC');
        assert.deepEqual(urlsOf(got), urls);
        assert.equal(textOf(got, 'InviteNote'), 'Holiday');
        await invite(alice!, { id: 'sc-2', type: 'SC', to: [wv('sc-bob')] }, 402);
      });

      test('CancelInvite: pending invitees get CancelInviteUser-Request, a later answer gets 423; only the inviter can cancel', async () => {
        const [alice, bob, carol] = await online('ca-alice', 'ca-bob', 'ca-carol');
        await invite(alice!, { id: 'ca-1', type: 'IM', to: [wv('ca-bob'), wv('ca-carol')] });
        theOne(await bob!.drain(), 'InviteUser-Request', 'ca-1');
        // carol answers before the cancel: she is no longer pending and is not told.
        theOne(await carol!.drain(), 'InviteUser-Request', 'ca-1');
        await answer(carol!, { id: 'ca-1', accept: true, inviter: 'ca-alice' });

        const foreign = (await bob!.request(cancelInviteRequest({ id: 'ca-1', to: [wv('ca-carol')] }))).primitive;
        assertStatus(foreign, 423, 'CancelInvite by someone who did not invite');

        const cancel = cancelInviteRequest({ id: 'ca-1', note: 'Plans changed', urls: ['http://example.org/why'], ...(version === '1.1' ? { to: [wv('ca-bob')] } : {}) });
        assertStatus((await alice!.request(cancel)).primitive, 200, 'CancelInvite');
        const got = theOne(await bob!.drain(), 'CancelInviteUser-Request', 'ca-1');
        assert.equal(senderOf(got), wv('ca-alice'));
        assert.equal(textOf(got, 'InviteNote'), 'Plans changed');
        assert.deepEqual(urlsOf(got), ['http://example.org/why']);
        assert.deepEqual(named(await carol!.drain(), 'CancelInviteUser-Request', 'ca-1'), [], 'who already answered is not told');

        await answer(bob!, { id: 'ca-1', accept: true, inviter: 'ca-alice' }, 423);
        const relayed = await alice!.drain();
        assert.equal(named(relayed, 'Invite-Response', 'ca-1').length, 1, 'only carol’s answer reached alice');
        assert.equal(senderOf(theOne(relayed, 'Invite-Response', 'ca-1')), wv('ca-carol'));
        assertStatus((await alice!.request(cancelInviteRequest({ id: 'ca-1', to: [wv('ca-bob')] }))).primitive, 423, 'nobody left to cancel');
      });

      test('unknown InviteID → 423; an InviteID still pending cannot be used again (423), an ended one can', async () => {
        const [alice, bob] = await online('id-alice', 'id-bob');
        await answer(bob!, { id: 'never-sent', accept: true, inviter: 'id-alice' }, 423);
        await invite(alice!, { id: 'id-1', type: 'IM', to: [wv('id-bob')] });
        await invite(alice!, { id: 'id-1', type: 'IM', to: [wv('id-bob')] }, 423);
        await bob!.drain();
        await answer(bob!, { id: 'id-1', accept: false, inviter: 'id-alice' });
        await invite(alice!, { id: 'id-1', type: 'IM', to: [wv('id-bob')], note: 'Second try' });
        assert.equal(textOf(theOne(await bob!.drain(), 'InviteUser-Request', 'id-1'), 'InviteNote'), 'Second try');
      });

      test('unknown invitees get 531: per recipient in a 201 when someone was invited, alone when nobody was', async () => {
        const [alice, bob] = await online('un-alice', 'un-bob');
        const ghost = `wv:${user('un-ghost')}`;
        const partly = await invite(alice!, { id: 'un-1', type: 'IM', to: [wv('un-bob'), ghost] }, 201);
        assert.deepEqual(detailedResults(partly), [{ code: 531, userIds: [ghost] }]);
        theOne(await bob!.drain(), 'InviteUser-Request', 'un-1');
        const none = await invite(alice!, { id: 'un-2', type: 'IM', to: [ghost] }, 531);
        assert.deepEqual(detailedResults(none), [{ code: 531, userIds: [ghost] }]);
        await invite(alice!, { id: 'un-3', type: 'XX', to: [wv('un-bob')] }, 402);
      });
    });
  }

  test('expiry: an answer after Validity gets 423 (every variant)', async () => {
    const pairs: { variant: Variant; bob: Phone; answer: (invitee: Phone, o: { id: string; accept: boolean; inviter: string }, code?: number) => Promise<void> }[] = [];
    for (const variant of MATRIX) {
      const { online, invite, answer, wv } = invitationKit(server, variant);
      const [alice, bob] = await online('ex-alice', 'ex-bob');
      await invite(alice!, { id: 'ex-1', type: 'IM', to: [wv('ex-bob')], validity: 1 });
      assert.equal(textOf(theOne(await bob!.drain(), 'InviteUser-Request', 'ex-1'), 'Validity'), '1', `${variant.label}: Validity as asked`);
      pairs.push({ variant, bob: bob!, answer });
    }
    await sleep(2_100);
    for (const { bob, answer } of pairs) await answer(bob, { id: 'ex-1', accept: true, inviter: 'ex-alice' }, 423);
  });
});
