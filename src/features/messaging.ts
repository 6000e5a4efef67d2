// Instant messages between local users (reference imps-csp.md §3.5, §3.7): sending to one or
// many recipients, fetching (notify/get), listing, rejecting, forwarding, delivery method,
// and acknowledgement with delivery reports.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, intOf, leaf, requireChild, requireText, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { localRecipient, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import { Failures } from '../csp/outcome.ts';
import { newMessageId } from '../ids.ts';
import type { StoredMessage } from '../store/messages.ts';
import type { Services } from '../services.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import { acceptsContentType } from './capabilities.ts';
import { refusesSender } from './block-lists.ts';
import { acknowledgeMessage, contentData, messageInfo, rejectDelivery } from './delivery.ts';
import { groupActor } from './groups.ts';
import { parseGroupId } from './group-properties.ts';
import type { MessageOutcome } from '../../actors/group.ts';
import type { JoinedUser } from '../store/groups.ts';
import { isXmppUser, sendMessageToXmpp, xmppResource } from './xmpp-gateway.ts';
import { sendToOccupants, type GroupDeliveryRequest } from './xmpp-groups.ts';

/** Most MessageInfo entries one GetMessageList-Response carries. */
const MAX_LISTED = 100;

interface Content {
  contentType: string;
  bytes: Buffer;
  binary: boolean;
}

/** Read MessageInfo + ContentData as the sender encoded them. */
function readContent(request: CspElement, info: CspElement): Content {
  const contentType = textOf(info, 'ContentType') || 'text/plain'; // missing means text (reference §12 item 16)
  const data = child(request, 'ContentData')?.text ?? '';
  const encoding = textOf(info, 'ContentEncoding')?.toUpperCase();
  const declared = intOf(info, 'ContentSize');
  if (encoding === 'BASE64') {
    const cleaned = data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(cleaned) || cleaned.length % 4 === 1) throw new CspError(402, 'ContentData is not valid BASE64');
    const bytes = Buffer.from(cleaned, 'base64');
    // Binary content that does not match its declared size was cut or corrupted on the way.
    if (declared !== undefined && declared !== bytes.length) {
      throw new CspError(402, `ContentSize says ${declared} bytes but ContentData decodes to ${bytes.length}`);
    }
    return { contentType, bytes, binary: true };
  }
  // Text: the size is recomputed, never trusted. Real Android captures declare ContentSize 5
  // for a 14-byte text, so a mismatch is not an error here.
  return { contentType, bytes: Buffer.from(data, 'utf8'), binary: false };
}

/** Where one SendMessage goes: users directly, and groups (or screen names inside groups) through their actors. */
interface Destinations {
  accepted: string[];
  /** Users on XMPP servers (the message goes out over federation). */
  remote: string[];
  groups: GroupDelivery[];
  failures: Failures;
}

/** A message into a group: everyone joined, or one member by screen name. */
interface GroupDelivery {
  groupId: string;
  senderScreenName: string;
  recipientScreenName?: string;
  /** Phones (local users) it is stored for. */
  recipients: string[];
  /** XMPP users joined to the group (MUC occupants), who get it as a groupchat message. */
  occupants: JoinedUser[];
}

/**
 * Decide, recipient by recipient, who can be given a message from the session's user. Unknown
 * users 531, other domains 516 (unless on an XMPP server), blocked 532, full queues 507,
 * content they cannot take 415 / 432.
 */
