// Invitations (reference imps-csp.md §3.2): a user invites local users to a conversation (IM),
// a group (GR; 1.2+ GM, group membership), their presence (PR) or shared content (SC).
//
//   inviter ── Invite-Request ──────────▶ server ── InviteUser-Request ──▶ each invitee (durable)
//   invitee ── InviteUser-Response ─────▶ server ── Invite-Response ─────▶ inviter (durable)
//   inviter ── CancelInvite-Request ────▶ server ── CancelInviteUser-Request ──▶ pending invitees
//
// The server-originated requests are durable notices (src/store/notices.ts): an invitee or
// inviter who is offline now gets them at their next login. Phones answer them with Status.
//
// Decisions:
// - The InviteID is the inviter's client's; an invitation is (inviter, InviteID). Reusing an
//   InviteID while that invitation still has a pending invitee and has not expired gets 423;
//   once it has ended (everyone answered or was cancelled, or it expired) the ID may be reused.
// - An InviteUser-Response for an InviteID that is unknown, expired, cancelled or already
//   answered gets 423 (Invalid invitation ID). InviteUser-Response names no inviter in 1.1; in
//   1.2+ its Sender (or, as Android sends it, a bare User) picks among invitations from several
//   inviters that happen to share an InviteID.
// - Acceptance has effects: GR / GM make the invitee a member of the group (privilege User),
//   so a restricted group lets them join; PR grants the inviter the invitee's presence (the
//   attributes the PresenceSubList named, else all). IM and SC only relay the answer. Accepting
//   a group invitation whose group has been deleted since gets 800 and changes nothing.
// - The Invite-Response waits for the inviter invitations.validityDefault seconds; a
//   CancelInviteUser-Request as long as the invitation it cancels would have.
// - Inviting someone into a restricted group is what AddGroupMembers does: only the group's
//   admins and moderators may (816). Anyone may invite into an open group.
// - Recipients are local users (531 unknown, 516 another domain, 532 blocked by the invitee;
//   per recipient in a 201). Groups and contact lists as recipients are not offered (405).
// - AP, EC and EG (1.3 application and conversation-extension invitations) are not offered (405).
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, intOf, leaf, requireText, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { displayAddress, localRecipient, parseUserId, type AddressStyle } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import { Failures } from '../csp/outcome.ts';
import { NAMESPACES, type CspVersion } from '../csp/versions.ts';
import { schemaFor } from '../csp/schema/index.ts';
import type { Invitation, InviteType } from '../store/invitations.ts';
import type { Services } from '../services.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import { refusesSender } from './block-lists.ts';
import { decide } from './authorization.ts';
import { selectedAttributes } from './presence.ts';
import { groupAddress, parseGroupId } from './group-properties.ts';

export const INVITE_USER = 'InviteUser';
export const INVITE_RESPONSE = 'InviteResponse';
export const CANCEL_INVITE_USER = 'CancelInviteUser';

const INVALID_INVITATION = 423;
const INVALID_INVITATION_TEXT = 'Invalid invitation ID';

/** Bounds on what one invitation may carry. */
const MAX_INVITE_ID = 100;
const MAX_NOTE = 2000;
const MAX_URLS = 20;
const MAX_URL = 1024;
const MAX_INVITEES = 100;

const OFFERED: ReadonlySet<string> = new Set<InviteType>(['IM', 'GR', 'PR', 'SC', 'GM']);
const NOT_OFFERED = new Set(['AP', 'EC', 'EG']);

interface ScreenNameRef {
  sName: string;
  groupId: string;
}

/** What an InviteUser-Request needs, kept in the invitee's notice. */
interface InviteUserPayload {
  inviteId: string;
  type: InviteType;
  inviter: string;
  groupId?: string;
  screenName?: ScreenNameRef;
  note?: string;
  urls?: string[];
  attributes?: string[];
  validity: number;
}

