// Groups (reference imps-csp.md §3.6): creating, deleting, joining and leaving groups, members
// and privileges, properties, reject lists, change notices, joined users. Who is joined is the
// group actor's (actors/group.ts); properties, members and rejects are read and written here.
//
// Privileges: the creator is Admin. Admins and moderators may change properties, members and
// the reject list; only admins may change privileges or delete the group.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, leaf, requireText, textOf } from '../csp/tree.ts';
import { result, status } from '../csp/envelope.ts';
import { displayAddress, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { Privilege } from '../store/groups.ts';
import type { Services } from '../services.ts';
import { joinedUsers, type GroupActor, type JoinOutcome } from '../../actors/group.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import {
  defaultProperties,
  groupAddress,
  groupPropertiesElement,
  ownPropertiesElement,
  parseGroupId,
  readGroupProperties,
  showsIds,
  welcomeNoteElement,
} from './group-properties.ts';
import { mapping } from './group-notices.ts';
import { isXmppUser } from './xmpp-gateway.ts';
import { isLiveOccupant } from './xmpp-groups.ts';

function groupIdOf(request: CspElement, session: SessionView, services: Services): string {
  return parseGroupId(requireText(request, 'GroupID'), session.user, services.config.domains);
}

/** The live actor of an existing group; 800 when there is none. */
export function groupActor(services: Services, groupId: string): GroupActor {
  const actor = services.router.group(groupId);
  if (!actor) throw new CspError(800, `No group ${displayAddress(groupId, {})}`);
  return actor;
}

function privilegeOf(services: Services, groupId: string, userId: string): Privilege | undefined {
  return services.groups.privilegeOf(groupId, userId);
}

function requirePrivilege(services: Services, groupId: string, userId: string, allowed: Privilege[]): void {
  const p = privilegeOf(services, groupId, userId);
  if (!p || !allowed.includes(p)) throw new CspError(816, `Only ${allowed.join(' or ')} may do that in this group`);
}

/** UserList (User / ScreenName) or 1.3 UserIDList: the user ids named. */
function usersIn(services: Services, element: CspElement | undefined): string[] {
  const domain = services.config.domains[0]!;
  const raw = [
    ...childrenNamed(element, 'User').map((u) => textOf(u, 'UserID') ?? ''),
    ...childrenNamed(element, 'UserID').map((u) => textOf(u) ?? ''),
  ];
  return raw.map((r) => {
    try {
      return parseUserId(r, domain).id;
    } catch {
      throw new CspError(402, `"${r}" is not a user ID`);
    }
  });
}

function userList(ids: string[], session: SessionView): CspElement {
  return el('UserList', ids.map((id) => el('User', [leaf('UserID', displayAddress(id, session.addressStyle))])));
}

/** The screen name a user joins under: the one asked for, else their user name. */
function screenNameFor(request: CspElement, session: SessionView): string {
  const asked = textOf(child(request, 'ScreenName'), 'SName') ?? textOf(request, 'ScreenName');
  const name = (asked || session.user.local).trim();
  if (!name || name.length > 64) throw new CspError(402, 'A screen name is 1 to 64 characters');
  return name;
}

function join(services: Services, session: SessionView, groupId: string, request: CspElement): JoinOutcome {
  let outcome: JoinOutcome | undefined;
  groupActor(services, groupId).send({
    type: 'JOIN',
    request: { userId: session.user.id, screenName: screenNameFor(request, session), subscribeNotice: boolOf(request, 'SubscribeNotification', false) },
    reply: (o) => (outcome = o),
  });
  return outcome!;
}

export const createGroup: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const owner = groupId.slice(0, groupId.indexOf('/'));
  if (owner && owner !== session.user.local) throw new CspError(816, 'A group id names its creator: wv:yourname/group@domain');
  if (services.groups.get(groupId)) throw new CspError(801, `Group ${displayAddress(groupId, {})} already exists`);
  if (services.groups.ownedBy(session.user.id) >= services.config.groups.maxPerUser) throw new CspError(814, `At most ${services.config.groups.maxPerUser} groups per user`);
  const { properties, welcomeNote } = readGroupProperties(child(request, 'GroupProperties'));
  services.groups.create({
    groupId,
    owner: session.user.id,
    properties: { ...defaultProperties(groupId, services.config.groups.maxActiveUsers), ...properties },
    ...(welcomeNote ? { welcomeNote } : {}),
    createdAt: services.now(),
  });
  services.log.info({ group: groupId, owner: session.user.id }, 'group created');
  if (boolOf(request, 'JoinGroup', false)) {
    const outcome = join(services, session, groupId, request);
    if (outcome.code !== 200) return { response: status(201, `Created, but not joined: ${'description' in outcome ? outcome.description : ''}`) };
  }
  return { response: status(200) };
};

