// The router: the one place that knows where an address lives. Today that is the live
// sessions of local users (by SessionID, by user) and the group actors; federation peers join
// later. It also passes "something waits for this user" on to the sessions' wakers (CIR).
import { createActor, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { Logger } from './log.ts';
import { hasQueued, isActive, sessionMachine, type OutboxItem, type SessionActor, type SessionInput } from '../actors/session.ts';
import { groupMachine, type GroupActor } from '../actors/group.ts';
import type { Services } from './services.ts';
import type { CirHooks } from './adapters/cir/cir-service.ts';

/** Timer source for actors (xstate's Clock; SimulatedClock in tests). */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;

export class Router {
  private readonly bySessionId = new Map<string, SessionActor>();
  /** Each user's live sessions, oldest first. */
  private readonly byUser = new Map<string, Set<SessionActor>>();
  /** Live group actors, created from the store the first time a group is addressed. */
  private readonly groups = new Map<string, GroupActor>();
  private services: Services | undefined;

  /** `clock` replaces real timers (keep-alive) in tests. */
  constructor(
    private readonly log: Logger,
    private readonly maxSessionsPerUser: number,
    private readonly clock?: Clock,
  ) {}

  /** The services group actors are started with (set once, at composition). */
  attach(services: Services): void {
    this.services = services;
  }

  /** The actor of an existing group (started on first use); undefined when there is no such group. */
  group(groupId: string): GroupActor | undefined {
    let actor = this.groups.get(groupId);
    if (actor) return actor;
    const services = this.services!;
    if (!services.groups.get(groupId)) return undefined;
    actor = createActor(groupMachine, { input: { services, groupId } });
    actor.subscribe({ error: (err) => (this.log.error({ err, group: groupId }, 'group actor failed'), this.groups.delete(groupId)) });
    actor.start();
    this.groups.set(groupId, actor);
    return actor;
  }

  groupDeleted(groupId: string): void {
    this.groups.get(groupId)?.stop();
    this.groups.delete(groupId);
  }

  /** Create and start a session actor for a login; the caller sends it LOGIN. */
  startSession(input: SessionInput): SessionActor {
    const actor = createActor(sessionMachine, this.clock ? { input, clock: this.clock } : { input });
    actor.subscribe({
      error: (err) => {
        // A bug in a session must not take the server down: log it and forget the session.
        this.log.error({ err }, 'session actor failed');
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

  /** Hand a transient server-originated request to every live session of a user. */
  deliverToUser(userId: string, item: OutboxItem): number {
    const sessions = this.sessionsOf(userId);
    for (const s of sessions) s.send({ type: 'ENQUEUE', item });
    this.wake(userId);
    return sessions.length;
  }

  /** Something waits for a user: each of their sessions' wakers decides whether to wake the phone. */
  wake(userId: string): void {
    for (const s of this.byUser.get(userId) ?? []) s.send({ type: 'WAKE' });
  }

  /** Whether anything waits for a session (false when it is gone). */
  hasQueued(sessionId: string): boolean {
    const actor = this.bySessionId.get(sessionId);
    return actor ? hasQueued(actor.getSnapshot()) : false;
  }

  /** What the CIR transports ask of the live sessions. */
  cirHooks(): CirHooks {
    return {
      session: (sessionId) => {
        const snapshot = this.session(sessionId)?.getSnapshot();
        return snapshot && isActive(snapshot) ? snapshot.context : undefined;
      },
      queued: (sessionId) => this.hasQueued(sessionId),
      failed: (sessionId, attempt) => this.session(sessionId)?.send({ type: 'CIR_FAILED', attempt }),
      stcpChanged: (sessionId, bound) => this.log.debug({ bound }, 'STCP connection of a session changed'),
    };
  }

  /**
   * A session became active. The same client logging in again replaces its old session, and a
   * user with too many phones loses the oldest session.
   */
  sessionStarted(actor: SessionActor): void {
    const { sessionId, user, clientKey } = actor.getSnapshot().context;
    const others = this.sessionsOf(user.id);
    this.bySessionId.set(sessionId, actor);
    let set = this.byUser.get(user.id);
    if (!set) this.byUser.set(user.id, (set = new Set()));
    set.add(actor);
    for (const old of others.filter((s) => s.getSnapshot().context.clientKey === clientKey)) {
      old.send({ type: 'END', reason: 'replaced by a new login of the same client' });
    }
    const live = this.sessionsOf(user.id);
    for (const old of live.slice(0, Math.max(0, live.length - this.maxSessionsPerUser))) {
      old.send({ type: 'END', reason: 'too many sessions for this user' });
    }
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
  }

  /** End every session (shutdown). */
  endAll(reason: string): void {
    for (const s of [...this.bySessionId.values()]) s.send({ type: 'END', reason });
  }
}
