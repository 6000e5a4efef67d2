// One CSP session, from the Login-Request that carries credentials to its end, as an XState v5
// machine. The states are the protocol's:
//
//   authenticating ──credentials ok──▶ active ──Logout──────────────────▶ loggedOut
//        │                               │  ──KeepAliveTime without traffic─▶ expired
//        └──refused (bad password,        │  ──END (replaced, shutdown)─────▶ ended
//           locked, new challenge)──▶ refused  ──password changed / account deleted─▶ revoked
//                                        └─ each client request restarts the idle timer
//
// (Phase 1 of a digest login needs no session: its challenge is kept per user, see
// src/auth/challenges.ts and src/features/login.ts.)
//
// While active the session answers its client's requests (through the feature modules in
// src/features), hands out server-originated transactions (NewMessage, DeliveryReport-Request, …)
// on Polling-Request or piggy-backed on a response, and matches the client's Response-mode
// transactions to them.
//
// Actions call the store synchronously while the transition is computed, because what the
// store answers decides both the reply and the next context. These machines are therefore
// only ever run as live actors, never through XState's pure transition functions.
import { setup, enqueueActions, sendTo, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { createHash } from 'node:crypto';
import type { CspElement } from '../src/csp/tree.ts';
import { child, el, textOf } from '../src/csp/tree.ts';
import { status } from '../src/csp/envelope.ts';
import { CspError } from '../src/csp/status.ts';
import type { CspVersion } from '../src/csp/versions.ts';
import type { Services } from '../src/services.ts';
import type { LoginRequest } from '../src/features/login.ts';
import { challenge, clientForLog, loginResponse } from '../src/features/login.ts';
import { agreedCapabilityElement, defaultCapabilities, negotiate } from '../src/features/capabilities.ts';
import { agree, functionTree, requestedFunctions } from '../src/features/service-tree.ts';
import { grantKeepAlive, rememberProfile } from '../src/features/service-access.ts';
import { acknowledgeMessage, messageTransaction, noticePrimitive, rejectDelivery } from '../src/features/delivery.ts';
import { PRIMITIVES } from '../src/features/index.ts';
import { userCameOnline, userWentOffline } from '../src/features/presence.ts';
import { leaveGroupsOf } from '../src/features/groups.ts';
import { negotiateCir, type CirAgreement } from '../src/features/cir.ts';
import type { RequestOrigin } from '../src/adapters/request-origin.ts';
import { cirMachine } from './cir.ts';
import type { SessionView } from '../src/features/types.ts';
import { newServerTransactionId } from '../src/ids.ts';

/** A server-originated transaction handed to the client. */
export interface ServerTransaction {
  id: string;
  primitive: CspElement;
}

/**
 * A server-originated request that lives only while the session does (a presence change, …),
 * rendered when handed out so it carries the latest state. A newer item with the same key
 * replaces a waiting one (the latest presence of a user is all a phone needs).
 */
export interface OutboxItem {
  key: string;
  render(session: SessionView): CspElement | undefined;
}

/** Most transient items a session keeps; beyond, the oldest go (they are only the latest state of something). */
const MAX_OUTBOX = 500;

/** What a handed-out transaction was, so the client's answer can be matched to it. */
interface Awaiting {
  primitive: string;
  messageId?: string;
  noticeSeq?: number;
  sentAt: number;
}

export interface SessionInput {
  sessionId: string;
  services: Services;
  version: CspVersion;
  login: LoginRequest;
  /** Where the Login-Request came from (address for throttling and logs, and for CIR). */
  origin: RequestOrigin;
}

export interface SessionContext extends SessionView {
  services: Services;
  /** For logs: the SessionID is a bearer token and never logged. */
  logId: string;
  clientKey: string;
  /** SessionCookie from the login: echoed in every wake-up (CIR) the phone is sent. */
  cookie: string;
  address: string;
  /** What the session agreed for waking its phone (CIR), if anything. */
  cir: CirAgreement | undefined;
  /** The account's generation at login; a password change or deletion ends the session. */
  generation: number;
  outbox: OutboxItem[];
  awaiting: Record<string, Awaiting>;
  endReason?: string;
}

type Reply<T> = (answer: T) => void;

export type SessionEvent =
  | { type: 'LOGIN'; login: LoginRequest; reply: Reply<CspElement> }
  | { type: 'REQUEST'; primitive: CspElement; origin?: RequestOrigin; reply: Reply<CspElement> }
  | { type: 'POLL'; limit: number; origin?: RequestOrigin; reply: Reply<ServerTransaction[]> }
  | { type: 'CLIENT_RESPONSE'; transactionId: string | undefined; primitive: CspElement }
  | { type: 'LOGOUT'; reply: Reply<CspElement> }
  | { type: 'ENQUEUE'; item: OutboxItem }
  /** Something was queued for the user (the waker decides whether to send a CIR). */
  | { type: 'WAKE' }
  /** A CIR push (datagram, SMS) of wake-up `attempt` failed. */
  | { type: 'CIR_FAILED'; attempt: number }
  | { type: 'END'; reason: string }
  // raised by the machine itself once it has judged a login
  | { type: 'AUTHENTICATED' }
  | { type: 'REFUSED' };

/** Unanswered server transactions are forgotten after this long (the client will never answer). */
const AWAITING_TTL_MS = 30 * 60 * 1000;

function reofferMs(services: Services): number {
  return services.config.messages.reofferAfter * 1000;
}

/** Run one client request through its feature module, turning failures into a Status. */
function runPrimitive(context: SessionContext, primitive: CspElement): { response: CspElement; update?: Partial<SessionContext> } {
  const spec = PRIMITIVES[primitive.name];
  if (!spec) return { response: status(506, `${primitive.name} is not a service this server offers`) };
  const { gate } = spec;
  if (gate && context.agreed) {
    const allowed = gate.fn ? context.agreed.functions.has(gate.fn) : context.agreed.features.has(gate.feature);
    if (!allowed) return { response: status(506, `${primitive.name} was not agreed in Service-Request`) };
  }
  try {
    return spec.handle(primitive, context, context.services);
  } catch (err) {
    if (err instanceof CspError) return { response: status(err.code, err.description) };
    context.services.log.error({ err, session: context.logId, primitive: primitive.name }, 'primitive failed');
    return { response: status(500, 'Internal server error') };
  }
}

/** Run a step that talks to the store; a failure is logged and answered by `fallback`, never thrown out of the actor. */
function guarded<T>(context: SessionContext, step: string, run: () => T, fallback: () => T): T {
  try {
    return run();
  } catch (err) {
    context.services.log.error({ err, session: context.logId, step }, 'session step failed');
    return fallback();
  }
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
  },
  actors: { cirWaker: cirMachine },
  delays: {
    // A little grace over KeepAliveTime: the client counts from its own send, we from our receive.
    keepAlive: ({ context }) => Math.round(context.keepAliveTime * 1000 + Math.min(30_000, context.keepAliveTime * 100)),
  },
  guards: {
    /** The password changed or the account was deleted since this session logged in. */
    accountChanged: ({ context }) => context.services.accounts.generationOf(context.user.id) !== context.generation,
    /** Only phones that agreed a CIR method (or bound an STCP connection) are ever woken. */
    mayWake: ({ context }) => context.cir !== undefined || (context.services.cir.stcp?.isBound(context.sessionId) ?? false),
  },
  actions: {
    /** Judge the Login-Request's credentials, answer it, and raise the verdict as an event. */
    authenticate: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'LOGIN') return;
      const { services, version } = context;
      const { login, reply } = event;
      const answer = (response: CspElement) => enqueue(() => reply(response));
      const refuse = (code: number, description: string, tryAgainSeconds?: number) => {
        answer(loginResponse(version, { clientId: login.clientId, code, description, ...(tryAgainSeconds ? { tryAgainSeconds } : {}) }));
        enqueue.raise({ type: 'REFUSED' });
      };
      const credentials = login.password !== undefined ? { password: login.password } : { digestBytes: login.digestBytes ?? '' };
      const verdict = guarded(
        context,
        'check credentials',
        () => services.auth.check(login.user, credentials, context.address, services.now()),
        () => ({ ok: false as const, code: 500, description: 'Internal server error' }),
      );
      if (!verdict.ok) {
        services.log.info({ user: login.user.id, address: context.address, code: verdict.code }, 'login refused');
        if (verdict.rechallenge) {
          answer(challenge(services, login, version, context.address));
          enqueue.raise({ type: 'REFUSED' });
        } else refuse(verdict.code, verdict.description, verdict.tryAgainSeconds);
        return;
      }

      const keepAliveTime = grantKeepAlive(services.config, login.timeToLive);
      const update: { -readonly [K in keyof SessionContext]?: SessionContext[K] } = { keepAliveTime, generation: verdict.generation };
      // CSP 1.3 may negotiate capabilities and functions inside the login itself.
      let agreedCaps: CspElement | undefined;
      let functions: CspElement | undefined;
      if (version === '1.3' && login.capabilityList) {
        const capabilities = negotiate(login.capabilityList, services.config.session.serverPollMin);
        guarded(context, 'remember profile', () => rememberProfile(services, login.user.id, capabilities), () => undefined);
        const cir = negotiateCir(
          services,
          { sessionId: context.sessionId, version, origin: context.origin, clientId: login.clientId, previous: undefined },
          login.capabilityList,
          capabilities,
        );
        update.capabilities = capabilities;
        update.cir = cir.agreement;
        agreedCaps = agreedCapabilityElement(version, capabilities, cir.elements);
      }
      if (version === '1.3' && login.functions) {
        const agreed = agree(version, requestedFunctions(version, login.functions));
        update.agreed = agreed;
        functions = functionTree(version, agreed.functions);
      }
      enqueue.assign(update);
      services.log.info(
        { session: context.logId, user: login.user.id, version, client: clientForLog(context.clientKey), registered: verdict.registered, keepAliveTime },
        'login',
      );
      answer(
        loginResponse(version, {
          clientId: login.clientId,
          code: 200,
          ...(verdict.registered ? { description: 'Welcome: your account has been created' } : {}),
          sessionId: context.sessionId,
          keepAliveTime,
          capabilityRequest: !update.capabilities,
          user: { id: login.user.id, style: context.addressStyle },
          ...(functions ? { functions } : {}),
          ...(agreedCaps ? { agreedCapabilityList: agreedCaps } : {}),
        }),
      );
      enqueue.raise({ type: 'AUTHENTICATED' });
    }),

    /** The phone spoke: its latest address is where datagram wake-ups go, and its waker can rest. */
    clientActive: enqueueActions(({ event, enqueue }) => {
      if ((event.type === 'REQUEST' || event.type === 'POLL') && event.origin) enqueue.assign({ origin: event.origin, address: event.origin.address });
      enqueue.sendTo('cir', { type: 'CLIENT_ACTIVE' });
    }),

    handleRequest: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REQUEST') return;
      const { response, update } = runPrimitive(context, event.primitive);
      if (update) enqueue.assign(update);
      enqueue(() => event.reply(response));
    }),

    /** Hand out queued server transactions: transient items (presence), stored notices, then messages. */
    handlePoll: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'POLL') return;
      const { services } = context;
      const now = services.now();
      const handed: ServerTransaction[] = [];
      const awaiting: Record<string, Awaiting> = {};
      for (const [id, a] of Object.entries(context.awaiting)) if (now - a.sentAt < AWAITING_TTL_MS) awaiting[id] = a;
      const hand = (primitive: CspElement, about: Omit<Awaiting, 'primitive' | 'sentAt'>) => {
        const id = newServerTransactionId();
        handed.push({ id, primitive });
        awaiting[id] = { primitive: primitive.name, sentAt: now, ...about };
      };
      let outbox = context.outbox;
      guarded(
        context,
        'poll',
        () => {
          while (outbox.length && handed.length < event.limit) {
            const [item, ...rest] = outbox;
            outbox = rest;
            const primitive = item!.render(context);
            if (primitive) hand(primitive, {});
          }
          for (const notice of services.notices.offer(context.user.id, context.sessionId, now, reofferMs(services), event.limit - handed.length)) {
            const primitive = noticePrimitive(notice, context.version, context.addressStyle);
            // A notice this version cannot express (PresenceAuth-Request in 1.3) is done with.
            if (primitive) hand(primitive, { noticeSeq: notice.seq });
            else services.notices.done(context.user.id, notice.seq);
          }
          if (event.limit > handed.length) {
            for (const message of services.messages.offer(context.user.id, context.sessionId, now, reofferMs(services), event.limit - handed.length)) {
              hand(messageTransaction(message, context.user.id, context.capabilities, context.addressStyle), { messageId: message.messageId });
            }
          }
        },
        () => undefined,
      );
      enqueue.assign({ awaiting, outbox });
      enqueue(() => event.reply(handed));
    }),

    /** The client answered one of our transactions (MessageDelivered, Status, …). */
    handleClientResponse: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CLIENT_RESPONSE') return;
      const { services } = context;
      const matched = event.transactionId ? context.awaiting[event.transactionId] : undefined;
      guarded(
        context,
        'client response',
        () => {
          if (event.primitive.name === 'MessageDelivered') {
            const messageId = textOf(event.primitive, 'MessageID') ?? matched?.messageId;
            if (messageId) acknowledgeMessage(services, context.user.id, messageId);
          } else if (event.primitive.name === 'Status' && matched) {
            const code = Number(textOf(child(event.primitive, 'Result'), 'Code'));
            // Any answer ends a notice (a phone that cannot use a report would otherwise get it forever).
            if (matched.noticeSeq !== undefined) services.notices.done(context.user.id, matched.noticeSeq);
            if (matched.messageId && matched.primitive === 'NewMessage') {
              // Baraza-era phones answer NewMessage with Status: 200 means they have it; an
              // error means they never will (too large, unsupported), so it is not re-offered.
              if (code === 200) acknowledgeMessage(services, context.user.id, matched.messageId);
              else rejectDelivery(services, context.user.id, matched.messageId);
            }
            // An announced message stays with this session until it is fetched, rejected or the session ends.
            if (matched.messageId && matched.primitive === 'MessageNotification' && code === 200) {
              services.messages.hold(context.user.id, matched.messageId, context.sessionId);
            }
            if (code !== 200) services.log.info({ session: context.logId, primitive: matched.primitive, code }, 'client refused a server transaction');
          } else if (!matched) {
            services.log.debug({ session: context.logId, transaction: event.transactionId }, 'response to no transaction of ours');
          }
        },
        () => undefined,
      );
      if (matched && event.transactionId) {
        const { [event.transactionId]: _answered, ...rest } = context.awaiting;
        enqueue.assign({ awaiting: rest });
      }
    }),

    replyLogout: ({ context, event }) => {
      if (event.type !== 'LOGOUT') return;
      // 1.1 answers Logout with Disconnect, 1.2 and 1.3 with Status (reference §2.4).
      const ok = status(200, 'Logged out');
      event.reply(context.version === '1.1' ? el('Disconnect', [child(ok, 'Result')!]) : ok);
    },

    /** The account changed under a live session: refuse what was asked and end. */
    replyRevoked: ({ event }) => {
      if (event.type === 'REQUEST') event.reply(status(604, 'Your account changed: log in again'));
      else if (event.type === 'POLL') event.reply([]);
    },

    enqueueItem: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ENQUEUE') return;
      const kept = context.outbox.filter((i) => i.key !== event.item.key);
      enqueue.assign({ outbox: [...kept, event.item].slice(-MAX_OUTBOX) });
    }),

    register: ({ context, self }) => {
      context.services.router.sessionStarted(self as SessionActor);
      guarded(context, 'publish online', () => userCameOnline(context.services, context.user.id), () => undefined);
    },

    /** The session is over: its unacknowledged offers go back to the queue. */
    finish: ({ context, self }, params: { reason: string }) => {
      const { services } = context;
      guarded(context, 'release offers', () => services.messages.releaseSession(context.sessionId), () => undefined);
      guarded(context, 'release notices', () => services.notices.releaseSession(context.sessionId), () => undefined);
      services.searches.forgetSession(context.sessionId);
      services.cir.sessionEnded(context.sessionId, context.cir);
      services.router.sessionEnded(self as SessionActor);
      guarded(context, 'publish offline', () => userWentOffline(services, context.user.id), () => undefined);
      // A server shutting down is no goodbye: joined users stay joined across the restart.
      if (params.reason !== 'server shutting down') guarded(context, 'leave groups', () => leaveGroupsOf(services, context.user.id), () => undefined);
      services.log.info({ session: context.logId, user: context.user.id, reason: params.reason }, 'session ended');
    },
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    services: input.services,
    sessionId: input.sessionId,
    logId: createHash('sha256').update(input.sessionId).digest('hex').slice(0, 10),
    version: input.version,
    user: input.login.user,
    addressStyle: input.login.addressStyle,
    clientId: input.login.clientId,
    clientKey: input.login.clientKey,
    cookie: input.login.cookie,
    address: input.origin.address,
    origin: input.origin,
    cir: undefined,
    generation: -1,
    outbox: [],
    keepAliveTime: input.services.config.session.keepAliveDefault,
    capabilities: defaultCapabilities(input.services.config.session.serverPollMin),
    agreed: undefined,
    awaiting: {},
  }),
  initial: 'authenticating',
  states: {
    authenticating: {
      on: {
        LOGIN: { actions: 'authenticate' },
        AUTHENTICATED: 'active',
        REFUSED: 'refused',
      },
    },
    active: {
      entry: 'register',
      // The waker lives as long as the session is active (its timers die with it).
      invoke: { id: 'cir', src: 'cirWaker', input: ({ context }) => ({ services: context.services, sessionId: context.sessionId }) },
      initial: 'idle',
      states: {
        idle: {
          after: { keepAlive: '#session.expired' },
          on: {
            // Any traffic from the client restarts the idle timer (re-entering "idle" only).
            REQUEST: [
              { guard: 'accountChanged', target: '#session.revoked', actions: 'replyRevoked' },
              { target: 'idle', reenter: true, actions: ['clientActive', 'handleRequest'] },
            ],
            POLL: [
              { guard: 'accountChanged', target: '#session.revoked', actions: 'replyRevoked' },
              { target: 'idle', reenter: true, actions: ['clientActive', 'handlePoll'] },
            ],
            CLIENT_RESPONSE: { target: 'idle', reenter: true, actions: ['clientActive', 'handleClientResponse'] },
          },
        },
      },
      on: {
        LOGOUT: { target: 'loggedOut', actions: 'replyLogout' },
        ENQUEUE: { actions: 'enqueueItem' },
        WAKE: { guard: 'mayWake', actions: sendTo('cir', { type: 'WAKE' }) },
        CIR_FAILED: { actions: sendTo('cir', ({ event }) => ({ type: 'DELIVERY_FAILED' as const, attempt: event.attempt })) },
        END: { target: 'ended', actions: enqueueActions(({ event, enqueue }) => enqueue.assign({ endReason: event.reason })) },
      },
    },
    loggedOut: { type: 'final', entry: { type: 'finish', params: { reason: 'logout' } } },
    expired: { type: 'final', entry: { type: 'finish', params: { reason: 'expired' } } },
    revoked: { type: 'final', entry: { type: 'finish', params: { reason: 'account changed' } } },
    ended: { type: 'final', entry: { type: 'finish', params: ({ context }) => ({ reason: context.endReason ?? 'ended' }) } },
    refused: { type: 'final' },
  },
});

export type SessionActor = ActorRefFrom<typeof sessionMachine>;
export type SessionSnapshot = SnapshotFrom<typeof sessionMachine>;

/** Whether a session has server-originated transactions waiting (drives the Poll flag). */
export function hasQueued(snapshot: SessionSnapshot): boolean {
  if (!isActive(snapshot)) return false;
  const { services, user } = snapshot.context;
  const now = services.now();
  if (snapshot.context.outbox.length > 0) return true;
  try {
    return services.notices.hasOfferable(user.id, now, reofferMs(services)) || services.messages.hasOfferable(user.id, now, reofferMs(services));
  } catch (err) {
    services.log.error({ err }, 'cannot tell whether anything is queued');
    return false;
  }
}

export function isActive(snapshot: SessionSnapshot): boolean {
  return snapshot.status === 'active' && snapshot.matches('active');
}