/** What an Invite-Response needs, kept in the inviter's notice. */
interface InviteResponsePayload {
  inviteId: string;
  invitee: string;
  acceptance: boolean;
  responseNote?: string;
  screenName?: ScreenNameRef;
}

/** What a CancelInviteUser-Request needs, kept in the invitee's notice. */
interface CancelInviteUserPayload {
  inviteId: string;
  inviter: string;
  note?: string;
  urls?: string[];
}

// ── Reading requests ─────────────────────────────────────────────────────────────────────

function inviteIdOf(request: CspElement): string {
  const id = requireText(request, 'InviteID');
  if (id.length > MAX_INVITE_ID) throw new CspError(402, `An InviteID is at most ${MAX_INVITE_ID} characters`);
  return id;
}

function noteOf(request: CspElement, name: string): string | undefined {
  const note = textOf(request, name);
  if (!note) return undefined;
  if (note.length > MAX_NOTE) throw new CspError(402, `${name} is at most ${MAX_NOTE} characters`);
  return note;
}

function urlsOf(request: CspElement): string[] | undefined {
  const urls = childrenNamed(child(request, 'URLList'), 'URL')
    .map((u) => textOf(u) ?? '')
    .filter(Boolean);
  if (urls.length > MAX_URLS) throw new CspError(402, `A URLList holds at most ${MAX_URLS} URLs`);
  if (urls.some((u) => u.length > MAX_URL)) throw new CspError(402, `A URL is at most ${MAX_URL} characters`);
  return urls.length ? urls : undefined;
}

/** A ScreenName (SName, GroupID) — or, liberally, a bare SName text — in the group `fallbackGroup`. */
function screenNameOf(request: CspElement, session: SessionView, services: Services, fallbackGroup: string | undefined): ScreenNameRef | undefined {
  const element = child(request, 'ScreenName');
  if (!element) return undefined;
  const sName = (textOf(element, 'SName') ?? (element.children.length === 0 ? textOf(element) : undefined))?.trim();
  if (!sName || sName.length > 64) return undefined;
  const rawGroup = textOf(element, 'GroupID');
  let groupId = fallbackGroup;
  if (rawGroup) {
    try {
      groupId = parseGroupId(rawGroup, session.user, services.config.domains);
    } catch {
      groupId = fallbackGroup;
    }
  }
  return groupId ? { sName, groupId } : undefined;
}

/** The user a Sender (or a bare User, as Android sends it) names, if any. */
function senderOf(request: CspElement, services: Services): string | undefined {
  const raw = textOf(child(child(request, 'Sender'), 'User'), 'UserID') ?? textOf(child(request, 'User'), 'UserID');
  if (!raw) return undefined;
  try {
    return parseUserId(raw, services.config.domains[0]!).id;
  } catch {
    return undefined;
  }
}

function validityOf(request: CspElement, services: Services): number {
  const { validityDefault, validityMax } = services.config.invitations;
  const asked = intOf(request, 'Validity');
  return Math.min(asked ? asked : validityDefault, validityMax);
}

function typeOf(request: CspElement): InviteType {
  const type = requireText(request, 'InviteType').toUpperCase();
  if (NOT_OFFERED.has(type)) throw new CspError(405, `InviteType ${type} is not a service this server offers`);
  if (!OFFERED.has(type)) throw new CspError(402, `InviteType is one of IM, GR, PR, SC, GM, not "${type}"`);
  return type as InviteType;
}

/** Presence attribute names the version knows, from a PresenceSubList of selectors. */
function attributesOf(request: CspElement, version: CspVersion): string[] | undefined {
  const schema = schemaFor(version);
  const names = selectedAttributes(child(request, 'PresenceSubList'))?.filter((n) => schema.get(n)?.token);
  return names?.length ? names : undefined;
}

