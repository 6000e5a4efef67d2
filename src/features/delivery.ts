// How stored messages and notices become server-originated transactions for one session:
// NewMessage (push) or MessageNotification (notify/get), DeliveryReport-Request for senders,
// each rendered for the session's CSP version. Also what a recipient's answer does to the
// store (acknowledge, reject) and the delivery reports it owes the sender.
import type { CspElement } from '../csp/tree.ts';
import { el, leaf } from '../csp/tree.ts';
import { result } from '../csp/envelope.ts';
import { displayAddress, type AddressStyle } from '../csp/address.ts';
import { formatDateTime } from '../csp/datetime.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { StoredMessage } from '../store/messages.ts';
import type { Notice } from '../store/notices.ts';
import type { Services } from '../services.ts';
import type { ClientCapabilities } from './capabilities.ts';
import { PRESENCE_AUTH, presenceAuthPrimitive } from './authorization.ts';
import { CANCEL_INVITE_USER, INVITE_RESPONSE, INVITE_USER, invitationNoticePrimitive } from './invitations.ts';
import { groupAddress } from './group-properties.ts';
import { acknowledgedFromXmpp } from './xmpp-gateway.ts';

const userElement = (id: string, style: AddressStyle) => el('User', [leaf('UserID', displayAddress(id, style))]);

/**
 * The MessageInfo a recipient sees for a stored message. Recipient names only the recipient
 * (Android files a message whose first Recipient is not itself under that other address, as a
 * group chat), and addresses are spelled the way that phone logged in.
 */
export function messageInfo(message: StoredMessage, recipient: string, style: AddressStyle): CspElement {
  return el('MessageInfo', [
    leaf('MessageID', message.messageId),
    leaf('ContentType', message.contentType),
    message.binary ? leaf('ContentEncoding', 'BASE64') : undefined,
    leaf('ContentSize', message.content.length),
    ...(message.group ? groupAddressing(message.group, style) : [el('Recipient', [userElement(recipient, style)]), el('Sender', [userElement(message.sender, style)])]),
    leaf('DateTime', formatDateTime(message.createdAt)),
  ]);
}

/**
 * A group message is addressed to the group (or, privately, to the recipient's screen name)
 * and comes from the sender's screen name: members do not see each other's user ids.
 */
function groupAddressing(group: NonNullable<StoredMessage['group']>, style: AddressStyle): CspElement[] {
  const groupId = leaf('GroupID', groupAddress(group.groupId, style))!;
  const screen = (name: string) => el('ScreenName', [leaf('SName', name), groupId]);
  return [
    el('Recipient', [el('Group', [group.recipientScreenName !== undefined ? screen(group.recipientScreenName) : groupId])]),
    el('Sender', [el('Group', [screen(group.senderScreenName)])]),
  ];
}

/** ContentData as XML-family encodings carry it: text as is, binary as BASE64. */
export function contentData(message: Pick<StoredMessage, 'binary' | 'content'>): CspElement {
  return leaf('ContentData', message.binary ? message.content.toString('base64') : message.content.toString('utf8'))!;
}

/** Whether this session takes the message whole (push) or is only told about it (notify). */
export function deliversByNotification(message: StoredMessage, capabilities: ClientCapabilities): boolean {
  if (capabilities.deliveryMethod === 'N') return true;
  return capabilities.pushLimit !== undefined && message.content.length > capabilities.pushLimit;
}

/** The primitive a session receives for a stored message. */
export function messageTransaction(message: StoredMessage, recipient: string, capabilities: ClientCapabilities, style: AddressStyle): CspElement {
  if (deliversByNotification(message, capabilities)) return el('MessageNotification', [messageInfo(message, recipient, style)]);
  return el('NewMessage', [messageInfo(message, recipient, style), contentData(message)]);
}

// ── Delivery reports ──────────────────────────────────────────────────────────────────────

/** What a DeliveryReport-Request needs, kept in a notice until the sender's phone takes it. */
interface DeliveryReportPayload {
  messageId: string;
  sender: string;
  recipient: string;
  code: number;
  description: string;
  at: number;
  contentType: string;
  contentSize: number;
  createdAt: number;
}

