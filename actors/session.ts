// One logged-in (or logging-in) CSP session, as an XState v5 machine.
//
// The states are the protocol's:
//
//   authenticating ──password ok──────────────────────────▶ active ──Logout──────▶ loggedOut
//        │        ╲──digest offered──▶ challenged ──digest ok─▶ │  ──KeepAliveTime idle─▶ expired
//        │                               │ nonce expires       │  ──END (replaced, shutdown)─▶ ended
//        └──bad credentials──▶ rejected ◀┘ bad digest          │
//                                                               └─ each request restarts the idle timer
//
// While active the session answers its client's requests (through the feature modules in
// src/features), hands out server-originated transactions (NewMessage, …) on Polling-Request
// or piggy-backed on a response, and matches the client's Response-mode transactions to them.
import { setup, enqueueActions, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import type { CspElement } from '../src/csp/tree.ts';
import { child, el, textOf } from '../src/csp/tree.ts';
import { status } from '../src/csp/envelope.ts';
import { CspError } from '../src/csp/status.ts';
import type { CspVersion } from '../src/csp/versions.ts';
import type { UserAddress } from '../src/csp/address.ts';
import type { Services } from '../src/services.ts';
import type { LoginRequest } from '../src/features/login.ts';
import { loginResponse } from '../src/features/login.ts';
import type { ClientCapabilities } from '../src/features/capabilities.ts';
import { agreedCapabilityElement, defaultCapabilities, negotiate } from '../src/features/capabilities.ts';
import type { AgreedFunctions } from '../src/features/service-tree.ts';
import { agree, functionTree, requestedFunctions } from '../src/features/service-tree.ts';
import { grantKeepAlive, rememberProfile } from '../src/features/service-access.ts';
import { acknowledgeMessage, messageTransaction, noticePrimitive } from '../src/features/delivery.ts';
import { PRIMITIVES } from '../src/features/index.ts';
import type { SessionView } from '../src/features/types.ts';
import { chooseDigestSchema, newNonce, type DigestSchema } from '../src/auth/digest.ts';
import { newServerTransactionId } from '../src/ids.ts';

/** A server-originated transaction handed to the client. */
export interface ServerTransaction {
  id: string;
  primitive: CspElement;
}

/** A server-originated request waiting in the session until the client polls. */
export interface OutboxItem {
  primitive: CspElement;
}

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
  /** The client's network address, for throttling and logs. */
  address: string;
}

export interface SessionContext extends SessionView {
  services: Services;
  cookie: string;
  clientKey: string;
  address: string;
  nonce?: { value: string; schema: DigestSchema };
  outbox: OutboxItem[];
  awaiting: Record<string, Awaiting>;
  endReason?: string;
}

type Reply<T> = (answer: T) => void;

