// A session's waker, as an XState v5 machine: when something is queued for an idle phone it
// decides when to send a CIR (reference imps-csp.md §5) and, when the phone does not come,
// falls back to the next agreed method. It runs as a child of the session actor, so it lives
// and dies with the session. How a wake-up travels is src/adapters/cir/cir-service.ts's job.
//
//   quiet ──WAKE──▶ scheduled ──(minInterval since the last wake-up, and a moment after the
//     ▲               │          phone's last request, which already told it Poll=T)──▶
//     │               │            nothing queued any more ──▶ quiet
//     │               └──────────▶ awaiting: a wake-up sent by the first usable method
//     │                               │ phone sends anything ──▶ quiet
//     └── no method left ◀────────────┤ no request within retryAfter, or the push failed:
//                                     └──▶ the next method (awaiting again)
import { setup, assign } from 'xstate';
import type { Services } from '../src/services.ts';

/** The phone's own requests are answered with Poll=T while anything waits: no wake-up needed just after one. */
const AFTER_REQUEST_MS = 1000;

export type CirEvent =
  /** Something was queued for the session. */
  | { type: 'WAKE' }
  /** The phone sent a request (it will see anything queued through Poll=T). */
  | { type: 'CLIENT_ACTIVE' }
  /** A push (datagram, SMS) of wake-up `attempt` failed. */
  | { type: 'DELIVERY_FAILED'; attempt: number };

export interface CirContext {
  services: Services;
  sessionId: string;
  /** Index into the session's method ladder of the wake-up in flight. */
  attempt: number;
  lastWakeAt: number;
  lastActivityAt: number;
}

export const cirMachine = setup({
  types: {
    context: {} as CirContext,
    events: {} as CirEvent,
    input: {} as { services: Services; sessionId: string },
  },
  delays: {
    untilAllowed: ({ context }) => {
      const now = context.services.now();
      const { minInterval } = context.services.config.cir;
      return Math.max(0, context.lastWakeAt + minInterval * 1000 - now, context.lastActivityAt + AFTER_REQUEST_MS - now);
    },
    retryAfter: ({ context }) => context.services.config.cir.retryAfter * 1000,
  },
  guards: {
    queuedAndReachable: ({ context }) => context.services.router.hasQueued(context.sessionId) && context.services.cir.hasMethodFrom(context.sessionId, 0),
    nextMethodWorthTrying: ({ context }) =>
      context.services.router.hasQueued(context.sessionId) && context.services.cir.hasMethodFrom(context.sessionId, context.attempt + 1),
    failureOfCurrentAttempt: ({ context, event }) => event.type === 'DELIVERY_FAILED' && event.attempt === context.attempt,
  },
  actions: {
    noteActivity: assign({ lastActivityAt: ({ context }) => context.services.now() }),
    wakeFirst: assign(({ context }) => ({
      attempt: context.services.cir.wake(context.sessionId, 0) ?? Number.MAX_SAFE_INTEGER,
      lastWakeAt: context.services.now(),
    })),
    wakeNext: assign(({ context }) => ({
      attempt: context.services.cir.wake(context.sessionId, context.attempt + 1) ?? Number.MAX_SAFE_INTEGER,
      lastWakeAt: context.services.now(),
    })),
  },
}).createMachine({
  id: 'cir',
  context: ({ input }) => ({ services: input.services, sessionId: input.sessionId, attempt: 0, lastWakeAt: 0, lastActivityAt: input.services.now() }),
  initial: 'quiet',
  on: {
    CLIENT_ACTIVE: { target: '.quiet', actions: 'noteActivity' },
  },
  states: {
    quiet: {
      on: { WAKE: 'scheduled' },
    },
    scheduled: {
      after: {
        untilAllowed: [{ guard: 'queuedAndReachable', target: 'awaiting', actions: 'wakeFirst' }, { target: 'quiet' }],
      },
      on: {
        // The phone came on its own; it may still have left something behind (checked when the delay ends).
        CLIENT_ACTIVE: { target: 'scheduled', reenter: true, actions: 'noteActivity' },
      },
    },
    awaiting: {
      after: {
        retryAfter: [{ guard: 'nextMethodWorthTrying', target: 'awaiting', reenter: true, actions: 'wakeNext' }, { target: 'quiet' }],
      },
      on: {
        DELIVERY_FAILED: [
          { guard: 'failureOfCurrentAttempt', target: 'retrying' },
        ],
      },
    },
    // A failed push moves straight on to the next method.
    retrying: {
      always: [{ guard: 'nextMethodWorthTrying', target: 'awaiting', actions: 'wakeNext' }, { target: 'quiet' }],
    },
  },
});
