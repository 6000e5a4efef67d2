// Presence over real HTTP (reference imps-csp.md §3.3–3.4, prior-art.md §1.16): SubscribePresence,
// reactive authorisation (PresenceAuth-Request / PresenceAuth-User in 1.1 and 1.2, ListManage
// AuthorizeAndGrant or an attribute list in 1.3), PresenceNotification-Request to every live
// session of every watcher (one per change and phone, always Qualifier T), UpdatePresence,
// GetPresence (your own always), the online/offline presence published on the user's behalf at
// login, logout and expiry, GetWatcherList, CancelAuth, GetReactiveAuthStatus, attribute lists,
// the owner's policy (ask / auto / deny, per user from the CLI) and what survives a restart.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer } from '../support/shared-server.ts';
import { resultCode, detailedResults } from '../support/phone.ts';
import { MATRIX } from '../support/matrix.ts';
import { villageCli } from '../support/cli.ts';
import { assertStatus, authRequests, namesOf, notified, presenceKit, qualifierOf, selectors, subscribeRequest, userRefs, value, valueOf } from '../support/presence.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';

/** UnsubscribePresence-Request (only this suite sends it). */
const unsubscribeRequest = (version: CspVersion, users: string[]) => el('UnsubscribePresence-Request', userRefs(version, users));

/** One request as raw XML (to send what no encoder writes: lower-case names). */
function rawXml(version: CspVersion, sessionId: string, id: string, body: string): string {
  const ns = NAMESPACES[version];
  return (
    `<?xml version="1.0" encoding="UTF-8"?><WV-CSP-Message xmlns="${ns.csp}"><Session><SessionDescriptor><SessionType>Inband</SessionType>` +
    `<SessionID>${sessionId}</SessionID></SessionDescriptor><Transaction><TransactionDescriptor><TransactionMode>Request</TransactionMode>` +
    `<TransactionID>${id}</TransactionID></TransactionDescriptor><TransactionContent xmlns="${ns.trc}">${body}</TransactionContent></Transaction></Session></WV-CSP-Message>`
  );
}

// ── The default server: policy "ask" ─────────────────────────────────────────────────────────

