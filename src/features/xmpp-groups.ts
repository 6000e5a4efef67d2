// IMPS groups as XMPP multi-user chat rooms (issue 8; XEP-0045, the subset that maps soundly).
// A group wv:alice/club@imps.test is the room alice~club@imps.test, a public group
// wv:/lobby@imps.test the room ~lobby@imps.test (Baraza's spelling; "~" cannot occur in a user
// id or an owner, so the first "~" splits owner and name). An XMPP user is a joined member
// under their room nickname, exactly like a phone under its screen name:
//
//   <presence to='room/nick'> (join) ─────────▶ JoinGroup: occupants' presences, self-presence (110), subject
//   <presence type='unavailable' to='room/…'> ▶ LeaveGroup
//   <message type='groupchat' to='room'> ─────▶ a group message (phones see the nickname as sender)
//   <message type='chat' to='room/nick'> ─────▶ a private message inside the group
//   group messages and members joining/leaving ▶ <message type='groupchat'>, occupant <presence>
//
// Not mapped: room creation and configuration from XMPP (groups are created by phones),
// moderation commands (kick/ban/voice via iq), history on join, disco#items of rooms,
// invitations (XEP-0249 / mediated). Those get a service-unavailable error.
import { randomBytes } from 'node:crypto';
import { NS, childElements, childText, findChild, xml, type XmlNode } from '../adapters/xmpp/xml.ts';
import type { Services } from '../services.ts';
import type { JoinedUser, Privilege } from '../store/groups.ts';
import { joinedUsers, type JoinOutcome, type MessageOutcome } from '../../actors/group.ts';
import { bodyFor, isXmppUser, queueStanza, type Jid } from './xmpp-gateway.ts';
import { storeGroupMessageForPhones } from './messaging.ts';

/** The room JID of a group id ("alice/club@imps.test" → "alice~club@imps.test"). */
export function roomJidOf(groupId: string): string {
  const at = groupId.lastIndexOf('@');
  const path = groupId.slice(0, at);
  const slash = path.indexOf('/');
  return `${path.slice(0, slash)}~${path.slice(slash + 1)}@${groupId.slice(at + 1)}`;
}

/** The group id a room JID names, or undefined when the JID is not a room of ours. */
export function groupIdOfRoom(services: Services, jid: Jid): string | undefined {
  const tilde = jid.local.indexOf('~');
  if (tilde < 0 || !services.config.domains.includes(jid.domain)) return undefined;
  return `${jid.local.slice(0, tilde)}/${jid.local.slice(tilde + 1)}@${jid.domain}`;
}

/**
 * Full JIDs of XMPP occupants, by group and bare JID: where their room traffic goes. Kept with
 * the joined user in SQLite (a restart does not cut them off); this map caches them, and keeps
 * one a moment longer than the joined row, for the goodbye presence after a removal.
 */
const occupantJids = new Map<string, string>();
const occupantKey = (groupId: string, userId: string) => `${groupId} ${userId}`;
function knownJidOf(services: Services, groupId: string, userId: string): string | undefined {
  const key = occupantKey(groupId, userId);
  let jid = occupantJids.get(key);
  if (jid === undefined) {
    jid = services.groups.occupantJid(groupId, userId);
    if (jid !== undefined) occupantJids.set(key, jid);
  }
  return jid;
}
const fullJidOf = (services: Services, groupId: string, userId: string) => knownJidOf(services, groupId, userId) ?? userId;

/** Whether we know where an XMPP occupant's room traffic goes (it joined from a full JID we kept). */
export const isLiveOccupant = (services: Services, groupId: string, userId: string) => knownJidOf(services, groupId, userId) !== undefined;

const newId = () => randomBytes(9).toString('base64url');

/** XEP-0045 affiliation and role for an IMPS privilege. */
function itemFor(privilege: Privilege | undefined): { affiliation: string; role: string } {
  if (privilege === 'Admin') return { affiliation: 'owner', role: 'moderator' };
  if (privilege === 'Mod') return { affiliation: 'admin', role: 'moderator' };
  if (privilege === 'User') return { affiliation: 'member', role: 'participant' };
  return { affiliation: 'none', role: 'participant' };
}

