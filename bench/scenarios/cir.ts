// STCP CIR at scale (reference imps-csp.md §5.1): N phones (default 10 000) log in, agree STCP,
// and each keeps one idle TCP connection bound with `HELO <SessionID>`. Figures: what an idle
// connection costs the server (RSS, V8 heap, kernel slab), how fast HELOs are answered, and how long a message takes
// to wake its recipient (SendMessage sent → `WVCI <ver> <cookie>` on the recipient's socket)
// while all N connections stay open.
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { Phone, resultCode } from '../../test/support/phone.ts';
import type { TestServer } from '../../test/support/server.ts';
import { leaf, type CspElement } from '../../src/csp/tree.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, INSPECTABLE, latencySummary, mapLimit, round, rssKiB, serverMemory, sleep, VERSIONS } from '../lib.ts';

/** HTTP requests in flight while logging in: enough to keep both cores busy, few enough not to queue. */
const LOGIN_CONCURRENCY = 32;
/** Connections being opened at once (connect, HELO, wait for OK). */
const OPEN_CONCURRENCY = 100;
/** A HELO not answered within this long fails the run. */
const OK_TIMEOUT_MS = 10_000;
/** Wake-up latency: this many messages, one at a time, at most WAKE_RATE a second, to distinct random recipients. */
const WAKE_MESSAGES = 200;
const WAKE_RATE = 20;
/** A wake-up not seen within this long counts as lost. */
const WAKE_TIMEOUT_MS = 5000;
/** File descriptors a process needs besides the STCP sockets (HTTP connections, database, stdio). */
const FD_OVERHEAD = 200;
const SETTLE_MS = 2000;

/** The soft limit on open files of a process (`ulimit -n`). */
function openFileLimit(pid: number | 'self'): number {
  const value = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))?.[1];
  return value === undefined || value === 'unlimited' ? Infinity : Number(value);
}

/** Local ports one client address can use towards one server port. */
function ephemeralPorts(): number {
  const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  return high! - low! + 1;
}

/** Why N sockets cannot be held here, or undefined when they can. */
function capacityProblem(n: number, serverPid: number): string | undefined {
  const needed = n + FD_OVERHEAD;
  const own = openFileLimit('self');
  const server = openFileLimit(serverPid);
  if (needed > Math.min(own, server))
    return `${n} STCP sockets need about ${needed} file descriptors in each process, but ulimit -n is ${own} here and ${server} for the server: raise it or lower --stcp-sockets`;
  if (n + FD_OVERHEAD > ephemeralPorts()) return `${n} connections from 127.0.0.1 exceed the ${ephemeralPorts()} local ports of net.ipv4.ip_local_port_range`;
  return undefined;
}

/** CPU time a process has used in user and kernel mode, in ms; /proc counts clock ticks of 10 ms. */
function cpuMs(pid: number): { user: number; system: number } {
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

/** Kernel slab memory of the whole machine (KiB): where socket structures live, outside any RSS. */
function slabKiB(): number {
  return Number(/^Slab:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))![1]);
}

interface Memory {
  /** Server RSS after the settle alone (garbage of the last step included). */
  settledRss: number;
  /** Server RSS, V8 heap + external after two full GCs (the first leaves pages V8 returns only at the second). */
  rss: number;
  live: number;
  slab: number;
}

async function settledMemory(server: TestServer): Promise<Memory> {
  await sleep(SETTLE_MS);
  const settledRss = rssKiB(server.pid!);
  await serverMemory(server);
  await sleep(1000);
  const usage = await serverMemory(server);
  await sleep(1000);
  // rssKiB rather than usage.rss: the same reading the other scenarios report.
  return { settledRss, rss: rssKiB(server.pid!), live: usage.heapUsed + usage.external, slab: slabKiB() };
}

function descendants(root: CspElement, name: string): CspElement[] {
  return root.children.flatMap((c) => (c.name === name ? [c, ...descendants(c, name)] : descendants(c, name)));
}

