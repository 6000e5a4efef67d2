// Group helpers for the end-to-end suites (reference imps-csp.md §3.6, §8): group requests built
// in each version's own shape, reading GroupProperties, UserMapLists, GroupChangeNotices and
// server-sent LeaveGroup-Responses, and the per-variant group kit.
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { resultCode, type Phone } from './phone.ts';
import { variantKit, type Variant } from './matrix.ts';

// ── Requests, built in each version's own shape ──────────────────────────────────────────────

/** Property name → value, in the order given (names are sent exactly as spelt here). */
export type Props = [name: string, value: string][];

export interface WelcomeText {
  text: string;
  contentType?: string;
}

export const welcomeNote = (w: WelcomeText) => el('WelcomeNote', [leaf('ContentType', w.contentType ?? 'text/plain'), leaf('ContentData', w.text)]);

export const groupProperties = (props: Props, welcome?: WelcomeText) =>
  el('GroupProperties', [...props.map(([n, v]) => el('Property', [leaf('Name', n), leaf('Value', v)])), welcome ? welcomeNote(welcome) : undefined]);

export const screenName = (sname: string, groupId: string) => el('ScreenName', [leaf('SName', sname), leaf('GroupID', groupId)]);

export interface CreateOptions {
  props?: Props;
  welcome?: WelcomeText;
  join?: boolean;
  screenName?: string;
  subscribe?: boolean;
}

/** CreateGroup-Request: GroupProperties needs at least one Property (a Name unless told). */
export function createGroupRequest(groupId: string, o: CreateOptions = {}): CspElement {
  const props = o.props && o.props.length ? o.props : ([['Name', 'a group']] as Props);
  return el('CreateGroup-Request', [
    leaf('GroupID', groupId),
    groupProperties(props, o.welcome),
    leaf('JoinGroup', o.join ?? false),
    o.screenName !== undefined ? screenName(o.screenName, groupId) : undefined,
    leaf('SubscribeNotification', o.subscribe ?? false),
  ]);
}

export interface JoinOptions {
  screenName?: string;
  joinedRequest?: boolean;
  subscribe?: boolean;
}

/** JoinGroup-Request: JoinedRequest optional in 1.1, mandatory from 1.2 on. */
export function joinGroupRequest(version: CspVersion, groupId: string, o: JoinOptions = {}): CspElement {
  return el('JoinGroup-Request', [
    leaf('GroupID', groupId),
    o.screenName !== undefined ? screenName(o.screenName, groupId) : undefined,
    version === '1.1' ? leaf('JoinedRequest', o.joinedRequest) : leaf('JoinedRequest', o.joinedRequest ?? false),
    leaf('SubscribeNotification', o.subscribe ?? false),
  ]);
}

const byGroupId = (name: string) => (groupId: string) => el(name, [leaf('GroupID', groupId)]);
export const leaveGroupRequest = byGroupId('LeaveGroup-Request');
export const deleteGroupRequest = byGroupId('DeleteGroup-Request');
export const getGroupPropsRequest = byGroupId('GetGroupProps-Request');
export const getGroupMembersRequest = byGroupId('GetGroupMembers-Request');
export const getJoinedUsersRequest = byGroupId('GetJoinedUsers-Request');

/** UserList of User (UserID). */
export const userList = (ids: string[]) => el('UserList', ids.map((u) => el('User', [leaf('UserID', u)])));

/** AddGroupMembers / RemoveGroupMembers: a UserList (1.3 may use a UserIDList instead). */
export function membersRequest(name: 'AddGroupMembers-Request' | 'RemoveGroupMembers-Request', groupId: string, ids: string[], useIdList = false): CspElement {
  return el(name, [leaf('GroupID', groupId), useIdList ? el('UserIDList', ids.map((u) => leaf('UserID', u))) : userList(ids)]);
}

/** MemberAccess-Request: Admin / Mod / Users (UserList); 1.3 puts the plain users in a UserList. */
export function memberAccessRequest(version: CspVersion, groupId: string, o: { admin?: string[]; mod?: string[]; users?: string[] }): CspElement {
  return el('MemberAccess-Request', [
    leaf('GroupID', groupId),
    o.admin ? el('Admin', [userList(o.admin)]) : undefined,
    o.mod ? el('Mod', [userList(o.mod)]) : undefined,
    o.users ? (version === '1.3' ? userList(o.users) : el('Users', [userList(o.users)])) : undefined,
  ]);
}

export const setGroupPropsRequest = (groupId: string, props: Props, welcome?: WelcomeText) =>
  el('SetGroupProps-Request', [leaf('GroupID', groupId), groupProperties(props, welcome)]);