/** Sort the Recipient's users into invitees and failures. */
function resolveInvitees(services: Services, inviter: string, recipient: CspElement | undefined): { invitees: string[]; failures: Failures } {
  const { config } = services;
  const invitees: string[] = [];
  const failures = new Failures();
  for (const user of childrenNamed(recipient, 'User')) {
    const raw = textOf(user, 'UserID') ?? '';
    const entity = leaf('UserID', raw)!;
    const recipient = localRecipient(raw, config.domains);
    if ('code' in recipient) {
      failures.add(recipient.code, entity);
      continue;
    }
    const { id } = recipient;
    if (invitees.includes(id)) continue;
    if (!services.accounts.get(id)) failures.add(531, entity);
    else if (refusesSender(services, id, inviter)) failures.add(532, entity);
    else invitees.push(id);
  }
  for (const group of childrenNamed(recipient, 'Group')) failures.add(405, child(group, 'GroupID') ?? child(group, 'ScreenName') ?? group);
  for (const list of childrenNamed(recipient, 'ContactList')) failures.add(405, list);
  if (invitees.length > MAX_INVITEES) throw new CspError(402, `At most ${MAX_INVITEES} invitees per invitation`);
  return { invitees, failures };
}

/** A pending, unexpired invitee of an invitation. */
const pendingFor = (invitation: Invitation, invitee: string, now: number) =>
  invitation.expiresAt > now && invitation.invitees.some((i) => i.invitee === invitee && i.state === 'pending');

const stillOpen = (invitation: Invitation, now: number) => invitation.expiresAt > now && invitation.invitees.some((i) => i.state === 'pending');

// ── Handlers ─────────────────────────────────────────────────────────────────────────────

export const inviteRequest: PrimitiveHandler = (request, session, services) => {
  const inviter = session.user.id;
  const now = services.now();
  const inviteId = inviteIdOf(request);
  const type = typeOf(request);
  const existing = services.invitations.get(inviter, inviteId);
  if (existing && stillOpen(existing, now)) throw new CspError(INVALID_INVITATION, `InviteID ${inviteId} is already in use by a pending invitation`);

  let groupId: string | undefined;
  if (type === 'GR' || type === 'GM') {
    const raw = textOf(request, 'GroupID');
    if (!raw) throw new CspError(402, `A ${type} invitation needs GroupID`);
    groupId = parseGroupId(raw, session.user, services.config.domains);
    const group = services.groups.get(groupId);
    if (!group) throw new CspError(800, `No group ${groupAddress(groupId)}`);
    const restricted = (group.properties['AccessType'] ?? 'Open').toLowerCase() === 'restricted';
    const privilege = services.groups.privilegeOf(groupId, inviter);
    if (restricted && privilege !== 'Admin' && privilege !== 'Mod') throw new CspError(816, 'Only admins and moderators may invite into a restricted group');
  }
  const urls = urlsOf(request);
  if (type === 'SC' && !urls) throw new CspError(402, 'An SC invitation needs a URLList');
  const attributes = type === 'PR' ? attributesOf(request, session.version) : undefined;
  const note = noteOf(request, 'InviteNote');
  const screenName = screenNameOf(request, session, services, groupId);
  const validity = validityOf(request, services);

  const recipient = child(request, 'Recipient');
  const { invitees, failures } = resolveInvitees(services, inviter, recipient);
  if (invitees.length === 0 && failures.count === 0) throw new CspError(402, 'Invite-Request names nobody to invite');
  if (invitees.length > 0) {
    const expiresAt = now + validity * 1000;
    const payload: InviteUserPayload = {
      inviteId,
      type,
      inviter,
      ...(groupId ? { groupId } : {}),
      ...(screenName ? { screenName } : {}),
      ...(note ? { note } : {}),
      ...(urls ? { urls } : {}),
      ...(attributes ? { attributes } : {}),
      validity,
    };
    const { inviteId: _id, inviter: _inviter, ...details } = payload;
    services.invitations.create({ inviter, inviteId, ...details, createdAt: now, expiresAt, invitees }, () => {
      for (const invitee of invitees) services.notices.add(invitee, INVITE_USER, payload, now, expiresAt);
    });
    services.log.info({ inviter, inviteId, type, invitees: invitees.length }, 'invitation sent');
  }
  return { response: el('Status', [failures.result(session.version, invitees.length)]) };
};

