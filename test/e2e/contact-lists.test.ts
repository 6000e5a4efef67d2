// Contact lists over real HTTP (reference imps-csp.md §3.3): CreateList (NickList,
// ContactListProperties DisplayName / Default; 1.3 answers CreateList-Response), GetList (1.3:
// ContactListIDList) with DefaultContactList, ListManage (add with and without nickname, remove,
// rename, move the default, ReceiveList, 1.3 AuthorizeAndGrant), DeleteList; 700 / 701 / 753 /
// 754 / 402; list ids in every spelling phones use; subscribing to a list (and AutoSubscribe
// keeping it in step); and lists surviving a restart.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { TestServer } from '../support/server.ts';
import { sharedServer } from '../support/shared-server.ts';
import { resultCode, type Phone } from '../support/phone.ts';
import { MATRIX, type Variant } from '../support/matrix.ts';
import { assertStatus, authRequests, getPresenceRequest, notified, presenceKit, subscribeRequest, valueOf } from '../support/presence.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';

const DOMAIN = 'imps.test';

interface Member {
  id: string;
  nick?: string;
}

interface ListContent {
  members: Member[];
  displayName: string | undefined;
  isDefault: string | undefined;
}

const nickList = (name: 'NickList' | 'AddNickList', members: Member[]) =>
  el(
    name,
    members.map((m) => (m.nick ? el('NickName', [leaf('Name', m.nick), leaf('UserID', m.id)]) : leaf('UserID', m.id)!)),
  );

const properties = (p: { displayName?: string; isDefault?: boolean }) =>
  p.displayName === undefined && p.isDefault === undefined
    ? undefined
    : el('ContactListProperties', [
        p.displayName !== undefined ? el('Property', [leaf('Name', 'DisplayName'), leaf('Value', p.displayName)]) : undefined,
        p.isDefault !== undefined ? el('Property', [leaf('Name', 'Default'), leaf('Value', p.isDefault)]) : undefined,
      ]);

function createListRequest(listId: string, o: { members?: Member[]; displayName?: string; isDefault?: boolean } = {}): CspElement {
  return el('CreateList-Request', [leaf('ContactList', listId), o.members ? nickList('NickList', o.members) : undefined, properties(o)]);
}

interface ManageOptions {
  add?: Member[];
  remove?: string[];
  displayName?: string;
  isDefault?: boolean;
  receive?: boolean;
  authorizeAndGrant?: boolean;
}

/** ListManage-Request: one change at most (the content model's choice), ReceiveList from 1.2, AuthorizeAndGrant in 1.3. */
function manageRequest(version: CspVersion, listId: string, o: ManageOptions = {}): CspElement {
  return el('ListManage-Request', [
    leaf('ContactList', listId),
    o.add ? nickList('AddNickList', o.add) : undefined,
    o.remove ? el('RemoveNickList', o.remove.map((u) => leaf('UserID', u))) : undefined,
    properties(o),
    version === '1.1' ? undefined : leaf('ReceiveList', o.receive ?? false),
    version === '1.3' ? leaf('AuthorizeAndGrant', o.authorizeAndGrant) : undefined,
  ]);
}

/** NickList and ContactListProperties of a ListManage-Response (or CreateList-Response). */
function readList(answer: CspElement): ListContent {
  const list = child(answer, 'NickList');
  const members: Member[] = [
    ...childrenNamed(list, 'NickName').map((n) => ({ id: textOf(n, 'UserID') ?? '', nick: textOf(n, 'Name') ?? '' })),
    ...childrenNamed(list, 'UserID').map((u) => ({ id: textOf(u) ?? '' })),
  ].sort((a, b) => a.id.localeCompare(b.id));
  const props = new Map(childrenNamed(child(answer, 'ContactListProperties'), 'Property').map((p) => [textOf(p, 'Name'), textOf(p, 'Value')]));
  return { members, displayName: props.get('DisplayName'), isDefault: props.get('Default') };
}

