// The CSP transport binding (reference imps-csp.md §2.3): one decoded HTTP request in, the
// message to send back out. It maps each Transaction to the session actor's events (or, for
// what needs no session, to the login feature), and applies the binding's own rules: at most
// MultiTrans transactions per answer, queued server transactions piggy-backed on answers to
// client responses, Poll=T while anything waits, 604 without a session. What a primitive does
// is decided by the actor and the feature modules.
import type { CspElement } from '../csp/tree.ts';
import { child, el, leaf } from '../csp/tree.ts';
import type { CspMessage, OutgoingMessage, Transaction } from '../csp/envelope.ts';
import { status } from '../csp/envelope.ts';
import type { CspVersion } from '../csp/versions.ts';
import { CSP_VERSIONS, NAMESPACES } from '../csp/versions.ts';
import type { Services } from '../services.ts';
import { login } from '../features/login.ts';
import { spInfoResponse } from '../features/service-access.ts';
import { hasQueued, isActive, type SessionActor, type SessionSnapshot, type ServerTransaction } from '../../actors/session.ts';
import type { RequestOrigin } from './request-origin.ts';

type OutTransaction = OutgoingMessage['transactions'][number];

/** Primitives a client sends in answer to ours even when it labels them Request (BAR-era clients). */
const ANSWER_PRIMITIVES = new Set(['Status']);

export class CspExchange {
  constructor(private readonly services: Services) {}

  /** Answer one CSP message; null means an empty HTTP body (nothing to say). */
  handle(message: CspMessage, origin: RequestOrigin): OutgoingMessage | null {
    const { router, config, log } = this.services;
    const answers: OutTransaction[] = [];
    const pushed: ServerTransaction[] = [];
    let session: SessionActor | undefined = message.sessionId ? router.session(message.sessionId) : undefined;
    let loginSession: SessionActor | undefined;
    let loggedIn = false;
    let needsAnswer = false;

    const answer = (tx: Transaction, primitive: CspElement) => answers.push({ mode: 'Response', id: tx.id, primitive });
    const live = () => session !== undefined && isActive(session.getSnapshot());

    message.transactions.forEach((tx, index) => {
      const primitive = tx.primitive;
      if (index >= config.http.maxTransactions) {
        // One answer for all the excess, however many there are: the answer must stay small.
        if (index === config.http.maxTransactions) {
          needsAnswer = true;
          answer(tx, status(400, `More than ${config.http.maxTransactions} transactions in one message; the rest were not processed`));
        }
        return;
      }
      if (!primitive) {
        needsAnswer = true;
        answer(tx, status(400, 'Transaction has no TransactionContent'));
        return;
      }
      try {
        if (tx.mode === 'Response' || ANSWER_PRIMITIVES.has(primitive.name)) {
          // The client answers one of our transactions: match it, never answer it.
          if (live()) session!.send({ type: 'CLIENT_RESPONSE', transactionId: tx.id, primitive });
          return;
        }
        needsAnswer = true;
        this.dispatch(primitive, message, origin, {
          answer: (p) => answer(tx, p),
          push: (items) => pushed.push(...items),
          session: () => (live() ? session : undefined),
          loginAllowed: () => !loggedIn,
          loggedIn: (s) => {
            loggedIn = true;
            if (s) loginSession = s;
          },
        });
      } catch (err) {
        // One broken transaction must not cost the others their answers.
        log.error({ err, primitive: primitive.name }, 'transaction failed');
        if (!answers.some((a) => a.id === tx.id)) answer(tx, status(500, 'Internal server error'));
      }
    });

    // A message of nothing but client responses may carry queued server transactions back.
    if (!needsAnswer && live()) {
      const limit = session!.getSnapshot().context.capabilities.multiTrans;
      session!.send({ type: 'POLL', limit, origin, reply: (items) => pushed.push(...items) });
    }

    if (answers.length === 0 && pushed.length === 0) return null;
    const pollFrom = loginSession ?? session;
    const snapshot = pollFrom?.getSnapshot();
    const out: OutgoingMessage = {
      version: message.version,
      transactions: [...answers, ...pushed.map((p) => ({ mode: 'Request' as const, id: p.id, primitive: p.primitive }))],
      poll: snapshot ? hasQueued(snapshot) : false,
    };
    const cir = snapshot && message.version !== '1.1' ? this.cirFlag(snapshot) : undefined;
    if (cir !== undefined) out.cir = cir;
    // Login answers travel Outband (the client has no SessionID yet); everything else echoes it.
    if (message.sessionId && !loginSession) out.sessionId = message.sessionId;
    return out;
  }

  /**
   * The Session's CIR flag (1.2+): whether the phone's wake-up channel works. Only sessions that
   * agreed CIR get it; a phone that agreed STCP and has not said HELO within cir.stcp.heloTimeout
   * (or whose connection dropped) is told F, which makes Android connect again.
   */
  private cirFlag(snapshot: SessionSnapshot): boolean | undefined {
    const { sessionId, cir } = snapshot.context;
    const { cir: transports } = this.services;
    if (!isActive(snapshot)) return undefined;
    if (transports.channelUp(sessionId, cir)) return true;
    if (!cir) return undefined;
    const graceMs = (this.services.config.cir.stcp?.heloTimeout ?? 0) * 1000;
    return this.services.now() - cir.agreedAt < graceMs;
  }

  private dispatch(
    primitive: CspElement,
    message: CspMessage,
    origin: RequestOrigin,
    to: {
      answer(p: CspElement): void;
      push(items: ServerTransaction[]): void;
      session(): SessionActor | undefined;
      loginAllowed(): boolean;
      loggedIn(session: SessionActor | undefined): void;
    },
  ): void {
    switch (primitive.name) {
      case 'Login-Request': {
        if (!to.loginAllowed()) {
          to.answer(status(400, 'One Login-Request per message'));
          return;
        }
        const result = login(this.services, primitive, message.version, origin);
        to.loggedIn(result.session);
        to.answer(result.response);
        return;
      }
      case 'GetSPInfo-Request':
        if (!to.session()) {
          to.answer(spInfoResponse(this.services.config, child(primitive, 'ClientID')));
          return;
        }
        break;
      case 'WV-CSP-VersionDiscovery-Request':
        to.answer(versionDiscoveryResponse());
        return;
    }
    const actor = to.session();
    if (!actor) {
      to.answer(status(604, 'Invalid or expired session: log in again'));
      return;
    }
    switch (primitive.name) {
      case 'Polling-Request': {
        // The whole answer may hold MultiTrans transactions; the others in this message count.
        const limit = Math.max(1, actor.getSnapshot().context.capabilities.multiTrans - (message.transactions.length - 1));
        actor.send({ type: 'POLL', limit, origin, reply: to.push });
        // A session that ended while polling (its account changed) must say so.
        if (!isActive(actor.getSnapshot())) to.answer(status(604, 'Your session has ended: log in again'));
        return;
      }
      case 'Logout-Request':
        actor.send({ type: 'LOGOUT', reply: to.answer });
        return;
      default:
        actor.send({ type: 'REQUEST', primitive, origin, reply: to.answer });
    }
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
