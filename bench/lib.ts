// Shared pieces of the benchmark scenarios: servers, simulated phones, statistics.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'undici';
import { TestServer } from '../test/support/server.ts';
import { Phone, resultCode } from '../test/support/phone.ts';
import { child, textOf, type CspElement } from '../src/csp/tree.ts';
import type { CspVersion } from '../src/csp/versions.ts';

export interface BenchOptions {
  clients: number;
  messages: number;
  idlePollMs: number;
  pacedRate: number;
  pacedSeconds: number;
  recipients: number;
  backlog: number;
  /** Watchers of one user in the presence scenario. */
  watchers: number;
  /** Joined users of the group in the group scenario. */
  groupSize: number;
  /** Idle STCP CIR connections (one per logged-in phone) in the stcp scenario. */
  stcpSockets: number;
  /** Messages per pair in the xmpp scenario. */
  xmppMessages: number;
  /** Directory for a V8 CPU profile of the server. */
  profile?: string;
}

export interface ScenarioResult {
  /** Human-readable lines. */
  lines: string[];
  /** The same figures as data. */
  data: Record<string, unknown>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const round = (n: number, digits = 1) => +n.toFixed(digits);

/** A fresh server for one scenario (its own data directory), logging at info as in production. */
export function benchServer(options: BenchOptions, config: Record<string, unknown> = {}, nodeArgs: string[] = []): Promise<TestServer> {
  return TestServer.start({
    keepLogs: false,
    nodeArgs: [...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${options.profile}`] : []), ...nodeArgs],
    // All simulated phones come from 127.0.0.1: lift the per-address bounds a real server keeps.
    // Logging at info, as in production (the test default is debug, which costs real time here).
    config: { loginLimits: { maxFailuresPerAddress: 1_000_000 }, http: { maxConnectionsPerAddress: 100_000 }, log: { level: 'info' }, ...config },
  });
}

/** Node arguments that let the benchmark reach the server's inspector (loopback, a free port): see serverMemory(). */
export const INSPECTABLE = ['--inspect=127.0.0.1:0'];

/** One inspector-protocol call to a server started with INSPECTABLE; resolves with its result. */
async function inspect(server: TestServer, method: string, params: Record<string, unknown> = {}): Promise<unknown> {
  const url = server.logs.join('\n').match(/ws:\/\/127\.0\.0\.1:\d+\/[\w-]+/)?.[0];
  if (!url) throw new Error('the server was not started with INSPECTABLE (no "Debugger listening on ws://…" line)');
  const ws = new WebSocket(url);
  try {
    return await new Promise((resolve, reject) => {
      ws.onopen = () => ws.send(JSON.stringify({ id: 1, method, params }));
      ws.onmessage = (event) => {
        const answer = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
        if (answer.id !== 1) return;
        if (answer.error) reject(new Error(`${method}: ${answer.error.message}`));
        else resolve(answer.result);
      };
      ws.onerror = () => reject(new Error(`inspector ${url} failed`));
    });
  } finally {
    ws.close();
  }
}

/**
 * The server's process.memoryUsage() (KiB) after a full garbage collection. Unlike RSS, which
 * V8 and malloc give back to the system only lazily, heapUsed and external after a GC are
 * what is live, so a difference between two steps is what the second step keeps.
 */
export async function serverMemory(server: TestServer): Promise<{ rss: number; heapUsed: number; external: number }> {
  await inspect(server, 'HeapProfiler.collectGarbage');
  const { result } = (await inspect(server, 'Runtime.evaluate', { expression: 'JSON.stringify(process.memoryUsage())', returnByValue: true })) as { result: { value: string } };
  const usage = JSON.parse(result.value) as { rss: number; heapUsed: number; external: number };
  return { rss: usage.rss / 1024, heapUsed: usage.heapUsed / 1024, external: usage.external / 1024 };
}

export function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function latencySummary(sorted: number[]): { p50: number; p99: number; max: number } {
  return { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? NaN) };
}

/** `fn` over `items` with at most `concurrency` calls in flight; results in the items' order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export const VERSIONS: CspVersion[] = ['1.1', '1.2', '1.3'];

/** `n` phones of mixed CSP versions, logged in (accounts auto-registered). */
export async function loggedInPhones(server: { url: string }, n: number, prefix: string): Promise<Phone[]> {
  const phones = Array.from({ length: n }, (_, i) => new Phone(server, { version: VERSIONS[i % 3]!, strict: false }));
  const codes = await Promise.all(phones.map((p, i) => p.loginPassword(`${prefix}${i}`, 'pw', 1800).then(resultCode)));
  if (codes.some((c) => c !== 200)) throw new Error(`${codes.filter((c) => c !== 200).length} logins failed`);
  return phones;
}

/** Text carrying its send time, so the receiver can measure latency. */
export const stamped = (text: string) => `${performance.now()} ${text}`;
export const latencyOf = (primitive: CspElement) => performance.now() - Number(child(primitive, 'ContentData')!.text!.split(' ')[0]);
export const messageIdOf = (primitive: CspElement) => textOf(child(primitive, 'MessageInfo'), 'MessageID')!;

/**
 * Poll like a handset until `stop()` says so: acknowledge each NewMessage and follow the
 * messages piggy-backed on the acknowledgement's answer; sleep idlePollMs when nothing waits.
 */
export async function pollLoop(p: Phone, idlePollMs: number, onMessage: (primitive: CspElement) => void, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const { transactions, poll } = await p.poll();
    let pending = transactions.filter((t) => t.primitive.name === 'NewMessage');
    while (pending.length) {
      const next: typeof pending = [];
      for (const t of pending) {
        onMessage(t.primitive);
        const ack = await p.acknowledge(t.id, messageIdOf(t.primitive));
        for (const x of ack.message?.transactions ?? []) if (x.mode === 'Request' && x.primitive?.name === 'NewMessage') next.push({ id: x.id!, primitive: x.primitive });
      }
      pending = next;
    }
    if (!poll && transactions.length === 0) await sleep(idlePollMs);
  }
}