const sortMembers = (members: Member[]) => [...members].sort((a, b) => a.id.localeCompare(b.id));

const onlineOf = (list: CspElement | undefined) => valueOf(list, 'OnlineStatus');

/** The presence kit (wv, subscribe, grant, …) plus contact lists. */
function listKit(server: () => TestServer, variant: Variant) {
  const { version } = variant;
  const kit = presenceKit(server, variant);
  /** The canonical id of one of `owner`'s lists, as the server writes it. */
  const listId = (owner: string, name: string) => `wv:${kit.user(owner)}/${name}@${DOMAIN}`;

  const create = async (p: Phone, id: string, o: { members?: Member[]; displayName?: string; isDefault?: boolean } = {}) => {
    const { primitive } = await p.request(createListRequest(id, o));
    if (version === '1.3') {
      assert.equal(primitive.name, 'CreateList-Response', `CreateList: ${primitive.name} ${resultCode(primitive)} ${textOf(child(primitive, 'Result'), 'Description') ?? ''}`);
    } else assertStatus(primitive, 200, 'CreateList');
    return primitive;
  };

  const manage = async (p: Phone, id: string, o: ManageOptions = {}) => {
    const { primitive } = await p.request(manageRequest(version, id, o));
    assert.equal(primitive.name, 'ListManage-Response', `ListManage: ${primitive.name} ${resultCode(primitive)}`);
    assert.equal(resultCode(primitive), 200);
    return primitive;
  };

  /** Members and properties of a list (1.1 always returns them; 1.2/1.3 with ReceiveList T). */
  const contents = async (p: Phone, id: string) => readList(await manage(p, id, { receive: true }));

  const getList = async (p: Phone) => {
    const { primitive } = await p.request(el('GetList-Request'));
    assert.equal(primitive.name, 'GetList-Response');
    if (version === '1.3') assert.equal(childrenNamed(primitive, 'ContactList').length, 0, '1.3 lists ids inside ContactListIDList');
    else assert.equal(child(primitive, 'ContactListIDList'), undefined, `${version} has no ContactListIDList`);
    const ids = (version === '1.3' ? childrenNamed(child(primitive, 'ContactListIDList'), 'ContactList') : childrenNamed(primitive, 'ContactList')).map((c) => textOf(c) ?? '');
    return { ids: ids.sort(), defaultList: textOf(primitive, 'DefaultContactList') };
  };

  const subscribeList = async (p: Phone, ids: string[], autoSubscribe?: boolean) => {
    const { primitive } = await p.request(subscribeRequest(version, { lists: ids, autoSubscribe }));
    assertStatus(primitive, 200, 'SubscribePresence');
  };

  /** GetPresence with contact lists: the Presence elements by user. */
  const presenceOfList = async (p: Phone, ids: string[]) => {
    const { primitive } = await p.request(getPresenceRequest(version, { lists: ids }));
    assert.equal(primitive.name, 'GetPresence-Response');
    assert.equal(resultCode(primitive), 200);
    return new Map(childrenNamed(primitive, 'Presence').map((pr) => [textOf(pr, 'UserID'), child(pr, 'PresenceSubList')]));
  };

  const watchersOf = async (p: Phone) => {
    const { primitive } = await p.request(el('GetWatcherList-Request'));
    assert.equal(primitive.name, 'GetWatcherList-Response');
    const users = version === '1.1' ? childrenNamed(primitive, 'User') : childrenNamed(primitive, 'Watcher').map((w) => child(w, 'User') ?? w);
    return users.map((u) => textOf(u, 'UserID')).sort();
  };

  return { ...kit, listId, create, manage, contents, getList, subscribeList, presenceOfList, watchersOf };
}

// ── The default server ──────────────────────────────────────────────────────────────────────

