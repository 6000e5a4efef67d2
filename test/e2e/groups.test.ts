// Groups over real HTTP (reference imps-csp.md §3.6, §8, §2.5 8xx): creating groups with
// properties (both spellings of AccessType), public groups, joining under screen names (the
// joined users as 1.1 ScreenNames or 1.2+ Mappings, the WelcomeNote), GroupChangeNotice to
// subscribed members, group and private messages addressed by screen name, restricted groups
// and members, privileges (Admin / Mod / User), reject lists, properties, joined users,
// leaving, logging out, deleting, MaxActiveUsers, and what survives a restart.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer } from '../support/shared-server.ts';
import { resultCode } from '../support/phone.ts';
import { MATRIX } from '../support/matrix.ts';
import {
  assertRefused,
  assertStatus,
  changeNotices,
  createGroupRequest,
  deepFind,
  deleteGroupRequest,
  getGroupPropsRequest,
  getJoinedUsersRequest,
  groupKit,
  groupMessageRequest,
  joinedIn,
  leaveGroupRequest,
  leaveNotices,
  leftIn,
  mappings,
  memberAccessRequest,
  membersRequest,
  newMessages,
  propsOf,
  rejectListRequest,
  screenNames,
  setGroupPropsRequest,
  subscribeGroupNoticeRequest,
  userIdsOf,
} from '../support/groups.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';

/** The joined users a JoinGroup-Response lists, checking the version's shape (1.1 UserList of ScreenName, 1.2+ UserMapList). */
function listedIn(version: CspVersion, response: CspElement, groupId: string): { sname: string; userId?: string }[] | undefined {
  if (version === '1.1') {
    assert.equal(child(response, 'UserMapList'), undefined, 'CSP 1.1 has no UserMapList');
    const list = child(response, 'UserList');
    if (!list) return undefined;
    const names = screenNames(list);
    for (const n of names) assert.equal(n.groupId, groupId, 'each ScreenName names the group');
    assert.equal(childrenNamed(list, 'User').length, 0, 'screen names only, no UserIDs');
    return names.map((n) => ({ sname: n.sname }));
  }
  assert.equal(child(response, 'UserList'), undefined, `CSP ${version} lists joined users in a UserMapList`);
  const map = child(response, 'UserMapList');
  return map && mappings(child(map, 'UserMapping'));
}

const bySName = <T extends { sname: string }>(list: T[]) => [...list].sort((a, b) => a.sname.localeCompare(b.sname));

/** The one SendMessage-Response DetailedResult's entities for `code`. */
function detailed(primitive: CspElement, code: number): CspElement | undefined {
  return childrenNamed(child(primitive, 'Result'), 'DetailedResult').find((d) => Number(textOf(d, 'Code')) === code);
}

