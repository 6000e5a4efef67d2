// The CSP transport binding (reference imps-csp.md §2.3): one decoded HTTP request in, the
// message to send back out. It finds the session, turns each Transaction into an event for the
// session actor, answers what needs no session (Login, GetSPInfo, version discovery) or has
// none (604), piggy-backs queued server transactions where the client allows it, and sets
// Poll. Every rule about *what* a primitive does lives in the actor and the feature modules.
import type { CspElement } from '../csp/tree.ts';
import { child, el, leaf } from '../csp/tree.ts';
import type { CspMessage, OutgoingMessage, Transaction } from '../csp/envelope.ts';
import { status } from '../csp/envelope.ts';
import { CspError } from '../csp/status.ts';
import type { CspVersion } from '../csp/versions.ts';
import { CSP_VERSIONS, NAMESPACES } from '../csp/versions.ts';
import type { Services } from '../services.ts';
import { newSessionId } from '../ids.ts';
import { loginResponse, parseLoginRequest } from '../features/login.ts';
import { spInfoResponse } from '../features/service-access.ts';
import { hasQueued, isActive, type SessionActor, type ServerTransaction } from '../../actors/session.ts';

type OutTransaction = OutgoingMessage['transactions'][number];

/** Primitives a client sends in answer to ours even when it labels them Request (BAR-era clients). */
const ANSWER_PRIMITIVES = new Set(['Status']);

export class CspExchange {
  constructor(private readonly services: Services) {}

  /** Answer one CSP message; null means an empty HTTP body (nothing to say). */
  handle(message: CspMessage, address: string): OutgoingMessage | null {
    const { router } = this.services;
    const answers: OutTransaction[] = [];
    const pushed: ServerTransaction[] = [];
    let session: SessionActor | undefined = message.sessionId ? router.session(message.sessionId) : undefined;
    let loginSession: SessionActor | undefined;
    let needsAnswer = false;

    const answer = (tx: Transaction, primitive: CspElement) => answers.push({ mode: 'Response', id: tx.id, primitive });
    const live = () => session !== undefined && isActive(session.getSnapshot());

    for (const tx of message.transactions) {
      const primitive = tx.primitive;
      if (!primitive) {
        needsAnswer = true;
        answer(tx, status(400, 'Transaction has no TransactionContent'));
        continue;
      }
      if (tx.mode === 'Response' || ANSWER_PRIMITIVES.has(primitive.name)) {
        // The client answers one of our transactions: match it, never answer it.
        if (live()) session!.send({ type: 'CLIENT_RESPONSE', transactionId: tx.id, primitive });
        continue;
      }
      needsAnswer = true;
      switch (primitive.name) {
        case 'Login-Request': {
          const result = this.login(tx, primitive, message.version, address);
          answer(tx, result.response);
          if (result.session) loginSession = result.session;
          continue;
        }
        case 'GetSPInfo-Request':
          if (!live()) {
            answer(tx, spInfoResponse(this.services.config, child(primitive, 'ClientID'), message.version));
            continue;
          }
          break;
        case 'WV-CSP-VersionDiscovery-Request':
          answer(tx, versionDiscoveryResponse());
          continue;
      }
      if (!live()) {
        answer(tx, status(604, 'Invalid or expired session: log in again'));
        continue;
      }
      const actor = session!;
      switch (primitive.name) {
        case 'Polling-Request': {
          // The whole answer may hold MultiTrans transactions; the others in this message count.
          const limit = Math.max(1, actor.getSnapshot().context.capabilities.multiTrans - (message.transactions.length - 1));
          actor.send({ type: 'POLL', limit, reply: (items) => pushed.push(...items) });
          break;
        }
        case 'Logout-Request':
          actor.send({ type: 'LOGOUT', reply: (p) => answer(tx, p) });
          break;
        default:
          actor.send({ type: 'REQUEST', primitive, reply: (p) => answer(tx, p) });
      }
    }

    // A message of nothing but client responses may carry queued server transactions back.
    if (!needsAnswer && live()) {
      const limit = session!.getSnapshot().context.capabilities.multiTrans;
      session!.send({ type: 'POLL', limit, reply: (items) => pushed.push(...items) });
    }

    if (answers.length === 0 && pushed.length === 0) return null;
    const pollFrom = loginSession ?? session;
    const out: OutgoingMessage = {
      version: message.version,
      transactions: [...answers, ...pushed.map((p) => ({ mode: 'Request' as const, id: p.id, primitive: p.primitive }))],
      poll: pollFrom ? hasQueued(pollFrom.getSnapshot()) : false,
    };
    // Login answers travel Outband (the client has no SessionID yet); everything else echoes it.
    if (message.sessionId && !loginSession) out.sessionId = message.sessionId;
    return out;
  }

  private login(tx: Transaction, primitive: CspElement, version: CspVersion, address: string): { response: CspElement; session?: SessionActor } {
    const { config, router } = this.services;
    const clientId = child(primitive, 'ClientID') ?? child(primitive, 'ApplicationID') ?? el('ClientID');
    let login;
    try {
      login = parseLoginRequest(primitive, config.domains[0]!);
    } catch (err) {
      if (!(err instanceof CspError)) throw err;
      return { response: loginResponse(version, { clientId, code: err.code, description: err.description }) };
    }
    if (!config.domains.includes(login.user.domain)) {
      return { response: loginResponse(version, { clientId, code: 516, description: `This server does not host ${login.user.domain}` }) };
    }
    if (login.resumeSessionId) {
      // 1.3 session resumption: only the same user and client may pick a session up again.
      const existing = router.session(login.resumeSessionId);
      if (existing && isActive(existing.getSnapshot())) {
        const ctx = existing.getSnapshot().context;
        if (ctx.user.id !== login.user.id || ctx.clientKey !== login.clientKey) {
          return { response: loginResponse(version, { clientId, code: 422, description: 'SessionID belongs to another user or client' }) };
        }
      }
    }
    let actor = login.digestBytes && login.password === undefined ? router.challengeFor(login.user.id, login.clientKey) : undefined;
    actor ??= router.startSession({ sessionId: newSessionId(), services: this.services, version, login, address });
    let response: CspElement | undefined;
    actor.send({ type: 'LOGIN', login, reply: (p) => (response = p) });
    if (!response) throw new Error(`login of ${login.user.id} produced no answer (transaction ${tx.id ?? ''})`);
    return { response, session: isActive(actor.getSnapshot()) ? actor : undefined };
  }
}

/** WV-CSP-VersionDiscovery-Response: the namespaces of every version this server speaks. */
function versionDiscoveryResponse(): CspElement {
  const all = (kind: 'csp' | 'trc' | 'pa') => CSP_VERSIONS.map((v: CspVersion) => NAMESPACES[v][kind]);
  return el('WV-CSP-VersionDiscovery-Response', [
    el('VersionList', [
      ...all('csp').map((ns) => leaf('SessionNSName', ns)),
      ...all('trc').map((ns) => leaf('TransactionNSName', ns)),
      ...all('pa').map((ns) => leaf('PresenceAttributeNSName', ns)),
    ]),
  ]);
}
