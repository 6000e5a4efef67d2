// The CSP message envelope (reference imps-csp.md §2.2): WV-CSP-Message / Session /
// Transaction, and where each version puts Poll.
import type { CspElement } from './tree.ts';
import { child, childrenNamed, el, leaf, textOf } from './tree.ts';
import { CspError, statusText } from './status.ts';
import type { CspVersion } from './versions.ts';
import { NAMESPACES } from './versions.ts';

export type TransactionMode = 'Request' | 'Response';

export interface Transaction {
  mode: TransactionMode;
  /** As sent; Polling-Requests often carry an empty one or none at all. */
  id: string | undefined;
  /** The one primitive inside TransactionContent, if there was one. */
  primitive: CspElement | undefined;
}

export interface CspMessage {
  version: CspVersion;
  /** Inband messages carry one; an Outband message (Login, GetSPInfo) has none. */
  sessionId?: string;
  transactions: Transaction[];
  /** Poll as found in Session (1.2+) or any TransactionDescriptor (1.1); only servers set it. */
  poll: boolean;
}

/** Read the envelope of a decoded document; throws CspError(400) when it is not CSP. */
export function readMessage(root: CspElement, version: CspVersion): CspMessage {
  if (root.name !== 'WV-CSP-Message') throw new CspError(400, `the root element is ${root.name}, not WV-CSP-Message`);
  const session = child(root, 'Session');
  if (!session) throw new CspError(400, 'WV-CSP-Message has no Session');
  const descriptor = child(session, 'SessionDescriptor');
  const sessionId = textOf(descriptor, 'SessionID') || undefined;
  const transactions = childrenNamed(session, 'Transaction').map((t): Transaction => {
    const td = child(t, 'TransactionDescriptor');
    const content = child(t, 'TransactionContent');
    return {
      mode: textOf(td, 'TransactionMode')?.toLowerCase() === 'response' ? 'Response' : 'Request',
      id: textOf(td, 'TransactionID'),
      primitive: content?.children[0],
    };
  });
  if (transactions.length === 0) throw new CspError(400, 'Session holds no Transaction');
  const pollFlags = [textOf(session, 'Poll'), ...childrenNamed(session, 'Transaction').map((t) => textOf(child(t, 'TransactionDescriptor'), 'Poll'))];
  const message: CspMessage = {
    version,
    transactions,
    poll: pollFlags.some((p) => p?.toUpperCase() === 'T'),
  };
  if (sessionId) message.sessionId = sessionId;
  return message;
}

export interface OutgoingMessage {
  version: CspVersion;
  sessionId?: string;
  transactions: { mode: TransactionMode; id: string | undefined; primitive: CspElement }[];
  /** Whether more server-originated transactions wait for this session. */
  poll?: boolean;
  /** 1.2+: whether the session's CIR channel works (only for sessions that agreed CIR). */
  cir?: boolean;
}

/** Build a complete WV-CSP-Message tree, with Poll where the version expects it. */
export function buildMessage(message: OutgoingMessage): CspElement {
  const ns = NAMESPACES[message.version];
  const pollInDescriptor = message.version === '1.1';
  const transactions = message.transactions.map((t) =>
    el('Transaction', [
      el('TransactionDescriptor', [
        leaf('TransactionMode', t.mode),
        leaf('TransactionID', t.id ?? ''),
        pollInDescriptor && message.poll !== undefined && leaf('Poll', message.poll),
      ]),
      el('TransactionContent', [t.primitive], { xmlns: ns.trc }),
    ]),
  );
  return el(
    'WV-CSP-Message',
    [
      el('Session', [
        el('SessionDescriptor', [
          leaf('SessionType', message.sessionId ? 'Inband' : 'Outband'),
          leaf('SessionID', message.sessionId),
        ]),
        ...transactions,
        !pollInDescriptor && message.poll !== undefined && leaf('Poll', message.poll),
        !pollInDescriptor && message.cir !== undefined && leaf('CIR', message.cir),
      ]),
    ],
    { xmlns: ns.csp },
  );
}

/** A Result element: Code and Description, plus per-entity details for 201s. */
export function result(code: number, description?: string, details: CspElement[] = []): CspElement {
  return el('Result', [leaf('Code', code), leaf('Description', description ?? statusText(code)), ...details]);
}

/** The generic Status primitive. */
export function status(code: number, description?: string, details: CspElement[] = []): CspElement {
  return el('Status', [result(code, description, details)]);
}
