// Search over real HTTP (reference imps-csp.md §3.2): Search-Request for users by id, alias
// (presence Alias or the profile's friendly name), first and last name, e-mail, mobile number
// and online status; for groups by id, name, topic, owner and joined user (Searchable F groups
// never found); paging with SearchLimit, SearchID + SearchIndex and CompletionFlag;
// StopSearch-Request; 424 unknown search, 425 index out of range, 536 too many hits, 537 too
// broad, 402 unknown or mixed SearchElements, 405 unsupported ones. Every answer is checked
// against the version's content models by the test phone.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer } from '../support/shared-server.ts';
import { resultCode, type Phone } from '../support/phone.ts';
import { MATRIX, variantKit } from '../support/matrix.ts';
import { villageCli } from '../support/cli.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';

/** Small bounds, so a test can go past them with a handful of users. */
const MAX_RESULTS = 8;
const PAGE_SIZE = 5;

type Pairs = [element: string, value: string][];

/** Search-Request: one SearchPairList per pair in 1.1/1.2, SearchPairs inside one SearchPairList in 1.3. */
function searchRequest(version: CspVersion, pairs: Pairs, limit?: number): CspElement {
  const pair = ([element, value]: [string, string]) => [leaf('SearchElement', element), leaf('SearchString', value)];
  const lists = version === '1.3' ? [el('SearchPairList', pairs.map((p) => el('SearchPair', pair(p))))] : pairs.map((p) => el('SearchPairList', pair(p)));
  return el('Search-Request', [...lists, leaf('SearchLimit', limit)]);
}

const continueRequest = (searchId: string, index: number) => el('Search-Request', [leaf('SearchID', searchId), leaf('SearchIndex', index)]);
const stopRequest = (searchId: string) => el('StopSearch-Request', [leaf('SearchID', searchId)]);

interface Found {
  searchId: string | undefined;
  findings: number;
  complete: boolean;
  index: number;
  users: string[];
  groups: string[];
  /** 1.3: the FriendlyName each User carries, by UserID. */
  friendly: Record<string, string>;
}

function readResponse(primitive: CspElement): Found {
  assert.equal(primitive.name, 'Search-Response', `a Search-Response, not ${primitive.name} ${textOf(child(primitive, 'Result'), 'Code') ?? ''} ${textOf(child(primitive, 'Result'), 'Description') ?? ''}`);
  const result = child(primitive, 'SearchResult');
  const users = childrenNamed(child(result, 'UserList'), 'User');
  return {
    searchId: textOf(primitive, 'SearchID'),
    findings: Number(textOf(primitive, 'SearchFindings')),
    complete: textOf(primitive, 'CompletionFlag') === 'T',
    index: Number(textOf(primitive, 'SearchIndex')),
    users: users.map((u) => textOf(u, 'UserID') ?? ''),
    groups: childrenNamed(child(result, 'GroupList'), 'GroupID').map((g) => textOf(g) ?? ''),
    friendly: Object.fromEntries(users.filter((u) => child(u, 'FriendlyName')).map((u) => [textOf(u, 'UserID') ?? '', textOf(u, 'FriendlyName') ?? ''])),
  };
}

function assertStatus(primitive: CspElement, code: number, what: string): void {
  assert.equal(primitive.name, 'Status', `${what}: answered with Status`);
  assert.equal(resultCode(primitive), code, `${what}: ${textOf(child(primitive, 'Result'), 'Description') ?? ''}`);
}

/** CreateGroup-Request with Name, Topic and Searchable; the creator joins it when asked. */
function createGroupRequest(groupId: string, props: [string, string][], join: boolean): CspElement {
  return el('CreateGroup-Request', [
    leaf('GroupID', groupId),
    el('GroupProperties', props.map(([n, v]) => el('Property', [leaf('Name', n), leaf('Value', v)]))),
    leaf('JoinGroup', join),
    leaf('SubscribeNotification', false),
  ]);
}

