// One group (chat room), as an XState v5 machine: it holds who is joined under which screen
// name and decides joins, leaves, and who a group message reaches. What it decides is written
// to the store at once (a restart restores the group, its members and who was joined); the
// notices it owes people (GroupChangeNotice, LeaveGroup-Response) go to their sessions'
// outboxes through the router.
//
//   active ──DeleteGroup──▶ deleted (final: everyone joined is told, the actor stops)
//      └─ JOIN / LEAVE / MESSAGE / PROPERTIES_CHANGED / SUBSCRIBE, each answered at once
import { setup, enqueueActions, type ActorRefFrom } from 'xstate';
import type { Services } from '../src/services.ts';
import type { JoinedUser } from '../src/store/groups.ts';
import { groupChangeNotice, leaveGroupNotice, type GroupView } from '../src/features/group-notices.ts';

export interface JoinRequest {
  userId: string;
  screenName: string;
  subscribeNotice: boolean;
}

export type JoinOutcome = { code: 200; joined: JoinedUser[] } | { code: number; description: string };
export type MessageOutcome = { code: 200; recipients: JoinedUser[]; senderScreenName: string } | { code: number; description: string };

type Reply<T> = (answer: T) => void;

export type GroupEvent =
  | { type: 'JOIN'; request: JoinRequest; reply: Reply<JoinOutcome> }
  /** reason: 'left' (LeaveGroup-Request), 'logout', or a removal the user is told about with `code`. */
  | { type: 'LEAVE'; userId: string; notify?: { code: number; description: string }; reply?: Reply<boolean> }
  /** A group message (to everyone joined) or a private one (to the user behind `toScreenName`). */
  | { type: 'MESSAGE'; from: string; toScreenName?: string; reply: Reply<MessageOutcome> }
  | { type: 'PROPERTIES_CHANGED'; changed: string[] }
  | { type: 'SUBSCRIBE'; userId: string; on: boolean | undefined; reply: Reply<boolean | undefined> }
  /** `by`: who deleted it (they are not told about their own doing). */
  | { type: 'DELETE'; by: string; reply: Reply<void> };

export interface GroupContext {
  services: Services;
  groupId: string;
  /** Who is joined now, in joining order. */
  joined: JoinedUser[];
  /**
   * Users joined before the server last stopped who have not sent JoinGroup since. Their
   * phones lost the session in the restart and may well join again: that is a rejoin (200),
   * not 807. Those who do not come back within groups.rejoinGrace are let go (LEAVE).
   */
  carriedOver: string[];
}

export interface GroupInput {
  services: Services;
  groupId: string;
}

// Screen names compare without regard to case ("Ann" and "ann" clash) but with accents. One
// collator for all: localeCompare with options builds a new one per call, which made joining
// a group of a thousand cost seconds.
const screenNameCollator = new Intl.Collator(undefined, { sensitivity: 'accent' });
const sameName = (a: string, b: string) => screenNameCollator.compare(a, b) === 0;

function restoredJoined(input: GroupInput): Pick<GroupContext, 'joined' | 'carriedOver'> {
  const joined = input.services.groups.joined(input.groupId);
  return { joined, carriedOver: joined.map((j) => j.userId) };
}

function view(context: GroupContext): GroupView {
  return { services: context.services, groupId: context.groupId };
}