describe('groups', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { address, wv, gid, publicGid, online, loggedIn, create, join, joinRefused, props, accessTypeName, members, send } = groupKit(server, variant);

    describe(label, () => {
      test('CreateGroup with properties ("Accesstype" and "AccessType"), joined at once under a screen name; 801 twice; 816 for another user’s group id; a public group', async () => {
        const [alice, bob, carol] = await online('cg-alice', 'cg-bob', 'cg-carol');
        const club = gid('cg-alice', 'club');
        await create(alice!, club, {
          props: [['Name', 'The Club'], ['Topic', 'Tea and cake'], ['Accesstype', 'Open'], ['PrivateMessaging', 'T'], ['Searchable', 'F']],
          welcome: { text: 'Welcome to the club!' },
          join: true,
          screenName: 'Ali',
        });
        const shown = await props(alice!, club);
        assert.equal(shown.group['Name'], 'The Club');
        assert.equal(shown.group['Topic'], 'Tea and cake');
        assert.equal(shown.group[accessTypeName], 'Open', `CSP ${version} spells it ${accessTypeName}`);
        assert.equal(shown.group[accessTypeName === 'Accesstype' ? 'AccessType' : 'Accesstype'], undefined, 'one spelling only');
        assert.equal(shown.group['PrivateMessaging'], 'T');
        assert.equal(shown.group['Searchable'], 'F');
        assert.equal(shown.group['Type'], 'Private', 'a user’s group is private');
        assert.equal(shown.group['ActiveUsers'], '1', 'the creator joined at once');
        assert.equal(shown.welcome, 'Welcome to the club!');
        assert.equal(shown.own['PrivilegeLevel'], 'Admin');

        const r = await join(bob!, club, { screenName: 'Bobby', joinedRequest: true });
        assert.deepEqual(bySName(listedIn(version, r, club) ?? []).map((m) => m.sname), ['Ali', 'Bobby'], 'the creator is joined as Ali');
        await joinRefused(alice!, club, 807);

        const den = gid('cg-alice', 'den');
        await create(alice!, den, { props: [['AccessType', 'Restricted'], ['Name', 'The Den']] });
        assert.equal((await props(alice!, den)).group[accessTypeName], 'Restricted', '"AccessType" is understood as well');
        await joinRefused(bob!, den, 431);

        assertRefused(await send(alice!, createGroupRequest(club, { props: [['Name', 'Again']] })), 801, 'creating the same group twice');
        assertRefused(await send(bob!, createGroupRequest(club.toUpperCase().replace('WV:', 'wv:'), { props: [['Name', 'Again']] })), 816, 'a group id in another user’s name');
        const theirs = gid('cg-bob', 'x');
        assertRefused(await send(alice!, createGroupRequest(theirs, { props: [['Name', 'Not mine']] })), 816, 'a group id in another user’s name');
        await create(bob!, theirs, { props: [['Name', 'Mine']] }); // the refused request created nothing

        const lobby = publicGid('lobby');
        await create(carol!, lobby, { props: [['Name', 'Lobby'], ['Topic', 'Anything goes']], join: true, screenName: 'Caro' });
        const lp = await props(bob!, lobby);
        assert.equal(lp.group['Type'], 'Public', 'wv:/name@domain is a public group');
        assert.equal(lp.group['Name'], 'Lobby');
        assert.equal(lp.own['PrivilegeLevel'], 'User');
        const lj = await join(bob!, lobby, { screenName: 'Bobby', joinedRequest: true });
        assert.deepEqual(bySName(listedIn(version, lj, lobby) ?? []).map((m) => m.sname), ['Bobby', 'Caro']);
        assertRefused(await send(alice!, createGroupRequest(lobby, { props: [['Name', 'Mine now']] })), 801, 'a public group exists once');
      });

      test('JoinGroup under a screen name with JoinedRequest T lists the joined users (screen names only) and gives the WelcomeNote; 807, 811 (case-insensitive), 800', async () => {
        const [alice, bob, carol] = await online('jg-alice', 'jg-bob', 'jg-carol');
        const room = gid('jg-alice', 'room');
        await create(alice!, room, { props: [['Name', 'Room']], welcome: { text: 'Hi there — read the rules ✓' }, join: true, screenName: 'Ali' });

        const r = await join(bob!, room, { screenName: 'Bobby', joinedRequest: true });
        const listed = listedIn(version, r, room);
        assert.ok(listed, 'JoinedRequest T asks for the joined users');
        assert.deepEqual(bySName(listed), [{ sname: 'Ali' }, { sname: 'Bobby' }], 'screen names without user ids (ShowID F)');
        assert.equal(deepFind(r, 'UserID').length, 0, 'no UserID anywhere');
        assert.equal(textOf(child(r, 'WelcomeNote'), 'ContentType'), 'text/plain');
        assert.equal(child(child(r, 'WelcomeNote'), 'ContentData')?.text, 'Hi there — read the rules ✓');

        await joinRefused(bob!, room, 807, { screenName: 'Bobby2' });
        await joinRefused(carol!, room, 811, { screenName: 'bOBBY' });
        await joinRefused(carol!, room, 811, { screenName: 'ALI' });
        const rc = await join(carol!, room, { screenName: 'Carla' });
        assert.equal(listedIn(version, rc, room), undefined, 'no list without JoinedRequest T');
        await joinRefused(carol!, gid('jg-alice', 'nowhere'), 800);
        await joinRefused(carol!, publicGid('nowhere'), 800);

        if (version !== '1.1') {
          const open = gid('jg-alice', 'open');
          await create(alice!, open, { props: [['Name', 'Open'], ['ShowID', 'T']], join: true, screenName: 'Ali' });
          const rs = await join(bob!, open, { screenName: 'Bobby', joinedRequest: true });
          assert.deepEqual(
            bySName(listedIn(version, rs, open) ?? []),
            [
              { sname: 'Ali', userId: wv('jg-alice') },
              { sname: 'Bobby', userId: wv('jg-bob') },
            ],
            'ShowID T shows the user ids',
          );
        }
      });

      test('GroupChangeNotice: SubscribeNotification T hears joins, leaves and property changes, F nothing; SubscribeGroupNotice S/U/G; 808 when not joined', async () => {
        const [alice, bob, carol] = await online('gn-alice', 'gn-bob', 'gn-carol');
        const news = gid('gn-alice', 'news');
        await create(alice!, news, { props: [['Name', 'News'], ['Topic', 'old']], join: true, screenName: 'Ali', subscribe: true });
        await alice!.drain();

        await join(bob!, news, { screenName: 'Bobby', subscribe: false });
        let got = changeNotices(await alice!.drain(), news);
        assert.equal(got.length, 1, 'the subscribed member hears of the join');
        assert.deepEqual(joinedIn(version, got[0]!), [{ sname: 'Bobby' }], 'by screen name, no user id');
        assert.deepEqual(leftIn(version, got[0]!), []);

        await join(carol!, news, { screenName: 'Carla', subscribe: true });
        got = changeNotices(await alice!.drain(), news);
        assert.equal(got.length, 1);
        assert.deepEqual(joinedIn(version, got[0]!), [{ sname: 'Carla' }]);
        assert.deepEqual(changeNotices(await bob!.drain(), news), [], 'SubscribeNotification F: nothing');
        assert.deepEqual(changeNotices(await carol!.drain(), news), [], 'nobody is told of their own join');

        assertStatus(await send(alice!, setGroupPropsRequest(news, [['Topic', 'new']])), 200, 'SetGroupProps');
        for (const [who, phone] of [['alice', alice!], ['carol', carol!]] as const) {
          got = changeNotices(await phone.drain(), news);
          assert.equal(got.length, 1, `${who} hears of the property change`);
          assert.equal(propsOf(child(got[0], 'GroupProperties'))['Topic'], 'new');
          assert.deepEqual(joinedIn(version, got[0]!), []);
        }
        assert.deepEqual(changeNotices(await bob!.drain(), news), []);

        assert.equal((await send(carol!, leaveGroupRequest(news))).name, 'LeaveGroup-Response');
        got = changeNotices(await alice!.drain(), news);
        assert.equal(got.length, 1);
        assert.deepEqual(leftIn(version, got[0]!), ['Carla']);
        assert.deepEqual(changeNotices(await bob!.drain(), news), []);

        const subscribe = async (type: 'S' | 'U' | 'G') => {
          const answer = await send(bob!, subscribeGroupNoticeRequest(news, type));
          assert.equal(answer.name, 'SubscribeGroupNotice-Response', `SubscribeGroupNotice ${type}: ${answer.name} ${resultCode(answer)}`);
          return textOf(answer, 'Value');
        };
        assert.equal(await subscribe('G'), 'F');
        assert.equal(await subscribe('S'), 'T');
        assert.equal(await subscribe('G'), 'T');
        assertStatus(await send(alice!, setGroupPropsRequest(news, [['Topic', 'newer']])), 200, 'SetGroupProps');
        got = changeNotices(await bob!.drain(), news);
        assert.equal(got.length, 1, 'subscribed with S: hears property changes');
        assert.equal(propsOf(child(got[0], 'GroupProperties'))['Topic'], 'newer');
        await join(carol!, news, { screenName: 'Carla' });
        got = changeNotices(await bob!.drain(), news);
        assert.equal(got.length, 1, 'and joins');
        assert.deepEqual(joinedIn(version, got[0]!), [{ sname: 'Carla' }]);

        assert.equal(await subscribe('U'), 'F');
        assert.equal(await subscribe('G'), 'F');
        await alice!.drain();
        assertStatus(await send(alice!, setGroupPropsRequest(news, [['Topic', 'newest']])), 200, 'SetGroupProps');
        assert.deepEqual(changeNotices(await bob!.drain(), news), [], 'unsubscribed with U: nothing');
        assert.equal(changeNotices(await alice!.drain(), news).length, 1, 'the others still hear');

        assert.equal((await send(carol!, leaveGroupRequest(news))).name, 'LeaveGroup-Response');
        assertRefused(await send(carol!, subscribeGroupNoticeRequest(news, 'G')), 808, 'SubscribeGroupNotice when not joined');
        assertRefused(await send(carol!, subscribeGroupNoticeRequest(news, 'S')), 808, 'SubscribeGroupNotice when not joined');
      });

      test('a group message reaches every other joined user from the sender’s screen name; a private one only its screen name; 812, 808, 531', async () => {
        const [alice, bob, carol] = await online('gm-alice', 'gm-bob', 'gm-carol');
        const chat = gid('gm-alice', 'chat');
        await create(alice!, chat, { props: [['Name', 'Chat']], join: true, screenName: 'Ali' });
        await join(bob!, chat, { screenName: 'Bobby' });
        await join(carol!, chat, { screenName: 'Carla' });
        for (const p of [alice!, bob!, carol!]) await p.drain();

        const sent = await send(alice!, groupMessageRequest(chat, 'Hello, everyone! ✓', { from: 'Ali' }));
        assert.equal(sent.name, 'SendMessage-Response');
        assert.equal(resultCode(sent), 200);
        assert.ok(textOf(sent, 'MessageID'));
        for (const [who, phone] of [['bob', bob!], ['carol', carol!]] as const) {
          const got = newMessages(await phone.drain());
          assert.equal(got.length, 1, `${who} gets the group message once`);
          const info = child(got[0], 'MessageInfo');
          const recipientGroup = child(child(info, 'Recipient'), 'Group');
          assert.equal(textOf(recipientGroup, 'GroupID'), chat, 'Recipient Group (GroupID)');
          assert.equal(child(recipientGroup, 'ScreenName'), undefined);
          const sender = child(child(child(info, 'Sender'), 'Group'), 'ScreenName');
          assert.equal(textOf(sender, 'SName'), 'Ali', 'Sender Group (ScreenName)');
          assert.equal(textOf(sender, 'GroupID'), chat);
          assert.equal(deepFind(info, 'UserID').length, 0, `${who} is not shown any user id`);
          assert.equal(deepFind(info, 'User').length, 0);
          assert.equal(child(got[0], 'ContentData')?.text, 'Hello, everyone! ✓');
        }
        assert.deepEqual(newMessages(await alice!.drain()), [], 'the sender does not get their own message');

        const priv = await send(bob!, groupMessageRequest(chat, 'psst, Carla', { to: 'Carla', from: 'Bobby' }));
        assert.equal(resultCode(priv), 200);
        const got = newMessages(await carol!.drain());
        assert.equal(got.length, 1);
        const info = child(got[0], 'MessageInfo');
        const to = child(child(child(info, 'Recipient'), 'Group'), 'ScreenName');
        assert.equal(textOf(to, 'SName'), 'Carla', 'Recipient Group (ScreenName)');
        assert.equal(textOf(to, 'GroupID'), chat);
        assert.equal(textOf(child(child(child(info, 'Sender'), 'Group'), 'ScreenName'), 'SName'), 'Bobby');
        assert.equal(deepFind(info, 'UserID').length, 0);
        assert.equal(child(got[0], 'ContentData')?.text, 'psst, Carla');
        assert.deepEqual(newMessages(await alice!.drain()), [], 'a private message reaches only its screen name');
        assert.deepEqual(newMessages(await bob!.drain()), []);

        const unknown = await send(bob!, groupMessageRequest(chat, 'anyone?', { to: 'Nobody', from: 'Bobby' }));
        assert.equal(unknown.name, 'SendMessage-Response');
        assert.equal(resultCode(unknown), 531, 'no member of that screen name');
        assert.equal(textOf(child(detailed(unknown, 531), 'ScreenName'), 'SName'), 'Nobody');

        const quiet = gid('gm-alice', 'quiet');
        await create(alice!, quiet, { props: [['Name', 'Quiet'], ['PrivateMessaging', 'F']], join: true, screenName: 'Ali' });
        await join(bob!, quiet, { screenName: 'Bobby' });
        const refused = await send(bob!, groupMessageRequest(quiet, 'psst', { to: 'Ali', from: 'Bobby' }));
        assert.equal(refused.name, 'SendMessage-Response');
        assert.equal(resultCode(refused), 812, 'PrivateMessaging F');
        assert.equal(resultCode(await send(bob!, groupMessageRequest(quiet, 'to all', { from: 'Bobby' }))), 200, 'group messages still go');
        assert.equal(newMessages(await alice!.drain()).length, 1);

        const outsider = await send(carol!, groupMessageRequest(quiet, 'let me in', { from: 'Carla' }));
        assert.equal(outsider.name, 'SendMessage-Response');
        assert.equal(resultCode(outsider), 808, 'not joined');
        assert.equal(textOf(detailed(outsider, 808), 'GroupID'), quiet, 'DetailedResult names the group');
        assert.deepEqual(newMessages(await alice!.drain()), []);
        assert.deepEqual(newMessages(await bob!.drain()), []);
      });

      test('restricted groups: 431 for non-members; AddGroupMembers; RemoveGroupMembers puts a joined member out (LeaveGroup-Response 810); 816 for plain members; MemberAccess makes a Mod; GetGroupMembers', async () => {
        const [alice, bob, carol] = await online('ac-alice', 'ac-bob', 'ac-carol');
        const vault = gid('ac-alice', 'vault');
        await create(alice!, vault, { props: [['Name', 'Vault'], ['AccessType', 'Restricted']], join: true, screenName: 'Ali', subscribe: true });
        await joinRefused(bob!, vault, 431);
        assert.deepEqual(await members(alice!, vault), { admin: [wv('ac-alice')], mod: [], users: [] });

        assertStatus(await send(alice!, membersRequest('AddGroupMembers-Request', vault, [address('ac-bob')], version === '1.3')), 200, 'AddGroupMembers');
        assert.deepEqual(await members(alice!, vault), { admin: [wv('ac-alice')], mod: [], users: [wv('ac-bob')] });
        await join(bob!, vault, { screenName: 'Bobby', subscribe: true });
        await joinRefused(carol!, vault, 431);

        assertRefused(await send(bob!, membersRequest('AddGroupMembers-Request', vault, [address('ac-carol')])), 816, 'a plain member adding members');
        assertRefused(await send(bob!, setGroupPropsRequest(vault, [['Topic', 'mine']])), 816, 'a plain member setting properties');
        assertRefused(await send(bob!, memberAccessRequest(version, vault, { mod: [address('ac-bob')] })), 816, 'a plain member changing privileges');
        assertRefused(await send(bob!, deleteGroupRequest(vault)), 816, 'a plain member deleting the group');
        await joinRefused(carol!, vault, 431);
        assert.equal((await props(alice!, vault)).group['Topic'], '', 'the refused SetGroupProps changed nothing');
        assert.equal((await props(bob!, vault)).own['PrivilegeLevel'], 'User');

        assertStatus(await send(alice!, memberAccessRequest(version, vault, { mod: [address('ac-bob')] })), 200, 'MemberAccess');
        assert.equal((await props(bob!, vault)).own['PrivilegeLevel'], 'Mod');
        assertStatus(await send(bob!, membersRequest('AddGroupMembers-Request', vault, [address('ac-carol')])), 200, 'a moderator adding a member');
        await join(carol!, vault, { screenName: 'Carla' });
        assert.deepEqual(await members(alice!, vault), { admin: [wv('ac-alice')], mod: [wv('ac-bob')], users: [wv('ac-carol')] });
        assert.deepEqual(await members(carol!, vault), { admin: [wv('ac-alice')], mod: [wv('ac-bob')], users: [wv('ac-carol')] }, 'members see the members too');
        assertRefused(await send(bob!, memberAccessRequest(version, vault, { admin: [address('ac-bob')] })), 816, 'only admins change privileges');
        assertRefused(await send(bob!, deleteGroupRequest(vault)), 816, 'only admins delete');
        await alice!.drain();
        await bob!.drain();
        await carol!.drain();

        assertStatus(await send(alice!, membersRequest('RemoveGroupMembers-Request', vault, [address('ac-carol')])), 200, 'RemoveGroupMembers');
        const out = leaveNotices(await carol!.drain(), vault);
        assert.equal(out.length, 1, 'the removed member is told with a LeaveGroup-Response');
        assert.equal(resultCode(out[0]), 810);
        for (const [who, phone] of [['alice', alice!], ['bob', bob!]] as const) {
          const got = changeNotices(await phone.drain(), vault);
          assert.equal(got.length, 1, `${who} sees the removed member leave`);
          assert.deepEqual(leftIn(version, got[0]!), ['Carla']);
        }
        assert.deepEqual(await members(alice!, vault), { admin: [wv('ac-alice')], mod: [wv('ac-bob')], users: [] });
        assert.equal((await props(alice!, vault)).group['ActiveUsers'], '2');
        assertRefused(await send(carol!, leaveGroupRequest(vault)), 808, 'the removed member is no longer joined');
        await joinRefused(carol!, vault, 431);

        // Back to a plain member (1.1/1.2 Users (UserList), 1.3 UserList): the moderator's rights are gone.
        assertStatus(await send(alice!, memberAccessRequest(version, vault, { users: [address('ac-bob')] })), 200, 'MemberAccess (demote)');
        assert.equal((await props(bob!, vault)).own['PrivilegeLevel'], 'User');
        assert.deepEqual(await members(alice!, vault), { admin: [wv('ac-alice')], mod: [], users: [wv('ac-bob')] });
        assertRefused(await send(bob!, membersRequest('AddGroupMembers-Request', vault, [address('ac-carol')])), 816, 'a demoted member adding members');
      });

      test('RejectList: adding a joined user puts them out (LeaveGroup-Response 809) and keeps them out (809); RejectList-Response lists the rejected; RemoveList lets them back', async () => {
        const [alice, bob, carol] = await online('rj-alice', 'rj-bob', 'rj-carol');
        const pub = gid('rj-alice', 'pub');
        await create(alice!, pub, { props: [['Name', 'Pub']], join: true, screenName: 'Ali' });
        await join(bob!, pub, { screenName: 'Bobby', subscribe: true });
        await join(carol!, pub, { screenName: 'Carla' });
        await bob!.drain();
        await carol!.drain();

        const added = await send(alice!, rejectListRequest(pub, { add: [address('rj-carol')] }));
        assert.equal(added.name, 'RejectList-Response', `RejectList: ${added.name} ${resultCode(added)}`);
        assert.deepEqual(userIdsOf(child(added, 'UserList')), [wv('rj-carol')]);
        const out = leaveNotices(await carol!.drain(), pub);
        assert.equal(out.length, 1, 'the rejected user is put out');
        assert.equal(resultCode(out[0]), 809);
        const seen = changeNotices(await bob!.drain(), pub);
        assert.equal(seen.length, 1);
        assert.deepEqual(leftIn(version, seen[0]!), ['Carla']);
        await joinRefused(carol!, pub, 809, { screenName: 'Carla' });
        await joinRefused(carol!, pub, 809, { screenName: 'Someone else' });

        const listed = await send(alice!, rejectListRequest(pub));
        assert.equal(listed.name, 'RejectList-Response');
        assert.deepEqual(userIdsOf(child(listed, 'UserList')), [wv('rj-carol')]);
        assertRefused(await send(bob!, rejectListRequest(pub, { add: [address('rj-alice')] })), 816, 'a plain member changing the reject list');
        assertRefused(await send(bob!, rejectListRequest(pub, { remove: [address('rj-carol')] })), 816, 'a plain member changing the reject list');

        const removed = await send(alice!, rejectListRequest(pub, { remove: [address('rj-carol')] }));
        assert.equal(removed.name, 'RejectList-Response');
        assert.deepEqual(userIdsOf(child(removed, 'UserList')), []);
        const back = await join(carol!, pub, { screenName: 'Carla', joinedRequest: true });
        assert.deepEqual(bySName(listedIn(version, back, pub) ?? []).map((m) => m.sname), ['Ali', 'Bobby', 'Carla']);
      });

      test('GetGroupProps: GroupProperties (ActiveUsers = joined count) and OwnProperties (Admin for the creator, User for others); SetGroupProps changes them', async () => {
        const [alice, bob, carol] = await online('gp-alice', 'gp-bob', 'gp-carol');
        const cafe = gid('gp-alice', 'cafe');
        await create(alice!, cafe, { props: [['Name', 'Café'], ['Topic', 'Coffee'], ['Searchable', 'T']], welcome: { text: 'Welcome' }, join: true, screenName: 'Ali' });
        await join(bob!, cafe, { screenName: 'Bobby' });

        const a = await props(alice!, cafe);
        assert.equal(a.group['ActiveUsers'], '2');
        assert.equal(a.group['Name'], 'Café');
        assert.equal(a.group['Topic'], 'Coffee');
        assert.equal(a.group[accessTypeName], 'Open', 'Open unless told');
        assert.equal(a.own['PrivilegeLevel'], 'Admin');
        const b = await props(bob!, cafe);
        assert.equal(b.own['PrivilegeLevel'], 'User');
        assert.equal(b.group['ActiveUsers'], '2');
        assert.equal(b.group['Topic'], 'Coffee');
        assert.equal((await props(carol!, cafe)).own['PrivilegeLevel'], 'User', 'someone not joined is a User too');
        await join(carol!, cafe, { screenName: 'Carla' });
        assert.equal((await props(bob!, cafe)).group['ActiveUsers'], '3');

        assertStatus(
          await send(alice!, setGroupPropsRequest(cafe, [['Topic', 'Tea now'], ['Name', 'Tea Room'], ['PrivateMessaging', 'F'], ['Searchable', 'F'], ['accesstype', 'restricted']], { text: 'Welcome to the tea room' })),
          200,
          'SetGroupProps',
        );
        for (const phone of [alice!, bob!]) {
          const now = await props(phone, cafe);
          assert.equal(now.group['Topic'], 'Tea now');
          assert.equal(now.group['Name'], 'Tea Room');
          assert.equal(now.group['PrivateMessaging'], 'F');
          assert.equal(now.group['Searchable'], 'F');
          assert.equal(now.group[accessTypeName], 'Restricted');
          assert.equal(now.welcome, 'Welcome to the tea room');
          assert.equal(now.group['ActiveUsers'], '3', 'who is joined stays joined');
        }
        assert.equal(resultCode(await send(bob!, groupMessageRequest(cafe, 'psst', { to: 'Ali', from: 'Bobby' }))), 812, 'the new PrivateMessaging F is in force');
        assertStatus(await send(alice!, setGroupPropsRequest(cafe, [['ActiveUsers', '99']])), 200, 'SetGroupProps of ActiveUsers');
        assert.equal((await props(alice!, cafe)).group['ActiveUsers'], '3', 'ActiveUsers is computed, not set');
      });

      if (version !== '1.1') {
        test('GetJoinedUsers: the admin gets an AdminMapList with user ids, a plain member a UserMapList of screen names', async () => {
          const [alice, bob, carol] = await online('ju-alice', 'ju-bob', 'ju-carol');
          const hall = gid('ju-alice', 'hall');
          await create(alice!, hall, { props: [['Name', 'Hall']], join: true, screenName: 'Ali' });
          await join(bob!, hall, { screenName: 'Bobby' });
          await join(carol!, hall, { screenName: 'Carla' });
          assertStatus(await send(alice!, memberAccessRequest(version, hall, { mod: [address('ju-carol')] })), 200, 'MemberAccess');

          const admin = await send(alice!, getJoinedUsersRequest(hall));
          assert.equal(admin.name, 'GetJoinedUsers-Response', `GetJoinedUsers: ${admin.name} ${resultCode(admin)}`);
          assert.equal(child(admin, 'UserMapList'), undefined);
          const map = child(admin, 'AdminMapList');
          assert.ok(map, 'the admin gets an AdminMapList');
          assert.deepEqual(mappings(child(map, 'AdminMapping')), [{ sname: 'Ali', userId: wv('ju-alice') }]);
          assert.deepEqual(mappings(child(map, 'ModMapping')), [{ sname: 'Carla', userId: wv('ju-carol') }]);
          assert.deepEqual(mappings(child(map, 'UserMapping')), [{ sname: 'Bobby', userId: wv('ju-bob') }]);

          const plain = await send(bob!, getJoinedUsersRequest(hall));
          assert.equal(plain.name, 'GetJoinedUsers-Response');
          assert.equal(child(plain, 'AdminMapList'), undefined, 'a plain member gets no AdminMapList');
          assert.deepEqual(bySName(mappings(child(child(plain, 'UserMapList'), 'UserMapping'))), [{ sname: 'Ali' }, { sname: 'Bobby' }, { sname: 'Carla' }], 'screen names, no user ids');

          assert.equal((await send(carol!, leaveGroupRequest(hall))).name, 'LeaveGroup-Response');
          const after = await send(bob!, getJoinedUsersRequest(hall));
          assert.deepEqual(bySName(mappings(child(child(after, 'UserMapList'), 'UserMapping'))), [{ sname: 'Ali' }, { sname: 'Bobby' }]);
        });
      }

      test('LeaveGroup-Request → LeaveGroup-Response 200, again → 808; logging out leaves every group and the others see it', async () => {
        const [alice, bob, carol] = await online('lv-alice', 'lv-bob', 'lv-carol');
        const one = gid('lv-alice', 'one');
        const two = gid('lv-alice', 'two');
        await create(alice!, one, { props: [['Name', 'One']], join: true, screenName: 'Ali', subscribe: true });
        await create(alice!, two, { props: [['Name', 'Two']], join: true, screenName: 'Ali', subscribe: true });
        await join(bob!, one, { screenName: 'Bobby' });
        await join(bob!, two, { screenName: 'Bob Two' });
        await join(carol!, two, { screenName: 'Carla', subscribe: true });
        await alice!.drain();
        await carol!.drain();

        const left = await send(bob!, leaveGroupRequest(one));
        assert.equal(left.name, 'LeaveGroup-Response');
        assert.equal(resultCode(left), 200);
        assert.equal(textOf(left, 'GroupID'), one);
        let got = changeNotices(await alice!.drain(), one);
        assert.equal(got.length, 1);
        assert.deepEqual(leftIn(version, got[0]!), ['Bobby']);
        const again = await send(bob!, leaveGroupRequest(one));
        assert.equal(again.name, 'LeaveGroup-Response');
        assert.equal(resultCode(again), 808, 'not joined any more');
        await join(bob!, one, { screenName: 'Bobby' });
        await alice!.drain();

        await bob!.logout();
        const seen = await alice!.drain();
        for (const g of [one, two]) {
          got = changeNotices(seen, g);
          assert.equal(got.length, 1, `alice sees bob leave ${g}`);
          assert.deepEqual(leftIn(version, got[0]!), [g === one ? 'Bobby' : 'Bob Two']);
        }
        got = changeNotices(await carol!.drain(), two);
        assert.equal(got.length, 1);
        assert.deepEqual(leftIn(version, got[0]!), ['Bob Two']);
        assert.equal((await props(alice!, one)).group['ActiveUsers'], '1');
        assert.equal((await props(alice!, two)).group['ActiveUsers'], '2');

        const bob2 = await loggedIn('lv-bob');
        await join(bob2, one, { screenName: 'Bobby' });
        await join(bob2, two, { screenName: 'Bob Two' });
      });

      test('DeleteGroup by the creator: joined members get a LeaveGroup-Response (800), then JoinGroup → 800; the id can be used afresh', async () => {
        const [alice, bob, carol] = await online('dg-alice', 'dg-bob', 'dg-carol');
        const tent = gid('dg-alice', 'tent');
        await create(alice!, tent, { props: [['Name', 'Tent'], ['Topic', 'Camping']], join: true, screenName: 'Ali' });
        await join(bob!, tent, { screenName: 'Bobby' });
        await join(carol!, tent, { screenName: 'Carla' });
        assertStatus(await send(alice!, membersRequest('AddGroupMembers-Request', tent, [address('dg-bob')])), 200, 'AddGroupMembers');
        const rejecting = await send(alice!, rejectListRequest(tent, { add: [address('dg-carol')] }));
        assert.equal(rejecting.name, 'RejectList-Response', `RejectList: ${rejecting.name} ${resultCode(rejecting)}`);
        await bob!.drain();
        await carol!.drain();

        assertStatus(await send(alice!, deleteGroupRequest(tent)), 200, 'DeleteGroup');
        const out = leaveNotices(await bob!.drain(), tent);
        assert.equal(out.length, 1, 'a joined member is told the group is gone');
        assert.equal(resultCode(out[0]), 800);
        assert.deepEqual(leaveNotices(await carol!.drain(), tent), [], 'carol, rejected before, was no longer joined');
        await joinRefused(bob!, tent, 800);
        assertRefused(await send(bob!, getGroupPropsRequest(tent)), 800, 'GetGroupProps of a deleted group');
        assertRefused(await send(alice!, deleteGroupRequest(tent)), 800, 'deleting twice');

        await create(alice!, tent, { props: [['Name', 'New Tent']], join: true, screenName: 'Ali' });
        const fresh = await props(bob!, tent);
        assert.equal(fresh.group['Name'], 'New Tent');
        assert.equal(fresh.group['Topic'], '', 'nothing of the old group’s properties');
        assert.equal(fresh.group['ActiveUsers'], '1', 'nobody of the old group is joined');
        assert.deepEqual(await members(alice!, tent), { admin: [wv('dg-alice')], mod: [], users: [] }, 'nor a member');
        const rejected = await send(alice!, rejectListRequest(tent));
        assert.deepEqual(userIdsOf(child(rejected, 'UserList')), [], 'nor rejected');
        await join(carol!, tent, { screenName: 'Carla' });
      });

      test('817: a group with MaxActiveUsers 2 refuses the third join', async () => {
        const [alice, bob, carol] = await online('mx-alice', 'mx-bob', 'mx-carol');
        const booth = gid('mx-alice', 'booth');
        await create(alice!, booth, { props: [['Name', 'Booth'], ['MaxActiveUsers', '2']], join: true, screenName: 'Ali' });
        await join(bob!, booth, { screenName: 'Bobby' });
        await joinRefused(carol!, booth, 817, { screenName: 'Carla' });
        const p = await props(carol!, booth);
        assert.equal(p.group['MaxActiveUsers'], '2');
        assert.equal(p.group['ActiveUsers'], '2');
        assert.equal((await send(bob!, leaveGroupRequest(booth))).name, 'LeaveGroup-Response');
        await join(carol!, booth, { screenName: 'Carla' });
        await joinRefused(bob!, booth, 817, { screenName: 'Bobby' });
      });
    });
  }
});