export const deleteGroup: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const actor = groupActor(services, groupId);
  requirePrivilege(services, groupId, session.user.id, ['Admin']);
  actor.send({ type: 'DELETE', by: session.user.id, reply: () => undefined });
  services.router.groupDeleted(groupId);
  services.log.info({ group: groupId, by: session.user.id }, 'group deleted');
  return { response: status(200) };
};

export const joinGroup: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const outcome = join(services, session, groupId, request);
  if (outcome.code !== 200 || !('joined' in outcome)) throw new CspError(outcome.code, 'description' in outcome ? outcome.description : undefined);
  const group = services.groups.get(groupId)!;
  const wantList = boolOf(request, 'JoinedRequest', false);
  const admin = privilegeOf(services, groupId, session.user.id) === 'Admin';
  const show = admin || showsIds(services, groupId);
  const joinedList =
    !wantList ? undefined
    : session.version === '1.1' ? el('UserList', outcome.joined.map((u) => el('ScreenName', [leaf('SName', u.screenName), leaf('GroupID', groupAddress(groupId, session.addressStyle))])))
    : el('UserMapList', [el('UserMapping', outcome.joined.map((u) => mapping(u, session.addressStyle, show)))]);
  return {
    response: el('JoinGroup-Response', [
      joinedList,
      group.welcomeNote ? welcomeNoteElement(group.welcomeNote) : undefined,
    ]),
  };
};

export const leaveGroup: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  let left = false;
  groupActor(services, groupId).send({ type: 'LEAVE', userId: session.user.id, reply: (l) => (left = l) });
  return {
    response: el('LeaveGroup-Response', [leaf('GroupID', groupAddress(groupId, session.addressStyle)), left ? result(200) : result(808, 'You have not joined this group')]),
  };
};

export const getGroupMembers: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  groupActor(services, groupId);
  const group = services.groups.get(groupId)!;
  const members = services.groups.members(groupId);
  const mine = privilegeOf(services, groupId, session.user.id);
  if ((group.properties['AccessType'] ?? 'Open') === 'Restricted' && !mine) throw new CspError(816, 'Only members see the members of a restricted group');
  const of = (p: Privilege) => members.filter((m) => m.privilege === p).map((m) => m.userId);
  const users = of('User');
  return {
    response: el('GetGroupMembers-Response', [
      of('Admin').length ? el('Admin', [userList(of('Admin'), session)]) : undefined,
      of('Mod').length ? el('Mod', [userList(of('Mod'), session)]) : undefined,
      users.length ? (session.version === '1.3' ? userList(users, session) : el('Users', [userList(users, session)])) : undefined,
    ]),
  };
};

export const getJoinedUsers: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const actor = groupActor(services, groupId);
  const joined = joinedUsers(actor);
  const privilege = privilegeOf(services, groupId, session.user.id);
  const style = session.addressStyle;
  if (privilege === 'Admin') {
    const by = (p: Privilege | undefined) => joined.filter((j) => (privilegeOf(services, groupId, j.userId) ?? 'User') === p);
    const section = (name: string, list: typeof joined) => (list.length ? el(name, list.map((j) => mapping(j, style, true))) : undefined);
    return {
      response: el('GetJoinedUsers-Response', [
        el('AdminMapList', [section('AdminMapping', by('Admin')), section('ModMapping', by('Mod')), section('UserMapping', by('User'))]),
      ]),
    };
  }
  const show = showsIds(services, groupId);
  return { response: el('GetJoinedUsers-Response', [el('UserMapList', [joined.length ? el('UserMapping', joined.map((j) => mapping(j, style, show))) : undefined])]) };
};

export const addGroupMembers: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  groupActor(services, groupId);
  requirePrivilege(services, groupId, session.user.id, ['Admin', 'Mod']);
  const ids = usersIn(services, child(request, 'UserList') ?? child(request, 'UserIDList'));
  if (ids.length === 0) throw new CspError(402, 'AddGroupMembers-Request names nobody');
  services.groups.setMembers(groupId, ids.filter((id) => !privilegeOf(services, groupId, id)).map((userId) => ({ userId, privilege: 'User' as const })));
  return { response: status(200) };
};

export const removeGroupMembers: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const actor = groupActor(services, groupId);
  requirePrivilege(services, groupId, session.user.id, ['Admin', 'Mod']);
  const ids = usersIn(services, child(request, 'UserList') ?? child(request, 'UserIDList'));
  const owner = services.groups.get(groupId)!.owner;
  if (ids.includes(owner)) throw new CspError(816, 'The group\'s creator cannot be removed');
  services.groups.setMembers(groupId, ids.map((userId) => ({ userId, privilege: null })));
  // Removed members who are joined are put out, and told so.
  for (const id of ids) actor.send({ type: 'LEAVE', userId: id, notify: { code: 810, description: 'You are no longer a member of this group' } });
  return { response: status(200) };
};

