// Instant messages between local users (reference imps-csp.md §3.5, §3.7): sending to one or
// many recipients, fetching (notify/get), listing, rejecting, forwarding, delivery method,
// and acknowledgement with delivery reports.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, intOf, leaf, requireChild, requireText, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import { Failures } from '../csp/outcome.ts';
import { newMessageId } from '../ids.ts';
import type { StoredMessage } from '../store/messages.ts';
import type { Services } from '../services.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import { acceptsContentType } from './capabilities.ts';
import { refusesSender } from './block-lists.ts';
import { acknowledgeMessage, contentData, messageInfo, rejectDelivery } from './delivery.ts';

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

/**
 * Decide, recipient by recipient, who can be given a message from `sender`. Unknown users 531,
 * other domains 516, blocked 532, full queues 507, content they cannot take 415 / 432.
 */
function resolveRecipients(services: Services, sender: string, recipientEl: CspElement, content: Content): { accepted: string[]; failures: Failures } {
  const { config } = services;
  const accepted: string[] = [];
  const failures = new Failures();
  for (const user of childrenNamed(recipientEl, 'User')) {
    const raw = requireText(user, 'UserID');
    const entity = leaf('UserID', raw)!;
    let id: string;
    try {
      const address = parseUserId(raw, config.domains[0]!);
      if (!config.domains.includes(address.domain)) {
        failures.add(516, entity);
        continue;
      }
      id = address.id;
    } catch {
      failures.add(531, entity);
      continue;
    }
    if (accepted.includes(id)) continue;
    const code = refusal(services, sender, id, content);
    if (code) failures.add(code, entity);
    else accepted.push(id);
  }
  // Groups and contact lists as recipients arrive with the groups feature.
  for (const group of childrenNamed(recipientEl, 'Group')) failures.add(800, child(group, 'GroupID') ?? child(group, 'ScreenName') ?? group);
  for (const list of childrenNamed(recipientEl, 'ContactList')) failures.add(700, list);
  return { accepted, failures };
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

/** Store a message for the accepted recipients (fsynced before this returns). */
function store(services: Services, sender: string, content: Content, accepted: string[], validitySeconds: number | undefined, deliveryReport: boolean): string {
  const messageId = newMessageId();
  const now = services.now();
  // No Validity, or a useless one (0: expired before anyone could fetch it), means the default.
  const asked = validitySeconds !== undefined && validitySeconds > 0 ? validitySeconds : services.config.messages.validityDefault;
  const validity = Math.min(asked, services.config.messages.validityMax);
  services.messages.enqueue(
    {
      messageId,
      sender,
      contentType: content.contentType,
      content: content.bytes,
      binary: content.binary,
      createdAt: now,
      expiresAt: now + validity * 1000,
      deliveryReport,
      addressedTo: accepted,
    },
    accepted,
  );
  services.log.info({ sender, messageId, recipients: accepted.length, bytes: content.bytes.length, contentType: content.contentType }, 'message stored');
  return messageId;
}

export const sendMessage: PrimitiveHandler = (request, session, services) => {
  const info = requireChild(request, 'MessageInfo');
  const recipientEl = requireChild(info, 'Recipient');
  const content = readContent(request, info);
  const { accepted, failures } = resolveRecipients(services, session.user.id, recipientEl, content);
  if (accepted.length === 0 && failures.count === 0) throw new CspError(402, 'Recipient names nobody');
  const messageId = accepted.length
    ? store(services, session.user.id, content, accepted, intOf(info, 'Validity'), boolOf(request, 'DeliveryReport', false))
    : undefined;
  return { response: el('SendMessage-Response', [failures.result(session.version, accepted.length), leaf('MessageID', messageId)]) };
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
  const { accepted, failures } = resolveRecipients(services, session.user.id, recipientEl, content);
  if (accepted.length === 0 && failures.count === 0) throw new CspError(402, 'Recipient names nobody');
  const messageId = accepted.length ? store(services, session.user.id, content, accepted, undefined, false) : undefined;
  const outcome = failures.result(session.version, accepted.length);
  // 1.3 answers with the new message's id; earlier versions with a Status.
  if (session.version === '1.3' && messageId && failures.count === 0) return { response: el('ForwardMessage-Response', [leaf('MessageID', messageId)]) };
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
