// What a group tells people who are not asking: GroupChangeNotice (users joined or left,
// properties changed) to joined users who subscribed, and LeaveGroup-Response to a user who was
// removed or whose group closed. Both are transient: they go to the users' live sessions'
// outboxes and are rendered for each phone's version when handed out.
import type { CspElement } from '../csp/tree.ts';
import { el, leaf } from '../csp/tree.ts';
import { result } from '../csp/envelope.ts';
import type { Services } from '../services.ts';
import type { JoinedUser } from '../store/groups.ts';
import { displayAddress, type AddressStyle } from '../csp/address.ts';
import type { SessionView } from './types.ts';
import { groupAddress, groupPropertiesElement, showsIds } from './group-properties.ts';
import { occupantRemoved, occupantsChanged } from './xmpp-groups.ts';

export interface GroupView {
  services: Services;
  groupId: string;
}

let serial = 0;

/** The screen-name mapping a group shows: the UserID only when it may be shown. */
export function mapping(user: JoinedUser, style: AddressStyle, showId: boolean): CspElement {
  return el('Mapping', [leaf('SName', user.screenName), showId ? leaf('UserID', displayAddress(user.userId, style)) : undefined]);
}

function screenName(groupId: string, user: JoinedUser, session: SessionView): CspElement {
  return el('ScreenName', [leaf('SName', user.screenName), leaf('GroupID', groupAddress(groupId, session.addressStyle))]);
}

function changeNotice(view: GroupView, session: SessionView, change: { joined?: JoinedUser[]; left?: JoinedUser[]; properties?: string[] }): CspElement | undefined {
  const { services, groupId } = view;
  const group = services.groups.get(groupId);
  if (!group) return undefined;
  const v11 = session.version === '1.1';
  const joined = change.joined?.length
    ? v11
      ? el('Joined', change.joined.map((u) => screenName(groupId, u, session)))
      : el('Joined', [el('UserMapList', [el('UserMapping', change.joined.map((u) => mapping(u, session.addressStyle, showsIds(services, groupId))))])])
    : undefined;
  const left = change.left?.length
    ? v11
      ? el('Left', change.left.map((u) => screenName(groupId, u, session)))
      : el('Left', [el('UserList', change.left.map((u) => screenName(groupId, u, session)))])
    : undefined;
  const properties = change.properties?.length ? groupPropertiesElement(group, session.version, change.properties) : undefined;
  return el('GroupChangeNotice', [leaf('GroupID', groupAddress(groupId, session.addressStyle)), joined, left, properties]);
}

/**
 * Tell the joined users who subscribed to notices about a change. XMPP occupants always see
 * members come and go, as occupant presence (a MUC has no notice subscription).
 */
export function groupChangeNotice(view: GroupView, audience: JoinedUser[], change: { joined?: JoinedUser[]; left?: JoinedUser[]; properties?: string[] }): void {
  for (const member of audience) {
    if (!member.subscribeNotice) continue;
    view.services.router.deliverToUser(member.userId, { key: `group-notice:${view.groupId}:${++serial}`, render: (session) => changeNotice(view, session, change) });
  }
  if (change.joined?.length || change.left?.length) occupantsChanged(view.services, view.groupId, audience, change);
}

/**
 * Tell a user they are out of a group (removed, rejected, or the group was deleted); an XMPP
 * occupant gets its own unavailable presence from `screenName`, its nickname in the room.
 */
export function leaveGroupNotice(view: GroupView, userId: string, code: number, description: string, screenName?: string): void {
  occupantRemoved(view.services, view.groupId, userId, screenName);
  view.services.router.deliverToUser(userId, {
    key: `group-left:${view.groupId}`,
    render: (session) => el('LeaveGroup-Response', [leaf('GroupID', groupAddress(view.groupId, session.addressStyle)), result(code, description)]),
  });
}