function occupantPresenceStanza(services: Services, groupId: string, occupant: JoinedUser, to: string, opts: { self?: boolean; leaving?: boolean } = {}): XmlNode {
  const room = roomJidOf(groupId);
  const item = opts.leaving ? { affiliation: 'none', role: 'none' } : itemFor(services.groups.privilegeOf(groupId, occupant.userId));
  return xml(
    'presence',
    NS.server,
    { from: `${room}/${occupant.screenName}`, to, ...(opts.leaving ? { type: 'unavailable' } : {}) },
    xml('x', NS.mucUser, {}, xml('item', NS.mucUser, item), opts.self && xml('status', NS.mucUser, { code: '110' })),
  );
}

/** An error answer from the room (RFC 6120 §8.3 conditions). */
function roomError(services: Services, node: XmlNode, type: 'cancel' | 'auth' | 'wait' | 'modify', condition: string, text?: string): void {
  if (node.attrs['type'] === 'error') return;
  queueStanza(
    services,
    xml(
      node.name,
      NS.server,
      { from: node.attrs['to'], to: node.attrs['from'], type: 'error', id: node.attrs['id'] },
      xml('error', NS.server, { type }, xml(condition, NS.stanzaErrors), text ? xml('text', NS.stanzaErrors, {}, text) : undefined),
    ),
  );
}

const JOIN_ERRORS: Record<number, [type: 'cancel' | 'auth' | 'wait', condition: string]> = {
  800: ['cancel', 'item-not-found'],
  809: ['auth', 'forbidden'],
  811: ['cancel', 'conflict'],
  431: ['auth', 'registration-required'],
  817: ['wait', 'service-unavailable'],
};

/**
 * A stanza to one of our room JIDs. Returns false when `to` is not a room (the caller handles
 * it as a stanza for a user).
 */
export function handleRoomStanza(services: Services, node: XmlNode, from: Jid, to: Jid): boolean {
  const groupId = groupIdOfRoom(services, to);
  if (!groupId) return false;
  const actor = services.router.group(groupId);
  if (!actor) {
    roomError(services, node, 'cancel', 'item-not-found', 'No such group');
    return true;
  }
  const userId = `${from.local}@${from.domain}`;
  const fullJid = node.attrs['from']!;
  if (node.attrs['type'] === 'error') {
    dropGhost(services, groupId, userId, fullJid, node);
    return true;
  }
  if (node.name === 'presence') {
    if (node.attrs['type'] === 'unavailable') {
      leave(services, groupId, userId);
      return true;
    }
    if (node.attrs['type']) return true; // subscriptions and probes: a room has no roster
    const nick = to.resource?.trim();
    if (!nick) {
      roomError(services, node, 'modify', 'jid-malformed', 'Join with a nickname: room@domain/nick');
      return true;
    }
    join(services, groupId, userId, fullJid, nick, node);
    return true;
  }
  if (node.name === 'message') {
    const body = childText(node, 'body');
    if (childText(node, 'subject') !== undefined && !body) {
      // The Topic is a group property; phones' admins set it.
      roomError(services, node, 'auth', 'forbidden', 'The topic is set from the group\'s phones');
      return true;
    }
    if (body === undefined || body === '') return true; // chat states and the like
    if (node.attrs['type'] === 'groupchat') groupMessage(services, groupId, userId, body, node, undefined);
    else if (to.resource) groupMessage(services, groupId, userId, body, node, to.resource);
    else roomError(services, node, 'modify', 'bad-request', 'Send group messages with type groupchat');
    return true;
  }
  if (node.name === 'iq' && (node.attrs['type'] === 'get' || node.attrs['type'] === 'set')) roomError(services, node, 'cancel', 'service-unavailable');
  return true;
}