export const groupMachine = setup({
  types: {
    context: {} as GroupContext,
    events: {} as GroupEvent,
    input: {} as GroupInput,
  },
  actions: {
    join: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'JOIN') return;
      const { services, groupId } = context;
      const { request, reply } = event;
      const group = services.groups.get(groupId);
      const answer = (outcome: JoinOutcome) => enqueue(() => reply(outcome));
      if (!group) return answer({ code: 800, description: 'Group does not exist' });
      const rejoining = context.carriedOver.includes(request.userId);
      if (!rejoining && context.joined.some((j) => j.userId === request.userId)) return answer({ code: 807, description: 'You have already joined this group' });
      // A rejoin after a restart is judged like a first join, without the user's own old entry.
      const others = context.joined.filter((j) => j.userId !== request.userId);
      if (services.groups.isRejected(groupId, request.userId)) return answer({ code: 809, description: 'You are on this group\'s reject list' });
      const privilege = services.groups.privilegeOf(groupId, request.userId);
      if ((group.properties['AccessType'] ?? 'Open').toLowerCase() === 'restricted' && !privilege) {
        return answer({ code: 431, description: 'This group is restricted to its members' });
      }
      const max = Number(group.properties['MaxActiveUsers'] ?? services.config.groups.maxActiveUsers);
      if (others.length >= max) return answer({ code: 817, description: `At most ${max} users may be joined` });
      if (others.some((j) => sameName(j.screenName, request.screenName))) return answer({ code: 811, description: `The screen name ${request.screenName} is in use` });
      const user: JoinedUser = { userId: request.userId, screenName: request.screenName, subscribeNotice: request.subscribeNotice };
      const before = context.joined.find((j) => j.userId === request.userId);
      if (before) services.groups.leave(groupId, request.userId);
      services.groups.join(groupId, user, services.now());
      const joined = [...others, user];
      enqueue.assign({ joined, carriedOver: context.carriedOver.filter((u) => u !== request.userId) });
      // The others saw a carried-over user joined all along; they hear of it only when the screen name changed.
      if (!before || before.screenName !== user.screenName) {
        enqueue(() => groupChangeNotice(view(context), others, before ? { left: [before], joined: [user] } : { joined: [user] }));
      }
      answer({ code: 200, joined });
    }),

    leave: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'LEAVE') return;
      const { services, groupId } = context;
      const leaving = context.joined.find((j) => j.userId === event.userId);
      if (!leaving) {
        if (event.reply) enqueue(() => event.reply!(false));
        return;
      }
      services.groups.leave(groupId, event.userId);
      const joined = context.joined.filter((j) => j.userId !== event.userId);
      enqueue.assign({ joined, carriedOver: context.carriedOver.filter((u) => u !== event.userId) });
      // Someone removed (kicked, rejected, group closing) is told with a LeaveGroup-Response.
      if (event.notify) enqueue(() => leaveGroupNotice(view(context), event.userId, event.notify!.code, event.notify!.description, leaving.screenName));
      enqueue(() => groupChangeNotice(view(context), joined, { left: [leaving] }));
      if (event.reply) enqueue(() => event.reply!(true));
    }),

    route: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'MESSAGE') return;
      const { services, groupId } = context;
      const answer = (outcome: MessageOutcome) => enqueue(() => event.reply(outcome));
      const group = services.groups.get(groupId);
      if (!group) return answer({ code: 800, description: 'Group does not exist' });
      const sender = context.joined.find((j) => j.userId === event.from);
      if (!sender) return answer({ code: 808, description: 'Join the group before you send to it' });
      if (event.toScreenName === undefined) {
        return answer({ code: 200, recipients: context.joined.filter((j) => j.userId !== event.from), senderScreenName: sender.screenName });
      }
      if ((group.properties['PrivateMessaging'] ?? 'T').toUpperCase() !== 'T') return answer({ code: 812, description: 'Private messages are off in this group' });
      const target = context.joined.find((j) => sameName(j.screenName, event.toScreenName!));
      if (!target) return answer({ code: 531, description: `Nobody in the group is called ${event.toScreenName}` });
      answer({ code: 200, recipients: [target], senderScreenName: sender.screenName });
    }),

    propertiesChanged: ({ context, event }) => {
      if (event.type !== 'PROPERTIES_CHANGED') return;
      groupChangeNotice(view(context), context.joined, { properties: event.changed });
    },

    subscribe: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'SUBSCRIBE') return;
      const me = context.joined.find((j) => j.userId === event.userId);
      if (!me) return enqueue(() => event.reply(undefined));
      const on = event.on ?? me.subscribeNotice;
      if (event.on !== undefined) {
        context.services.groups.setNoticeSubscription(context.groupId, event.userId, on);
        enqueue.assign({ joined: context.joined.map((j) => (j.userId === event.userId ? { ...j, subscribeNotice: on } : j)) });
      }
      enqueue(() => event.reply(on));
    }),

    close: ({ context, event }) => {
      if (event.type !== 'DELETE') return;
      for (const j of context.joined) if (j.userId !== event.by) leaveGroupNotice(view(context), j.userId, 800, 'The group has been deleted', j.screenName);
      context.services.groups.delete(context.groupId);
      event.reply();
    },
  },
}).createMachine({
  id: 'group',
  context: ({ input }) => ({
    services: input.services,
    groupId: input.groupId,
    // Restored from the store: who was joined when the server last stopped is still joined.
    // Group actors live as long as the process, so everyone restored here is carried over.
    ...restoredJoined(input),
  }),
  initial: 'active',
  states: {
    active: {
      on: {
        JOIN: { actions: 'join' },
        LEAVE: { actions: 'leave' },
        MESSAGE: { actions: 'route' },
        PROPERTIES_CHANGED: { actions: 'propertiesChanged' },
        SUBSCRIBE: { actions: 'subscribe' },
        DELETE: { target: 'deleted', actions: 'close' },
      },
    },
    deleted: { type: 'final' },
  },
});

export type GroupActor = ActorRefFrom<typeof groupMachine>;

/** Who is joined now (for GetJoinedUsers and search). */
export function joinedUsers(actor: GroupActor): JoinedUser[] {
  return actor.getSnapshot().context.joined;
}