function resolveRecipients(services: Services, session: SessionView, recipientEl: CspElement, content: Content): Destinations {
  const { config } = services;
  const sender = session.user.id;
  const accepted: string[] = [];
  const remote: string[] = [];
  const groups: GroupDelivery[] = [];
  const failures = new Failures();
  for (const user of childrenNamed(recipientEl, 'User')) {
    const raw = requireText(user, 'UserID');
    const entity = leaf('UserID', raw)!;
    const recipient = localRecipient(raw, config.domains);
    if ('code' in recipient) {
      // Another domain: reachable when we federate over XMPP.
      const elsewhere = recipient.code === 516 && services.xmpp ? parseUserId(raw, config.domains[0]!).id : undefined;
      if (elsewhere && isXmppUser(services, elsewhere)) {
        if (!remote.includes(elsewhere)) remote.push(elsewhere);
      } else failures.add(recipient.code, entity);
      continue;
    }
    const { id } = recipient;
    if (accepted.includes(id)) continue;
    const code = refusal(services, sender, id, content);
    if (code) failures.add(code, entity);
    else accepted.push(id);
  }
  for (const group of childrenNamed(recipientEl, 'Group')) {
    const screen = child(group, 'ScreenName');
    const entity = screen ?? child(group, 'GroupID') ?? group;
    try {
      const groupId = parseGroupId(textOf(screen ?? group, 'GroupID') ?? '', session.user, config.domains);
      const toScreenName = screen ? textOf(screen, 'SName') : undefined;
      let outcome: MessageOutcome | undefined;
      groupActor(services, groupId).send({ type: 'MESSAGE', from: sender, ...(toScreenName !== undefined ? { toScreenName } : {}), reply: (o) => (outcome = o) });
      if (!outcome || !('recipients' in outcome)) {
        failures.add(outcome?.code ?? 500, entity);
        continue;
      }
      // Members who cannot take it (blocked the sender, full queue, content) silently miss it:
      // a group does not tell its members about each other.
      const occupants = outcome.recipients.filter((r) => isXmppUser(services, r.userId));
      const recipients = outcome.recipients.filter((r) => !isXmppUser(services, r.userId)).map((r) => r.userId).filter((id) => !refusal(services, sender, id, content));
      groups.push({ groupId, senderScreenName: outcome.senderScreenName, ...(toScreenName !== undefined ? { recipientScreenName: outcome.recipients[0]!.screenName } : {}), recipients, occupants });
    } catch (err) {
      if (!(err instanceof CspError)) throw err;
      failures.add(err.code, entity);
    }
  }
  // Sending to a contact list is not a CSP service Village offers (no function code names it).
  for (const list of childrenNamed(recipientEl, 'ContactList')) failures.add(405, list);
  return { accepted, remote, groups, failures };
}

/** Why a local user cannot be given this message (a CSP code), or undefined when they can. */
function refusal(services: Services, sender: string, recipient: string, content: Content): number | undefined {
  if (!services.accounts.get(recipient)) return 531;
  if (refusesSender(services, recipient, sender)) return 532;
  if (services.messages.countFor(recipient) >= services.config.messages.maxQueuedPerUser) return 507;
  const profile = services.profiles.get(recipient);
  if (profile && !acceptsContentType(profile, content.contentType)) return 415;
  if (profile?.maxLength !== undefined && content.bytes.length > profile.maxLength) return 432;
  return undefined;
}

/** When a message sent now expires: Validity within the configured maximum. */
function expiryOf(services: Services, now: number, validitySeconds: number | undefined): number {
  // No Validity, or a useless one (0: expired before anyone could fetch it), means the default.
  const asked = validitySeconds !== undefined && validitySeconds > 0 ? validitySeconds : services.config.messages.validityDefault;
  return now + Math.min(asked, services.config.messages.validityMax) * 1000;
}

/** Store a message for the accepted recipients (fsynced before this returns). */
function store(
  services: Services,
  sender: string,
  content: Content,
  accepted: string[],
  validitySeconds: number | undefined,
  deliveryReport: boolean,
  group?: Omit<GroupDelivery, 'recipients' | 'occupants'>,
): string {
  const messageId = newMessageId();
  const now = services.now();
  services.messages.enqueue(
    {
      messageId,
      sender,
      contentType: content.contentType,
      content: content.bytes,
      binary: content.binary,
      createdAt: now,
      expiresAt: expiryOf(services, now, validitySeconds),
      deliveryReport,
      addressedTo: accepted,
      ...(group ? { group: { groupId: group.groupId, senderScreenName: group.senderScreenName, ...(group.recipientScreenName ? { recipientScreenName: group.recipientScreenName } : {}) } } : {}),
    },
    accepted,
  );
  services.log.info({ sender, messageId, recipients: accepted.length, bytes: content.bytes.length, contentType: content.contentType }, 'message stored');
  return messageId;
}

