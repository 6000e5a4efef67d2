// Periodic chores: purge expired messages (telling senders who asked for delivery reports),
// expired notices and expired invitations. Runs every messages.sweepInterval seconds. Once,
// groups.rejoinGrace seconds after the start, users joined before a restart who did not log in
// again leave their groups.
import type { Services } from './services.ts';
import { reportOutcome } from './features/delivery.ts';
import { releaseAbsentJoinedUsers } from './features/groups.ts';
import { bounceExpired } from './features/xmpp-gateway.ts';

const BATCH = 1000;

export function sweepExpired(services: Services): { messages: number; notices: number } {
  const now = services.now();
  let messages = 0;
  for (;;) {
    const expired = services.messages.takeExpired(now, BATCH);
    for (const { recipient, message } of expired) reportOutcome(services, message, recipient, 'expired');
    messages += expired.length;
    if (expired.length < BATCH) break;
  }
  const notices = services.notices.purgeExpired(now);
  // Stanzas for an XMPP server that stayed unreachable: their IMPS senders are told (542).
  for (const item of services.xmpp?.takeExpired() ?? []) bounceExpired(services, item);
  services.content.purgeExpired(now);
  services.xmppReceipts.purgeExpired(now);
  // Invitations past their Validity: answering one gets 423 whether or not it is still stored.
  const invitations = services.invitations.purgeExpired(now);
  if (messages || notices || invitations) services.log.info({ messages, notices, invitations }, 'expired items purged');
  return { messages, notices };
}

/** A chore run from a timer: a failure is logged, never thrown into the event loop. */
function chore(services: Services, failed: string, run: () => void): () => void {
  return () => {
    try {
      run();
    } catch (err) {
      services.log.error({ err }, failed);
    }
  };
}

export function startHousekeeping(services: Services): { stop(): void } {
  const timer = setInterval(chore(services, 'housekeeping failed', () => sweepExpired(services)), services.config.messages.sweepInterval * 1000);
  timer.unref();
  const rejoinGrace = setTimeout(
    chore(services, 'releasing absent joined users failed', () => releaseAbsentJoinedUsers(services)),
    services.config.groups.rejoinGrace * 1000,
  );
  rejoinGrace.unref();
  return {
    stop: () => {
      clearInterval(timer);
      clearTimeout(rejoinGrace);
    },
  };
}