describe('contact lists', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, wv, listId, online, create, manage, contents, getList, grant, subscribe, subscribeList, presenceOfList, watchersOf } = listKit(server, variant);

    describe(label, () => {
      test('CreateList with NickList and properties; GetList lists it as the default; ListManage returns members and properties', async () => {
        const [alice] = await online('cr-alice');
        const created = await create(alice!, 'friends', {
          members: [{ id: wv('cr-bob'), nick: 'Bobby' }, { id: user('cr-carol') }],
          displayName: 'My Friends',
          isDefault: true,
        });
        if (version === '1.3') {
          assert.equal(textOf(created, 'ContactList'), listId('cr-alice', 'friends'), 'CreateList-Response names the list');
          const props = readList(created);
          assert.equal(props.displayName, 'My Friends');
          assert.equal(props.isDefault, 'T');
        }
        const lists = await getList(alice!);
        assert.deepEqual(lists.ids, [listId('cr-alice', 'friends')]);
        assert.equal(lists.defaultList, listId('cr-alice', 'friends'));
        assert.deepEqual(await contents(alice!, 'friends'), {
          members: sortMembers([{ id: wv('cr-bob'), nick: 'Bobby' }, { id: wv('cr-carol') }]),
          displayName: 'My Friends',
          isDefault: 'T',
        });
      });

      test('ListManage adds members (NickName with Name, bare UserID) and removes them', async () => {
        const [alice] = await online('mb-alice');
        await create(alice!, 'mates');
        assert.deepEqual((await contents(alice!, 'mates')).members, []);
        const added = await manage(alice!, 'mates', { add: [{ id: wv('mb-bob'), nick: 'Bob the Builder' }, { id: user('mb-carol') }, { id: `${user('mb-dave')}@${DOMAIN}` }], receive: true });
        assert.deepEqual(readList(added).members, sortMembers([{ id: wv('mb-bob'), nick: 'Bob the Builder' }, { id: wv('mb-carol') }, { id: wv('mb-dave') }]), 'ReceiveList T returns the new list');
        await manage(alice!, 'mates', { remove: [wv('mb-carol'), user('mb-dave')] });
        assert.deepEqual((await contents(alice!, 'mates')).members, [{ id: wv('mb-bob'), nick: 'Bob the Builder' }]);
        // Adding an existing member again keeps one entry.
        await manage(alice!, 'mates', { add: [{ id: wv('mb-bob') }] });
        assert.equal((await contents(alice!, 'mates')).members.length, 1);
      });

      test('ListManage renames the DisplayName and moves the Default; GetList follows', async () => {
        const [alice] = await online('pr-alice');
        await create(alice!, 'first', { displayName: 'First', isDefault: true });
        await create(alice!, 'second', { displayName: 'Second' });
        assert.equal((await getList(alice!)).defaultList, listId('pr-alice', 'first'));

        await manage(alice!, 'second', { isDefault: true });
        assert.equal((await getList(alice!)).defaultList, listId('pr-alice', 'second'), 'one default list at a time');
        assert.equal((await contents(alice!, 'first')).isDefault, 'F');
        assert.equal((await contents(alice!, 'second')).isDefault, 'T');

        await manage(alice!, 'first', { displayName: 'Renamed' });
        assert.equal((await contents(alice!, 'first')).displayName, 'Renamed');
        assert.equal((await contents(alice!, 'second')).displayName, 'Second', 'the other list keeps its name');
        assert.deepEqual((await getList(alice!)).ids, [listId('pr-alice', 'first'), listId('pr-alice', 'second')].sort());

        if (version !== '1.1') {
          const quiet = await manage(alice!, 'first', { receive: false });
          assert.equal(child(quiet, 'NickList'), undefined, 'ReceiveList F: no list in the answer');
        }
      });

      test('DeleteList removes a list; 701 creating it twice; 700 for a list that does not exist', async () => {
        const [alice] = await online('dl-alice');
        await create(alice!, 'gone', { members: [{ id: wv('dl-bob') }] });
        const twice = (await alice!.request(createListRequest('gone'))).primitive;
        assert.equal(resultCode(twice), 701);
        assert.deepEqual((await contents(alice!, 'gone')).members, [{ id: wv('dl-bob') }], 'the second CreateList changed nothing');

        const deleted = (await alice!.request(el('DeleteList-Request', [leaf('ContactList', 'gone')]))).primitive;
        assert.equal(deleted.name, 'Status');
        assert.equal(resultCode(deleted), 200);
        assert.deepEqual((await getList(alice!)).ids, []);
        assert.equal(resultCode((await alice!.request(el('DeleteList-Request', [leaf('ContactList', 'gone')]))).primitive), 700);
        assert.equal(resultCode((await alice!.request(manageRequest(version, 'gone', { receive: true }))).primitive), 700);
        assert.equal(resultCode((await alice!.request(manageRequest(version, 'never', { add: [{ id: wv('dl-bob') }] }))).primitive), 700);
        assert.deepEqual((await getList(alice!)).ids, [], 'ListManage on a missing list does not create it');
        // The name is free again.
        await create(alice!, 'gone');
        assert.deepEqual((await contents(alice!, 'gone')).members, [], 'a re-created list starts empty');
      });

      test('a list id in any accepted spelling refers to the same list', async () => {
        const [alice] = await online('sp-alice');
        await create(alice!, 'work');
        const spellings = [listId('sp-alice', 'work'), `wv:${user('sp-alice').toUpperCase()}/WORK@${DOMAIN.toUpperCase()}`, 'Work', `${user('sp-alice')}/work@${DOMAIN}`];
        for (const [i, spelling] of spellings.entries()) await manage(alice!, spelling, { add: [{ id: wv(`sp-m${i}`) }] });
        assert.deepEqual(
          (await contents(alice!, 'WORK')).members.map((m) => m.id),
          spellings.map((_, i) => wv(`sp-m${i}`)).sort(),
        );
        assert.deepEqual((await getList(alice!)).ids, [listId('sp-alice', 'work')], 'still one list');
        assert.equal(resultCode((await alice!.request(createListRequest(`wv:${user('sp-alice')}/WoRk@${DOMAIN}`))).primitive), 701, 'a different spelling is no new list');
        assert.equal(resultCode((await alice!.request(el('DeleteList-Request', [leaf('ContactList', spellings[1]!)]))).primitive), 200);
        assert.deepEqual((await getList(alice!)).ids, []);
      });

      test('another user’s list id is refused with 402 and their list is untouched', async () => {
        const [alice, bob] = await online('ot-alice', 'ot-bob');
        await create(bob!, 'secret', { members: [{ id: wv('ot-carol') }] });
        const theirs = listId('ot-bob', 'secret');
        assert.equal(resultCode((await alice!.request(manageRequest(version, theirs, { add: [{ id: wv('ot-alice') }] }))).primitive), 402, 'ListManage');
        assert.equal(resultCode((await alice!.request(el('DeleteList-Request', [leaf('ContactList', theirs)]))).primitive), 402, 'DeleteList');
        assert.equal(resultCode((await alice!.request(createListRequest(theirs))).primitive), 402, 'CreateList');
        assert.equal(resultCode((await alice!.request(getPresenceRequest(version, { lists: [theirs] }))).primitive), 402, 'GetPresence');
        assert.deepEqual((await contents(bob!, 'secret')).members, [{ id: wv('ot-carol') }]);
        assert.deepEqual((await getList(alice!)).ids, []);
      });

      test('SubscribePresence with a ContactList subscribes to every member; GetPresence with the list shows them once they grant', async () => {
        const [alice, bob, carol] = await online('sl-alice', 'sl-bob', 'sl-carol');
        await create(alice!, 'buddies', { members: [{ id: wv('sl-bob'), nick: 'B' }, { id: wv('sl-carol') }] });
        await subscribeList(alice!, ['buddies']);
        for (const owner of [bob!, carol!]) {
          const asked = authRequests(await owner.drain());
          if (version !== '1.3') assert.deepEqual(asked.map((a) => textOf(a, 'UserID')), [wv('sl-alice')], 'each member is asked');
          assert.deepEqual(await watchersOf(owner), [wv('sl-alice')], 'each member is watched');
        }
        assert.deepEqual([...(await presenceOfList(alice!, ['buddies'])).keys()], [], 'nothing before they grant');

        await grant(bob!, 'sl-alice');
        await grant(carol!, 'sl-alice');
        const got = await alice!.drain();
        assert.equal(onlineOf(notified(got, wv('sl-bob'))[0]), 'T');
        assert.equal(onlineOf(notified(got, wv('sl-carol'))[0]), 'T');
        const shown = await presenceOfList(alice!, [listId('sl-alice', 'buddies')]);
        assert.deepEqual([...shown.keys()].sort(), [wv('sl-bob'), wv('sl-carol')].sort());
        assert.equal(onlineOf(shown.get(wv('sl-bob'))), 'T');
        assert.equal(onlineOf(shown.get(wv('sl-carol'))), 'T');
      });

      test('an unknown contact list in GetPresence or SubscribePresence gets 700', async () => {
        const [alice] = await online('ul-alice');
        await create(alice!, 'known', { members: [{ id: wv('ul-alice') }] }); // one's own presence is always visible
        const got = (await alice!.request(getPresenceRequest(version, { lists: ['nolist'] }))).primitive;
        assert.equal(resultCode(got), 700, 'GetPresence');
        const sub = (await alice!.request(subscribeRequest(version, { lists: ['nolist'] }))).primitive;
        assert.equal(resultCode(sub), 700, 'SubscribePresence');
        const mixed = (await alice!.request(getPresenceRequest(version, { lists: ['known', 'nolist'] }))).primitive;
        assert.equal(resultCode(mixed), 201, 'GetPresence with one known and one unknown list');
        assert.deepEqual(childrenNamed(mixed, 'Presence').map((p) => textOf(p, 'UserID')), [wv('ul-alice')]);
        assert.deepEqual(
          childrenNamed(child(mixed, 'Result'), 'DetailedResult').map((d) => textOf(d, 'Code')),
          ['700'],
        );
      });

      if (version !== '1.1') {
        test('AutoSubscribe T: a member added later is watched too (and one removed is not); AutoSubscribe F leaves later members alone', async () => {
          const [alice, bob, dave, erin] = await online('as-alice', 'as-bob', 'as-dave', 'as-erin');
          await create(alice!, 'auto', { members: [{ id: wv('as-bob') }] });
          await create(alice!, 'manual');
          await subscribeList(alice!, ['auto'], true);
          await subscribeList(alice!, ['manual'], false);
          await bob!.drain();
          await dave!.drain();
          await erin!.drain();

          await manage(alice!, 'auto', { add: [{ id: wv('as-dave'), nick: 'Dave' }] });
          if (version === '1.2') assert.deepEqual(authRequests(await dave!.drain()).map((a) => textOf(a, 'UserID')), [wv('as-alice')], 'the added user is asked');
          assert.deepEqual(await watchersOf(dave!), [wv('as-alice')]);
          await grant(dave!, 'as-alice');
          const got = notified(await alice!.drain(), wv('as-dave'));
          assert.equal(got.length, 1, 'the watcher sees the added user without subscribing again');
          assert.equal(onlineOf(got[0]), 'T');

          await manage(alice!, 'manual', { add: [{ id: wv('as-erin') }] });
          assert.equal(authRequests(await erin!.drain()).length, 0, 'AutoSubscribe F: nobody is asked');
          assert.deepEqual(await watchersOf(erin!), []);

          await manage(alice!, 'auto', { remove: [wv('as-dave')] });
          assert.deepEqual(await watchersOf(dave!), [], 'a member removed from an auto-subscribed list is no longer watched');
          assert.deepEqual(await watchersOf(bob!), [wv('as-alice')]);
        });
      }

      if (version === '1.3') {
        test('1.3: ListManage AuthorizeAndGrant T lets the added users see the list owner', async () => {
          const [alice, bob, carol] = await online('ag-alice', 'ag-bob', 'ag-carol');
          await create(alice!, 'trusted');
          await manage(alice!, 'trusted', { add: [{ id: wv('ag-bob') }], authorizeAndGrant: true });
          await manage(alice!, 'trusted', { add: [{ id: wv('ag-carol') }], authorizeAndGrant: false });
          await subscribe(bob!, ['ag-alice']);
          await subscribe(carol!, ['ag-alice']);
          const seen = notified(await bob!.drain(), wv('ag-alice'));
          assert.equal(seen.length, 1, 'a granted member sees the owner at once');
          assert.equal(onlineOf(seen[0]), 'T');
          assert.deepEqual(notified(await carol!.drain(), wv('ag-alice')), [], 'a member added without AuthorizeAndGrant sees nothing');
        });
      }
    });
  }
});