describe('search', () => {
  // Presence is public here ("auto"), so searches by Alias and online status see everyone;
  // the suite at the end checks they do not under "ask".
  const server = sharedServer({ config: { search: { maxResults: MAX_RESULTS, pageSize: PAGE_SIZE }, presence: { authorization: 'auto' } } });

  MATRIX.forEach((variant, variantIndex) => {
    const { version, encoding, label } = variant;
    const { user, loggedIn, online } = variantKit(server, variant);
    /** What user() appends to a name ("-12-xml"), and a tag without dashes for free text ("12xml"). */
    const suffix = user('x').slice(1);
    const tag = `${version.replace('.', '')}${encoding}`;
    /** Users as results name them: the test phones log in with bare ids, so no domain. */
    const wv = (name: string) => `wv:${user(name)}`;

    const find = async (phone: Phone, pairs: Pairs, limit?: number) => readResponse((await phone.request(searchRequest(version, pairs, limit))).primitive);
    const refused = async (phone: Phone, request: CspElement) => (await phone.request(request)).primitive;

    describe(label, () => {
      test('users by USER_ID: a case-insensitive substring of the id, with or without "wv:"', async () => {
        const [amy] = await online('idsearch-amy', 'idsearch-ben');
        const got = await find(amy!, [['USER_ID', `IDSEARCH-AMY${suffix.toUpperCase()}`]]);
        assert.deepEqual(got.users, [wv('idsearch-amy')]);
        assert.equal(got.findings, 1);
        assert.equal(got.complete, true, 'one result: complete');
        assert.equal(got.index, 1, 'SearchIndex: where a next page would start');
        assert.ok(got.searchId && /^\d+$/.test(got.searchId), 'a SearchID (an integer in CSP 1.1/1.2)');

        const both = await find(amy!, [['USER_ID', `wv:idsearch-`], ['USER_ID', suffix]]);
        assert.deepEqual(both.users, [wv('idsearch-amy'), wv('idsearch-ben')], 'two pairs on the same element are ANDed; results in id order');

        const none = await find(amy!, [['USER_ID', `nobody-by-this-name${suffix}`]]);
        assert.deepEqual({ findings: none.findings, complete: none.complete, users: none.users, searchId: none.searchId }, { findings: 0, complete: true, users: [], searchId: undefined });
      });

      test('users by USER_ALIAS: the Alias the user publishes with UpdatePresence, in any case', async () => {
        const [searcher, carol] = await online('al-searcher', 'al-carol');
        const alias = `Xylophone Carol ${tag}`;
        const update = el('UpdatePresence-Request', [
          el('PresenceSubList', [el('Alias', [leaf('Qualifier', true), leaf('PresenceValue', alias)])], { xmlns: NAMESPACES[version].pa }),
        ]);
        assertStatus((await carol!.request(update)).primitive, 200, 'UpdatePresence Alias');
        const got = await find(searcher!, [['USER_ALIAS', `xYLOPHONE carol ${tag.toUpperCase()}`]]);
        assert.deepEqual(got.users, [wv('al-carol')]);
        const part = await find(searcher!, [['USER_ALIAS', `phone carol ${tag}`]]);
        assert.deepEqual(part.users, [wv('al-carol')], 'a substring of the alias is enough');
      });

      test('users by first and last name, e-mail, mobile number and friendly name, as set with `village user set`', async () => {
        const [searcher] = await online('pf-searcher', 'pf-ann', 'pf-anton');
        const mobile = `+358 40 77${variantIndex}1`;
        const set = await villageCli(server(), ['user', 'set', user('pf-ann'), 'first=Annabel', `last=Lee-${tag}`, `email=Ann.${tag}@Example.org`, `mobile=${mobile}`, `friendly=Annie ${tag}`]);
        assert.equal(set.code, 0, set.stderr);
        const other = await villageCli(server(), ['user', 'set', user('pf-anton'), 'first=Anton', `last=Lee-${tag}`]);
        assert.equal(other.code, 0, other.stderr);

        assert.deepEqual((await find(searcher!, [['USER_LAST_NAME', `lee-${tag}`]])).users, [wv('pf-ann'), wv('pf-anton')], 'last name: both');
        assert.deepEqual((await find(searcher!, [['USER_FIRST_NAME', 'ANNA'], ['USER_LAST_NAME', `LEE-${tag}`]])).users, [wv('pf-ann')], 'first AND last name');
        assert.deepEqual((await find(searcher!, [['USER_FIRST_NAME', 'anton'], ['USER_LAST_NAME', `lee-${tag}`]])).users, [wv('pf-anton')]);
        assert.deepEqual((await find(searcher!, [['USER_EMAIL_ADDRESS', `ann.${tag}@example`]])).users, [wv('pf-ann')], 'e-mail, any case');
        assert.deepEqual((await find(searcher!, [['USER_MOBILE_NUMBER', `4077${variantIndex}1`]])).users, [wv('pf-ann')], 'mobile number, spaces ignored');
        const byName = await find(searcher!, [['USER_ALIAS', `annie ${tag}`]]);
        assert.deepEqual(byName.users, [wv('pf-ann')], 'USER_ALIAS also finds the friendly name');
        if (version === '1.3') {
          assert.deepEqual(byName.friendly, { [wv('pf-ann')]: `Annie ${tag}` }, '1.3: each User carries its FriendlyName');
          assert.deepEqual((await find(searcher!, [['USER_FRIENDLY_NAME', `ANNIE ${tag}`]])).users, [wv('pf-ann')], '1.3 USER_FRIENDLY_NAME');
        } else assert.deepEqual(byName.friendly, {}, `CSP ${version} Users carry no FriendlyName`);
      });

      test('USER_ONLINE_STATUS narrows a search to users online (T) or offline (F)', async () => {
        const [on, off] = await online('x-status', 'y-status');
        await off!.logout();
        const ids = ['USER_ID', `status${suffix}`] as [string, string];
        assert.deepEqual((await find(on!, [ids])).users, [wv('x-status'), wv('y-status')]);
        assert.deepEqual((await find(on!, [ids, ['USER_ONLINE_STATUS', 'T']])).users, [wv('x-status')]);
        assert.deepEqual((await find(on!, [ids, ['USER_ONLINE_STATUS', 'f']])).users, [wv('y-status')], 'F, in any case');
        assertStatus(await refused(on!, searchRequest(version, [['USER_ONLINE_STATUS', 'T']])), 537, 'online status alone is too broad');
      });

      test('groups by name, topic, id, owner and joined user; a group with Searchable F is never found', async () => {
        const owner = await loggedIn('gr-owner');
        const searcher = await loggedIn('gr-searcher');
        const chess = `wv:${user('gr-owner')}/chess@imps.test`;
        const hidden = `wv:${user('gr-owner')}/hidden@imps.test`;
        const props = (name: string, searchable: string): [string, string][] => [
          ['Name', `${name} ${tag}`],
          ['Topic', `Openings and endgames ${tag}`],
          ['Searchable', searchable],
        ];
        assertStatus((await owner.request(createGroupRequest(chess, props('Chess club', 'T'), true))).primitive, 200, 'CreateGroup chess');
        assertStatus((await owner.request(createGroupRequest(hidden, props('Chess hideout', 'F'), true))).primitive, 200, 'CreateGroup hidden');

        const byName = await find(searcher, [['GROUP_NAME', `CHESS CLUB ${tag}`]]);
        assert.deepEqual(byName.groups, [chess], 'GROUP_NAME, any case');
        assert.deepEqual(byName.users, []);
        assert.deepEqual((await find(searcher, [['GROUP_NAME', `chess`], ['GROUP_NAME', tag]])).groups, [chess], 'the Searchable F group is not found by name');
        assert.deepEqual((await find(searcher, [['GROUP_TOPIC', `endgames ${tag}`]])).groups, [chess], 'GROUP_TOPIC');
        assert.deepEqual((await find(searcher, [['GROUP_ID', `WV:${user('gr-owner').toUpperCase()}/`]])).groups, [chess], 'GROUP_ID substring');
        assert.deepEqual((await find(searcher, [['GROUP_USER_ID_OWNER', `wv:${user('gr-owner')}`]])).groups, [chess], 'GROUP_USER_ID_OWNER');
        assert.deepEqual((await find(searcher, [['GROUP_USER_ID_JOINED', user('gr-owner').toUpperCase()]])).groups, [chess], 'GROUP_USER_ID_JOINED');
        assert.deepEqual((await find(searcher, [['GROUP_USER_ID_JOINED', `wv:${user('gr-searcher')}`]])).groups, [], 'a user joined to nothing');
      });

      test('paging: SearchLimit results a page, continued with SearchID + SearchIndex until CompletionFlag T; StopSearch forgets it', async () => {
        const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((l) => `${l}-pager`);
        const phones = await online(...names);
        const phone = phones[0]!;
        const first = await find(phone, [['USER_ID', `pager${suffix}`]], 3);
        assert.equal(first.findings, 7);
        assert.deepEqual(first.users, names.slice(0, 3).map(wv));
        assert.deepEqual([first.complete, first.index], [false, 3], 'page 1 of 3');
        const searchId = first.searchId!;
        assert.ok(searchId);

        const second = readResponse((await phone.request(continueRequest(searchId, first.index))).primitive);
        assert.deepEqual(second.users, names.slice(3, 6).map(wv));
        assert.deepEqual([second.findings, second.complete, second.index], [7, false, 6], 'page 2 of 3');
        const third = readResponse((await phone.request(continueRequest(searchId, second.index))).primitive);
        assert.deepEqual(third.users, names.slice(6).map(wv));
        assert.deepEqual([third.findings, third.complete, third.index], [7, true, 7], 'page 3 of 3: complete');

        const again = readResponse((await phone.request(continueRequest(searchId, 0))).primitive);
        assert.deepEqual(again.users, names.slice(0, 3).map(wv), 'SearchIndex 0 starts over, with the first page size');

        assertStatus((await phone.request(continueRequest(searchId, 7))).primitive, 425, 'SearchIndex past the last result');
        assertStatus((await phones[1]!.request(continueRequest(searchId, 3))).primitive, 424, "another session cannot continue this session's search");

        assertStatus((await phone.request(stopRequest(searchId))).primitive, 200, 'StopSearch');
        assertStatus((await phone.request(continueRequest(searchId, 3))).primitive, 424, 'a stopped search cannot be continued');
        assertStatus((await phone.request(stopRequest(searchId))).primitive, 424, 'nor stopped twice');
      });

      test(`no SearchLimit (or one above search.pageSize) gives pages of search.pageSize (${PAGE_SIZE})`, async () => {
        const phone = await loggedIn('a-pager');
        for (const limit of [undefined, 50]) {
          const got = await find(phone, [['USER_ID', `pager${suffix}`]], limit);
          assert.equal(got.users.length, PAGE_SIZE, `SearchLimit ${limit}`);
          assert.deepEqual([got.findings, got.complete, got.index], [7, false, PAGE_SIZE]);
        }
      });

      test(`more than search.maxResults (${MAX_RESULTS}) hits: 536; a search string shorter than search.minChars: 537`, async () => {
        const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((l) => `${l}-flood`);
        const phones = await online(...names);
        const phone = phones[0]!;
        const flood = ['USER_ID', `flood${suffix}`] as [string, string];
        assertStatus(await refused(phone, searchRequest(version, [flood])), 536, 'nine users match');
        assertStatus(await refused(phone, searchRequest(version, [flood, ['USER_ONLINE_STATUS', 'T']])), 536, 'nine of them online');
        await phones[8]!.logout();
        const eight = await find(phone, [flood, ['USER_ONLINE_STATUS', 'T']]);
        assert.equal(eight.findings, MAX_RESULTS, 'eight online: exactly the bound, found');
        assertStatus(await refused(phone, searchRequest(version, [['USER_ID', 'd']])), 537, 'a one-character user id part (which would match nearly everyone)');
      });

      test('537 for a one-character search string; 402 for an unknown SearchElement or users mixed with groups; 405 for one Village keeps nothing for', async () => {
        const phone = await loggedIn('err-user');
        assertStatus(await refused(phone, searchRequest(version, [['USER_FIRST_NAME', 'a']])), 537, 'one character');
        assertStatus(await refused(phone, searchRequest(version, [['GROUP_NAME', ' ']])), 537, 'blank');
        assertStatus(await refused(phone, searchRequest(version, [['USER_SHOE_SIZE', '42']])), 402, 'unknown element');
        assertStatus(await refused(phone, searchRequest(version, [['USER_ID', 'err-user'], ['GROUP_NAME', 'chess']])), 402, 'users and groups at once');
        assertStatus(await refused(phone, searchRequest(version, [['USER_GENDER', 'F']])), 405, 'USER_GENDER');
        assertStatus(await refused(phone, el('Search-Request', [leaf('SearchLimit', 5)])), 402, 'neither criteria nor a SearchID');
        assertStatus(await refused(phone, stopRequest('123456')), 424, 'StopSearch of a search never started');
      });
    });
  });
});