export const DELIVERY_REPORT = 'DeliveryReport';

const OUTCOMES = {
  delivered: { code: 200, description: 'Message delivered' },
  rejected: { code: 538, description: 'Message has been rejected' },
  expired: { code: 542, description: 'Message has expired' },
} as const;

export type Outcome = keyof typeof OUTCOMES;

/** Tell the sender what became of their message for one recipient, if they asked to know. */
export function reportOutcome(services: Services, message: StoredMessage, recipient: string, outcome: Outcome): void {
  if (!message.deliveryReport) return;
  const { code, description } = OUTCOMES[outcome];
  reportResult(services, { messageId: message.messageId, sender: message.sender, contentType: message.contentType, contentSize: message.content.length, createdAt: message.createdAt }, recipient, code, description);
}

/** What a delivery report says about a message, wherever the message went (a local phone, an XMPP server). */
export interface ReportedMessage {
  messageId: string;
  sender: string;
  contentType: string;
  contentSize: number;
  createdAt: number;
}

/** Queue a DeliveryReport-Request with any result code for the message's (local) sender. */
export function reportResult(services: Services, message: ReportedMessage, recipient: string, code: number, description: string): void {
  if (services.xmpp?.isRemote(message.sender.slice(message.sender.lastIndexOf('@') + 1))) return;
  const now = services.now();
  const payload: DeliveryReportPayload = {
    messageId: message.messageId,
    sender: message.sender,
    recipient,
    code,
    description,
    at: now,
    contentType: message.contentType,
    contentSize: message.contentSize,
    createdAt: message.createdAt,
  };
  services.notices.add(message.sender, DELIVERY_REPORT, payload, now, now + services.config.messages.validityDefault * 1000);
  services.log.info({ messageId: message.messageId, to: message.sender, code }, 'delivery report queued');
}

function deliveryReportPrimitive(p: DeliveryReportPayload, version: CspVersion, style: AddressStyle): CspElement {
  return el('DeliveryReport-Request', [
    result(p.code, p.description),
    version === '1.1' ? undefined : leaf('DeliveryTime', formatDateTime(p.at)),
    el('MessageInfo', [
      leaf('MessageID', p.messageId),
      leaf('ContentType', p.contentType),
      leaf('ContentSize', p.contentSize),
      el('Recipient', [userElement(p.recipient, style)]),
      el('Sender', [userElement(p.sender, style)]),
      leaf('DateTime', formatDateTime(p.createdAt)),
    ]),
  ]);
}

/** Render a stored notice for a session's version and address style; undefined when the version has no such primitive. */
export function noticePrimitive(notice: Notice, version: CspVersion, style: AddressStyle): CspElement | undefined {
  switch (notice.kind) {
    case DELIVERY_REPORT:
      return deliveryReportPrimitive(notice.payload as DeliveryReportPayload, version, style);
    case PRESENCE_AUTH:
      return presenceAuthPrimitive(notice.payload as { watcher: string; attributes?: string[] }, version, style);
    case INVITE_USER:
    case INVITE_RESPONSE:
    case CANCEL_INVITE_USER:
      return invitationNoticePrimitive(notice.kind, notice.payload, version, style);
    default:
      throw new Error(`no renderer for notice kind ${notice.kind}`);
  }
}

/** The recipient confirmed a message (MessageDelivered): forget their copy, report to the sender. */
export function acknowledgeMessage(services: Services, recipient: string, messageId: string): boolean {
  const message = services.messages.remove(recipient, messageId);
  if (message) {
    reportOutcome(services, message, recipient, 'delivered');
    // A message that came over XMPP and asked for a receipt gets it now the phone has it.
    if (services.xmpp) acknowledgedFromXmpp(services, message);
  }
  return message !== undefined;
}

/** The recipient refused a message (RejectMessage, or an error answer to NewMessage): forget their copy, report 538. */
export function rejectDelivery(services: Services, recipient: string, messageId: string): boolean {
  const message = services.messages.remove(recipient, messageId);
  if (message) reportOutcome(services, message, recipient, 'rejected');
  return message !== undefined;
}