/** Whether a ClientCapability-Response agreed STCP and pointed the phone at our listener. */
function agreesStcp(response: CspElement, port: number): boolean {
  return descendants(response, 'SupportedCIRMethod').some((m) => m.text === 'STCP') && descendants(response, 'TCPPort').some((p) => Number(p.text) === port);
}

/** `n` phones of mixed CSP versions, logged in, each with STCP agreed. */
async function stcpPhones(server: TestServer, n: number): Promise<Phone[]> {
  const phones = Array.from({ length: n }, (_, i) => new Phone(server, { version: VERSIONS[i % 3]!, strict: false }));
  const failures = await mapLimit(phones, LOGIN_CONCURRENCY, async (p, i) => {
    if (resultCode(await p.loginPassword(`stcp${i}`, 'pw', 1800)) !== 200) return 'login';
    return agreesStcp(await p.negotiateCapabilities([leaf('SupportedCIRMethod', 'STCP')!]), server.stcpPort!) ? undefined : 'negotiation';
  });
  const failed = failures.filter((f) => f !== undefined);
  if (failed.length) throw new Error(`${failed.length} phones failed (first: ${failed[0]})`);
  return phones;
}

/**
 * The bench's side of N STCP connections. It holds N sockets itself, so per socket it keeps
 * nothing but the socket: one shared data handler, and maps only for what is awaited right now.
 */
class StcpClients {
  readonly sockets: Socket[] = [];
  /** Lines nobody waited for (an OK without a HELO or PING, a WVCI for an unexpected cookie). */
  unexpected: string[] = [];
  closedByServer = 0;
  private closing = false;
  private readonly awaitingOk = new Map<Socket, { resolve: (at: number) => void; reject: (err: Error) => void }>();
  /** Cookie → who waits for its WVCI. */
  private readonly awaitingWake = new Map<string, (version: string, at: number) => void>();
  /** Received text not yet ending in a line break (rare on loopback). */
  private readonly partial = new Map<Socket, string>();
  private readonly onData: (this: Socket, chunk: string) => void;
  private readonly onClose: () => void;
  private readonly onError: (this: Socket, err: Error) => void;

  constructor(private readonly port: number) {
    // Plain functions, so that `this` is the socket: one handler for all N sockets, no closure each.
    const clients = this;
    this.onData = function (chunk) {
      clients.receive(this, chunk, performance.now());
    };
    this.onClose = () => {
      if (!this.closing) this.closedByServer++;
    };
    this.onError = function (err) {
      clients.awaitingOk.get(this)?.reject(err);
      clients.awaitingOk.delete(this);
    };
  }

  /** Connect and bind `sessionId`; resolves with the time from HELO written to OK received (ms). */
  open(sessionId: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: this.port });
      this.sockets.push(socket);
      socket.setEncoding('latin1');
      socket.on('data', this.onData);
      socket.on('close', this.onClose);
      socket.on('error', this.onError);
      const timer = setTimeout(() => reject(new Error(`no OK to HELO within ${OK_TIMEOUT_MS} ms`)), OK_TIMEOUT_MS);
      let helloAt = 0;
      // Registered before connecting, so that a refused connection fails at once through onError.
      this.awaitingOk.set(socket, {
        resolve: (at) => (clearTimeout(timer), resolve(at - helloAt)),
        reject: (err) => (clearTimeout(timer), reject(err)),
      });
      socket.once('connect', () => {
        helloAt = performance.now();
        socket.write(`HELO ${sessionId}\r\n`, 'latin1');
      });
    });
  }

  /** The arrival of a WVCI naming `cookie`: its version and time, or undefined after `timeoutMs`. */
  wake(cookie: string, timeoutMs: number): Promise<{ version: string; at: number } | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.awaitingWake.delete(cookie);
        resolve(undefined);
      }, timeoutMs);
      this.awaitingWake.set(cookie, (version, at) => {
        clearTimeout(timer);
        resolve({ version, at });
      });
    });
  }

  connected(): number {
    return this.sockets.filter((s) => !s.destroyed).length;
  }

  closeAll(): void {
    this.closing = true;
    for (const s of this.sockets) s.destroy();
  }

  private receive(socket: Socket, chunk: string, at: number): void {
    let text = (this.partial.get(socket) ?? '') + chunk;
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      this.line(socket, text.slice(0, nl).trim(), at);
      text = text.slice(nl + 1);
    }
    if (text) this.partial.set(socket, text);
    else this.partial.delete(socket);
  }

  private line(socket: Socket, line: string, at: number): void {
    if (line === 'OK') {
      const waiter = this.awaitingOk.get(socket);
      this.awaitingOk.delete(socket);
      if (waiter) return waiter.resolve(at);
    } else if (line.startsWith('WVCI ')) {
      const [, version = '', cookie = ''] = line.split(' ');
      const waiter = this.awaitingWake.get(cookie);
      this.awaitingWake.delete(cookie);
      if (waiter) return waiter(version, at);
    }
    if (this.unexpected.length < 10) this.unexpected.push(line);
  }
}