describe('presence (policy ask)', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { version, encoding, label } = variant;
    const { user, wv, online, loggedIn, subscribe, update, presenceOf, grant, deny, watching } = presenceKit(server, variant);

    describe(label, () => {
      test('subscribe → the owner is asked (PresenceAuth-Request in 1.1/1.2) → granted → the watcher gets OnlineStatus T and UserAvailability, qualified', async () => {
        const [alice, bob] = await online('fl-alice', 'fl-bob');
        await alice!.drain();
        await subscribe(alice!, ['fl-bob'], undefined);
        assert.deepEqual(notified(await alice!.drain(), wv('fl-bob')), [], 'nothing is shown before the owner decides');
        assert.equal(await presenceOf(alice!, 'fl-bob'), undefined, 'GetPresence shows nothing either');

        const asked = authRequests(await bob!.drain());
        if (version === '1.3') assert.equal(asked.length, 0, 'CSP 1.3 has no PresenceAuth-Request');
        else {
          assert.equal(asked.length, 1, 'the owner is asked once');
          assert.equal(textOf(asked[0], 'UserID'), wv('fl-alice'));
        }

        await grant(bob!, 'fl-alice');
        const got = notified(await alice!.drain(), wv('fl-bob'));
        assert.equal(got.length, 1, 'one PresenceNotification-Request about the owner');
        const list = got[0]!;
        assert.equal(list.attrs?.xmlns, NAMESPACES[version].pa, 'PresenceSubList carries the PA namespace');
        assert.equal(valueOf(list, 'OnlineStatus'), 'T');
        assert.equal(qualifierOf(list, 'OnlineStatus'), 'T', 'Android ignores an OnlineStatus without Qualifier T');
        assert.equal(valueOf(list, 'UserAvailability'), 'AVAILABLE');
        assert.equal(qualifierOf(list, 'UserAvailability'), 'T');

        const shown = await presenceOf(alice!, 'fl-bob');
        assert.equal(valueOf(shown, 'OnlineStatus'), 'T');
        assert.equal(valueOf(shown, 'UserAvailability'), 'AVAILABLE');
        assert.deepEqual(notified(await bob!.drain(), wv('fl-bob')), [], 'the owner is not notified about themselves');
      });

      test('undecided (and, in 1.1/1.2, denied): the watcher sees nothing, the owner sees everything', async () => {
        const [carol, bob] = await online('dn-carol', 'dn-bob');
        await subscribe(carol!, ['dn-bob']);
        await update(bob!, [value('StatusText', 'secret plans')]);
        assert.deepEqual(notified(await carol!.drain(), wv('dn-bob')), [], 'nothing while undecided');
        assert.equal(await presenceOf(carol!, 'dn-bob'), undefined);

        if (version !== '1.3') {
          assert.equal(authRequests(await bob!.drain()).length, 1);
          await deny(bob!, 'dn-carol');
          assert.deepEqual(notified(await carol!.drain(), wv('dn-bob')), [], 'a denial shows nothing');
          await update(bob!, [value('StatusText', 'more secret plans')]);
          assert.deepEqual(notified(await carol!.drain(), wv('dn-bob')), [], 'nor do later changes');
          assert.equal(await presenceOf(carol!, 'dn-bob'), undefined);
        }
        const own = await presenceOf(bob!, 'dn-bob');
        assert.equal(valueOf(own, 'StatusText'), version === '1.3' ? 'secret plans' : 'more secret plans');
        assert.equal(valueOf(own, 'OnlineStatus'), 'T');
      });

      if (version !== '1.3') {
        test('an owner who was offline gets the PresenceAuth-Request at the next login', async () => {
          const [bob] = await online('of-bob');
          await bob!.logout();
          const [alice] = await online('of-alice');
          await subscribe(alice!, ['of-bob']);
          const again = await loggedIn('of-bob');
          const asked = authRequests(await again.drain());
          assert.equal(asked.length, 1);
          assert.equal(textOf(asked[0], 'UserID'), wv('of-alice'));
          await grant(again, 'of-alice');
          assert.equal(valueOf(notified(await alice!.drain(), wv('of-bob'))[0], 'OnlineStatus'), 'T');
        });
      }

      if (version === '1.2') {
        test('PresenceAuth-User with a PresenceSubList grants only those attributes', async () => {
          const [alice, bob] = await online('pa-alice', 'pa-bob');
          await update(bob!, [value('StatusText', 'only this'), value('Alias', 'hidden alias')]);
          await subscribe(alice!, ['pa-bob'], ['OnlineStatus', 'StatusText', 'Alias']);
          const asked = authRequests(await bob!.drain());
          assert.equal(asked.length, 1);
          assert.deepEqual(namesOf(child(asked[0], 'PresenceSubList')), ['Alias', 'OnlineStatus', 'StatusText'], 'the request names what the watcher asked for');

          const { primitive } = await bob!.request(el('PresenceAuth-User', [leaf('UserID', wv('pa-alice')), leaf('Acceptance', true), selectors(version, ['StatusText'])]));
          assertStatus(primitive);
          let got = notified(await alice!.drain(), wv('pa-bob'));
          assert.equal(got.length, 1);
          assert.deepEqual(namesOf(got[0]), ['StatusText']);
          assert.equal(valueOf(got[0], 'StatusText'), 'only this');

          await update(bob!, [value('Alias', 'another hidden alias')]);
          assert.deepEqual(notified(await alice!.drain(), wv('pa-bob')), [], 'a change the watcher may not see is not notified');
          await update(bob!, [value('StatusText', 'changed'), value('Alias', 'still hidden')]);
          got = notified(await alice!.drain(), wv('pa-bob'));
          assert.equal(got.length, 1);
          assert.deepEqual(namesOf(got[0]), ['StatusText']);
          assert.equal(valueOf(got[0], 'StatusText'), 'changed');
          assert.deepEqual(namesOf(await presenceOf(alice!, 'pa-bob')), ['StatusText']);
        });
      }

      test('a SubscribePresence PresenceSubList narrows what the watcher is sent', async () => {
        const [alice, bob] = await online('sn-alice', 'sn-bob');
        await subscribe(alice!, ['sn-bob'], ['StatusText']);
        await bob!.drain();
        await grant(bob!, 'sn-alice');
        await alice!.drain();
        await update(bob!, [value('Alias', 'not asked for')]);
        assert.deepEqual(notified(await alice!.drain(), wv('sn-bob')), [], 'an attribute not subscribed to is not notified');
        await update(bob!, [value('StatusText', 'asked for'), value('Alias', 'not asked for either')]);
        const got = notified(await alice!.drain(), wv('sn-bob'));
        assert.equal(got.length, 1);
        assert.deepEqual(namesOf(got[0]), ['StatusText']);
        assert.equal(valueOf(got[0], 'StatusText'), 'asked for');
      });

      test('UpdatePresence: every watcher gets one notification carrying the new values, each with Qualifier T', async () => {
        const [alice, carol, bob] = await online('up-alice', 'up-carol', 'up-bob');
        await watching(alice!, 'up-alice', bob!, 'up-bob');
        await watching(carol!, 'up-carol', bob!, 'up-bob');
        await update(bob!, [
          value('StatusText', 'at the pub'),
          value('StatusMood', 'HAPPY', false), // no Qualifier: the server adds Qualifier T
          value('Alias', 'Bobby'),
          value('UserAvailability', 'DISCREET'),
          el('ClientInfo', [leaf('Qualifier', true), leaf('ClientType', 'MOBILE_PHONE'), leaf('DevManufacturer', 'Nokia'), leaf('Model', 'N95')]),
          el('CommCap', [leaf('Qualifier', true), el('CommC', [leaf('Cap', 'IM'), leaf('Status', 'OPEN'), leaf('Contact', wv('up-bob'))])]),
        ]);
        for (const [name, watcher] of [['alice', alice!], ['carol', carol!]] as const) {
          const got = notified(await watcher.drain(), wv('up-bob'));
          assert.equal(got.length, 1, `${name} gets exactly one notification`);
          const list = got[0]!;
          assert.equal(valueOf(list, 'StatusText'), 'at the pub');
          assert.equal(valueOf(list, 'StatusMood'), 'HAPPY');
          assert.equal(valueOf(list, 'Alias'), 'Bobby');
          assert.equal(valueOf(list, 'UserAvailability'), 'DISCREET');
          assert.equal(valueOf(list, 'OnlineStatus'), 'T', 'what did not change is still there');
          for (const a of ['StatusText', 'StatusMood', 'Alias', 'UserAvailability', 'OnlineStatus', 'ClientInfo', 'CommCap']) assert.equal(qualifierOf(list, a), 'T', `${a} has Qualifier T`);
          assert.equal(textOf(child(list, 'ClientInfo'), 'ClientType'), 'MOBILE_PHONE');
          assert.equal(textOf(child(list, 'ClientInfo'), 'Model'), 'N95');
          const commC = child(child(list, 'CommCap'), 'CommC');
          assert.equal(textOf(commC, 'Cap'), 'IM');
          assert.equal(textOf(commC, 'Status'), 'OPEN');
        }
        assert.deepEqual(notified(await bob!.drain(), wv('up-bob')), []);

        // Two changes before the watcher polls: one notification, with the latest value.
        await update(bob!, [value('StatusText', 'one')]);
        await update(bob!, [value('StatusText', 'two')]);
        const coalesced = notified(await alice!.drain(), wv('up-bob'));
        assert.equal(coalesced.length, 1, 'waiting changes of one user are coalesced');
        assert.equal(valueOf(coalesced[0], 'StatusText'), 'two');
      });

      test('the owner logs out → watchers get OnlineStatus F; logging in again brings OnlineStatus T', async () => {
        const [alice, bob] = await online('lo-alice', 'lo-bob');
        await watching(alice!, 'lo-alice', bob!, 'lo-bob');
        await bob!.logout();
        let got = notified(await alice!.drain(), wv('lo-bob'));
        assert.equal(got.length, 1);
        assert.equal(valueOf(got[0], 'OnlineStatus'), 'F');
        assert.equal(qualifierOf(got[0], 'OnlineStatus'), 'T');
        assert.equal(valueOf(await presenceOf(alice!, 'lo-bob'), 'OnlineStatus'), 'F');

        await loggedIn('lo-bob');
        got = notified(await alice!.drain(), wv('lo-bob'));
        assert.equal(got.length, 1);
        assert.equal(valueOf(got[0], 'OnlineStatus'), 'T');
        assert.equal(valueOf(got[0], 'UserAvailability'), 'AVAILABLE');
      });

      test('a user with two phones gets each change exactly once on each phone', async () => {
        const first = await loggedIn('tp-alice', { clientId: `tp-first-${version}-${encoding}` });
        const second = await loggedIn('tp-alice', { clientId: `tp-second-${version}-${encoding}` });
        const [bob] = await online('tp-bob');
        // Both phones subscribe: still one subscription.
        await subscribe(first, ['tp-bob']);
        await subscribe(second, ['tp-bob']);
        await bob!.drain();
        await grant(bob!, 'tp-alice');
        for (const p of [first, second]) assert.equal(notified(await p.drain(), wv('tp-bob')).length, 1, 'the grant shows the owner on each phone once');
        await update(bob!, [value('StatusText', 'for both phones')]);
        for (const [name, p] of [['first', first], ['second', second]] as const) {
          const got = notified(await p.drain(), wv('tp-bob'));
          assert.equal(got.length, 1, `the ${name} phone gets the change once`);
          assert.equal(valueOf(got[0], 'StatusText'), 'for both phones');
        }
      });

      test('a watcher of two users gets the changes of both', async () => {
        const [a, b, c] = await online('th-a', 'th-b', 'th-c');
        await subscribe(a!, ['th-b', 'th-c']);
        await b!.drain();
        await c!.drain();
        await grant(b!, 'th-a');
        await grant(c!, 'th-a');
        await a!.drain();
        await update(b!, [value('StatusText', 'from b')]);
        await update(c!, [value('StatusText', 'from c')]);
        const got = await a!.drain();
        assert.deepEqual(notified(got, wv('th-b')).map((l) => valueOf(l, 'StatusText')), ['from b']);
        assert.deepEqual(notified(got, wv('th-c')).map((l) => valueOf(l, 'StatusText')), ['from c']);
      });

      test('GetPresence of yourself always works and shows everything you set', async () => {
        const [me] = await online('gs-me');
        await update(me!, [
          value('StatusText', 'me myself'),
          value('StatusMood', 'SLEEPY'),
          value('Alias', 'Me'),
          el('ClientInfo', [leaf('Qualifier', true), leaf('ClientType', 'MOBILE_PHONE'), leaf('Model', '6630')]),
          el('CommCap', [leaf('Qualifier', true), el('CommC', [leaf('Cap', 'SMS'), leaf('Status', 'OPEN'), leaf('Contact', '+15550100')])]),
        ]);
        const own = await presenceOf(me!, 'gs-me');
        assert.ok(own, 'a user always sees their own presence');
        assert.equal(valueOf(own, 'OnlineStatus'), 'T');
        assert.equal(valueOf(own, 'StatusText'), 'me myself');
        assert.equal(valueOf(own, 'StatusMood'), 'SLEEPY');
        assert.equal(valueOf(own, 'Alias'), 'Me');
        assert.equal(textOf(child(own, 'ClientInfo'), 'Model'), '6630');
        assert.equal(textOf(child(child(own, 'CommCap'), 'CommC'), 'Cap'), 'SMS');
        assert.deepEqual(namesOf(await presenceOf(me!, 'gs-me', ['StatusText'])), ['StatusText'], 'a PresenceSubList selects');
      });

      if (version === '1.1') {
        test('1.1: notifications carry empty CommCap and ClientInfo when the owner set none', async () => {
          const [alice, bob] = await online('ec-alice', 'ec-bob');
          await subscribe(alice!, ['ec-bob']);
          await bob!.drain();
          await grant(bob!, 'ec-alice');
          const got = notified(await alice!.drain(), wv('ec-bob'));
          assert.equal(got.length, 1);
          assert.ok(child(got[0], 'CommCap'), 'CommCap is there');
          assert.ok(child(got[0], 'ClientInfo'), 'ClientInfo is there');
          assert.equal(child(child(got[0], 'CommCap'), 'CommC'), undefined, 'and empty');
          const shown = await presenceOf(alice!, 'ec-bob');
          assert.ok(child(shown, 'CommCap') && child(shown, 'ClientInfo'), 'GetPresence too');

          await update(bob!, [el('CommCap', [leaf('Qualifier', true), el('CommC', [leaf('Cap', 'IM'), leaf('Status', 'OPEN')])])]);
          const after = notified(await alice!.drain(), wv('ec-bob'));
          assert.equal(after.length, 1);
          assert.equal(childrenNamed(after[0], 'CommCap').length, 1, 'the real CommCap replaces the empty one');
          assert.equal(textOf(child(child(after[0], 'CommCap'), 'CommC'), 'Cap'), 'IM');
        });
      }

      test('GetWatcherList lists the watchers in the version’s form; UnsubscribePresence takes one off and stops its notifications', async () => {
        const [alice, carol, bob] = await online('wl-alice', 'wl-carol', 'wl-bob');
        await watching(alice!, 'wl-alice', bob!, 'wl-bob');
        await watching(carol!, 'wl-carol', bob!, 'wl-bob');
        const watchers = async () => {
          const { primitive } = await bob!.request(el('GetWatcherList-Request'));
          assert.equal(primitive.name, 'GetWatcherList-Response');
          if (version === '1.1') {
            assert.equal(childrenNamed(primitive, 'Watcher').length, 0, '1.1 lists User elements');
            return { ids: childrenNamed(primitive, 'User').map((u) => textOf(u, 'UserID')).sort(), count: undefined };
          }
          assert.equal(childrenNamed(primitive, 'User').length, 0, `${version} lists Watcher elements`);
          const ids = childrenNamed(primitive, 'Watcher').map((w) => textOf(w, 'UserID') ?? textOf(child(w, 'User'), 'UserID'));
          return { ids: ids.sort(), count: textOf(primitive, 'WatcherCount') };
        };
        let list = await watchers();
        assert.deepEqual(list.ids, [wv('wl-alice'), wv('wl-carol')].sort());
        if (version === '1.3') assert.equal(list.count, '2');

        const { primitive } = await alice!.request(unsubscribeRequest(version, [wv('wl-bob')]));
        assertStatus(primitive, 200, 'UnsubscribePresence');
        list = await watchers();
        assert.deepEqual(list.ids, [wv('wl-carol')]);
        if (version === '1.3') assert.equal(list.count, '1');
        await update(bob!, [value('StatusText', 'after unsubscribing')]);
        assert.deepEqual(notified(await alice!.drain(), wv('wl-bob')), [], 'an unsubscribed user hears nothing');
        assert.equal(notified(await carol!.drain(), wv('wl-bob')).length, 1, 'the remaining watcher still does');
      });

      if (version !== '1.3') {
        test('CancelAuth-Request: the watcher sees the owner go offline and then nothing', async () => {
          const [alice, bob] = await online('ca-alice', 'ca-bob');
          await watching(alice!, 'ca-alice', bob!, 'ca-bob');
          const { primitive } = await bob!.request(el('CancelAuth-Request', [leaf('UserID', wv('ca-alice'))]));
          assertStatus(primitive, 200, 'CancelAuth');
          const got = notified(await alice!.drain(), wv('ca-bob'));
          assert.equal(got.length, 1, 'the watcher is told');
          assert.equal(valueOf(got[0], 'OnlineStatus'), 'F');
          assert.equal(qualifierOf(got[0], 'OnlineStatus'), 'T');
          assert.equal(await presenceOf(alice!, 'ca-bob'), undefined, 'GetPresence shows nothing');
          await update(bob!, [value('StatusText', 'after cancelling')]);
          assert.deepEqual(notified(await alice!.drain(), wv('ca-bob')), [], 'later changes are not sent');
        });
      }

      if (version === '1.2') {
        test('GetReactiveAuthStatus reports GRANTED, DENIED and PENDING (with the granted attributes)', async () => {
          const [alice, carol, dave, bob] = await online('ra-alice', 'ra-carol', 'ra-dave', 'ra-bob');
          for (const p of [alice!, carol!, dave!]) await subscribe(p, ['ra-bob']);
          assert.equal(authRequests(await bob!.drain()).length, 3);
          assertStatus((await bob!.request(el('PresenceAuth-User', [leaf('UserID', wv('ra-alice')), leaf('Acceptance', true), selectors(version, ['StatusText'])]))).primitive);
          await deny(bob!, 'ra-carol');

          const { primitive } = await bob!.request(el('GetReactiveAuthStatus-Request'));
          assert.equal(primitive.name, 'GetReactiveAuthStatus-Response');
          const states = new Map(
            childrenNamed(child(primitive, 'ReactiveAuthStatusList'), 'ReactiveAuthStatus').map((s) => [textOf(s, 'UserID'), { state: textOf(s, 'ReactiveAuthState'), list: child(s, 'PresenceSubList') }]),
          );
          assert.deepEqual([...states.keys()].sort(), [wv('ra-alice'), wv('ra-carol'), wv('ra-dave')].sort());
          assert.equal(states.get(wv('ra-alice'))!.state, 'GRANTED');
          assert.deepEqual(namesOf(states.get(wv('ra-alice'))!.list), ['StatusText']);
          assert.equal(states.get(wv('ra-carol'))!.state, 'DENIED');
          assert.equal(states.get(wv('ra-dave'))!.state, 'PENDING');

          const one = (await bob!.request(el('GetReactiveAuthStatus-Request', [leaf('UserID', wv('ra-carol'))]))).primitive;
          const only = childrenNamed(child(one, 'ReactiveAuthStatusList'), 'ReactiveAuthStatus');
          assert.deepEqual(only.map((s) => [textOf(s, 'UserID'), textOf(s, 'ReactiveAuthState')]), [[wv('ra-carol'), 'DENIED']], 'UserID selects');
        });
      }

      test('attribute lists: per watcher and default narrow what granted watchers see; GetAttributeList returns them; DeleteAttributeList lifts them', async () => {
        const [alice, carol, bob] = await online('al-alice', 'al-carol', 'al-bob');
        await watching(alice!, 'al-alice', bob!, 'al-bob');
        await watching(carol!, 'al-carol', bob!, 'al-bob');
        await update(bob!, [value('StatusText', 'visible to alice'), value('Alias', 'visible to carol')]);
        await alice!.drain();
        await carol!.drain();

        const users = (ids: string[]) => (ids.length === 0 ? [] : version === '1.3' ? [el('UserIDList', ids.map((u) => leaf('UserID', u)))] : ids.map((u) => leaf('UserID', u)!));
        const create = async (names: string[], ids: string[], defaultList: boolean) => {
          const { primitive } = await bob!.request(el('CreateAttributeList-Request', [selectors(version, names), ...users(ids), leaf('DefaultList', defaultList)]));
          assertStatus(primitive, 200, 'CreateAttributeList');
        };
        await create(['StatusText'], [wv('al-alice')], false);
        let got = notified(await alice!.drain(), wv('al-bob'));
        assert.ok(got.length <= 1);
        if (got.length) assert.deepEqual(namesOf(got[0]), ['StatusText'], 'a notification after the change shows only the list');
        assert.deepEqual(namesOf(await presenceOf(alice!, 'al-bob')), ['StatusText']);
        assert.equal(valueOf(await presenceOf(alice!, 'al-bob'), 'StatusText'), 'visible to alice');

        await create(['Alias'], [], true);
        assert.deepEqual(namesOf(await presenceOf(carol!, 'al-bob')), ['Alias'], 'the default list applies to watchers without their own');
        assert.deepEqual(namesOf(await presenceOf(alice!, 'al-bob')), ['StatusText'], 'a watcher’s own list wins over the default');
        await update(bob!, [value('StatusText', 'changed'), value('Alias', 'changed alias')]);
        got = notified(await carol!.drain(), wv('al-bob'));
        assert.equal(got.length, 1);
        assert.deepEqual(namesOf(got[0]), ['Alias']);
        assert.equal(valueOf(got[0], 'Alias'), 'changed alias');
        await alice!.drain();

        const getRequest =
          version === '1.3'
            ? el('GetAttributeList-Request', [leaf('DefaultList', true), el('UserIDList', [leaf('UserID', wv('al-alice'))])])
            : el('GetAttributeList-Request', [leaf('DefaultList', true), el('User', [leaf('UserID', wv('al-alice'))])]);
        const { primitive: lists } = await bob!.request(getRequest);
        assert.equal(lists.name, 'GetAttributeList-Response');
        assert.equal(resultCode(lists), 200);
        assert.deepEqual(namesOf(child(child(lists, 'DefaultAttributeList'), 'PresenceSubList')), ['Alias']);
        const entries = childrenNamed(lists, 'Presence');
        assert.deepEqual(entries.map((p) => textOf(p, 'UserID')), [wv('al-alice')]);
        assert.deepEqual(namesOf(child(entries[0], 'PresenceSubList')), ['StatusText']);

        const remove = async (ids: string[], defaultList: boolean) => {
          const { primitive } = await bob!.request(el('DeleteAttributeList-Request', [...users(ids), leaf('DefaultList', defaultList)]));
          assertStatus(primitive, 200, 'DeleteAttributeList');
        };
        await remove([wv('al-alice')], false);
        assert.deepEqual(namesOf(await presenceOf(alice!, 'al-bob')), ['Alias'], 'without her own list the default applies');
        await remove([], true);
        const all = await presenceOf(alice!, 'al-bob');
        for (const a of ['OnlineStatus', 'UserAvailability', 'StatusText', 'Alias']) assert.ok(child(all, a), `${a} is visible again`);
      });

      test('SubscribePresence: an unknown user gets 531, alone or in a 201 DetailedResult beside a known one', async () => {
        const [alice, bob] = await online('uk-alice', 'uk-bob');
        const alone = (await alice!.request(subscribeRequest(version, { users: [wv('uk-nobody')] }))).primitive;
        assert.equal(resultCode(alone), 531);
        const mixed = (await alice!.request(subscribeRequest(version, { users: [wv('uk-bob'), wv('uk-ghost')] }))).primitive;
        assert.equal(mixed.name, 'Status');
        assert.equal(resultCode(mixed), 201);
        assert.deepEqual(detailedResults(mixed), [{ code: 531, userIds: [wv('uk-ghost')] }]);
        if (version !== '1.3') assert.equal(authRequests(await bob!.drain()).length, 1, 'the known user was subscribed to');
        await grant(bob!, 'uk-alice');
        assert.equal(notified(await alice!.drain(), wv('uk-bob')).length, 1);
      });

      if (encoding === 'xml') {
        test('raw XML: element and attribute names in any case are understood', async () => {
          const [alice, bob] = await online('lc-alice', 'lc-bob');
          await watching(alice!, 'lc-alice', bob!, 'lc-bob');
          const body =
            `<updatepresence-request><presencesublist xmlns="${NAMESPACES[version].pa}">` +
            `<statustext><qualifier>T</qualifier><presencevalue>lower case</presencevalue></statustext>` +
            `<STATUSMOOD><Qualifier>T</Qualifier><PRESENCEVALUE>EXCITED</PRESENCEVALUE></STATUSMOOD>` +
            `</presencesublist></updatepresence-request>`;
          const exchange = await bob!.postRaw(rawXml(version, bob!.sessionId!, 'lc1', body));
          assert.equal(exchange.status, 200);
          const answer = exchange.message?.transactions.find((t) => t.id === 'lc1' && t.mode === 'Response')?.primitive;
          assert.ok(answer, exchange.raw.toString('utf8').slice(0, 500));
          assertStatus(answer, 200, 'lower-case UpdatePresence');
          const got = notified(await alice!.drain(), wv('lc-bob'));
          assert.equal(got.length, 1);
          assert.equal(valueOf(got[0], 'StatusText'), 'lower case');
          assert.equal(valueOf(got[0], 'StatusMood'), 'EXCITED');
          const own = await presenceOf(bob!, 'lc-bob');
          assert.equal(valueOf(own, 'StatusText'), 'lower case');

          const subscribeBody = version === '1.3' ? '' : `<subscribepresence-request><user><userid>${wv('lc-bob').toUpperCase()}</userid></user>${version === '1.2' ? '<autosubscribe>F</autosubscribe>' : ''}</subscribepresence-request>`;
          if (subscribeBody) {
            const [carol] = await online('lc-carol');
            const sub = await carol!.postRaw(rawXml(version, carol!.sessionId!, 'lc2', subscribeBody));
            assertStatus(sub.message!.transactions.find((t) => t.id === 'lc2')!.primitive!, 200, 'lower-case SubscribePresence');
            const asked = authRequests(await bob!.drain());
            assert.deepEqual(asked.map((a) => textOf(a, 'UserID')), [wv('lc-carol')]);
          }
        });
      }

      if (version === '1.2') {
        test('1.2: the IM presence value (CommCap/CommC/Cap IM) is accepted and passed on', async () => {
          const [alice, bob] = await online('im-alice', 'im-bob');
          await watching(alice!, 'im-alice', bob!, 'im-bob');
          await update(bob!, [el('CommCap', [leaf('Qualifier', true), el('CommC', [leaf('Cap', 'IM'), leaf('Status', 'OPEN'), leaf('Contact', wv('im-bob')), leaf('Note', 'IM online')])])]);
          const got = notified(await alice!.drain(), wv('im-bob'));
          assert.equal(got.length, 1);
          const commC = child(child(got[0], 'CommCap'), 'CommC');
          assert.equal(textOf(commC, 'Cap'), 'IM');
          assert.equal(textOf(commC, 'Status'), 'OPEN');
          assert.equal(textOf(commC, 'Note'), 'IM online');
        });
      }

      test('a per-user policy set with the CLI overrides "ask"; "default" brings "ask" back', async () => {
        const [alice, carol, bob] = await online('pu-alice', 'pu-carol', 'pu-bob');
        await bob!.drain();
        const run = await villageCli(server(), ['user', 'policy', user('pu-bob'), 'auto']);
        assert.equal(run.code, 0, run.stderr);
        await subscribe(alice!, ['pu-bob']);
        const got = notified(await alice!.drain(), wv('pu-bob'));
        assert.equal(got.length, 1, 'the watcher sees the owner at once');
        assert.equal(valueOf(got[0], 'OnlineStatus'), 'T');
        assert.equal(authRequests(await bob!.drain()).length, 0, 'nobody is asked');

        const back = await villageCli(server(), ['user', 'policy', user('pu-bob'), 'default']);
        assert.equal(back.code, 0, back.stderr);
        await subscribe(carol!, ['pu-bob']);
        assert.deepEqual(notified(await carol!.drain(), wv('pu-bob')), [], 'under "ask" again nothing is shown');
        assert.equal(await presenceOf(carol!, 'pu-bob'), undefined);
        if (version !== '1.3') assert.equal(authRequests(await bob!.drain()).length, 1, 'the owner is asked');
      });
    });
  }
});

