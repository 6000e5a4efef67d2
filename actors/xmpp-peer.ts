// One federation link: our stream from a local domain to a remote domain, as an XState v5
// machine. Stanzas for the remote domain wait durably in the s2s queue (src/store/s2s-queue.ts);
// the link comes up when something is queued and writes them out once authenticated.
//
//   idle ──KICK (something queued)──▶ establishing: resolving ▶ connecting ▶ securing ▶ authenticating
//     ▲                                     │ FAILED                              │ OPENED
//     │                                     ▼                                     ▼
//     └──── nothing queued ◀──── backoff (2 s, 4 s, … 5 min) ◀──CLOSED──── open (flush on entry and on
//     └──────────────────────────── idle close after a quiet while ◀───────────  every KICK)
//
// A stream that closes within STABLE_STREAM_MS of opening (or over an unanswered ping) counts
// as a failure and goes through the back-off too; a stream that lasted reconnects at once.
//
// The peer's stanzas arrive on the stream it opened to us (src/adapters/xmpp/incoming.ts):
// server-to-server streams carry one direction each.
import { setup, assign, and, fromCallback, type ActorRefFrom } from 'xstate';
import type { Logger } from '../src/log.ts';
import type { OpenStream } from '../src/adapters/xmpp/outgoing.ts';

export type EstablishStep = 'resolved' | 'connected' | 'secured' | 'authenticating';

/** The close reason of a stream dropped because the peer did not answer a ping (federation.ts). */
export const UNANSWERED_PING = 'the peer did not answer a ping';

export interface PeerInput {
  local: string;
  remote: string;
  log: Logger;
  /** Resolve, connect, secure and authenticate; reports each step. */
  establish(progress: (step: EstablishStep) => void): Promise<OpenStream>;
  /** Write what waits for the link; true when more is left (another round follows). */
  flush(stream: OpenStream): boolean;
  hasQueued(): boolean;
  idleCloseMs: number;
}

export type PeerEvent =
  | { type: 'KICK' }
  | { type: 'CLOSED'; reason: string; stream: OpenStream }
  | { type: 'STEP'; step: EstablishStep }
  | { type: 'OPENED'; stream: OpenStream }
  | { type: 'FAILED'; message: string };

interface PeerContext extends PeerInput {
  stream: OpenStream | undefined;
  /** When the current stream opened (ms). */
  openedAt: number;
  /** Attempts in a row that failed, or streams that did not last (the back-off grows with it). */
  failures: number;
  lastError: string | undefined;
}

const BACKOFF_MAX_MS = 5 * 60_000;
/**
 * A stream that closes sooner than this after opening did not work out (a peer that refuses a
 * stanza of ours with a stream error, say): reconnect after the back-off, not at once, so a
 * link cannot spin.
 */
const STABLE_STREAM_MS = 30_000;