// ── Restart ────────────────────────────────────────────────────────────────────────────────

describe('groups: a group, its properties, members, reject list and who is joined survive a restart', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { address, wv, gid, online, loggedIn, create, join, joinRefused, props, accessTypeName, members, send } = groupKit(server, variant);
    test(`${label}: after stop and restart`, async () => {
      const [alice, bob, carol] = await online('rs-alice', 'rs-bob', 'rs-carol');
      const keep = gid('rs-alice', 'keep');
      await create(alice!, keep, {
        props: [['Name', 'Keep'], ['Topic', 'Before the restart'], ['AccessType', 'Restricted'], ['PrivateMessaging', 'F']],
        welcome: { text: 'Still here' },
        join: true,
        screenName: 'Ali',
        subscribe: true,
      });
      assertStatus(await send(alice!, membersRequest('AddGroupMembers-Request', keep, [address('rs-bob'), address('rs-carol')])), 200, 'AddGroupMembers');
      assertStatus(await send(alice!, memberAccessRequest(version, keep, { mod: [address('rs-bob')] })), 200, 'MemberAccess');
      const rejected = await send(alice!, rejectListRequest(keep, { add: [address('rs-dave')] }));
      assert.equal(rejected.name, 'RejectList-Response');
      await join(bob!, keep, { screenName: 'Bobby' });
      await join(carol!, keep, { screenName: 'Carla' });
      await carol!.logout(); // carol leaves by logging out before the restart
      await alice!.drain();
      await bob!.drain();

      await server().stop();
      await server().restart();

      const alice2 = await loggedIn('rs-alice');
      const bob2 = await loggedIn('rs-bob');
      const p = await props(alice2, keep);
      assert.equal(p.group['Name'], 'Keep');
      assert.equal(p.group['Topic'], 'Before the restart');
      assert.equal(p.group[accessTypeName], 'Restricted');
      assert.equal(p.group['PrivateMessaging'], 'F');
      assert.equal(p.welcome, 'Still here');
      assert.equal(p.group['ActiveUsers'], '2', 'alice and bob are still joined, carol is not');
      assert.equal(p.own['PrivilegeLevel'], 'Admin');
      assert.equal((await props(bob2, keep)).own['PrivilegeLevel'], 'Mod');
      assert.deepEqual(await members(alice2, keep), { admin: [wv('rs-alice')], mod: [wv('rs-bob')], users: [wv('rs-carol')] });
      const list = await send(alice2, rejectListRequest(keep));
      assert.equal(list.name, 'RejectList-Response');
      assert.deepEqual(userIdsOf(child(list, 'UserList')), [wv('rs-dave')]);
      if (version !== '1.1') {
        const joined = await send(alice2, getJoinedUsersRequest(keep));
        assert.equal(joined.name, 'GetJoinedUsers-Response');
        assert.deepEqual(mappings(child(child(joined, 'AdminMapList'), 'AdminMapping')), [{ sname: 'Ali', userId: wv('rs-alice') }]);
        assert.deepEqual(mappings(child(child(joined, 'AdminMapList'), 'ModMapping')), [{ sname: 'Bobby', userId: wv('rs-bob') }]);
        assert.equal(child(child(joined, 'AdminMapList'), 'UserMapping'), undefined, 'carol logged out before the restart');
      }

      // Joined without rejoining: a group message from one reaches the other.
      const sent = await send(bob2, groupMessageRequest(keep, 'after the restart', { from: 'Bobby' }));
      assert.equal(resultCode(sent), 200, `bob is still joined: ${textOf(child(sent, 'Result'), 'Description') ?? ''}`);
      const got = newMessages(await alice2.drain());
      assert.equal(got.length, 1);
      const info = child(got[0], 'MessageInfo');
      assert.equal(textOf(child(child(child(info, 'Sender'), 'Group'), 'ScreenName'), 'SName'), 'Bobby');
      assert.equal(child(got[0], 'ContentData')?.text, 'after the restart');
      // Bob's phone lost its session in the restart and joins again: a rejoin, not 807. Alice,
      // who saw him joined all along, hears nothing of it; a second JoinGroup is 807.
      await join(bob2, keep, { screenName: 'Bobby' });
      assert.deepEqual(changeNotices(await alice2.drain(), keep), [], 'a rejoin under the same screen name is no news');
      await joinRefused(bob2, keep, 807, { screenName: 'Bobby' });
      assert.equal(resultCode(await send(bob2, groupMessageRequest(keep, 'psst', { to: 'Ali', from: 'Bobby' }))), 812, 'PrivateMessaging F survived');

      // Carol, who logged out, is not joined; she is still a member, so she may join; alice's subscription survived.
      const carol2 = await loggedIn('rs-carol');
      const left = await send(carol2, leaveGroupRequest(keep));
      assert.equal(resultCode(left), 808, 'carol is not joined');
      await join(carol2, keep, { screenName: 'Carla' });
      const notices = changeNotices(await alice2.drain(), keep);
      assert.equal(notices.length, 1, 'the subscription to notices survived');
      assert.deepEqual(joinedIn(version, notices[0]!), [{ sname: 'Carla' }]);
      const dave = await loggedIn('rs-dave');
      await joinRefused(dave, keep, 809);
    });
  }
});

