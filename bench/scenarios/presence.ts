// Presence fan-out: one user with W watchers (default 500) changes StatusText; how long until
// every watcher has polled the PresenceNotification-Request carrying the new value.
import { performance } from 'node:perf_hooks';
import { Phone, resultCode } from '../../test/support/phone.ts';
import { child, childrenNamed, el, leaf, textOf, type CspElement } from '../../src/csp/tree.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, latencySummary, loggedInPhones, round, sleep } from '../lib.ts';

const ROUNDS = 5;

function statusTextOf(primitive: CspElement): string | undefined {
  for (const presence of childrenNamed(primitive, 'Presence')) {
    const text = child(child(presence, 'PresenceSubList'), 'StatusText');
    if (text) return textOf(text, 'PresenceValue');
  }
  return undefined;
}

export async function presence(options: BenchOptions): Promise<ScenarioResult> {
  const w = options.watchers;
  // "auto": subscribing is enough to see presence; the scenario measures fan-out, not authorisation.
  const server = await benchServer(options, { presence: { authorization: 'auto' } });
  try {
    const [owner] = await loggedInPhones(server, 1, 'star');
    const watchers = await loggedInPhones(server, w, 'fan');
    const subscribe = (p: Phone) =>
      p.request(
        el('SubscribePresence-Request', [
          ...(p.version === '1.3' ? [el('UserIDList', [leaf('UserID', 'star0')])] : [el('User', [leaf('UserID', 'star0')])]),
          el('PresenceSubList', [el('StatusText')], { xmlns: NAMESPACES[p.version].pa }),
          p.version === '1.1' ? undefined : leaf('AutoSubscribe', false),
        ]),
      );
    const codes = await Promise.all(watchers.map(async (p) => resultCode((await subscribe(p)).primitive)));
    if (codes.some((c) => c !== 200)) throw new Error(`${codes.filter((c) => c !== 200).length} subscriptions failed`);
    await Promise.all(watchers.map((p) => p.drain())); // the initial notifications

    const allLatencies: number[] = [];
    const untilAll: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const text = `round ${round} at ${Date.now()}`;
      const seen = new Map<Phone, number>();
      let t0 = Number.POSITIVE_INFINITY;
      let stop = false;
      const pollers = watchers.map(async (p) => {
        while (!stop && !seen.has(p)) {
          const got = await p.drain();
          if (got.some((g) => g.name === 'PresenceNotification-Request' && statusTextOf(g) === text)) seen.set(p, performance.now());
          else await sleep(options.idlePollMs);
        }
      });
      await sleep(50);
      t0 = performance.now();
      const update = await owner!.request(
        el('UpdatePresence-Request', [el('PresenceSubList', [el('StatusText', [leaf('Qualifier', true), leaf('PresenceValue', text)])], { xmlns: NAMESPACES[owner!.version].pa })]),
      );
      if (resultCode(update.primitive) !== 200) throw new Error('UpdatePresence failed');
      const deadline = setTimeout(() => (stop = true), 120_000);
      await Promise.all(pollers);
      clearTimeout(deadline);
      if (seen.size !== w) throw new Error(`only ${seen.size} of ${w} watchers saw round ${round}`);
      const latencies = [...seen.values()].map((t) => t - t0);
      allLatencies.push(...latencies);
      untilAll.push(Math.max(...latencies));
    }
    allLatencies.sort((a, b) => a - b);
    untilAll.sort((a, b) => a - b);
    const data = {
      watchers: w,
      rounds: ROUNDS,
      idlePollMs: options.idlePollMs,
      perWatcherLatencyMs: latencySummary(allLatencies),
      untilAllWatchersMs: { median: round(untilAll[Math.floor(untilAll.length / 2)]!), max: round(untilAll.at(-1)!) },
    };
    return {
      data,
      lines: [
        `presence fan-out: one user with ${w} watchers changes StatusText (${ROUNDS} rounds)`,
        `  until every watcher polled it:  median ${data.untilAllWatchersMs.median} ms, worst ${data.untilAllWatchersMs.max} ms  (idle phones poll every ${options.idlePollMs} ms)`,
        `  per watcher:                    p50 ${data.perWatcherLatencyMs.p50} ms, p99 ${data.perWatcherLatencyMs.p99} ms`,
      ],
    };
  } finally {
    await server.stop();
    await server.dispose();
  }
}