// ── Session expiry ─────────────────────────────────────────────────────────────────────────

describe('presence: session expiry publishes OnlineStatus F', () => {
  const server = sharedServer({ config: { session: { keepAliveMin: 1, keepAliveDefault: 1 } } });

  for (const variant of MATRIX) {
    const { label } = variant;
    const { user, wv, phone, online, watching } = presenceKit(server, variant);
    test(`${label}: an owner whose session expires looks offline to watchers`, async () => {
      const [alice] = await online('ex-alice'); // TimeToLive 600: stays
      const bob = phone();
      assert.equal(resultCode(await bob.loginPassword(user('ex-bob'), 'pw', 1)), 200);
      await watching(alice!, 'ex-alice', bob, 'ex-bob');
      // Bob goes quiet; Alice keeps polling until the expiry shows (or the deadline passes).
      const deadline = Date.now() + 15_000;
      let offline: CspElement[] = [];
      while (offline.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        offline = notified(await alice!.drain(), wv('ex-bob')).filter((l) => valueOf(l, 'OnlineStatus') === 'F');
      }
      assert.equal(offline.length, 1, 'watchers are told OnlineStatus F once the session expired');
      assert.equal(qualifierOf(offline[0], 'OnlineStatus'), 'T');
      assert.equal(resultCode((await bob.request(el('KeepAlive-Request'))).primitive), 604, 'the session is gone');
    });
  }
});