function join(services: Services, groupId: string, userId: string, fullJid: string, nick: string, node: XmlNode): void {
  const actor = services.router.group(groupId)!;
  let outcome: JoinOutcome | undefined;
  actor.send({ type: 'JOIN', request: { userId, screenName: nick, subscribeNotice: false }, reply: (o) => (outcome = o) });
  if (outcome?.code === 807) {
    // Already in: an XMPP client re-sends presence to the room for status changes. A new
    // nickname is not taken (no nick changes); the answer names the one the group knows.
    const current = joinedEntry(services, groupId, userId) ?? { userId, screenName: nick, subscribeNotice: false };
    return void queueStanza(services, occupantPresenceStanza(services, groupId, current, fullJid, { self: true }));
  }
  if (!outcome || !('joined' in outcome)) {
    const [type, condition] = JOIN_ERRORS[outcome?.code ?? 500] ?? ['cancel', 'not-allowed'];
    return roomError(services, node, type, condition, outcome && 'description' in outcome ? outcome.description : undefined);
  }
  occupantJids.set(occupantKey(groupId, userId), fullJid);
  services.groups.setOccupantJid(groupId, userId, fullJid);
  const self = outcome.joined.find((j) => j.userId === userId)!;
  for (const other of outcome.joined) if (other.userId !== userId) queueStanza(services, occupantPresenceStanza(services, groupId, other, fullJid));
  queueStanza(services, occupantPresenceStanza(services, groupId, self, fullJid, { self: true }));
  const topic = services.groups.get(groupId)?.properties['Topic'] ?? '';
  queueStanza(services, xml('message', NS.server, { from: roomJidOf(groupId), to: fullJid, type: 'groupchat', id: newId() }, xml('subject', NS.server, {}, topic)));
}

/** Who a user is in the group now, if joined. */
function joinedEntry(services: Services, groupId: string, userId: string): JoinedUser | undefined {
  const actor = services.router.group(groupId);
  return actor && joinedUsers(actor).find((j) => j.userId === userId);
}

/** An XMPP occupant leaves: the others are told by the group; the leaver gets its own unavailable presence (110). */
function leave(services: Services, groupId: string, userId: string): void {
  const entry = joinedEntry(services, groupId, userId);
  services.router.group(groupId)?.send({ type: 'LEAVE', userId });
  if (entry) occupantRemoved(services, groupId, userId, entry.screenName);
  else occupantJids.delete(occupantKey(groupId, userId));
}

/** Errors that say an occupant's resource is gone (Prosody's mod_muc kicks occupants on these too). */
const GONE_CONDITIONS = new Set(['gone', 'item-not-found', 'recipient-unavailable', 'redirect', 'remote-server-not-found', 'remote-server-timeout', 'service-unavailable']);

/**
 * An error from the very resource that joined, saying it is gone: it is taken out rather than
 * left as a ghost occupant that every group message bounces off.
 */
function dropGhost(services: Services, groupId: string, userId: string, fullJid: string, node: XmlNode): void {
  if (knownJidOf(services, groupId, userId) !== fullJid) return;
  const condition = childElements(findChild(node, 'error')).find((c) => c.ns === NS.stanzaErrors && c.name !== 'text')?.name;
  if (!condition || !GONE_CONDITIONS.has(condition)) return;
  occupantJids.delete(occupantKey(groupId, userId));
  services.router.group(groupId)?.send({ type: 'LEAVE', userId });
  services.log.info({ group: groupId, occupant: userId, condition }, 'XMPP occupant is gone; taken out of the group');
}

