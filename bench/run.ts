// `npm run bench [-- --clients N --messages M]`: simulated phones against the real server
// process over real HTTP. Measures logins/s, end-to-end messages/s (send → the recipient's
// poll), p50/p99 latency, and server memory per session. A benchmark, not a test: it asserts
// nothing about speed, it reports.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setGlobalDispatcher, Agent } from 'undici';
import { TestServer } from '../test/support/server.ts';
import { Phone, resultCode } from '../test/support/phone.ts';
import { child, textOf, type CspElement } from '../src/csp/tree.ts';
import type { CspVersion } from '../src/csp/versions.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    messages: { type: 'string', default: '20' },
    'idle-poll-ms': { type: 'string', default: '200' },
    'paced-rate': { type: 'string', default: '100' },
    'paced-seconds': { type: 'string', default: '10' },
    /** Directory for a V8 CPU profile of the server (open it in Chrome DevTools). */
    profile: { type: 'string' },
  },
});
const CLIENTS = Number(values.clients);
const MESSAGES_PER_CLIENT = Number(values.messages);
const IDLE_POLL_MS = Number(values['idle-poll-ms']);
const PACED_RATE = Number(values['paced-rate']);
const PACED_SECONDS = Number(values['paced-seconds']);

interface MessagingResult {
  sent: number;
  received: number;
  sendFailures: number;
  seconds: number;
  /** Sorted send → receipt latencies in ms. */
  latencies: number[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every phone sends `perPhone` texts (back to back, or spread to `rate` msg/s overall) while all phones poll. */
async function exchangeMessages(phones: Phone[], perPhone: number, rate: number | undefined): Promise<MessagingResult> {
  const n = phones.length;
  const total = n * perPhone;
  const latencies: number[] = [];
  let received = 0;
  let sendFailures = 0;
  let done = false;
  const t0 = performance.now();
  const take = (primitive: CspElement) => {
    latencies.push(performance.now() - Number(child(primitive, 'ContentData')!.text!.split(' ')[0]));
    received++;
  };
  const poller = async (p: Phone) => {
    while (!done) {
      const { transactions, poll } = await p.poll();
      let pending = transactions.filter((t) => t.primitive.name === 'NewMessage');
      while (pending.length) {
        const next: typeof pending = [];
        for (const t of pending) {
          take(t.primitive);
          // Follow messages piggy-backed on the acknowledgement's answer, as handsets do.
          const ack = await p.acknowledge(t.id, textOf(child(t.primitive, 'MessageInfo'), 'MessageID')!);
          for (const x of ack.message?.transactions ?? []) if (x.mode === 'Request' && x.primitive?.name === 'NewMessage') next.push({ id: x.id!, primitive: x.primitive });
        }
        pending = next;
      }
      if (received >= total) done = true;
      if (!poll && transactions.length === 0) await sleep(IDLE_POLL_MS);
    }
  };
  const sender = async (p: Phone, i: number) => {
    // Spread phones' first sends over one interval so a paced run is steady, not bursty.
    const interval = rate ? (n / rate) * 1000 : 0;
    if (interval) await sleep((i / n) * interval);
    for (let m = 0; m < perPhone; m++) {
      const started = performance.now();
      const to = `bench${(i + 1 + ((m * 7) % (n - 1))) % n}`;
      const answer = await p.sendText(to, `${performance.now()} from bench${i}`);
      if (resultCode(answer) !== 200) sendFailures++;
      if (interval) await sleep(Math.max(0, interval - (performance.now() - started)));
    }
  };
  const timeout = setTimeout(() => (done = true), 300_000);
  await Promise.all([...phones.map(poller), ...phones.map(sender)]);
  clearTimeout(timeout);
  return { sent: total, received, sendFailures, seconds: (performance.now() - t0) / 1000, latencies: latencies.sort((a, b) => a - b) };
}

// One keep-alive connection per phone, as handsets do.
setGlobalDispatcher(new Agent({ connections: CLIENTS + 8, pipelining: 1 }));

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main() {
  const server = await TestServer.start({ keepLogs: false, nodeArgs: values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [], config: { loginLimits: { maxFailuresPerAddress: 1_000_000 } } });
  const pid = server.pid!;
  try {
    const versions: CspVersion[] = ['1.1', '1.2', '1.3'];
    const phones = Array.from({ length: CLIENTS }, (_, i) => new Phone(server, { version: versions[i % 3]!, strict: false }));
    // Accounts exist before the measured logins (auto-registration on first login).
    await Promise.all(phones.map((p, i) => p.loginPassword(`bench${i}`, 'pw')));
    await Promise.all(phones.map((p) => p.logout()));
    await new Promise((r) => setTimeout(r, 500));
    const rssBefore = rssKiB(pid);

    // Phase 1: everyone logs in at once; even phones with a password, odd ones with MD5 digest.
    let t0 = performance.now();
    const loginResults = await Promise.all(
      phones.map(async (p, i) => {
        if (i % 2 === 0) return resultCode(await p.loginPassword(`bench${i}`, 'pw', 1800));
        return resultCode((await p.loginDigest(`bench${i}`, 'pw', ['MD5'], 1800)).response);
      }),
    );
    const loginSeconds = (performance.now() - t0) / 1000;
    if (loginResults.some((c) => c !== 200)) throw new Error(`logins failed: ${loginResults.filter((c) => c !== 200).length}`);
    await Promise.all(phones.map((p) => p.negotiateCapabilities()));
    await new Promise((r) => setTimeout(r, 500));
    const rssSessions = rssKiB(pid);

    // Phase 2 (throughput): each phone sends MESSAGES_PER_CLIENT texts back to back while every
    // phone polls. Phase 3 (latency): the same at a steady PACED_RATE messages/s overall, so
    // latency is the server's and the polling's, not a queue of our own making.
    const throughput = await exchangeMessages(phones, MESSAGES_PER_CLIENT, undefined);
    const paced = await exchangeMessages(phones, Math.max(1, Math.round((PACED_RATE * PACED_SECONDS) / CLIENTS)), PACED_RATE);
    const rssAfter = rssKiB(pid);
    const received = throughput.received;
    const total = throughput.sent;
    const sendFailures = throughput.sendFailures + paced.sendFailures;
    const messageSeconds = throughput.seconds;
    const latencies = throughput.latencies;

    const report = {
      clients: CLIENTS,
      logins: { count: CLIENTS, seconds: +loginSeconds.toFixed(3), perSecond: +(CLIENTS / loginSeconds).toFixed(1) },
      messages: {
        sent: total,
        delivered: received,
        sendFailures,
        seconds: +messageSeconds.toFixed(3),
        perSecondEndToEnd: +(received / messageSeconds).toFixed(1),
        latencyMs: { p50: +percentile(latencies, 50).toFixed(1), p99: +percentile(latencies, 99).toFixed(1), max: +(latencies.at(-1) ?? NaN).toFixed(1) },
        idlePollMs: IDLE_POLL_MS,
      },
      pacedMessages: {
        ratePerSecond: PACED_RATE,
        sent: paced.sent,
        delivered: paced.received,
        latencyMs: { p50: +percentile(paced.latencies, 50).toFixed(1), p99: +percentile(paced.latencies, 99).toFixed(1), max: +(paced.latencies.at(-1) ?? NaN).toFixed(1) },
      },
      memory: {
        rssBeforeLoginsMiB: +(rssBefore / 1024).toFixed(1),
        rssWithSessionsMiB: +(rssSessions / 1024).toFixed(1),
        rssAfterMessagingMiB: +(rssAfter / 1024).toFixed(1),
        perSessionKiB: +((rssSessions - rssBefore) / CLIENTS).toFixed(1),
      },
    };
    process.stdout.write(
      [
        `Village benchmark: ${CLIENTS} simulated phones (CSP 1.1/1.2/1.3 mixed, half digest logins), XML over HTTP`,
        `  logins:    ${report.logins.perSecond} /s  (${CLIENTS} in ${report.logins.seconds} s)`,
        `  messages:  ${report.messages.perSecondEndToEnd} /s end-to-end  (${received}/${total} delivered in ${report.messages.seconds} s, ${sendFailures} send failures)`,
        `  latency at full load:      p50 ${report.messages.latencyMs.p50} ms, p99 ${report.messages.latencyMs.p99} ms, max ${report.messages.latencyMs.max} ms  (send → recipient's poll)`,
        `  latency at ${PACED_RATE} msg/s:  p50 ${report.pacedMessages.latencyMs.p50} ms, p99 ${report.pacedMessages.latencyMs.p99} ms, max ${report.pacedMessages.latencyMs.max} ms  (${paced.received}/${paced.sent} delivered; idle phones poll every ${IDLE_POLL_MS} ms)`,
        `  memory:    ${report.memory.perSessionKiB} KiB RSS per session  (${report.memory.rssBeforeLoginsMiB} → ${report.memory.rssWithSessionsMiB} MiB; ${report.memory.rssAfterMessagingMiB} MiB after messaging)`,
        JSON.stringify(report),
        '',
      ].join('\n'),
    );
  } finally {
    await server.stop();
    await server.dispose();
  }
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
