// Issue 2's figures: N phones log in at once (half of them with 4-way digest), then exchange
// messages flat out (throughput) and at a steady rate (latency); memory per session.
import { performance } from 'node:perf_hooks';
import { Phone, resultCode } from '../../test/support/phone.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, latencyOf, latencySummary, loggedInPhones, pollLoop, round, rssKiB, sleep, stamped } from '../lib.ts';

interface MessagingResult {
  sent: number;
  received: number;
  sendFailures: number;
  seconds: number;
  latencies: number[];
}

/** Every phone sends `perPhone` texts (back to back, or spread to `rate` msg/s overall) while all phones poll. */
async function exchangeMessages(phones: Phone[], perPhone: number, rate: number | undefined, idlePollMs: number): Promise<MessagingResult> {
  const n = phones.length;
  const total = n * perPhone;
  const latencies: number[] = [];
  let sendFailures = 0;
  const t0 = performance.now();
  const timeout = performance.now() + 300_000;
  const stop = () => latencies.length >= total || performance.now() > timeout;
  const sender = async (p: Phone, i: number) => {
    // Spread first sends over one interval so a paced run is steady, not bursty.
    const interval = rate ? (n / rate) * 1000 : 0;
    if (interval) await sleep((i / n) * interval);
    for (let m = 0; m < perPhone; m++) {
      const started = performance.now();
      const to = `core${(i + 1 + ((m * 7) % (n - 1))) % n}`;
      if (resultCode(await p.sendText(to, stamped(`from core${i}`))) !== 200) sendFailures++;
      if (interval) await sleep(Math.max(0, interval - (performance.now() - started)));
    }
  };
  await Promise.all([...phones.map((p) => pollLoop(p, idlePollMs, (m) => latencies.push(latencyOf(m)), stop)), ...phones.map(sender)]);
  return { sent: total, received: latencies.length, sendFailures, seconds: (performance.now() - t0) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

export async function core(options: BenchOptions): Promise<ScenarioResult> {
  const server = await benchServer(options);
  try {
    const pid = server.pid!;
    const n = options.clients;
    const phones = await loggedInPhones(server, n, 'core'); // creates the accounts
    await Promise.all(phones.map((p) => p.logout()));
    await sleep(500);
    const rssBefore = rssKiB(pid);

    let t0 = performance.now();
    const codes = await Promise.all(
      phones.map(async (p, i) =>
        i % 2 === 0 ? resultCode(await p.loginPassword(`core${i}`, 'pw', 1800)) : resultCode((await p.loginDigest(`core${i}`, 'pw', ['MD5'], 1800)).response),
      ),
    );
    const loginSeconds = (performance.now() - t0) / 1000;
    if (codes.some((c) => c !== 200)) throw new Error(`logins failed: ${codes.filter((c) => c !== 200).length}`);
    await Promise.all(phones.map((p) => p.negotiateCapabilities()));
    await sleep(500);
    const rssSessions = rssKiB(pid);

    const flat = await exchangeMessages(phones, options.messages, undefined, options.idlePollMs);
    const paced = await exchangeMessages(phones, Math.max(1, Math.round((options.pacedRate * options.pacedSeconds) / n)), options.pacedRate, options.idlePollMs);
    t0 = performance.now();
    const data = {
      clients: n,
      loginsPerSecond: round(n / loginSeconds),
      messagesPerSecondEndToEnd: round(flat.received / flat.seconds),
      delivered: `${flat.received}/${flat.sent}`,
      sendFailures: flat.sendFailures + paced.sendFailures,
      latencyFullLoadMs: latencySummary(flat.latencies),
      latencyPacedMs: { ratePerSecond: options.pacedRate, ...latencySummary(paced.latencies), delivered: `${paced.received}/${paced.sent}` },
      idlePollMs: options.idlePollMs,
      rssPerSessionKiB: round((rssSessions - rssBefore) / n),
      rssMiB: { beforeLogins: round(rssBefore / 1024), withSessions: round(rssSessions / 1024), afterMessaging: round(rssKiB(pid) / 1024) },
    };
    return {
      data,
      lines: [
        `core: ${n} phones (CSP 1.1/1.2/1.3 mixed, half digest logins), XML over HTTP`,
        `  logins:                    ${data.loginsPerSecond} /s  (${n} at once in ${round(loginSeconds, 3)} s)`,
        `  messages:                  ${data.messagesPerSecondEndToEnd} /s end-to-end  (${data.delivered} delivered in ${round(flat.seconds, 2)} s, ${data.sendFailures} send failures)`,
        `  latency at full load:      p50 ${data.latencyFullLoadMs.p50} ms, p99 ${data.latencyFullLoadMs.p99} ms, max ${data.latencyFullLoadMs.max} ms  (send → recipient's poll)`,
        `  latency at ${options.pacedRate} msg/s:     p50 ${data.latencyPacedMs.p50} ms, p99 ${data.latencyPacedMs.p99} ms, max ${data.latencyPacedMs.max} ms  (idle phones poll every ${options.idlePollMs} ms)`,
        `  memory:                    ${data.rssPerSessionKiB} KiB RSS per session  (${data.rssMiB.beforeLogins} → ${data.rssMiB.withSessions} MiB; ${data.rssMiB.afterMessaging} MiB after messaging)`,
      ],
    };
  } finally {
    await server.stop();
    await server.dispose();
  }
}