/** `k` distinct indices out of `n`, in random order (partial Fisher–Yates). */
function sample(n: number, k: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}

interface WakeResult {
  sent: number;
  sendFailures: number;
  wakeMs: number[];
  sendMs: number[];
  wrongVersion: number;
  /** Send → the woken phone's poll handed it the message. */
  collectedMs: number[];
}

/** A woken phone does what a handset does: polls, and should find the message. */
async function collect(phone: Phone, text: string, sentAt: number): Promise<number | undefined> {
  const got = await phone.receiveAll();
  return got.some((m) => m.text === text) ? performance.now() - sentAt : undefined;
}

/** One sender messages distinct random recipients, one at a time; each time, wait for the recipient's WVCI. */
async function measureWakes(server: TestServer, phones: Phone[], clients: StcpClients): Promise<WakeResult> {
  const sender = new Phone(server, { version: '1.2', strict: false });
  if (resultCode(await sender.loginPassword('stcpsender', 'pw', 1800)) !== 200) throw new Error('sender login failed');
  const result: WakeResult = { sent: 0, sendFailures: 0, wakeMs: [], sendMs: [], wrongVersion: 0, collectedMs: [] };
  const collecting: Promise<number | undefined>[] = [];
  for (const [k, r] of sample(phones.length, Math.min(WAKE_MESSAGES, phones.length)).entries()) {
    const phone = phones[r]!;
    const text = `wake ${k}`;
    const woken = clients.wake(`cookie-${phone.clientId}`, WAKE_TIMEOUT_MS);
    const started = performance.now();
    const code = resultCode(await sender.sendText(`stcp${r}`, text));
    result.sendMs.push(performance.now() - started);
    result.sent++;
    if (code !== 200) result.sendFailures++;
    const seen = await woken;
    if (seen) {
      result.wakeMs.push(seen.at - started);
      if (seen.version !== phone.version) result.wrongVersion++;
      collecting.push(collect(phone, text, started));
    }
    await sleep(Math.max(0, 1000 / WAKE_RATE - (performance.now() - started)));
  }
  result.collectedMs = (await Promise.all(collecting)).filter((t) => t !== undefined);
  for (const list of [result.wakeMs, result.sendMs, result.collectedMs]) list.sort((a, b) => a - b);
  return result;
}

async function health(server: TestServer): Promise<{ sessions: number; stcpConnections: number; cir: Record<string, number> }> {
  const res = await request(new URL('healthz', server.url));
  if (res.statusCode !== 200) throw new Error(`/healthz answered ${res.statusCode}`);
  return (await res.body.json()) as { sessions: number; stcpConnections: number; cir: Record<string, number> };
}

/** Poll /healthz until the server counts `n` STCP connections (closing is seen asynchronously). */
async function awaitStcpCount(server: TestServer, n: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let count = (await health(server)).stcpConnections;
  while (count !== n && performance.now() < deadline) {
    await sleep(100);
    count = (await health(server)).stcpConnections;
  }
  return count;
}