// ── Limits ─────────────────────────────────────────────────────────────────────────────────

describe('contact lists: limits (maxContactLists 2, maxContactsPerList 3)', () => {
  const server = sharedServer({ config: { presence: { maxContactLists: 2, maxContactsPerList: 3 } } });

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { wv, online, create, manage, contents, getList } = listKit(server, variant);
    test(`${label}: 753 past the list limit, 754 past the member limit, nothing changed by a refusal`, async () => {
      const [alice] = await online('lm-alice');
      await create(alice!, 'one', { members: [{ id: wv('lm-a') }, { id: wv('lm-b') }] });
      const tooMany = (await alice!.request(createListRequest('two', { members: [1, 2, 3, 4].map((i) => ({ id: wv(`lm-m${i}`) })) }))).primitive;
      assert.equal(resultCode(tooMany), 754, 'four members in a new list');
      await create(alice!, 'two');
      const third = (await alice!.request(createListRequest('three'))).primitive;
      assert.equal(resultCode(third), 753);
      assert.equal((await getList(alice!)).ids.length, 2);

      await manage(alice!, 'one', { add: [{ id: wv('lm-c') }] }); // 3: at the limit
      const over = (await alice!.request(manageRequest(version, 'one', { add: [{ id: wv('lm-d') }] }))).primitive;
      assert.equal(resultCode(over), 754);
      assert.deepEqual((await contents(alice!, 'one')).members.map((m) => m.id), [wv('lm-a'), wv('lm-b'), wv('lm-c')].sort());
      // Re-adding a member already there is no growth.
      await manage(alice!, 'one', { add: [{ id: wv('lm-a'), nick: 'A' }] });

      // Deleting a list makes room for another.
      assert.equal(resultCode((await alice!.request(el('DeleteList-Request', [leaf('ContactList', 'two')]))).primitive), 200);
      await create(alice!, 'three');
    });
  }
});