describe('groups: users joined before a restart who do not log in again within groups.rejoinGrace leave', () => {
  const server = sharedServer({ config: { groups: { rejoinGrace: 3 } } });

  for (const variant of MATRIX.filter((v) => v.encoding === 'xml')) {
    const { version, label } = variant;
    const { gid, online, loggedIn, create, join, props } = groupKit(server, variant);
    test(`${label}: the absent leave, the returning stay`, async () => {
      const [alice, bob, carol] = await online('gr-alice', 'gr-bob', 'gr-carol');
      const room = gid('gr-alice', 'room');
      await create(alice!, room, { join: true, screenName: 'Ali', subscribe: true });
      await join(bob!, room, { screenName: 'Bobby' });
      await join(carol!, room, { screenName: 'Carla' });
      await alice!.drain();

      await server().stop();
      await server().restart();
      const restartedAt = Date.now();

      const alice2 = await loggedIn('gr-alice');
      const carol2 = await loggedIn('gr-carol');
      // Carol comes back under another screen name: the others hear Carla left and Carlotta joined.
      await join(carol2, room, { screenName: 'Carlotta' });
      const renamed = changeNotices(await alice2.drain(), room);
      assert.equal(renamed.length, 1);
      assert.deepEqual(leftIn(version, renamed[0]!), ['Carla']);
      assert.deepEqual(joinedIn(version, renamed[0]!).map((j) => j.sname), ['Carlotta']);
      assert.equal((await props(alice2, room)).group['ActiveUsers'], '3', 'bob is still joined while the grace lasts');

      // Bob never logs in again: when the grace is over he leaves, and alice is told.
      await new Promise((r) => setTimeout(r, Math.max(0, restartedAt + 3500 - Date.now())));
      const left = changeNotices(await alice2.drain(), room);
      assert.equal(left.length, 1, 'one GroupChangeNotice for bob leaving');
      assert.deepEqual(leftIn(version, left[0]!), ['Bobby']);
      assert.equal((await props(alice2, room)).group['ActiveUsers'], '2');
    });
  }
});