export const inviteUserResponse: PrimitiveHandler = (request, session, services) => {
  const invitee = session.user.id;
  const now = services.now();
  const inviteId = inviteIdOf(request);
  requireText(request, 'Acceptance');
  const acceptance = boolOf(request, 'Acceptance');
  const responseNote = noteOf(request, 'ResponseNote');
  const hint = senderOf(request, services);

  const candidates = services.invitations.forInvitee(invitee, inviteId).filter((i) => pendingFor(i, invitee, now));
  const invitation = candidates.find((i) => i.inviter === hint) ?? candidates[0];
  if (!invitation) throw new CspError(INVALID_INVITATION, `${INVALID_INVITATION_TEXT}: no pending invitation ${inviteId} for you`);

  if (acceptance) accept(services, invitation, invitee);
  const screenName = screenNameOf(request, session, services, invitation.groupId);
  const payload: InviteResponsePayload = {
    inviteId,
    invitee,
    acceptance,
    ...(responseNote ? { responseNote } : {}),
    ...(screenName ? { screenName } : {}),
  };
  const settled = services.invitations.settle(invitation.inviter, inviteId, invitee, acceptance ? 'accepted' : 'declined', now, responseNote, () =>
    services.notices.add(invitation.inviter, INVITE_RESPONSE, payload, now, now + services.config.invitations.validityDefault * 1000),
  );
  if (!settled) throw new CspError(INVALID_INVITATION, `${INVALID_INVITATION_TEXT}: invitation ${inviteId} is no longer pending`);
  services.log.info({ inviter: invitation.inviter, inviteId, invitee, acceptance }, 'invitation answered');
  return { response: status(200) };
};

/** What accepting an invitation does, beyond telling the inviter. */
function accept(services: Services, invitation: Invitation, invitee: string): void {
  switch (invitation.type) {
    case 'GR':
    case 'GM': {
      const groupId = invitation.groupId!;
      if (!services.groups.get(groupId)) throw new CspError(800, `Group ${groupAddress(groupId)} no longer exists`);
      // Already a member (perhaps a moderator): nothing to add, and no privilege is lowered.
      if (!services.groups.privilegeOf(groupId, invitee)) services.groups.setMembers(groupId, [{ userId: invitee, privilege: 'User' }]);
      return;
    }
    case 'PR':
      decide(services, invitee, invitation.inviter, true, invitation.attributes);
      return;
    case 'IM':
    case 'SC':
      return;
  }
}

export const cancelInvite: PrimitiveHandler = (request, session, services) => {
  const inviter = session.user.id;
  const now = services.now();
  const inviteId = inviteIdOf(request);
  const invitation = services.invitations.get(inviter, inviteId);
  if (!invitation || invitation.expiresAt <= now) throw new CspError(INVALID_INVITATION, `${INVALID_INVITATION_TEXT}: you have no invitation ${inviteId}`);
  const pending = invitation.invitees.filter((i) => i.state === 'pending').map((i) => i.invitee);
  const failures = new Failures();
  let targets: string[];
  const named = childrenNamed(child(request, 'Recipient'), 'User');
  if (named.length === 0) targets = pending;
  else {
    targets = [];
    for (const user of named) {
      const raw = textOf(user, 'UserID') ?? '';
      let id: string | undefined;
      try {
        id = parseUserId(raw, services.config.domains[0]!).id;
      } catch {
        id = undefined;
      }
      if (id && pending.includes(id)) {
        if (!targets.includes(id)) targets.push(id);
      } else failures.add(INVALID_INVITATION, leaf('UserID', raw)!);
    }
  }
  if (targets.length === 0 && failures.count === 0) throw new CspError(INVALID_INVITATION, `${INVALID_INVITATION_TEXT}: invitation ${inviteId} has nobody left to cancel`);

  const note = noteOf(request, 'InviteNote');
  const urls = urlsOf(request);
  const payload: CancelInviteUserPayload = { inviteId, inviter, ...(note ? { note } : {}), ...(urls ? { urls } : {}) };
  let cancelled = 0;
  for (const invitee of targets) {
    const done = services.invitations.settle(inviter, inviteId, invitee, 'cancelled', now, undefined, () =>
      services.notices.add(invitee, CANCEL_INVITE_USER, payload, now, invitation.expiresAt),
    );
    if (done) cancelled++;
  }
  services.log.info({ inviter, inviteId, cancelled }, 'invitation cancelled');
  return { response: el('Status', [failures.result(session.version, cancelled)]) };
};