export type SessionEvent =
  | { type: 'LOGIN'; login: LoginRequest; reply: Reply<CspElement> }
  | { type: 'REQUEST'; primitive: CspElement; reply: Reply<CspElement> }
  | { type: 'POLL'; limit: number; reply: Reply<ServerTransaction[]> }
  | { type: 'CLIENT_RESPONSE'; transactionId: string | undefined; primitive: CspElement }
  | { type: 'LOGOUT'; reply: Reply<CspElement> }
  | { type: 'ENQUEUE'; item: OutboxItem }
  | { type: 'END'; reason: string }
  // raised by the machine itself once it has judged a login
  | { type: 'AUTHENTICATED' }
  | { type: 'CHALLENGED' }
  | { type: 'REJECTED' };

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
    context.services.log.error({ err, session: context.sessionId, primitive: primitive.name }, 'primitive failed');
    return { response: status(500, 'Internal server error') };
  }
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionEvent,
    input: {} as SessionInput,
  },
  delays: {
    // A little grace over KeepAliveTime: the client counts from its own send, we from our receive.
    keepAlive: ({ context }) => Math.round(context.keepAliveTime * 1000 + Math.min(30_000, context.keepAliveTime * 100)),
    nonceLifetime: ({ context }) => context.services.config.session.nonceLifetime * 1000,
  },
  actions: {
    /** Judge a Login-Request, answer it, and raise the verdict as an event. */
    authenticate: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'LOGIN') return;
      const { services, version } = context;
      const { login, reply } = event;
      const now = services.now();
      const answer = (fields: Omit<Parameters<typeof loginResponse>[1], 'clientId'>) =>
        enqueue(() => reply(loginResponse(version, { clientId: login.clientId, ...fields })));

      // Phase 2 of a digest login, or a password login.
      const credentials =
        login.password !== undefined ? { password: login.password }
        : login.digestBytes && context.nonce && context.nonce.schema !== 'PWD'
          ? { digest: { schema: context.nonce.schema, nonce: context.nonce.value, bytes: login.digestBytes } }
          : undefined;

      if (!credentials) {
        // Phase 1 of a digest login: challenge with a fresh single-use nonce. DigestBytes with no
        // live challenge (it expired, or the server restarted) get a new challenge too, so the
        // phone can simply answer again; a request with no credentials at all offers only PWD.
        const offered = login.digestSchemas.length ? login.digestSchemas : login.digestBytes ? ['MD5'] : ['PWD'];
        let schema = chooseDigestSchema(offered);
        // An unknown user can only be auto-registered from a plain password: ask for PWD if offered.
        const offersPwd = offered.some((s) => s.toUpperCase().split(',').map((x) => x.trim()).includes('PWD'));
        if (schema !== 'PWD' && offersPwd && services.auth.canAutoRegister() && !services.auth.exists(login.user)) schema = 'PWD';
        if (!schema) {
          answer({ code: 543, description: 'Supported digest schemes: MD5, SHA, PWD' });
          enqueue.raise({ type: 'REJECTED' });
          return;
        }
        const nonce = { value: newNonce(), schema };
        enqueue.assign({ nonce });
        answer({ code: 401, description: 'Further authorization required', nonce: nonce.value, digestSchema: schema, capabilityRequest: false });
        enqueue.raise({ type: 'CHALLENGED' });
        return;
      }

      // A nonce is single-use: whatever this attempt's outcome, it is spent.
      enqueue.assign({ nonce: undefined });
      const verdict = services.auth.check(login.user, credentials, context.address, now);
      if (!verdict.ok) {
        services.log.info({ user: login.user.id, address: context.address, code: verdict.code }, 'login refused');
        answer({ code: verdict.code, description: verdict.description, tryAgainSeconds: verdict.tryAgainSeconds });
        enqueue.raise({ type: 'REJECTED' });
        return;
      }

      const keepAliveTime = grantKeepAlive(services.config, login.timeToLive);
      const update: { -readonly [K in keyof SessionContext]?: SessionContext[K] } = { keepAliveTime, cookie: login.cookie };
      // CSP 1.3 may negotiate capabilities and functions inside the login itself.
      let agreedCaps: CspElement | undefined;
      let functions: CspElement | undefined;
      if (version === '1.3' && login.capabilityList) {
        const capabilities = negotiate(login.capabilityList, services.config.session.serverPollMin);
        rememberProfile(services, login.user.id, capabilities);
        update.capabilities = capabilities;
        agreedCaps = agreedCapabilityElement(version, capabilities);
      }
      if (version === '1.3' && login.functions) {
        const agreed = agree(version, requestedFunctions(version, login.functions));
        update.agreed = agreed;
        functions = functionTree(version, agreed.functions);
      }
      enqueue.assign(update);
      services.log.info(
        { session: context.sessionId, user: login.user.id, version, client: context.clientKey, registered: verdict.registered, keepAliveTime },
        'login',
      );
      answer({
        code: 200,
        description: verdict.registered ? 'Welcome: your account has been created' : undefined,
        sessionId: context.sessionId,
        keepAliveTime,
        capabilityRequest: !update.capabilities,
        userId: login.user.id,
        functions,
        agreedCapabilityList: agreedCaps,
      });
      enqueue.raise({ type: 'AUTHENTICATED' });
    }),

    handleRequest: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'REQUEST') return;
      const { response, update } = runPrimitive(context, event.primitive);
      if (update) enqueue.assign(update);
      enqueue(() => event.reply(response));
    }),

    /** Hand out queued server transactions: transient items, then stored notices, then messages. */
    handlePoll: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'POLL') return;
      const { services } = context;
      const now = services.now();
      const handed: ServerTransaction[] = [];
      const awaiting: Record<string, Awaiting> = {};
      for (const [id, a] of Object.entries(context.awaiting)) if (now - a.sentAt < AWAITING_TTL_MS) awaiting[id] = a;

      const fromOutbox = context.outbox.slice(0, event.limit);
      for (const item of fromOutbox) {
        const id = newServerTransactionId();
        handed.push({ id, primitive: item.primitive });
        awaiting[id] = { primitive: item.primitive.name, sentAt: now };
      }
      if (event.limit > handed.length) {
        for (const notice of services.notices.offer(context.user.id, context.sessionId, now, reofferMs(services), event.limit - handed.length)) {
          const id = newServerTransactionId();
          const primitive = noticePrimitive(notice, context.version);
          handed.push({ id, primitive });
          awaiting[id] = { primitive: primitive.name, noticeSeq: notice.seq, sentAt: now };
        }
      }
      if (event.limit > handed.length) {
        for (const message of services.messages.offer(context.user.id, context.sessionId, now, reofferMs(services), event.limit - handed.length)) {
          const id = newServerTransactionId();
          const primitive = messageTransaction(message, context.user.id, context.capabilities);
          handed.push({ id, primitive });
          awaiting[id] = { primitive: primitive.name, messageId: message.messageId, sentAt: now };
        }
      }
      enqueue.assign({ outbox: context.outbox.slice(fromOutbox.length), awaiting });
      enqueue(() => event.reply(handed));
    }),

    /** The client answered one of our transactions (MessageDelivered, Status, …). */
    handleClientResponse: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'CLIENT_RESPONSE') return;
      const { services } = context;
      const matched = event.transactionId ? context.awaiting[event.transactionId] : undefined;
      if (event.primitive.name === 'MessageDelivered') {
        const messageId = textOf(event.primitive, 'MessageID') ?? matched?.messageId;
        if (messageId) acknowledgeMessage(services, context.user.id, messageId);
      } else if (event.primitive.name === 'Status' && matched) {
        const code = Number(textOf(child(event.primitive, 'Result'), 'Code'));
        // Any answer ends a notice (a phone that cannot use a report would otherwise get it forever).
        if (matched.noticeSeq !== undefined) services.notices.done(context.user.id, matched.noticeSeq);
        // An announced message stays with this session until it is fetched, rejected or the session ends.
        if (matched.primitive === 'MessageNotification' && code === 200 && matched.messageId) {
          services.messages.hold(context.user.id, matched.messageId, context.sessionId);
        }
        if (code !== 200) services.log.info({ session: context.sessionId, primitive: matched.primitive, code }, 'client refused a server transaction');
      } else if (!matched) {
        services.log.debug({ session: context.sessionId, transaction: event.transactionId }, 'response to no transaction of ours');
      }
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

    enqueueItem: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'ENQUEUE') return;
      enqueue.assign({ outbox: [...context.outbox, event.item] });
    }),

    register: ({ context, self }) => context.services.router.sessionStarted(self as SessionActor),
    registerChallenge: ({ context, self }) => context.services.router.challengeStarted(self as SessionActor),
    unregisterChallenge: ({ context, self }) => context.services.router.challengeEnded(self as SessionActor),

    /** The session is over: its unacknowledged offers go back to the queue. */
    finish: ({ context, self }, params: { reason: string }) => {
      const { services } = context;
      services.messages.releaseSession(context.sessionId);
      services.notices.releaseSession(context.sessionId);
      services.router.sessionEnded(self as SessionActor);
      services.log.info({ session: context.sessionId, user: context.user.id, reason: params.reason }, 'session ended');
    },
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => ({
    services: input.services,
    sessionId: input.sessionId,
    version: input.version,
    user: input.login.user,
    clientId: input.login.clientId,
    clientKey: input.login.clientKey,
    cookie: input.login.cookie,
    address: input.address,
    keepAliveTime: grantKeepAlive(input.services.config, input.login.timeToLive),
    capabilities: defaultCapabilities(input.services.config.session.serverPollMin),
    agreed: undefined,
    outbox: [],
    awaiting: {},
  }),
  initial: 'authenticating',
  states: {
    authenticating: {
      on: {
        LOGIN: { actions: 'authenticate' },
        AUTHENTICATED: 'active',
        CHALLENGED: 'challenged',
        REJECTED: 'rejected',
      },
    },
    challenged: {
      entry: 'registerChallenge',
      exit: 'unregisterChallenge',
      after: { nonceLifetime: 'rejected' },
      on: {
        LOGIN: { actions: 'authenticate' },
        AUTHENTICATED: 'active',
        // A new phase 1 (the client restarted its login): a new nonce and a new lifetime.
        CHALLENGED: { target: 'challenged', reenter: true },
        REJECTED: 'rejected',
        END: 'rejected',
      },
    },
    active: {
      entry: 'register',
      initial: 'idle',
      states: {
        idle: {
          after: { keepAlive: '#session.expired' },
          on: {
            // Any traffic from the client restarts the idle timer (re-entering "idle" only).
            REQUEST: { target: 'idle', reenter: true, actions: 'handleRequest' },
            POLL: { target: 'idle', reenter: true, actions: 'handlePoll' },
            CLIENT_RESPONSE: { target: 'idle', reenter: true, actions: 'handleClientResponse' },
          },
        },
      },
      on: {
        LOGOUT: { target: 'loggedOut', actions: 'replyLogout' },
        ENQUEUE: { actions: 'enqueueItem' },
        END: { target: 'ended', actions: enqueueActions(({ event, enqueue }) => enqueue.assign({ endReason: event.reason })) },
      },
    },
    loggedOut: { type: 'final', entry: { type: 'finish', params: { reason: 'logout' } } },
    expired: { type: 'final', entry: { type: 'finish', params: { reason: 'expired' } } },
    ended: { type: 'final', entry: { type: 'finish', params: ({ context }) => ({ reason: context.endReason ?? 'ended' }) } },
    rejected: { type: 'final' },
  },
});

export type SessionActor = ActorRefFrom<typeof sessionMachine>;
export type SessionSnapshot = SnapshotFrom<typeof sessionMachine>;

/** Whether a session has server-originated transactions waiting (drives the Poll flag). */
export function hasQueued(snapshot: SessionSnapshot): boolean {
  if (snapshot.status !== 'active' || !snapshot.matches('active')) return false;
  const { context } = snapshot;
  const { services, user } = context;
  const now = services.now();
  return (
    context.outbox.length > 0 ||
    services.notices.hasOfferable(user.id, now, reofferMs(services)) ||
    services.messages.hasOfferable(user.id, now, reofferMs(services))
  );
}

export function isActive(snapshot: SessionSnapshot): boolean {
  return snapshot.status === 'active' && snapshot.matches('active');
}