export function rejectListRequest(groupId: string, o: { add?: string[]; remove?: string[] } = {}): CspElement {
  return el('RejectList-Request', [
    leaf('GroupID', groupId),
    o.add ? el('AddList', o.add.map((u) => leaf('UserID', u))) : undefined,
    o.remove ? el('RemoveList', o.remove.map((u) => leaf('UserID', u))) : undefined,
  ]);
}

export const subscribeGroupNoticeRequest = (groupId: string, type: 'S' | 'U' | 'G') =>
  el('SubscribeGroupNotice-Request', [leaf('GroupID', groupId), leaf('SubscribeType', type)]);

/**
 * SendMessage-Request into a group: to everyone joined (Recipient Group (GroupID)) or, with
 * `to`, privately to one screen name (Recipient Group (ScreenName (SName, GroupID))). The
 * Sender is the phone's own screen name, as a handset writes it.
 */
export function groupMessageRequest(groupId: string, text: string, o: { to?: string; from?: string } = {}): CspElement {
  return el('SendMessage-Request', [
    leaf('DeliveryReport', false),
    el('MessageInfo', [
      leaf('ContentType', 'text/plain'),
      leaf('ContentSize', Buffer.byteLength(text, 'utf8')),
      el('Recipient', [el('Group', [o.to !== undefined ? screenName(o.to, groupId) : leaf('GroupID', groupId)])]),
      el('Sender', [el('Group', [screenName(o.from ?? 'me', groupId)])]),
    ]),
    leaf('ContentData', text),
  ]);
}

// ── Reading answers ───────────────────────────────────────────────────────────────────────

/** Property name (as spelt on the wire) → value. */
export function propsOf(list: CspElement | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of childrenNamed(list, 'Property')) out[textOf(p, 'Name') ?? ''] = textOf(p, 'Value') ?? '';
  return out;
}

/** Mapping (SName, UserID?) entries of a UserMapping / AdminMapping / ModMapping. */
export function mappings(mapping: CspElement | undefined): { sname: string; userId?: string }[] {
  return childrenNamed(mapping, 'Mapping').map((m) => {
    const userId = textOf(m, 'UserID');
    return { sname: textOf(m, 'SName') ?? '', ...(userId !== undefined ? { userId } : {}) };
  });
}

/** ScreenName (SName, GroupID) entries directly under an element. */
export const screenNames = (parent: CspElement | undefined) => childrenNamed(parent, 'ScreenName').map((s) => ({ sname: textOf(s, 'SName') ?? '', groupId: textOf(s, 'GroupID') ?? '' }));

/** User IDs of a UserList (User (UserID)). */
export const userIdsOf = (list: CspElement | undefined) => childrenNamed(list, 'User').map((u) => textOf(u, 'UserID') ?? '');

export const changeNotices = (got: CspElement[], groupId: string) => got.filter((p) => p.name === 'GroupChangeNotice' && textOf(p, 'GroupID') === groupId);
export const leaveNotices = (got: CspElement[], groupId: string) => got.filter((p) => p.name === 'LeaveGroup-Response' && textOf(p, 'GroupID') === groupId);
export const newMessages = (got: CspElement[]) => got.filter((p) => p.name === 'NewMessage');

/** Every element named `name` anywhere below `node`. */
export function deepFind(node: CspElement | undefined, name: string): CspElement[] {
  if (!node) return [];
  return (node.children ?? []).flatMap((c) => [...(c.name === name ? [c] : []), ...deepFind(c, name)]);
}

/**
 * Screen names announced as joined in a GroupChangeNotice, checking the version's shape:
 * 1.1 Joined (ScreenName+); 1.2+ Joined (UserMapList (UserMapping (Mapping+))).
 */
export function joinedIn(version: CspVersion, notice: CspElement): { sname: string; userId?: string }[] {
  const joined = child(notice, 'Joined');
  if (!joined) return [];
  if (version === '1.1') {
    assert.equal(child(joined, 'UserMapList'), undefined, 'CSP 1.1 Joined holds ScreenNames');
    return noticeScreenNames(notice, joined).map((sname) => ({ sname }));
  }
  assert.equal(child(joined, 'ScreenName'), undefined, `CSP ${version} Joined holds a UserMapList`);
  return mappings(child(child(joined, 'UserMapList'), 'UserMapping'));
}

/** Screen names announced as left: 1.1 Left (ScreenName+); 1.2+ Left (UserList (ScreenName+)). */
export function leftIn(version: CspVersion, notice: CspElement): string[] {
  const left = child(notice, 'Left');
  if (!left) return [];
  if (version === '1.1') {
    assert.equal(child(left, 'UserList'), undefined, 'CSP 1.1 Left holds ScreenNames');
    return noticeScreenNames(notice, left);
  }
  assert.equal(child(left, 'ScreenName'), undefined, `CSP ${version} Left holds a UserList`);
  return noticeScreenNames(notice, child(left, 'UserList'));
}