// ── Rendering the notices ─────────────────────────────────────────────────────────────────

const userElement = (id: string, style: AddressStyle) => el('User', [leaf('UserID', displayAddress(id, style))]);
const senderElement = (id: string, style: AddressStyle) => el('Sender', [userElement(id, style)]);
const urlList = (urls: string[] | undefined) => (urls?.length ? el('URLList', urls.map((u) => leaf('URL', u))) : undefined);
const screenNameElement = (s: ScreenNameRef | undefined) => (s ? el('ScreenName', [leaf('SName', s.sName), leaf('GroupID', groupAddress(s.groupId))]) : undefined);

function inviteUserPrimitive(p: InviteUserPayload, version: CspVersion, style: AddressStyle): CspElement {
  const schema = schemaFor(version);
  const attributes = p.attributes?.filter((a) => schema.get(a)?.token);
  return el('InviteUser-Request', [
    leaf('InviteID', p.inviteId),
    // GM (group membership) is a 1.2 type; a 1.1 phone knows the invitation as a group one.
    leaf('InviteType', p.type === 'GM' && version === '1.1' ? 'GR' : p.type),
    senderElement(p.inviter, style),
    p.groupId ? leaf('GroupID', groupAddress(p.groupId)) : undefined,
    attributes?.length ? el('PresenceSubList', attributes.map((a) => el(a)), { xmlns: NAMESPACES[version].pa }) : undefined,
    urlList(p.urls),
    leaf('InviteNote', p.note),
    screenNameElement(p.screenName),
    leaf('Validity', p.validity),
  ]);
}

function inviteResponsePrimitive(p: InviteResponsePayload, version: CspVersion, style: AddressStyle): CspElement {
  return el('Invite-Response', [
    leaf('InviteID', p.inviteId),
    leaf('Acceptance', p.acceptance),
    senderElement(p.invitee, style),
    leaf('ResponseNote', p.responseNote),
    // Only the 1.3 Invite-Response can say which screen name the invitee chose.
    version === '1.3' ? screenNameElement(p.screenName) : undefined,
  ]);
}

function cancelInviteUserPrimitive(p: CancelInviteUserPayload, _version: CspVersion, style: AddressStyle): CspElement {
  return el('CancelInviteUser-Request', [leaf('InviteID', p.inviteId), senderElement(p.inviter, style), leaf('InviteNote', p.note), urlList(p.urls)]);
}

/** The primitive for an invitation notice (see delivery.ts noticePrimitive); undefined for other kinds. */
export function invitationNoticePrimitive(kind: string, payload: unknown, version: CspVersion, style: AddressStyle): CspElement | undefined {
  switch (kind) {
    case INVITE_USER:
      return inviteUserPrimitive(payload as InviteUserPayload, version, style);
    case INVITE_RESPONSE:
      return inviteResponsePrimitive(payload as InviteResponsePayload, version, style);
    case CANCEL_INVITE_USER:
      return cancelInviteUserPrimitive(payload as CancelInviteUserPayload, version, style);
    default:
      return undefined;
  }
}