/**
 * A group message: stored once for the phones joined (delivery reports are for one-to-one
 * messages), sent to the XMPP occupants from room/sender-screen-name. Returns its MessageID.
 */
function deliverGroupMessage(services: Services, sender: string, content: Content, g: GroupDelivery, validitySeconds: number | undefined): string {
  const { recipients, occupants, ...group } = g;
  const messageId = recipients.length ? store(services, sender, content, recipients, validitySeconds, false, group) : newMessageId();
  sendToOccupants(services, { ...group, sender, recipients: occupants, contentType: content.contentType, content: content.bytes, binary: content.binary });
  return messageId;
}

/** A group message from an XMPP occupant, for the phones joined: stored like a phone's group message. */
export function storeGroupMessageForPhones(services: Services, request: GroupDeliveryRequest, phones: string[]): void {
  const content: Content = { contentType: request.contentType, bytes: request.content, binary: request.binary };
  const accepted = phones.filter((id) => !refusal(services, request.sender, id, content));
  if (accepted.length === 0) return;
  const { groupId, senderScreenName, recipientScreenName } = request;
  store(services, request.sender, content, accepted, undefined, false, { groupId, senderScreenName, ...(recipientScreenName !== undefined ? { recipientScreenName } : {}) });
}

/** Queue a message for users on XMPP servers (durably); the same MessageID as its local copies, if any. */
function sendOverXmpp(services: Services, session: SessionView, content: Content, recipients: string[], validitySeconds: number | undefined, deliveryReport: boolean, messageId = newMessageId()): string {
  const now = services.now();
  const expiresAt = expiryOf(services, now, validitySeconds);
  for (const recipient of recipients) {
    sendMessageToXmpp(services, {
      messageId,
      sender: session.user.id,
      resource: xmppResource(session.sessionId),
      recipient,
      contentType: content.contentType,
      content: content.bytes,
      binary: content.binary,
      createdAt: now,
      expiresAt,
      deliveryReport,
    });
  }
  return messageId;
}

/**
 * Send `content` to everyone `recipientEl` names: stored for local users, queued for XMPP users
 * (under the same MessageID), and into groups. Returns the first MessageID and the Result.
 */
function deliver(
  services: Services,
  session: SessionView,
  content: Content,
  recipientEl: CspElement,
  validitySeconds: number | undefined,
  deliveryReport: boolean,
): { messageId: string | undefined; outcome: CspElement; failed: boolean } {
  const { accepted, remote, groups, failures } = resolveRecipients(services, session, recipientEl, content);
  if (accepted.length === 0 && remote.length === 0 && groups.length === 0 && failures.count === 0) throw new CspError(402, 'Recipient names nobody');
  const ids: string[] = [];
  if (accepted.length) ids.push(store(services, session.user.id, content, accepted, validitySeconds, deliveryReport));
  if (remote.length) ids.push(sendOverXmpp(services, session, content, remote, validitySeconds, deliveryReport, ids[0]));
  for (const g of groups) ids.push(deliverGroupMessage(services, session.user.id, content, g, validitySeconds));
  const outcome = failures.result(session.version, accepted.length + remote.length + groups.length);
  return { messageId: ids[0], outcome, failed: failures.count > 0 };
}

