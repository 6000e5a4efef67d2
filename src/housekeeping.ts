// Periodic chores: purge expired messages (telling senders who asked for delivery reports)
// and expired notices. Runs every messages.sweepInterval seconds.
import type { Services } from './services.ts';
import { reportOutcome } from './features/delivery.ts';

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
  if (messages || notices) services.log.info({ messages, notices }, 'expired items purged');
  return { messages, notices };
}

export function startHousekeeping(services: Services): { stop(): void } {
  const timer = setInterval(() => {
    try {
      sweepExpired(services);
    } catch (err) {
      services.log.error({ err }, 'housekeeping failed');
    }
  }, services.config.messages.sweepInterval * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