export const peerMachine = setup({
  types: { context: {} as PeerContext, events: {} as PeerEvent, input: {} as PeerInput },
  actors: {
    establishLink: fromCallback<PeerEvent, PeerInput>(({ input, sendBack }) => {
      let cancelled = false;
      input
        .establish((step) => {
          if (!cancelled) sendBack({ type: 'STEP', step });
        })
        .then(
          (stream) => (cancelled ? stream.connection.close('link no longer wanted') : sendBack({ type: 'OPENED', stream })),
          (err: Error) => {
            if (!cancelled) sendBack({ type: 'FAILED', message: err.message });
          },
        );
      return () => {
        cancelled = true;
      };
    }),
  },
  delays: {
    backoff: ({ context }) => Math.min(BACKOFF_MAX_MS, 1000 * 2 ** Math.min(context.failures, 10)),
    idleClose: ({ context }) => context.idleCloseMs,
  },
  guards: {
    somethingQueued: ({ context }) => context.hasQueued(),
    /** A close of the current stream (an older stream closing late must not take the link down). */
    currentStream: ({ context, event }) => event.type === 'CLOSED' && event.stream === context.stream,
    /** The stream closed soon after it opened, or because the peer left a ping of ours unanswered. */
    troubled: ({ context, event }) =>
      event.type === 'CLOSED' && (Date.now() - context.openedAt < STABLE_STREAM_MS || event.reason === UNANSWERED_PING),
    step: ({ event }, step: EstablishStep) => event.type === 'STEP' && event.step === step,
  },
  actions: {
    watchStream: ({ context, self }) => {
      const stream = context.stream!;
      stream.connection.setHandlers({
        header: () => undefined,
        element: () => undefined,
        closed: (reason) => self.send({ type: 'CLOSED', reason, stream }),
      });
    },
    flush: ({ context, self }) => {
      if (context.stream && context.flush(context.stream)) self.send({ type: 'KICK' });
    },
    closeStream: ({ context }) => context.stream?.connection.close('idle'),
    logOpened: ({ context }) =>
      context.log.info({ local: context.local, remote: context.remote, method: context.stream?.method, tls: context.stream?.connection.secure }, 'XMPP link up'),
    logFailed: ({ context, event }) =>
      event.type === 'FAILED' && context.log.warn({ local: context.local, remote: context.remote, reason: event.message, failures: context.failures }, 'XMPP link failed'),
    logClosed: ({ context, event }) => event.type === 'CLOSED' && context.log.info({ local: context.local, remote: context.remote, reason: event.reason }, 'XMPP link closed'),
  },
}).createMachine({
  id: 'xmppPeer',
  context: ({ input }) => ({ ...input, stream: undefined, openedAt: 0, failures: 0, lastError: undefined }),
  initial: 'idle',
  states: {
    idle: {
      entry: assign({ stream: undefined }),
      on: { KICK: 'establishing' },
    },
    establishing: {
      invoke: { src: 'establishLink', input: ({ context }) => context },
      initial: 'resolving',
      states: {
        resolving: { on: { STEP: { guard: { type: 'step', params: 'resolved' }, target: 'connecting' } } },
        connecting: { on: { STEP: { guard: { type: 'step', params: 'connected' }, target: 'securing' } } },
        securing: { on: { STEP: { guard: { type: 'step', params: 'authenticating' }, target: 'authenticating' } } },
        authenticating: {},
      },
      on: {
        OPENED: { target: 'open', actions: assign({ stream: ({ event }) => event.stream, openedAt: () => Date.now(), lastError: undefined }) },
        FAILED: {
          target: 'backoff',
          actions: [assign({ failures: ({ context }) => context.failures + 1, lastError: ({ event }) => event.message }), 'logFailed'],
        },
      },
    },
    open: {
      entry: ['logOpened', 'watchStream'],
      initial: 'active',
      states: {
        // Each KICK writes what was queued and restarts the idle timer.
        active: {
          entry: 'flush',
          after: { idleClose: { target: '#xmppPeer.idle', actions: 'closeStream' } },
          on: { KICK: { target: 'active', reenter: true } },
        },
      },
      on: {
        CLOSED: [
          {
            guard: and(['currentStream', 'troubled']),
            target: 'backoff',
            actions: [assign({ failures: ({ context }) => context.failures + 1, lastError: ({ event }) => (event.type === 'CLOSED' ? event.reason : undefined) }), 'logClosed'],
          },
          { guard: and(['currentStream', 'somethingQueued']), target: 'establishing', actions: [assign({ failures: 0 }), 'logClosed'] },
          { guard: 'currentStream', target: 'idle', actions: [assign({ failures: 0 }), 'logClosed'] },
        ],
      },
    },
    backoff: {
      after: { backoff: [{ guard: 'somethingQueued', target: 'establishing' }, { target: 'idle' }] },
    },
  },
});

export type PeerActor = ActorRefFrom<typeof peerMachine>;