export async function stcp(options: BenchOptions): Promise<ScenarioResult> {
  const n = options.stcpSockets;
  // Inspectable, for GCs before each memory reading: otherwise login garbage collected (or not)
  // while the sockets open swings the per-socket RSS by several KiB either way.
  // Logging at info: TestServer's default is debug, which here writes a line per HELO (~20 % of
  // the server's CPU per bound socket in a profile) that a production server would not.
  const config = { cir: { stcp: { host: '127.0.0.1', port: 0 }, minInterval: 1 }, session: { maxTotal: n + 100 }, log: { level: 'info' } };
  const server = await benchServer(options, config, INSPECTABLE);
  const clients = new StcpClients(server.stcpPort!);
  try {
    const pid = server.pid!;
    const problem = capacityProblem(n, pid);
    if (problem) return { data: { sockets: n, skipped: problem }, lines: [`stcp: SKIPPED: ${problem}`] };

    let t0 = performance.now();
    const phones = await stcpPhones(server, n);
    const loginSeconds = (performance.now() - t0) / 1000;
    const memBefore = await settledMemory(server);
    const benchRssBefore = process.memoryUsage().rss / 1024;

    t0 = performance.now();
    const serverCpu0 = cpuMs(pid);
    const benchCpu0 = process.cpuUsage();
    const heloMs = await mapLimit(phones, OPEN_CONCURRENCY, (p) => clients.open(p.sessionId!));
    const openSeconds = (performance.now() - t0) / 1000;
    // Who bounds sockets/s on a shared machine: the server's CPU per HELO, and the bench's.
    const serverCpu1 = cpuMs(pid);
    const serverCpuPerSocketUs = { user: ((serverCpu1.user - serverCpu0.user) * 1000) / n, system: ((serverCpu1.system - serverCpu0.system) * 1000) / n };
    const benchCpu = process.cpuUsage(benchCpu0);
    const benchCpuPerSocketUs = { user: benchCpu.user / n, system: benchCpu.system / n };
    const memAfter = await settledMemory(server);
    const benchRssAfter = process.memoryUsage().rss / 1024;
    const bound = (await health(server)).stcpConnections;
    heloMs.sort((a, b) => a - b);

    const wakes = await measureWakes(server, phones, clients);
    const after = await health(server);
    const connectedAfter = clients.connected();

    clients.closeAll();
    const leftBound = await awaitStcpCount(server, 0, 10_000);
    const exitCode = await server.stop();

    const data = {
      sockets: n,
      loginsPerSecond: round(n / loginSeconds),
      memoryPerIdleSocketKiB: {
        rss: round((memAfter.rss - memBefore.rss) / n, 2),
        heapAndExternal: round((memAfter.live - memBefore.live) / n, 2),
        rssWithoutGc: round((memAfter.settledRss - memBefore.settledRss) / n, 2),
        // Both ends of each connection are on this machine: a server's share is about half.
        kernelSlabPerConnection: round((memAfter.slab - memBefore.slab) / n, 2),
      },
      rssMiB: {
        sessionsOnly: round(memBefore.rss / 1024),
        withSockets: round(memAfter.rss / 1024),
        socketsTotal: round((memAfter.rss - memBefore.rss) / 1024),
        withoutGc: { sessionsOnly: round(memBefore.settledRss / 1024), withSockets: round(memAfter.settledRss / 1024) },
      },
      benchRssPerSocketKiB: round((benchRssAfter - benchRssBefore) / n, 2),
      heloToOkMs: latencySummary(heloMs),
      socketsPerSecond: round(n / openSeconds),
      cpuPerSocketUs: {
        server: { user: round(serverCpuPerSocketUs.user, 0), system: round(serverCpuPerSocketUs.system, 0) },
        bench: { user: round(benchCpuPerSocketUs.user, 0), system: round(benchCpuPerSocketUs.system, 0) },
      },
      wakeMs: latencySummary(wakes.wakeMs),
      wakesReceived: `${wakes.wakeMs.length}/${wakes.sent}`,
      sendFailures: wakes.sendFailures,
      wrongVersion: wakes.wrongVersion,
      sendMessageMs: latencySummary(wakes.sendMs),
      sendToCollectedMs: latencySummary(wakes.collectedMs),
      collected: `${wakes.collectedMs.length}/${wakes.wakeMs.length}`,
      health: {
        boundAfterOpen: bound,
        boundAfterWakes: after.stcpConnections,
        sessions: after.sessions,
        cir: after.cir,
        clientSocketsOpen: connectedAfter,
        closedByServer: clients.closedByServer,
        unexpectedLines: clients.unexpected,
        boundAfterClose: leftBound,
        exitCode,
      },
    };
    const healthy = bound === n && after.stcpConnections === n && connectedAfter === n && clients.closedByServer === 0 && leftBound === 0 && exitCode === 0;
    return {
      data,
      lines: [
        `stcp: ${n} phones (CSP 1.1/1.2/1.3 mixed) agree STCP CIR and each keeps one idle connection bound with HELO`,
        `  logins + negotiation:     ${data.loginsPerSecond} phones/s  (${LOGIN_CONCURRENCY} in flight, ${round(loginSeconds, 1)} s)`,
        `  HELO → OK:                p50 ${data.heloToOkMs.p50} ms, p99 ${data.heloToOkMs.p99} ms, max ${data.heloToOkMs.max} ms; ${data.socketsPerSecond} sockets/s bound  (${OPEN_CONCURRENCY} opening at once)`,
        `  CPU per socket bound:     server ${data.cpuPerSocketUs.server.user} µs user + ${data.cpuPerSocketUs.server.system} µs kernel, bench ${data.cpuPerSocketUs.bench.user} + ${data.cpuPerSocketUs.bench.system} µs  (accept/connect + HELO + OK; both processes share the machine)`,
        `  server memory:            ${data.memoryPerIdleSocketKiB.rss} KiB RSS per idle STCP socket  (${data.rssMiB.sessionsOnly} → ${data.rssMiB.withSockets} MiB: ${data.rssMiB.socketsTotal} MiB for ${n}; both after GCs)`,
        `                            ${data.memoryPerIdleSocketKiB.heapAndExternal} KiB of it V8 heap + external  (live after GCs)`,
        `                            ${data.memoryPerIdleSocketKiB.rssWithoutGc} KiB per socket from RSS after a 2 s settle alone (${data.rssMiB.withoutGc.sessionsOnly} → ${data.rssMiB.withoutGc.withSockets} MiB; noisy: uncollected garbage)`,
        `  kernel memory:            ${data.memoryPerIdleSocketKiB.kernelSlabPerConnection} KiB slab per connection, both ends (outside RSS; whole machine, so other processes add noise)`,
        `  bench memory:             ${data.benchRssPerSocketKiB} KiB RSS per client socket (this process)`,
        `  wake-up latency:          p50 ${data.wakeMs.p50} ms, p99 ${data.wakeMs.p99} ms, max ${data.wakeMs.max} ms  (SendMessage sent → WVCI on the recipient's socket; ${WAKE_MESSAGES} at ≤${WAKE_RATE}/s to random recipients)`,
        `  wakes received:           ${data.wakesReceived}  (${wakes.sendFailures} send failures, ${wakes.wrongVersion} with a wrong version)`,
        `  SendMessage answered in:  p50 ${data.sendMessageMs.p50} ms, p99 ${data.sendMessageMs.p99} ms`,
        `  send → woken phone polled it: p50 ${data.sendToCollectedMs.p50} ms, p99 ${data.sendToCollectedMs.p99} ms  (${data.collected} collected)`,
        `  health:                   ${healthy ? 'ok' : 'PROBLEM'}: /healthz stcpConnections ${bound} after opening, ${after.stcpConnections} after the wakes, ${leftBound} after closing; ` +
          `${clients.closedByServer} closed by the server; ${clients.unexpected.length} unexpected lines; exit code ${exitCode}`,
      ],
    };
  } finally {
    clients.closeAll();
    await server.dispose();
  }
}