// ── Server-wide policies ───────────────────────────────────────────────────────────────────

describe('presence: policy auto', () => {
  const server = sharedServer({ config: { presence: { authorization: 'auto' } } });

  for (const variant of MATRIX) {
    const { label } = variant;
    const { wv, online, subscribe, update, presenceOf } = presenceKit(server, variant);
    test(`${label}: subscribing shows the presence at once, nobody is asked`, async () => {
      const [alice, bob] = await online('au-alice', 'au-bob');
      await bob!.drain();
      await subscribe(alice!, ['au-bob']);
      const got = notified(await alice!.drain(), wv('au-bob'));
      assert.equal(got.length, 1);
      assert.equal(valueOf(got[0], 'OnlineStatus'), 'T');
      assert.equal(qualifierOf(got[0], 'OnlineStatus'), 'T');
      assert.equal(authRequests(await bob!.drain()).length, 0, 'no PresenceAuth-Request');
      await update(bob!, [value('StatusText', 'open to all')]);
      assert.deepEqual(notified(await alice!.drain(), wv('au-bob')).map((l) => valueOf(l, 'StatusText')), ['open to all']);
      assert.equal(valueOf(await presenceOf(alice!, 'au-bob'), 'StatusText'), 'open to all');
    });
  }
});

describe('presence: policy deny', () => {
  const server = sharedServer({ config: { presence: { authorization: 'deny' } } });

  for (const variant of MATRIX) {
    const { label } = variant;
    const { wv, online, subscribe, update, presenceOf } = presenceKit(server, variant);
    test(`${label}: subscribers never see anything, nobody is asked`, async () => {
      const [alice, bob] = await online('de-alice', 'de-bob');
      await bob!.drain();
      await subscribe(alice!, ['de-bob']);
      assert.deepEqual(notified(await alice!.drain(), wv('de-bob')), []);
      assert.equal(authRequests(await bob!.drain()).length, 0, 'no PresenceAuth-Request');
      await update(bob!, [value('StatusText', 'private')]);
      assert.deepEqual(notified(await alice!.drain(), wv('de-bob')), []);
      assert.equal(await presenceOf(alice!, 'de-bob'), undefined);
      await bob!.logout();
      assert.deepEqual(notified(await alice!.drain(), wv('de-bob')), [], 'not even going offline');
      assert.equal(valueOf(await presenceOf(alice!, 'de-alice'), 'OnlineStatus'), 'T', 'one’s own presence is still visible');
    });
  }
});