/** The SName of each ScreenName under `parent`, checking that each names the notice's group. */
function noticeScreenNames(notice: CspElement, parent: CspElement | undefined): string[] {
  const names = screenNames(parent);
  for (const n of names) assert.equal(n.groupId, textOf(notice, 'GroupID'), 'each ScreenName names the group');
  return names.map((n) => n.sname);
}

export function assertStatus(primitive: CspElement, code = 200, what = 'the request'): void {
  assert.equal(primitive.name, 'Status', `${what} is answered with Status (got ${primitive.name})`);
  assert.equal(resultCode(primitive), code, `${what}: ${textOf(child(primitive, 'Result'), 'Description') ?? ''}`);
}

/** An error answer: a Status, or the primitive's own response, carrying `code` in its Result. */
export function assertRefused(primitive: CspElement, code: number, what = 'the request'): void {
  assert.equal(resultCode(primitive), code, `${what} is refused with ${code} (got ${primitive.name} ${resultCode(primitive)}: ${textOf(child(primitive, 'Result'), 'Description') ?? ''})`);
}

// ── The per-variant kit ─────────────────────────────────────────────────────────────────────

export function groupKit(server: () => { url: string }, variant: Variant) {
  const { version } = variant;
  const kit = variantKit(server, variant);
  /** How a user of imps.test appears to phones that logged in with a bare user ID. */
  const wv = (name: string) => `wv:${kit.user(name)}`;
  /** A group of `owner` (a kit user name): "wv:cg-alice-12-xml/club@imps.test". */
  const gid = (owner: string, name: string) => `wv:${kit.user(owner)}/${name}@imps.test`;
  /** A public (service) group of this variant alone: "wv:/lobby-12-xml@imps.test". */
  const publicGid = (name: string) => `wv:/${kit.user(name)}@imps.test`;

  const create = async (phone: Phone, groupId: string, o: CreateOptions = {}) => {
    const { primitive } = await phone.request(createGroupRequest(groupId, o));
    assertStatus(primitive, 200, `CreateGroup ${groupId}`);
  };

  /** JoinGroup, asserting a JoinGroup-Response (no error Result). */
  const join = async (phone: Phone, groupId: string, o: JoinOptions = {}) => {
    const { primitive } = await phone.request(joinGroupRequest(version, groupId, o));
    assert.equal(primitive.name, 'JoinGroup-Response', `JoinGroup ${groupId}: ${primitive.name} ${resultCode(primitive)} ${textOf(child(primitive, 'Result'), 'Description') ?? ''}`);
    return primitive;
  };

  /** JoinGroup expected to fail with `code`. */
  const joinRefused = async (phone: Phone, groupId: string, code: number, o: JoinOptions = {}) => {
    const { primitive } = await phone.request(joinGroupRequest(version, groupId, o));
    assertRefused(primitive, code, `JoinGroup ${groupId}`);
  };

  /** GetGroupProps-Response (asserted), as its two property maps and the welcome note text. */
  const props = async (phone: Phone, groupId: string) => {
    const { primitive } = await phone.request(getGroupPropsRequest(groupId));
    assert.equal(primitive.name, 'GetGroupProps-Response', `GetGroupProps: ${primitive.name} ${resultCode(primitive)}`);
    const group = child(primitive, 'GroupProperties');
    return { group: propsOf(group), own: propsOf(child(primitive, 'OwnProperties')), welcome: child(child(group, 'WelcomeNote'), 'ContentData')?.text };
  };

  /** The group's AccessType as this version spells it: "Accesstype" in 1.1/1.2 (WV-023, Nokia, Android), "AccessType" in 1.3. */
  const accessTypeName = version === '1.3' ? 'AccessType' : 'Accesstype';

  /** GetGroupMembers-Response (asserted), as user ids per privilege, checking the version's shape. */
  const members = async (phone: Phone, groupId: string) => {
    const { primitive } = await phone.request(getGroupMembersRequest(groupId));
    assert.equal(primitive.name, 'GetGroupMembers-Response', `GetGroupMembers: ${primitive.name} ${resultCode(primitive)}`);
    if (version === '1.3') assert.equal(child(primitive, 'Users'), undefined, 'CSP 1.3 lists plain users in a UserList, not Users');
    else assert.equal(child(primitive, 'UserList'), undefined, `CSP ${version} lists plain users in Users (UserList)`);
    const users = version === '1.3' ? child(primitive, 'UserList') : child(child(primitive, 'Users'), 'UserList');
    return {
      admin: userIdsOf(child(child(primitive, 'Admin'), 'UserList')).sort(),
      mod: userIdsOf(child(child(primitive, 'Mod'), 'UserList')).sort(),
      users: userIdsOf(users).sort(),
    };
  };

  const send = async (phone: Phone, primitive: CspElement) => (await phone.request(primitive)).primitive;

  return { ...kit, wv, gid, publicGid, create, join, joinRefused, props, accessTypeName, members, send };
}