describe('search respects presence authorisation', () => {
  const server = sharedServer({ config: { presence: { authorization: 'ask' } } });

  for (const variant of MATRIX) {
    const { version } = variant;
    const { user, loggedIn } = variantKit(server, variant);
    const find = async (phone: Phone, pairs: Pairs) => readResponse((await phone.request(searchRequest(version, pairs))).primitive);
    test(`${variant.label}: Alias and online status find only users who let the searcher see them`, async () => {
      const owner = await loggedIn('shy-owner');
      const seeker = await loggedIn('shy-seeker');
      const alias = `Hidden Heron ${version}${variant.encoding}`;
      await owner.request(el('UpdatePresence-Request', [el('PresenceSubList', [el('Alias', [leaf('Qualifier', true), leaf('PresenceValue', alias)])], { xmlns: NAMESPACES[version].pa })]));
      const before = await find(seeker, [['USER_ALIAS', alias]]);
      assert.equal(before.findings, 0, 'not granted: the Alias is not searchable');
      const online = await find(seeker, [['USER_ID', user('shy-owner')], ['USER_ONLINE_STATUS', 'T']]);
      assert.equal(online.findings, 0, 'not granted: whether they are online is not searchable');
      // The owner grants the seeker (1.1/1.2 PresenceAuth-User; 1.3 by naming them in an attribute list).
      const grant =
        version === '1.3'
          ? el('CreateAttributeList-Request', [el('PresenceSubList', [el('Alias'), el('OnlineStatus')], { xmlns: NAMESPACES[version].pa }), el('UserIDList', [leaf('UserID', user('shy-seeker'))]), leaf('DefaultList', false)])
          : el('PresenceAuth-User', [leaf('UserID', user('shy-seeker')), leaf('Acceptance', true)]);
      assert.equal(resultCode((await owner.request(grant)).primitive), 200);
      const after = await find(seeker, [['USER_ALIAS', alias]]);
      assert.equal(after.findings, 1, 'granted: found by Alias');
      assert.equal((await find(seeker, [['USER_ID', user('shy-owner')], ['USER_ONLINE_STATUS', 'T']])).findings, 1);
    });
  }
});