// ── Restart ────────────────────────────────────────────────────────────────────────────────

describe('presence: grants, subscriptions and the last presence survive a restart', () => {
  const server = sharedServer();

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { wv, online, loggedIn, subscribe, update, presenceOf, grant, deny } = presenceKit(server, variant);
    test(`${label}: after stop and restart`, async () => {
      const [alice, carol, bob] = await online('rs-alice', 'rs-carol', 'rs-bob');
      await subscribe(alice!, ['rs-bob']);
      await subscribe(carol!, ['rs-bob']);
      await bob!.drain();
      if (version === '1.2') {
        assertStatus((await bob!.request(el('PresenceAuth-User', [leaf('UserID', wv('rs-alice')), leaf('Acceptance', true), selectors(version, ['OnlineStatus', 'StatusText'])]))).primitive);
      } else await grant(bob!, 'rs-alice');
      if (version !== '1.3') await deny(bob!, 'rs-carol');
      await update(bob!, [value('StatusText', 'before restart'), value('Alias', 'Robert')]);

      await server().stop();
      await server().restart();

      const alice2 = await loggedIn('rs-alice');
      const before = await presenceOf(alice2, 'rs-bob');
      assert.ok(before, 'the grant survived');
      assert.equal(valueOf(before, 'StatusText'), 'before restart', 'the last presence survived');
      assert.equal(valueOf(before, 'OnlineStatus'), 'F', 'an owner without a session after the restart is offline');
      if (version === '1.2') assert.deepEqual(namesOf(before), ['OnlineStatus', 'StatusText'], 'only the granted attributes');
      else assert.equal(valueOf(before, 'Alias'), 'Robert');
      await alice2.drain();

      const carol2 = await loggedIn('rs-carol');
      assert.equal(await presenceOf(carol2, 'rs-bob'), undefined, version === '1.3' ? 'still undecided' : 'the denial survived');

      const bob2 = await loggedIn('rs-bob');
      let got = notified(await alice2.drain(), wv('rs-bob'));
      assert.equal(got.length, 1, 'the old watcher hears the owner come online without resubscribing');
      assert.equal(valueOf(got[0], 'OnlineStatus'), 'T');
      await update(bob2, [value('StatusText', 'after restart')]);
      got = notified(await alice2.drain(), wv('rs-bob'));
      assert.equal(got.length, 1);
      assert.equal(valueOf(got[0], 'StatusText'), 'after restart');
      assert.deepEqual(notified(await carol2.drain(), wv('rs-bob')), []);
    });

    test(`${label}: after a crash (SIGKILL) a user whose session died with the server looks offline`, async () => {
      const [alice, bob] = await online('cr-alice', 'cr-bob');
      await subscribe(alice!, ['cr-bob']);
      await bob!.drain();
      await grant(bob!, 'cr-alice');
      await update(bob!, [value('StatusText', 'before the crash')]);
      assert.equal(valueOf(await presenceOf(alice!, 'cr-bob'), 'OnlineStatus'), 'T');

      await server().kill();
      await server().restart();

      const alice2 = await loggedIn('cr-alice');
      const shown = await presenceOf(alice2, 'cr-bob');
      assert.equal(valueOf(shown, 'StatusText'), 'before the crash', 'the last presence survived');
      assert.equal(valueOf(shown, 'OnlineStatus'), 'F', 'no session survives a restart, so nobody is online until they log in again');
      await alice2.drain();
      await loggedIn('cr-bob');
      const got = notified(await alice2.drain(), wv('cr-bob'));
      assert.equal(got.length, 1);
      assert.equal(valueOf(got[0], 'OnlineStatus'), 'T');
    });
  }
});