export const memberAccess: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  groupActor(services, groupId);
  requirePrivilege(services, groupId, session.user.id, ['Admin']);
  const level = (name: string) => {
    const section = child(request, name);
    return usersIn(services, child(section, 'UserList') ?? section);
  };
  const changes: { userId: string; privilege: Privilege }[] = [
    ...level('Admin').map((userId) => ({ userId, privilege: 'Admin' as const })),
    ...level('Mod').map((userId) => ({ userId, privilege: 'Mod' as const })),
    ...(session.version === '1.3' ? usersIn(services, child(request, 'UserList')) : level('Users')).map((userId) => ({ userId, privilege: 'User' as const })),
  ];
  if (changes.length === 0) throw new CspError(402, 'MemberAccess-Request names nobody');
  const owner = services.groups.get(groupId)!.owner;
  if (changes.some((c) => c.userId === owner && c.privilege !== 'Admin')) throw new CspError(816, 'The group\'s creator stays an admin');
  services.groups.setMembers(groupId, changes);
  return { response: status(200) };
};

export const getGroupProps: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const actor = groupActor(services, groupId);
  const group = services.groups.get(groupId)!;
  return {
    response: el('GetGroupProps-Response', [
      groupPropertiesElement(group, session.version, undefined, joinedUsers(actor).length),
      ownPropertiesElement(privilegeOf(services, groupId, session.user.id)),
    ]),
  };
};

export const setGroupProps: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const actor = groupActor(services, groupId);
  const groupProps = child(request, 'GroupProperties');
  if (!groupProps) return { response: status(200) }; // OwnProperties only: nothing a user may set today
  requirePrivilege(services, groupId, session.user.id, ['Admin', 'Mod']);
  const group = services.groups.get(groupId)!;
  const { properties, welcomeNote } = readGroupProperties(groupProps);
  const changed = Object.keys(properties).filter((k) => group.properties[k] !== properties[k]);
  services.groups.setProperties(groupId, { ...group.properties, ...properties }, welcomeNote);
  if (changed.length) actor.send({ type: 'PROPERTIES_CHANGED', changed });
  return { response: status(200) };
};

export const rejectList: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const actor = groupActor(services, groupId);
  const add = usersIn(services, child(request, 'AddList'));
  const remove = usersIn(services, child(request, 'RemoveList'));
  if (add.length || remove.length) requirePrivilege(services, groupId, session.user.id, ['Admin', 'Mod']);
  const owner = services.groups.get(groupId)!.owner;
  if (add.includes(owner)) throw new CspError(816, 'The group\'s creator cannot be rejected');
  services.groups.changeRejected(groupId, add, remove);
  for (const id of add) actor.send({ type: 'LEAVE', userId: id, notify: { code: 809, description: 'You have been rejected from this group' } });
  return { response: el('RejectList-Response', [userList(services.groups.rejected(groupId), session)]) };
};

export const subscribeGroupNotice: PrimitiveHandler = (request, session, services) => {
  const groupId = groupIdOf(request, session, services);
  const type = requireText(request, 'SubscribeType').toUpperCase();
  if (!['S', 'U', 'G'].includes(type)) throw new CspError(402, 'SubscribeType is S, U or G');
  let on: boolean | undefined;
  groupActor(services, groupId).send({ type: 'SUBSCRIBE', userId: session.user.id, on: type === 'G' ? undefined : type === 'S', reply: (v) => (on = v) });
  if (on === undefined) throw new CspError(808, 'You have not joined this group');
  return { response: el('SubscribeGroupNotice-Response', [leaf('Value', on)]) };
};

/**
 * A user's last session ended (logout, expiry): they leave every group they joined. A server
 * shutting down is not a goodbye: joined users stay joined across the restart.
 */
export function leaveGroupsOf(services: Services, userId: string): void {
  if (services.router.sessionsOf(userId).length > 0) return;
  for (const groupId of services.groups.joinedBy(userId)) services.router.group(groupId)?.send({ type: 'LEAVE', userId });
}

/**
 * The rejoin grace after a start is over: users still joined from before the restart who have
 * not logged in since leave their groups (the others are told, as for a logout). XMPP users
 * have no sessions here: those whose full JID we kept stay (their clients still think they are
 * in the room, and a resource that is gone is taken out on the first error its server sends);
 * the others are told they are out.
 */
export function releaseAbsentJoinedUsers(services: Services): number {
  let released = 0;
  for (const { groupId, userId } of services.groups.everyJoined()) {
    if (services.router.sessionsOf(userId).length > 0) continue;
    if (isXmppUser(services, userId)) {
      if (isLiveOccupant(services, groupId, userId)) continue;
      services.router.group(groupId)?.send({ type: 'LEAVE', userId, notify: { code: 200, description: 'The server restarted; join again' } });
    } else services.router.group(groupId)?.send({ type: 'LEAVE', userId });
    released++;
  }
  if (released) services.log.info({ released }, 'users joined before the restart who did not come back left their groups');
  return released;
}