export const sendMessage: PrimitiveHandler = (request, session, services) => {
  const info = requireChild(request, 'MessageInfo');
  const recipientEl = requireChild(info, 'Recipient');
  const content = readContent(request, info);
  const { messageId, outcome } = deliver(services, session, content, recipientEl, intOf(info, 'Validity'), boolOf(request, 'DeliveryReport', false));
  return { response: el('SendMessage-Response', [outcome, leaf('MessageID', messageId)]) };
};

/** MessageDelivered sent as a request (after GetMessage, or by lenient clients). */
export const messageDelivered: PrimitiveHandler = (request, session, services) => {
  const messageId = requireText(request, 'MessageID');
  return { response: acknowledgeMessage(services, session.user.id, messageId) ? status(200) : status(426, `No message ${messageId} waits for you`) };
};

function findOwn(services: Services, session: SessionView, messageId: string): StoredMessage {
  const message = services.messages.find(session.user.id, messageId);
  if (!message || (message.expiresAt !== undefined && message.expiresAt <= services.now())) {
    throw new CspError(426, `No message ${messageId} waits for you`);
  }
  return message;
}

export const getMessage: PrimitiveHandler = (request, session, services) => {
  const message = findOwn(services, session, requireText(request, 'MessageID'));
  return { response: el('GetMessage-Response', [messageInfo(message, session.user.id, session.addressStyle), contentData(message)]) };
};

export const getMessageList: PrimitiveHandler = (request, session, services) => {
  if (child(request, 'GroupID')) throw new CspError(800, 'Group does not exist');
  const wanted = Math.min(intOf(request, 'MessageCount') ?? MAX_LISTED, MAX_LISTED);
  const messages = services.messages.list(session.user.id, services.now(), wanted);
  const infos = messages.map((m) => messageInfo(m, session.user.id, session.addressStyle));
  if (session.version === '1.3') {
    return {
      response: el('GetMessageList-Response', [
        infos.length ? el('MessageInfoList', infos) : undefined,
        leaf('MessageTotalCount', services.messages.countFor(session.user.id)),
      ]),
    };
  }
  return { response: el('GetMessageList-Response', infos) };
};

export const rejectMessage: PrimitiveHandler = (request, session, services) => {
  const ids = childrenNamed(request, 'MessageID').map((e) => textOf(e) ?? '');
  if (ids.length === 0) throw new CspError(402, 'RejectMessage-Request needs MessageID');
  const failures = new Failures();
  for (const id of ids) if (!rejectDelivery(services, session.user.id, id)) failures.add(426, leaf('MessageID', id)!);
  return { response: el('Status', [failures.result(session.version, ids.length - failures.count)]) };
};

export const forwardMessage: PrimitiveHandler = (request, session, services) => {
  const original = findOwn(services, session, requireText(request, 'MessageID'));
  const recipientEl = requireChild(request, 'Recipient');
  const content: Content = { contentType: original.contentType, bytes: original.content, binary: original.binary };
  const { messageId, outcome, failed } = deliver(services, session, content, recipientEl, undefined, false);
  // 1.3 answers with the new message's id; earlier versions with a Status.
  if (session.version === '1.3' && messageId && !failed) return { response: el('ForwardMessage-Response', [leaf('MessageID', messageId)]) };
  return { response: el('Status', [outcome]) };
};

export const setDeliveryMethod: PrimitiveHandler = (request, session) => {
  if (child(request, 'GroupID')) throw new CspError(800, 'Group does not exist');
  const method = requireText(request, 'DeliveryMethod').toUpperCase();
  if (method !== 'P' && method !== 'N') throw new CspError(402, `DeliveryMethod must be P or N, not "${method}"`);
  const pushLimit = intOf(request, 'AcceptedContentLength') ?? session.capabilities.pushLimit;
  const capabilities = { ...session.capabilities, deliveryMethod: method as 'P' | 'N' };
  if (pushLimit !== undefined) capabilities.pushLimit = pushLimit;
  return { response: status(200), update: { capabilities } };
};
