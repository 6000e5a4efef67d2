// The router: the one place that knows where an address lives. Today that is the live
// sessions of local users (by SessionID, by user); groups and federation peers join later.
import { createActor, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { Logger } from './log.ts';

/** Timer source for actors (xstate's Clock; SimulatedClock in tests). */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;
import { sessionMachine, type SessionActor, type SessionInput, type OutboxItem } from '../actors/session.ts';

export class Router {
  private readonly bySessionId = new Map<string, SessionActor>();
  private readonly byUser = new Map<string, Set<SessionActor>>();
  /** Logins waiting for phase 2 of a digest login, by user and client. */
  private readonly challenges = new Map<string, SessionActor>();

  /** `clock` replaces real timers (keep-alive, nonce lifetime) in tests. */
  constructor(
    private readonly log: Logger,
    private readonly clock?: Clock,
  ) {}

  /** Create and start a session actor for a new login; the caller sends it LOGIN. */
  startSession(input: SessionInput): SessionActor {
    const actor = createActor(sessionMachine, this.clock ? { input, clock: this.clock } : { input });
    actor.subscribe({
      error: (err) => {
        // A bug in a session must not take the server down: log it and forget the session.
        this.log.error({ err, session: input.sessionId }, 'session actor failed');
        this.forget(actor);
      },
    });
    actor.start();
    return actor;
  }

  session(sessionId: string): SessionActor | undefined {
    return this.bySessionId.get(sessionId);
  }

  sessionsOf(userId: string): SessionActor[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  sessionCount(): number {
    return this.bySessionId.size;
  }

  /** Hand a server-originated request to every live session of a user. */
  deliverToUser(userId: string, item: OutboxItem): number {
    const sessions = this.sessionsOf(userId);
    for (const s of sessions) s.send({ type: 'ENQUEUE', item });
    return sessions.length;
  }

  challengeFor(userId: string, clientKey: string): SessionActor | undefined {
    return this.challenges.get(`${userId}\n${clientKey}`);
  }

  challengeStarted(actor: SessionActor): void {
    const { user, clientKey } = actor.getSnapshot().context;
    const key = `${user.id}\n${clientKey}`;
    const previous = this.challenges.get(key);
    this.challenges.set(key, actor);
    if (previous && previous !== actor) previous.send({ type: 'END', reason: 'login restarted' });
  }

  challengeEnded(actor: SessionActor): void {
    const { user, clientKey } = actor.getSnapshot().context;
    const key = `${user.id}\n${clientKey}`;
    if (this.challenges.get(key) === actor) this.challenges.delete(key);
  }

  /** A session became active. The same client logging in again replaces its old session. */
  sessionStarted(actor: SessionActor): void {
    const { sessionId, user, clientKey } = actor.getSnapshot().context;
    const replaced = this.sessionsOf(user.id).filter((s) => s !== actor && s.getSnapshot().context.clientKey === clientKey);
    this.bySessionId.set(sessionId, actor);
    let set = this.byUser.get(user.id);
    if (!set) this.byUser.set(user.id, (set = new Set()));
    set.add(actor);
    for (const old of replaced) old.send({ type: 'END', reason: 'replaced by a new login of the same client' });
  }

  sessionEnded(actor: SessionActor): void {
    this.forget(actor);
  }

  private forget(actor: SessionActor): void {
    const { sessionId, user } = actor.getSnapshot().context;
    if (this.bySessionId.get(sessionId) === actor) this.bySessionId.delete(sessionId);
    const set = this.byUser.get(user.id);
    if (set) {
      set.delete(actor);
      if (set.size === 0) this.byUser.delete(user.id);
    }
    this.challengeEnded(actor);
  }

  /** End every session (shutdown, or an account deleted). */
  endAll(reason: string, userId?: string): void {
    const targets = userId ? this.sessionsOf(userId) : [...this.bySessionId.values()];
    for (const s of targets) s.send({ type: 'END', reason });
    for (const c of [...this.challenges.values()]) if (!userId || c.getSnapshot().context.user.id === userId) c.send({ type: 'END', reason });
  }
}