/** A group message (or a private one to `toNick`) from an XMPP occupant. */
function groupMessage(services: Services, groupId: string, userId: string, body: string, node: XmlNode, toNick: string | undefined): void {
  const actor = services.router.group(groupId)!;
  let outcome: MessageOutcome | undefined;
  actor.send({ type: 'MESSAGE', from: userId, ...(toNick !== undefined ? { toScreenName: toNick } : {}), reply: (o) => (outcome = o) });
  if (!outcome || !('recipients' in outcome)) {
    const code = outcome?.code ?? 500;
    return roomError(services, node, code === 808 ? 'cancel' : 'modify', code === 808 ? 'not-acceptable' : code === 812 ? 'not-allowed' : 'item-not-found', outcome && 'description' in outcome ? outcome.description : undefined);
  }
  deliverToGroup(services, {
    groupId,
    sender: userId,
    senderScreenName: outcome.senderScreenName,
    recipients: outcome.recipients,
    ...(toNick !== undefined ? { recipientScreenName: outcome.recipients[0]!.screenName } : {}),
    contentType: 'text/plain',
    content: Buffer.from(body, 'utf8'),
    binary: false,
  });
  // MUC reflects a group message to its sender too (that is how clients know it went out).
  if (toNick === undefined) {
    queueStanza(services, xml('message', NS.server, { from: `${roomJidOf(groupId)}/${outcome.senderScreenName}`, to: node.attrs['from'], type: 'groupchat', id: node.attrs['id'] ?? newId() }, xml('body', NS.server, {}, body)));
  }
}

export interface GroupDeliveryRequest {
  groupId: string;
  sender: string;
  senderScreenName: string;
  /** Everyone it goes to (local phones and XMPP occupants). */
  recipients: JoinedUser[];
  recipientScreenName?: string;
  contentType: string;
  content: Buffer;
  binary: boolean;
}

/** Deliver a group message: stored for the phones among the recipients, sent to the XMPP occupants. */
function deliverToGroup(services: Services, request: GroupDeliveryRequest): void {
  const phones = request.recipients.filter((r) => services.config.domains.includes(r.userId.slice(r.userId.lastIndexOf('@') + 1))).map((r) => r.userId);
  if (phones.length) storeGroupMessageForPhones(services, request, phones);
  sendToOccupants(services, request);
}

/** The XMPP occupants among a group message's recipients get it from room/sender-nickname. */
export function sendToOccupants(services: Services, request: GroupDeliveryRequest): void {
  if (!services.xmpp) return;
  const occupants = request.recipients.filter((r) => isXmppUser(services, r.userId));
  if (occupants.length === 0) return;
  const { body } = bodyFor(services, request);
  const from = `${roomJidOf(request.groupId)}/${request.senderScreenName}`;
  const type = request.recipientScreenName !== undefined ? 'chat' : 'groupchat';
  for (const o of occupants) {
    queueStanza(services, xml('message', NS.server, { from, to: fullJidOf(services, request.groupId, o.userId), type, id: newId() }, xml('body', NS.server, {}, body), type === 'chat' && xml('x', NS.mucUser)));
  }
}

/** Members joined or left (or the group closed): the XMPP occupants see it as occupant presence. */
export function occupantsChanged(services: Services, groupId: string, audience: JoinedUser[], change: { joined?: JoinedUser[]; left?: JoinedUser[] }): void {
  if (!services.xmpp) return;
  for (const member of audience) {
    if (!isXmppUser(services, member.userId)) continue;
    const to = fullJidOf(services, groupId, member.userId);
    for (const j of change.joined ?? []) queueStanza(services, occupantPresenceStanza(services, groupId, j, to));
    for (const l of change.left ?? []) queueStanza(services, occupantPresenceStanza(services, groupId, l, to, { leaving: true }));
  }
}

/** An XMPP occupant was removed (kicked, rejected, group deleted): their client is told they are out. */
export function occupantRemoved(services: Services, groupId: string, userId: string, screenName: string | undefined): void {
  if (!isXmppUser(services, userId)) return;
  const to = fullJidOf(services, groupId, userId);
  occupantJids.delete(occupantKey(groupId, userId));
  queueStanza(services, occupantPresenceStanza(services, groupId, { userId, screenName: screenName ?? 'you', subscribeNotice: false }, to, { self: true, leaving: true }));
}

