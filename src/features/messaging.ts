// One-to-one instant messages between local users (reference imps-csp.md §3.5).
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, intOf, leaf, requireChild, requireText, textOf } from '../csp/tree.ts';
import { result, status } from '../csp/envelope.ts';
import { parseUserId, wvAddress } from '../csp/address.ts';
import { CspError, statusText } from '../csp/status.ts';
import { formatDateTime } from '../csp/datetime.ts';
import { newMessageId } from '../ids.ts';
import type { StoredMessage } from '../store/messages.ts';
import type { PrimitiveHandler } from './types.ts';

interface RecipientFailure {
  code: number;
  entity: CspElement;
}

/** Decode ContentData as the sender encoded it. */
function readContent(request: CspElement, info: CspElement): { bytes: Buffer; binary: boolean } {
  const data = child(request, 'ContentData')?.text ?? '';
  const encoding = textOf(info, 'ContentEncoding')?.toUpperCase();
  if (encoding === 'BASE64') {
    const cleaned = data.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(cleaned) || cleaned.length % 4 === 1) throw new CspError(402, 'ContentData is not valid BASE64');
    return { bytes: Buffer.from(cleaned, 'base64'), binary: true };
  }
  return { bytes: Buffer.from(data, 'utf8'), binary: false };
}

export const sendMessage: PrimitiveHandler = (request, session, services) => {
  const { config } = services;
  const info = requireChild(request, 'MessageInfo');
  const recipientEl = requireChild(info, 'Recipient');
  const contentType = textOf(info, 'ContentType') || 'text/plain'; // missing means text (§12 item 16)
  const { bytes, binary } = readContent(request, info);

  const accepted: string[] = [];
  const failures: RecipientFailure[] = [];
  for (const user of childrenNamed(recipientEl, 'User')) {
    const raw = requireText(user, 'UserID');
    const entity = leaf('UserID', raw)!;
    let address;
    try {
      address = parseUserId(raw, config.domains[0]!);
    } catch {
      failures.push({ code: 531, entity });
      continue;
    }
    if (!config.domains.includes(address.domain)) failures.push({ code: 516, entity });
    else if (!services.accounts.get(address.id)) failures.push({ code: 531, entity });
    else if (!accepted.includes(address.id)) accepted.push(address.id);
  }
  // Groups and contact lists as recipients arrive with the groups and presence features.
  for (const group of childrenNamed(recipientEl, 'Group')) {
    failures.push({ code: 800, entity: child(group, 'GroupID') ?? child(group, 'ScreenName') ?? group });
  }
  for (const list of childrenNamed(recipientEl, 'ContactList')) failures.push({ code: 700, entity: list });
  if (accepted.length === 0 && failures.length === 0) throw new CspError(402, 'Recipient names nobody');

  let messageId: string | undefined;
  if (accepted.length) {
    messageId = newMessageId();
    const now = services.now();
    const validity = intOf(info, 'Validity') ?? config.messages.validityDefault;
    services.messages.enqueue(
      {
        messageId,
        sender: session.user.id,
        contentType,
        content: bytes,
        binary,
        createdAt: now,
        expiresAt: now + Math.min(validity, config.messages.validityMax) * 1000,
        deliveryReport: boolOf(request, 'DeliveryReport', false),
        addressedTo: accepted,
      },
      accepted,
    );
    services.log.info({ session: session.sessionId, messageId, recipients: accepted.length, bytes: bytes.length }, 'message stored');
  }
  return { response: el('SendMessage-Response', [sendResult(accepted.length, failures), leaf('MessageID', messageId)]) };
};

/** 200; or 201 with per-recipient details; or, when nobody could be reached, the failure itself. */
function sendResult(acceptedCount: number, failures: RecipientFailure[]): CspElement {
  if (failures.length === 0) return result(200);
  const byCode = new Map<number, CspElement[]>();
  for (const f of failures) byCode.set(f.code, [...(byCode.get(f.code) ?? []), f.entity]);
  const details = [...byCode].map(([code, entities]) =>
    el('DetailedResult', [leaf('Code', code), leaf('Description', statusText(code)), ...entities]),
  );
  if (acceptedCount > 0) return result(201, undefined, details);
  if (byCode.size === 1) {
    const code = failures[0]!.code;
    return result(code, undefined, details);
  }
  return result(900, 'Multiple errors', details);
}

/** MessageDelivered sent as a new request (after GetMessage, or by lenient clients). */
export const messageDelivered: PrimitiveHandler = (request, session, services) => {
  const messageId = requireText(request, 'MessageID');
  const found = services.messages.delivered(session.user.id, messageId);
  return { response: found ? status(200) : status(426, `No message ${messageId} waits for you`) };
};

/** The NewMessage a recipient's session receives for a stored message. */
export function newMessagePrimitive(message: StoredMessage, recipient: string): CspElement {
  const content = message.binary ? message.content.toString('base64') : message.content.toString('utf8');
  return el('NewMessage', [
    el('MessageInfo', [
      leaf('MessageID', message.messageId),
      leaf('ContentType', message.contentType),
      message.binary ? leaf('ContentEncoding', 'BASE64') : undefined,
      leaf('ContentSize', message.content.length),
      el('Recipient', (message.addressedTo.length ? message.addressedTo : [recipient]).map((id) => el('User', [leaf('UserID', wvAddress(id))]))),
      el('Sender', [el('User', [leaf('UserID', wvAddress(message.sender))])]),
      leaf('DateTime', formatDateTime(message.createdAt)),
    ]),
    leaf('ContentData', content),
  ]);
}
