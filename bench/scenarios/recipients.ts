// Many recipients: one sender addresses each message to R recipients (content stored once);
// measures the send (commit) time and how fast all R recipients have it.
import { performance } from 'node:perf_hooks';
import { resultCode } from '../../test/support/phone.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, latencyOf, latencySummary, loggedInPhones, pollLoop, round, stamped } from '../lib.ts';

export async function recipients(options: BenchOptions): Promise<ScenarioResult> {
  const server = await benchServer(options);
  try {
    const r = options.recipients;
    const rounds = 20;
    const [sender] = await loggedInPhones(server, 1, 'fanout-sender');
    const phones = await loggedInPhones(server, r, 'fanout');
    const to = phones.map((_, i) => `fanout${i}`);
    const latencies: number[] = [];
    const sendMs: number[] = [];
    const total = rounds * r;
    const t0 = performance.now();
    const pollers = phones.map((p) => pollLoop(p, options.idlePollMs, (m) => latencies.push(latencyOf(m)), () => latencies.length >= total || performance.now() - t0 > 300_000));
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      const code = resultCode(await sender!.sendText(to, stamped(`fan-out ${i}`)));
      sendMs.push(performance.now() - started);
      if (code !== 200) throw new Error(`send to ${r} recipients failed with ${code}`);
    }
    await Promise.all(pollers);
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    sendMs.sort((a, b) => a - b);
    const data = {
      recipientsPerMessage: r,
      messages: rounds,
      deliveries: `${latencies.length}/${total}`,
      deliveriesPerSecond: round(latencies.length / seconds),
      sendMs: latencySummary(sendMs),
      deliveryLatencyMs: latencySummary(latencies),
    };
    return {
      data,
      lines: [
        `many recipients: ${rounds} messages, each to ${r} recipients`,
        `  SendMessage answered in:   p50 ${data.sendMs.p50} ms, p99 ${data.sendMs.p99} ms  (content stored once, ${r} deliveries committed)`,
        `  deliveries:                ${data.deliveriesPerSecond} /s  (${data.deliveries} in ${round(seconds, 2)} s)`,
        `  delivery latency:          p50 ${data.deliveryLatencyMs.p50} ms, p99 ${data.deliveryLatencyMs.p99} ms  (idle phones poll every ${options.idlePollMs} ms)`,
      ],
    };
  } finally {
    await server.stop();
    await server.dispose();
  }
}