// ── Restart ────────────────────────────────────────────────────────────────────────────────

describe('contact lists survive a restart', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { label } = variant;
    const { wv, listId, online, loggedIn, create, manage, contents, getList } = listKit(server, variant);
    test(`${label}: lists, members, nicknames and properties after stop and restart`, async () => {
      const [alice] = await online('rs-alice');
      await create(alice!, 'family', { members: [{ id: wv('rs-mum'), nick: 'Mum' }], displayName: 'Family', isDefault: true });
      await create(alice!, 'work');
      await manage(alice!, 'work', { add: [{ id: wv('rs-boss') }] });
      await manage(alice!, 'work', { displayName: 'Office' });

      await server().stop();
      await server().restart();

      const again = await loggedIn('rs-alice');
      const lists = await getList(again);
      assert.deepEqual(lists.ids, [listId('rs-alice', 'family'), listId('rs-alice', 'work')].sort());
      assert.equal(lists.defaultList, listId('rs-alice', 'family'));
      assert.deepEqual(await contents(again, 'family'), { members: [{ id: wv('rs-mum'), nick: 'Mum' }], displayName: 'Family', isDefault: 'T' });
      assert.deepEqual(await contents(again, 'work'), { members: [{ id: wv('rs-boss') }], displayName: 'Office', isDefault: 'F' });
    });
  }
});
