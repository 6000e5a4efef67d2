// XMPP federation throughput: IMPS phones send to XMPP users on a real Prosody through
// Village's s2s link, and — the yardstick, in the same run — Prosody users send to each other
// on that same Prosody. Each pair sends its messages one after another (a phone waits for its
// SendMessage answer; an XMPP client just writes), every message carries its send time, and
// the XMPP recipient notes its arrival.
import { performance } from 'node:perf_hooks';
import { Phone, resultCode } from '../../test/support/phone.ts';
import { Prosody, freePorts } from '../../test/support/prosody.ts';
import { testPki } from '../../test/support/pki.ts';
import { connectXmppUser, bodyOf, bareOf, type XmppUser } from '../../test/support/xmpp-client.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, latencySummary, round } from '../lib.ts';

const PAIRS = 10;

/** Wait for `count` messages from `from` and return each one's latency (ms) from the time in its body. */
async function collect(user: XmppUser, from: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const stanza = await user.waitFor((s) => s.name === 'message' && bareOf(s.attrs['from'] ?? '') === from && bodyOf(s) !== undefined, 60_000, `message ${i + 1} of ${count} from ${from}`);
    latencies.push(performance.now() - Number(bodyOf(stanza)!.split(' ')[0]));
  }
  return latencies;
}

function summary(latencies: number[], seconds: number) {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { messagesPerSecond: round(latencies.length / seconds), latencyMs: latencySummary(sorted) };
}

export async function xmpp(options: BenchOptions): Promise<ScenarioResult> {
  const perPair = Math.max(1, options.xmppMessages);
  const [villageS2s] = await freePorts(1);
  const pki = testPki();
  const users = Array.from({ length: PAIRS }, (_, i) => [
    { name: `bob${i}`, password: 'pw' },
    { name: `carol${i}`, password: 'pw' },
  ]).flat();
  // STARTTLS required with valid certificates both ways (SASL EXTERNAL): how servers federate today.
  const prosody = await Prosody.start({ mode: 'secure', villageS2sPort: villageS2s!, pki, users });
  const server = await benchServer(options, {
    domains: ['imps.test'],
    xmpp: { host: '127.0.0.1', port: villageS2s, routes: { 'xmpp.test': `127.0.0.1:${prosody.s2sPort}` }, tls: { cert: pki.imps.cert, key: pki.imps.key, ca: pki.ca.cert } },
  });
  const clients: XmppUser[] = [];
  try {
    const connect = (name: string) => connectXmppUser({ port: prosody.c2sPort, domain: 'xmpp.test', username: name, password: 'pw', timeoutMs: 15_000 });
    const bobs = await Promise.all(Array.from({ length: PAIRS }, (_, i) => connect(`bob${i}`)));
    const carols = await Promise.all(Array.from({ length: PAIRS }, (_, i) => connect(`carol${i}`)));
    clients.push(...bobs, ...carols);
    const phones = Array.from({ length: PAIRS }, () => new Phone(server, { version: '1.2', strict: false }));
    for (const [i, p] of phones.entries()) if (resultCode(await p.loginPassword(`alice${i}`, 'pw', 1800)) !== 200) throw new Error('login failed');

    // Warm-up: the first message brings the s2s links up (both directions' handshakes).
    await phones[0]!.sendText('wv:bob0@xmpp.test', `${performance.now()} warm-up`);
    await collect(bobs[0]!, 'alice0@imps.test', 1);

    // IMPS phone → Village → s2s → Prosody → XMPP client.
    let t0 = performance.now();
    const fromPhones = await Promise.all(
      phones.map(async (phone, i) => {
        const arrivals = collect(bobs[i]!, `alice${i}@imps.test`, perPair);
        for (let n = 0; n < perPair; n++) {
          const answer = await phone.sendText(`wv:bob${i}@xmpp.test`, `${performance.now()} message ${n}`);
          if (resultCode(answer) !== 200) throw new Error(`SendMessage answered ${resultCode(answer)}`);
        }
        return arrivals;
      }),
    );
    const federated = summary(fromPhones.flat(), (performance.now() - t0) / 1000);

    // Yardstick: XMPP client → Prosody → XMPP client, on the same Prosody.
    t0 = performance.now();
    const local = await Promise.all(
      carols.map(async (carol, i) => {
        const arrivals = collect(bobs[i]!, `carol${i}@xmpp.test`, perPair);
        for (let n = 0; n < perPair; n++) carol.sendMessage(`bob${i}@xmpp.test`, `${performance.now()} message ${n}`);
        return arrivals;
      }),
    );
    const yardstick = summary(local.flat(), (performance.now() - t0) / 1000);

    const data = { pairs: PAIRS, messagesPerPair: perPair, impsToXmpp: federated, prosodyToProsody: yardstick };
    return {
      data,
      lines: [
        `XMPP federation: ${PAIRS} pairs × ${perPair} messages, Prosody 'secure' mode (STARTTLS + SASL EXTERNAL)`,
        `  IMPS phone → Village → s2s → Prosody → XMPP client: ${federated.messagesPerSecond} msg/s, latency p50 ${federated.latencyMs.p50} ms, p99 ${federated.latencyMs.p99} ms`,
        `  XMPP client → Prosody → XMPP client (yardstick):     ${yardstick.messagesPerSecond} msg/s, latency p50 ${yardstick.latencyMs.p50} ms, p99 ${yardstick.latencyMs.p99} ms`,
      ],
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await server.stop();
    await server.dispose();
    await prosody.dispose();
  }
}
