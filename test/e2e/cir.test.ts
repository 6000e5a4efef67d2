// CIR (waking an idle phone, reference imps-csp.md §5) end-to-end: real server processes, real
// sockets on 127.0.0.1. Negotiation per version and encoding; STCP in Nokia's and Android's
// dialects (HELO, PING, OK, WVCI, closing rules); SHTTP's 200/204/404; SUDP and WAP UDP
// datagrams (the WSP push also read by tshark); WAP SMS through a stand-in Kannel gateway;
// fallback to the next method, the minimum interval between wake-ups; the Session CIR flag;
// /healthz counts. Every wake-up is checked byte for byte, then the phone polls and collects
// the NewMessage that caused it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { request } from 'undici';
import { TestServer } from '../support/server.ts';
import { Phone, resultCode, type HttpExchange } from '../support/phone.ts';
import { MATRIX, type Variant } from '../support/matrix.ts';
import { tsharkDecodeWapPushSms, tsharkDecodeWapPushUdp } from '../support/wsp-oracle.ts';
import { child, childrenNamed, el, leaf, textOf, type CspElement } from '../../src/csp/tree.ts';
import { codecForContentType } from '../../src/csp/codecs.ts';
import type { CspVersion } from '../../src/csp/versions.ts';

// ── Waiting for things that arrive ─────────────────────────────────────────────────────────

/** How long a wake-up may take: the waker waits 1 s after the phone's last request, plus slack. */
const WAKE_TIMEOUT_MS = 5000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Things that arrive on their own (datagrams, gateway requests, TCP chunks), with the time they
 * came. A test takes the first one it is looking for, waiting for it up to a deadline; what it
 * takes is not offered again.
 */
class Inbox<T> {
  private readonly items: { value: T; at: number; taken: boolean }[] = [];
  private readonly waiters = new Set<() => void>();

  push(value: T): void {
    this.items.push({ value, at: Date.now(), taken: false });
    for (const wake of [...this.waiters]) wake();
  }

  /** Untaken items that match, without taking them. */
  peek(match: (v: T) => boolean = () => true): T[] {
    return this.items.filter((i) => !i.taken && match(i.value)).map((i) => i.value);
  }

  /** The first untaken item that matches (waiting for it) and when it arrived. */
  take(match: (v: T) => boolean, timeoutMs: number, what: string): Promise<{ value: T; at: number }> {
    return new Promise((resolve, reject) => {
      const look = () => {
        const found = this.items.find((i) => !i.taken && match(i.value));
        if (!found) return false;
        found.taken = true;
        this.waiters.delete(look);
        clearTimeout(timer);
        resolve({ value: found.value, at: found.at });
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(look);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      if (!look()) this.waiters.add(look);
    });
  }

  /** Assert that nothing matching arrives (or has arrived untaken) within `ms`. */
  async none(match: (v: T) => boolean, ms: number, what: string): Promise<void> {
    await sleep(ms);
    const seen = this.peek(match);
    assert.equal(seen.length, 0, `expected no ${what} within ${ms} ms, got ${seen.length}`);
  }
}

/** Re-check `condition` until it holds (for states only visible by asking), failing after `timeoutMs`. */
async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await sleep(25);
  }
}

// ── Fake phone endpoints ───────────────────────────────────────────────────────────────────

/** A phone's STCP connection: what it receives as TCP chunks (one per read) and as CRLF lines. */
class StcpClient {
  readonly chunks = new Inbox<string>();
  readonly lines = new Inbox<string>();
  received = '';
  closedAt: number | undefined;
  private partial = '';
  private readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (data: Buffer) => {
      const text = data.toString('latin1');
      this.received += text;
      this.chunks.push(text);
      this.partial += text;
      let nl: number;
      while ((nl = this.partial.indexOf('\n')) >= 0) {
        this.lines.push(this.partial.slice(0, nl + 1));
        this.partial = this.partial.slice(nl + 1);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<StcpClient> {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    await once(socket, 'connect');
    const client = new StcpClient(socket);
    openClients.add(client);
    return client;
  }

  send(text: string): void {
    this.socket.write(text, 'latin1');
  }

  line(what: string, timeoutMs = 3000): Promise<string> {
    return this.lines.take(() => true, timeoutMs, what).then((l) => l.value);
  }

  /** HELO and the OK answering it. */
  async helo(sessionId: string): Promise<void> {
    this.send(`HELO ${sessionId}\r\n`);
    assert.equal(await this.line('OK after HELO'), 'OK\r\n');
  }

  async waitClosed(timeoutMs: number, what: string): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting until ${what}`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return this.closedAt!;
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
    openClients.delete(this);
  }
}

const openClients = new Set<StcpClient>();

interface Datagram {
  payload: Buffer;
  address: string;
  port: number;
}

async function udpInbox(): Promise<{ socket: UdpSocket; port: number; inbox: Inbox<Datagram> }> {
  const socket = createSocket('udp4');
  const inbox = new Inbox<Datagram>();
  socket.on('message', (payload, rinfo) => inbox.push({ payload, address: rinfo.address, port: rinfo.port }));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: (socket.address() as AddressInfo).port, inbox };
}

/** One request the stand-in SMS gateway got, its query values as the bytes they %-encode. */
interface GatewayHit {
  path: string;
  /** The query as it came, to check how values were encoded. */
  rawQuery: string;
  params: Map<string, Buffer>;
  to: string;
  udh: Buffer;
  text: Buffer;
  answered: number;
}

/** %XX (and plain characters) to bytes; '+' is a space, as in a form-encoded query. */
function percentDecodeBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s[i] === '+' ? 0x20 : s.charCodeAt(i));
  }
  return Buffer.from(out);
}

function parseQuery(query: string): Map<string, Buffer> {
  const params = new Map<string, Buffer>();
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    params.set(eq < 0 ? part : part.slice(0, eq), percentDecodeBytes(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return params;
}

// ── Reading answers ────────────────────────────────────────────────────────────────────────

const cookieOf = (phone: Phone) => `cookie-${phone.clientId}`;
const wvci = (phone: Phone) => `WVCI ${phone.version} ${cookieOf(phone)}`;
/** The server logs sessions by a hash of their SessionID (actors/session.ts logId). */
const logIdOf = (sessionId: string) => createHash('sha256').update(sessionId).digest('hex').slice(0, 10);
const hasCookie = (phone: Phone) => (d: Datagram) => d.payload.includes(Buffer.from(cookieOf(phone), 'latin1'));

/** WSP Push of a CIR: TID, Push, headers length 3, application/vnd.wv.csp.cir, X-Wap-Application-Id wv.ua, the line. */
const wapPdu = (tid: number, line: string) => Buffer.concat([Buffer.from([tid, 0x06, 0x03, 0xc6, 0xaf, 0x8a]), Buffer.from(line, 'latin1')]);
const WDP_UDH = Buffer.from([0x06, 0x05, 0x04, 0x0b, 0x84, 0x23, 0xf0]);

interface CirAnswer {
  methods: string[];
  tcpAddress: string | undefined;
  tcpPort: string | undefined;
  cirUrl: string | undefined;
  cirHttpAddress: string | undefined;
  udpPort: string | undefined;
  serverPollMin: string | undefined;
}

/** The CIR part of a ClientCapability-Response (or 1.3 Login-Response). */
function cirAnswer(primitive: CspElement, version: CspVersion): CirAnswer {
  const list = child(primitive, version === '1.1' ? 'CapabilityList' : 'AgreedCapabilityList');
  assert.ok(list, `${primitive.name} carries the ${version === '1.1' ? 'echoed CapabilityList' : 'AgreedCapabilityList'}`);
  return {
    methods: childrenNamed(list, 'SupportedCIRMethod').map((m) => textOf(m) ?? ''),
    tcpAddress: textOf(list, 'TCPAddress'),
    tcpPort: textOf(list, 'TCPPort'),
    cirUrl: textOf(child(list, 'CIRURL'), 'URL'),
    cirHttpAddress: textOf(child(list, 'CIRHTTPAddress'), 'URL'),
    udpPort: textOf(list, 'UDPPort'),
    serverPollMin: textOf(list, 'ServerPollMin'),
  };
}

/** The Session's CIR flag as sent (the Phone's envelope reader does not keep it), or undefined when absent. */
function cirFlagOf(exchange: HttpExchange): string | undefined {
  const codec = codecForContentType(String(exchange.headers['content-type'] ?? ''));
  assert.ok(codec && exchange.raw.length > 0, 'a CSP answer');
  const root = codec.decode(exchange.raw, { maxDepth: 100 }).root;
  const session = child(root, 'Session');
  // 1.1 has no CIR element anywhere; look in the descriptors too so a misplaced one is caught.
  const flags = [textOf(session, 'CIR'), ...childrenNamed(session, 'Transaction').map((t) => textOf(child(t, 'TransactionDescriptor'), 'CIR'))].filter(
    (f) => f !== undefined,
  );
  assert.ok(flags.length <= 1, 'at most one CIR flag');
  return flags[0];
}

const keepAlive = (phone: Phone, ttl?: number) => phone.post([{ primitive: el('KeepAlive-Request', [leaf('TimeToLive', ttl)]) }]);

const methodsList = (...methods: string[]) => methods.map((m) => leaf('SupportedCIRMethod', m)!);

async function shttpGet(url: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(url);
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

async function healthz(server: TestServer): Promise<{ stcpConnections: number; cir: Record<string, number> }> {
  const res = await request(new URL('/healthz', server.url));
  assert.equal(res.statusCode, 200);
  return (await res.body.json()) as { stcpConnections: number; cir: Record<string, number> };
}

async function waitForLog(server: TestServer, match: (e: Record<string, unknown>) => boolean, what: string, timeoutMs = 3000): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await until(() => (found = server.logEntries().find(match)) !== undefined, timeoutMs, `the server logs ${what}`);
  return found!;
}

const texts = (got: { text: string }[]) => got.map((m) => m.text);

/**
 * Tests of one group run side by side: each has its own users, ClientIDs (so cookies), phone
 * numbers and connections, and looks only at what carries those. Wake-ups take a second
 * or more each (the waker waits 1 s after the phone's last request), so in turn they would
 * take most of a minute. What compares server-wide counts (/healthz) runs alone.
 */
const CONCURRENT = { concurrency: true };

// ── The suite ──────────────────────────────────────────────────────────────────────────────

describe('CIR', () => {
  let sudp: Awaited<ReturnType<typeof udpInbox>>;
  let wap: Awaited<ReturnType<typeof udpInbox>>;
  let gateway: HttpServer;
  let gatewayPort: number;
  const gatewayHits = new Inbox<GatewayHit>();
  let servers: { main: TestServer; sudpOnly: TestServer; sms: TestServer } | undefined;
  /** Numbers the gateway refuses with 500. */
  const failingNumbers = new Set<string>();

  before(async () => {
    sudp = await udpInbox();
    wap = await udpInbox();
    gateway = createServer((req, res) => {
      const [path = '', rawQuery = ''] = (req.url ?? '').split('?', 2);
      const params = parseQuery(rawQuery);
      const to = (params.get('to') ?? Buffer.alloc(0)).toString('latin1');
      const answered = failingNumbers.has(to) ? 500 : 202;
      gatewayHits.push({ path, rawQuery, params, to, udh: params.get('udh') ?? Buffer.alloc(0), text: params.get('text') ?? Buffer.alloc(0), answered });
      res.writeHead(answered, { 'Content-Type': 'text/plain' });
      res.end(answered === 202 ? '0: Accepted for delivery' : 'Internal error');
    });
    gateway.listen(0, '127.0.0.1');
    await once(gateway, 'listening');
    gatewayPort = (gateway.address() as AddressInfo).port;
    // All three at once: each start is a process launch.
    const started = await Promise.allSettled([
      TestServer.start({
        config: {
          // TTL 2 makes a session expire within the test (STCP: session expiry closes the connection).
          session: { keepAliveMin: 1 },
          cir: {
            methods: ['STCP', 'SHTTP', 'SUDP', 'WAPUDP', 'WAPSMS'],
            stcp: { host: '127.0.0.1', port: 0, heloTimeout: 1 },
            wapPushPort: wap.port,
            minInterval: 2,
            retryAfter: 1,
          },
        },
      }),
      TestServer.start({ config: { cir: { methods: ['SUDP'] } } }),
      TestServer.start({
        config: {
          cir: {
            methods: ['WAPSMS', 'SHTTP', 'STCP', 'WAPUDP', 'SUDP'],
            stcp: { host: '127.0.0.1', port: 0 },
            wapPushPort: wap.port,
            retryAfter: 1,
            sms: {
              url: `http://127.0.0.1:${gatewayPort}/cgi-bin/sendsms?user=u&pass=p&to={to}&udh={udh}&text={text}`,
              retries: 1,
              timeout: 2,
            },
          },
        },
      }),
    ]);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.dispose() : undefined)));
      throw failed.reason;
    }
    const [main, sudpOnly, sms] = started.map((r) => (r as PromiseFulfilledResult<TestServer>).value) as [TestServer, TestServer, TestServer];
    servers = { main, sudpOnly, sms };
    assert.ok(main.stcpPort, 'the STCP listener is up');
  });
  after(async () => {
    await Promise.all(Object.values(servers ?? {}).map((s) => s.dispose()));
    for (const c of [...openClients]) await c.close();
    sudp?.socket.close();
    wap?.socket.close();
    await new Promise<void>((resolve) => (gateway ? gateway.close(() => resolve()) : resolve()));
  });

  describe('a server offering STCP, SHTTP, SUDP and WAP UDP (no SMS gateway)', () => {
    let server: TestServer;
    before(() => {
      server = servers!.main;
    });

    let serial = 0;
    /** A logged-in phone (ClientID cir-<name>-<n>) and another user's phone to send it messages. */
    const pair = async (name: string, variant: { version: CspVersion; encoding: Variant['encoding'] }, options: { ttl?: number; headers?: Record<string, string> } = {}) => {
      const n = ++serial;
      const phone = new Phone(server, { ...variant, clientId: `cir-${name}-${n}`, ...(options.headers ? { headers: options.headers } : {}) });
      assert.equal(resultCode(await phone.loginPassword(`${name}-${n}`, 'pw', options.ttl ?? 600)), 200);
      const sender = new Phone(server, { version: '1.2', encoding: 'xml', clientId: `cir-${name}-${n}-sender` });
      assert.equal(resultCode(await sender.loginPassword(`${name}-${n}-sender`, 'pw')), 200);
      const user = `${name}-${n}`;
      const send = async (text: string) => assert.equal(resultCode(await sender.sendText(user, text)), 200);
      return { phone, sender, user, send };
    };

    describe('negotiation', CONCURRENT, () => {
      for (const variant of MATRIX) {
        const { version, label } = variant;
        test(`${label}: only methods both sides can use, in the server's order, with their addresses`, async () => {
          const { phone } = await pair('neg', variant, { headers: { 'X-Network-MSISDN': '+491709999999' } });
          // In the reverse of the server's order, with methods the server cannot use here (SSMS
          // never, WAPSMS without a gateway even though an operator header names the number).
          const answer = await phone.negotiateCapabilities([
            ...methodsList('WAPSMS', 'WAPUDP', 'SSMS', 'SUDP', 'SHTTP', 'STCP'),
            leaf('UDPPort', 3717)!,
            leaf('ServerPollMin', 30)!,
          ]);
          assert.equal(answer.name, 'ClientCapability-Response');
          const cir = cirAnswer(answer, version);
          assert.deepEqual(cir.methods, version === '1.1' ? ['STCP', 'SUDP', 'WAPUDP'] : ['STCP', 'SHTTP', 'SUDP', 'WAPUDP']);
          assert.equal(cir.tcpAddress, '127.0.0.1');
          assert.equal(cir.tcpPort, String(server.stcpPort));
          // 1.1 and 1.3 say where SUDP datagrams go; 1.2's agreed list has no place for it.
          assert.equal(cir.udpPort, version === '1.2' ? undefined : '3717');
          const urlPattern = new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/cir/[A-Za-z0-9_-]{16,64}$`);
          if (version === '1.2') {
            assert.match(cir.cirUrl ?? '', urlPattern);
            assert.equal(cir.cirHttpAddress, undefined);
          } else if (version === '1.3') {
            assert.match(cir.cirHttpAddress ?? '', urlPattern);
            assert.equal(cir.cirUrl, undefined);
          } else {
            assert.equal(cir.cirUrl, undefined, '1.1 has no SHTTP');
            assert.equal(cir.cirHttpAddress, undefined);
          }
          assert.equal(cir.serverPollMin, '300', 'a phone with a reliable wake-up need not poll');
          const oldUrl = cir.cirUrl ?? cir.cirHttpAddress;
          if (oldUrl) assert.equal((await shttpGet(oldUrl)).status, 204);

          // Negotiating again: SSMS alone is nothing the server can use.
          const ssms = cirAnswer(await phone.negotiateCapabilities([...methodsList('SSMS'), leaf('ServerPollMin', 30)!]), version);
          assert.deepEqual(ssms, { methods: [], tcpAddress: undefined, tcpPort: undefined, cirUrl: undefined, cirHttpAddress: undefined, udpPort: undefined, serverPollMin: '30' });
          if (oldUrl) assert.equal((await shttpGet(oldUrl)).status, 404, 'the CIR URL of the previous agreement is gone');

          // SUDP alone is agreed but unreliable: the phone keeps polling at its own pace.
          const udp = cirAnswer(await phone.negotiateCapabilities([...methodsList('SUDP'), leaf('ServerPollMin', 30)!]), version);
          assert.deepEqual(udp.methods, ['SUDP']);
          assert.equal(udp.tcpAddress, undefined);
          assert.equal(udp.udpPort, version === '1.2' ? undefined : '3717', 'UDPPort defaults to 3717 (IANA wv-csp-udp-cir)');
          assert.equal(udp.serverPollMin, '30');
          await phone.logout();
        });
      }

      for (const encoding of ['xml', 'wbxml'] as const) {
        test(`CSP 1.3 ${encoding}: a CapabilityList inside Login-Request is answered with the AgreedCapabilityList`, async () => {
          const phone = new Phone(server, { version: '1.3', encoding, clientId: `cir-login13-${encoding}` });
          const list = el('CapabilityList', [
            leaf('ClientType', 'MOBILE_PHONE'),
            leaf('InitialDeliveryMethod', 'P'),
            leaf('MultiTrans', 1),
            leaf('SupportedBearer', 'HTTP'),
            ...methodsList('SSMS', 'SHTTP', 'STCP'),
          ]);
          const { primitive } = await phone.request(phone.loginRequest(`login13-${encoding}`, [leaf('Password', 'pw')!, leaf('TimeToLive', 600)!, list]), { outband: true });
          assert.equal(resultCode(primitive), 200);
          phone.sessionId = textOf(primitive, 'SessionID');
          const cir = cirAnswer(primitive, '1.3');
          assert.deepEqual(cir.methods, ['STCP', 'SHTTP']);
          assert.equal(cir.tcpAddress, '127.0.0.1');
          assert.equal(cir.tcpPort, String(server.stcpPort));
          assert.match(cir.cirHttpAddress ?? '', /\/cir\/[A-Za-z0-9_-]{16,64}$/);
          assert.equal(cir.serverPollMin, '300');
          // The agreement is in force: the STCP listener knows the session, the CIR URL answers.
          const c = await StcpClient.connect(server.stcpPort!);
          await c.helo(phone.sessionId!);
          assert.equal((await shttpGet(cir.cirHttpAddress!)).status, 204);
          await phone.logout();
        });
      }
    });

    describe('STCP', CONCURRENT, () => {
      test('Nokia dialect (CSP 1.2 WBXML): HELO and PING answered OK, WVCI after a message, then the phone polls', async () => {
        const { phone, send } = await pair('nokia', { version: '1.2', encoding: 'wbxml' });
        // Nokia lists what is enabled; SUDP goes to our socket so a needless fallback would show.
        await phone.negotiateCapabilities([...methodsList('WAPSMS', 'WAPUDP', 'STCP', 'SUDP'), leaf('UDPPort', sudp.port)!]);
        const c = await StcpClient.connect(server.stcpPort!);
        c.send(`HELO ${phone.sessionId}\r\n`);
        assert.equal(await c.line('OK after HELO'), 'OK\r\n');
        c.send('PING\r\n');
        assert.equal(await c.line('OK after PING'), 'OK\r\n');
        await send('hello nokia');
        assert.equal(await c.line('the WVCI line', WAKE_TIMEOUT_MS), `WVCI 1.2 ${cookieOf(phone)}\r\n`);
        assert.deepEqual(texts(await phone.receiveAll()), ['hello nokia']);
        const logged = await waitForLog(server, (e) => e['msg'] === 'CIR wake-up' && e['session'] === logIdOf(phone.sessionId!), 'the wake-up');
        assert.deepEqual({ method: logged['method'], outcome: logged['outcome'] }, { method: 'STCP', outcome: 'sent' });
        // STCP is first and worked: no datagram was sent as well.
        assert.equal(sudp.inbox.peek(hasCookie(phone)).length + wap.inbox.peek(hasCookie(phone)).length, 0);
        assert.equal(c.received, `OK\r\nOK\r\nWVCI 1.2 ${cookieOf(phone)}\r\n`, 'nothing else on the connection');
        await phone.logout();
      });

      test('Android dialect (CSP 1.2 XML): "PING " with a trailing space is answered OK; WVCI after a message', async () => {
        const { phone, send } = await pair('android', { version: '1.2', encoding: 'xml' });
        await phone.negotiateCapabilities(methodsList('STCP', 'SSMS', 'SHTTP'));
        const c = await StcpClient.connect(server.stcpPort!);
        c.send(`HELO ${phone.sessionId}\r\n`);
        assert.equal(await c.line('OK after HELO'), 'OK\r\n');
        c.send('PING \r\n');
        assert.equal(await c.line('OK after "PING "'), 'OK\r\n');
        await send('hello android');
        assert.equal(await c.line('the WVCI line', WAKE_TIMEOUT_MS), `WVCI 1.2 ${cookieOf(phone)}\r\n`);
        assert.deepEqual(texts(await phone.receiveAll()), ['hello android']);
        await phone.logout();
      });

      test('HELO while a message already waits: OK, then WVCI in a separate read', async () => {
        const { phone, send } = await pair('pending', { version: '1.2', encoding: 'wbxml' });
        await phone.negotiateCapabilities(methodsList('STCP'));
        await send('waiting for you');
        const c = await StcpClient.connect(server.stcpPort!);
        c.send(`HELO ${phone.sessionId}\r\n`);
        const first = await c.chunks.take(() => true, 3000, 'the first chunk');
        assert.equal(first.value, 'OK\r\n', 'the OK arrives alone (Nokia takes the first read as the HELO answer)');
        const second = await c.chunks.take(() => true, WAKE_TIMEOUT_MS, 'the chunk after OK');
        // Nokia recognises a wake-up only at the start of a read.
        assert.ok(second.value.startsWith(`WVCI 1.2 ${cookieOf(phone)}\r\n`), `second read starts with the WVCI line: ${JSON.stringify(second.value)}`);
        assert.ok(second.at - first.at >= 150, `OK and WVCI ${second.at - first.at} ms apart`);
        assert.deepEqual(texts(await phone.receiveAll()), ['waiting for you']);
        await phone.logout();
      });

      test('HELO naming no live session: the connection is closed without an answer', async () => {
        const c = await StcpClient.connect(server.stcpPort!);
        c.send('HELO no-such-session-0000000000\r\n');
        await c.waitClosed(3000, 'the server closes the connection');
        assert.equal(c.received, '');
      });

      test('no HELO within heloTimeout (1 s): closed, even if the phone PINGs', async () => {
        const started = Date.now();
        const c = await StcpClient.connect(server.stcpPort!);
        c.send('PING\r\n');
        assert.equal(await c.line('OK to a PING before HELO'), 'OK\r\n');
        const closedAt = await c.waitClosed(4000, 'the server closes a connection that never said HELO');
        assert.ok(closedAt - started >= 900, `closed after ${closedAt - started} ms, not before heloTimeout`);
        assert.equal(c.received, 'OK\r\n');
      });

      test('a second HELO for the session replaces the first connection, which is closed', async () => {
        const { phone, send } = await pair('replace', { version: '1.2', encoding: 'xml' });
        await phone.negotiateCapabilities(methodsList('STCP'));
        const first = await StcpClient.connect(server.stcpPort!);
        await first.helo(phone.sessionId!);
        const second = await StcpClient.connect(server.stcpPort!);
        await second.helo(phone.sessionId!);
        await first.waitClosed(3000, 'the server closes the replaced connection');
        await send('to the new connection');
        assert.equal(await second.line('the WVCI line', WAKE_TIMEOUT_MS), `WVCI 1.2 ${cookieOf(phone)}\r\n`);
        assert.equal(first.received, 'OK\r\n');
        assert.deepEqual(texts(await phone.receiveAll()), ['to the new connection']);
        await phone.logout();
      });

      test('logout closes the connection', async () => {
        const { phone } = await pair('logout', { version: '1.2', encoding: 'wbxml' });
        await phone.negotiateCapabilities(methodsList('STCP'));
        const c = await StcpClient.connect(server.stcpPort!);
        const sessionId = phone.sessionId!;
        await c.helo(sessionId);
        await phone.logout();
        await c.waitClosed(3000, 'logout closes the STCP connection');
        // And the ended session cannot be bound again.
        const again = await StcpClient.connect(server.stcpPort!);
        again.send(`HELO ${sessionId}\r\n`);
        await again.waitClosed(3000, 'HELO of an ended session is refused');
        assert.equal(again.received, '');
      });

      test('session expiry closes the connection', async () => {
        const { phone } = await pair('expiry', { version: '1.2', encoding: 'xml' }, { ttl: 2 });
        await phone.negotiateCapabilities(methodsList('STCP'));
        const lastRequest = Date.now();
        const c = await StcpClient.connect(server.stcpPort!);
        await c.helo(phone.sessionId!);
        // KeepAliveTime 2 (+ the server's 10 % grace); STCP PINGs do not keep a session alive.
        const closedAt = await c.waitClosed(6000, 'the expired session loses its STCP connection');
        assert.ok(closedAt - lastRequest >= 1900, `closed ${closedAt - lastRequest} ms after the last request`);
        await waitForLog(server, (e) => e['msg'] === 'session ended' && e['session'] === logIdOf(phone.sessionId!) && e['reason'] === 'expired', 'the expiry');
      });

      test('KeepAlive-Request: a bound phone may keep its session up to cir.keepAliveMax, others up to session.keepAliveMax', async () => {
        const { phone } = await pair('keepalive', { version: '1.2', encoding: 'wbxml' });
        await phone.negotiateCapabilities(methodsList('STCP'));
        const granted = async () => textOf((await phone.request(el('KeepAlive-Request', [leaf('TimeToLive', 100_000)]))).primitive, 'KeepAliveTime');
        assert.equal(await granted(), '1800', 'STCP agreed but no connection yet');
        const c = await StcpClient.connect(server.stcpPort!);
        await c.helo(phone.sessionId!);
        assert.equal(await granted(), '7200', 'while the STCP connection is bound');
        await c.close();
        await until(async () => (await granted()) === '1800', 3000, 'a phone without its connection gets the ordinary ceiling again');
        await phone.logout();
      });
    });

    describe('SHTTP', CONCURRENT, () => {
      for (const variant of [
        { version: '1.2', encoding: 'xml' },
        { version: '1.3', encoding: 'wbxml' },
      ] as const) {
        test(`CSP ${variant.version} ${variant.encoding}: GET the CIR URL: 204 while nothing waits, 200 after a message, 404 after logout`, async () => {
          const { phone, send } = await pair('shttp', variant);
          const cir = cirAnswer(await phone.negotiateCapabilities(methodsList('SSMS', 'SHTTP')), variant.version);
          assert.deepEqual(cir.methods, ['SHTTP']);
          assert.equal(cir.serverPollMin, '300');
          const url = (variant.version === '1.2' ? cir.cirUrl : cir.cirHttpAddress)!;
          const quiet = await shttpGet(url);
          assert.equal(quiet.status, 204);
          assert.equal(quiet.body, '');
          assert.equal(quiet.headers['cache-control'], 'no-store');
          await send('fetch me');
          const announced = await shttpGet(url);
          assert.equal(announced.status, 200);
          assert.equal(announced.body, '');
          assert.deepEqual(texts(await phone.receiveAll()), ['fetch me']);
          assert.equal((await shttpGet(url)).status, 204, 'nothing waits once the phone has it');
          const token = new URL(url).pathname.split('/').pop()!;
          const madeUp = new URL(url);
          madeUp.pathname = `/cir/${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
          assert.equal((await shttpGet(madeUp.toString())).status, 404, 'a made-up token');
          await phone.logout();
          assert.equal((await shttpGet(url)).status, 404, 'after logout');
        });
      }
    });

    describe('SUDP and WAP UDP', CONCURRENT, () => {
      for (const variant of [
        { version: '1.1', encoding: 'wbxml' },
        { version: '1.2', encoding: 'xml' },
        { version: '1.3', encoding: 'xml' },
      ] as const) {
        test(`SUDP, CSP ${variant.version} ${variant.encoding}: the datagram to the phone's UDPPort is exactly the WVCI line`, async () => {
          const { phone, send } = await pair('sudp', variant);
          const cir = cirAnswer(await phone.negotiateCapabilities([...methodsList('SUDP'), leaf('UDPPort', sudp.port)!]), variant.version);
          assert.deepEqual(cir.methods, ['SUDP']);
          assert.equal(cir.udpPort, variant.version === '1.2' ? undefined : String(sudp.port));
          await send('over udp');
          const { value } = await sudp.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the SUDP datagram');
          assert.equal(value.payload.toString('latin1'), wvci(phone));
          assert.deepEqual(value.payload, Buffer.from(`WVCI ${variant.version} ${cookieOf(phone)}`, 'latin1'));
          assert.equal(value.address, '127.0.0.1');
          assert.deepEqual(texts(await phone.receiveAll()), ['over udp']);
          await phone.logout();
        });
      }

      test('SUDP, CSP 1.3: a UDPAddress of the server\'s own host is not followed (the datagram goes where the phone polls from)', async () => {
        // A socket on 127.0.0.2 with the same port catches a datagram sent where the phone said.
        const decoy = createSocket('udp4');
        const strayed = new Inbox<Buffer>();
        decoy.on('message', (payload) => strayed.push(payload));
        decoy.bind(sudp.port, '127.0.0.2');
        await once(decoy, 'listening');
        try {
          const { phone, send } = await pair('udpaddress', { version: '1.3', encoding: 'xml' });
          const cir = cirAnswer(await phone.negotiateCapabilities([...methodsList('SUDP'), leaf('UDPAddress', '127.0.0.2')!, leaf('UDPPort', sudp.port)!]), '1.3');
          assert.deepEqual(cir.methods, ['SUDP']);
          await send('not to loopback');
          const { value } = await sudp.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the SUDP datagram at the address the phone polls from');
          assert.equal(value.payload.toString('latin1'), wvci(phone));
          assert.equal(strayed.peek().length, 0, 'nothing went to 127.0.0.2');
          assert.deepEqual(texts(await phone.receiveAll()), ['not to loopback']);
          await phone.logout();
        } finally {
          decoy.close();
        }
      });

      test('WAP UDP: a WSP Push PDU (application/vnd.wv.csp.cir for wv.ua) to the push port, as tshark reads it', async () => {
        const { phone, send } = await pair('wapudp', { version: '1.2', encoding: 'wbxml' });
        assert.deepEqual(cirAnswer(await phone.negotiateCapabilities(methodsList('WAPUDP')), '1.2').methods, ['WAPUDP']);
        await send('wap push');
        const { value } = await wap.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the WAP push datagram');
        const line = wvci(phone);
        assert.deepEqual(value.payload, wapPdu(value.payload[0]!, line), `01.. 06 03 C6 AF 8A + line, got ${value.payload.toString('hex')}`);
        const decoded = tsharkDecodeWapPushUdp(value.payload);
        assert.deepEqual(decoded.errors, []);
        assert.equal(decoded.transactionId, value.payload[0]);
        assert.equal(decoded.pduType, 'Push');
        assert.equal(decoded.headersLength, 3);
        assert.equal(decoded.contentType, 'application/vnd.wv.csp.cir');
        assert.equal(decoded.applicationId, 'x-wap-application:wv.ua');
        assert.equal(decoded.data?.toString('latin1'), line);
        assert.deepEqual(texts(await phone.receiveAll()), ['wap push']);
        await phone.logout();
      });
    });

    describe('fallback and rate limiting', CONCURRENT, () => {
      test('SUDP first (the server\'s order), WAP UDP after retryAfter when the phone does not come', async () => {
        const { phone, send } = await pair('fallback', { version: '1.2', encoding: 'xml' });
        const cir = cirAnswer(await phone.negotiateCapabilities([...methodsList('WAPUDP', 'SUDP'), leaf('UDPPort', sudp.port)!]), '1.2');
        assert.deepEqual(cir.methods, ['SUDP', 'WAPUDP'], 'in the order of cir.methods, not the phone\'s');
        await send('are you there?');
        const first = await sudp.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the SUDP wake-up');
        assert.equal(first.value.payload.toString('latin1'), wvci(phone));
        const second = await wap.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the WAP UDP wake-up that follows');
        assert.ok(second.at - first.at >= 900, `WAP UDP ${second.at - first.at} ms after SUDP, not before retryAfter`);
        assert.deepEqual(second.value.payload, wapPdu(second.value.payload[0]!, wvci(phone)));
        assert.deepEqual(texts(await phone.receiveAll()), ['are you there?']);
        assert.equal(sudp.inbox.peek(hasCookie(phone)).length, 0, 'SUDP was tried once');
        await phone.logout();
      });

      test('STCP first; when the connection dies after the WVCI and the phone does not come, WAP UDP follows', async () => {
        // Writing to a connection a NAT has dropped is how the server learns it is dead: the
        // fallback must not be lost because the STCP connection went away in between.
        const { phone, send } = await pair('stcp-dies', { version: '1.2', encoding: 'wbxml' });
        assert.deepEqual(cirAnswer(await phone.negotiateCapabilities(methodsList('WAPUDP', 'STCP')), '1.2').methods, ['STCP', 'WAPUDP']);
        const c = await StcpClient.connect(server.stcpPort!);
        await c.helo(phone.sessionId!);
        await send('anyone?');
        assert.equal(await c.line('the WVCI line', WAKE_TIMEOUT_MS), `WVCI 1.2 ${cookieOf(phone)}\r\n`);
        const wvciAt = Date.now();
        await c.close();
        const push = await wap.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the WAP UDP wake-up after STCP');
        assert.ok(push.at - wvciAt >= 800, `WAP UDP ${push.at - wvciAt} ms after the WVCI, not before retryAfter`);
        assert.deepEqual(push.value.payload, wapPdu(push.value.payload[0]!, wvci(phone)));
        assert.deepEqual(texts(await phone.receiveAll()), ['anyone?']);
        await phone.logout();
      });

      test('a phone that polls after the first wake-up gets no second one', async () => {
        const { phone, send } = await pair('answered', { version: '1.2', encoding: 'wbxml' });
        await phone.negotiateCapabilities([...methodsList('SUDP', 'WAPUDP'), leaf('UDPPort', sudp.port)!]);
        await send('quick');
        await sudp.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the SUDP wake-up');
        assert.deepEqual(texts(await phone.receiveAll()), ['quick']);
        // retryAfter is 1 s: nothing may follow in well over that.
        await wap.inbox.none(hasCookie(phone), 1700, 'WAP UDP wake-up after the phone came');
        assert.equal(sudp.inbox.peek(hasCookie(phone)).length, 0);
        await phone.logout();
      });

      test('several messages in quick succession: one wake-up; the next no sooner than cir.minInterval (2 s)', async () => {
        const { phone, send } = await pair('burst', { version: '1.2', encoding: 'xml' });
        await phone.negotiateCapabilities([...methodsList('SUDP'), leaf('UDPPort', sudp.port)!]);
        await send('one');
        await send('two');
        await send('three');
        const first = await sudp.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the wake-up');
        // The phone comes at once; a fourth message then waits for minInterval since the first wake-up.
        assert.deepEqual(texts(await phone.receiveAll()), ['one', 'two', 'three']);
        await send('four');
        const second = await sudp.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the second wake-up');
        assert.ok(second.at - first.at >= 1900, `second wake-up ${second.at - first.at} ms after the first; minInterval is 2 s`);
        assert.equal(sudp.inbox.peek(hasCookie(phone)).length, 0, 'one wake-up per burst');
        assert.deepEqual(texts(await phone.receiveAll()), ['four']);
        await phone.logout();
      });
    });

    describe('the Session CIR flag', CONCURRENT, () => {
      for (const variant of [
        { version: '1.2', encoding: 'wbxml' },
        { version: '1.3', encoding: 'xml' },
      ] as const) {
        test(`CSP ${variant.version} ${variant.encoding}: T while the STCP connection is bound, F once it is gone`, async () => {
          const { phone } = await pair('flag', variant);
          const negotiation = await phone.post([{ primitive: el('ClientCapability-Request', [el('CapabilityList', methodsList('STCP'))]) }]);
          const agreedAt = Date.now();
          assert.equal(cirFlagOf(negotiation), 'T', 'within heloTimeout of the agreement the phone has time to connect');
          const c = await StcpClient.connect(server.stcpPort!);
          await c.helo(phone.sessionId!);
          // Past the grace, T can only come from the bound connection.
          await sleep(agreedAt + 1200 - Date.now());
          assert.equal(cirFlagOf(await keepAlive(phone)), 'T');
          await c.close();
          await until(async () => cirFlagOf(await keepAlive(phone)) === 'F', 3000, 'the flag turns F');
          const again = await StcpClient.connect(server.stcpPort!);
          await again.helo(phone.sessionId!);
          assert.equal(cirFlagOf(await keepAlive(phone)), 'T', 'a new HELO makes it T again');
          await phone.logout();
        });
      }

      test('CSP 1.2 XML, Android\'s list (STCP, SSMS, SHTTP): once it has used STCP, a lost connection is F although SHTTP was agreed too', async () => {
        // Android takes STCP when agreed and re-connects only when it reads CIR=F; an agreed
        // SHTTP it does not use must not keep the flag T.
        const { phone, send } = await pair('flag-android', { version: '1.2', encoding: 'xml' });
        const cir = cirAnswer(await phone.negotiateCapabilities(methodsList('STCP', 'SSMS', 'SHTTP')), '1.2');
        assert.deepEqual(cir.methods, ['STCP', 'SHTTP']);
        assert.equal(cirFlagOf(await keepAlive(phone)), 'T', 'an SHTTP phone would be fine');
        const c = await StcpClient.connect(server.stcpPort!);
        await c.helo(phone.sessionId!);
        await c.close();
        await until(async () => cirFlagOf(await keepAlive(phone)) === 'F', 3000, 'the flag turns F');
        const granted = textOf((await phone.request(el('KeepAlive-Request', [leaf('TimeToLive', 100_000)]))).primitive, 'KeepAliveTime');
        assert.equal(granted, '1800', 'no long keep-alive without the connection');
        const again = await StcpClient.connect(server.stcpPort!);
        await again.helo(phone.sessionId!);
        assert.equal(cirFlagOf(await keepAlive(phone)), 'T');
        await send('after reconnecting');
        assert.equal(await again.line('the WVCI line', WAKE_TIMEOUT_MS), `WVCI 1.2 ${cookieOf(phone)}\r\n`);
        assert.deepEqual(texts(await phone.receiveAll()), ['after reconnecting']);
        await phone.logout();
      });

      test('CSP 1.2: STCP agreed but never connected: T within heloTimeout, then F', async () => {
        const { phone } = await pair('flag-nohelo', { version: '1.2', encoding: 'xml' });
        await phone.negotiateCapabilities(methodsList('STCP'));
        const agreedAt = Date.now();
        assert.equal(cirFlagOf(await keepAlive(phone)), 'T');
        await sleep(agreedAt + 1200 - Date.now());
        assert.equal(cirFlagOf(await keepAlive(phone)), 'F');
        await phone.logout();
      });

      test('absent for a session that agreed no CIR, and in CSP 1.1 even with STCP bound', async () => {
        const { phone: none } = await pair('flag-none', { version: '1.2', encoding: 'wbxml' });
        assert.equal(cirFlagOf(await keepAlive(none)), undefined, 'before any negotiation');
        await none.negotiateCapabilities(methodsList('SSMS'));
        assert.equal(cirFlagOf(await keepAlive(none)), undefined, 'after agreeing nothing');
        await none.logout();

        const { phone: old } = await pair('flag-11', { version: '1.1', encoding: 'xml' });
        await old.negotiateCapabilities(methodsList('STCP'));
        const c = await StcpClient.connect(server.stcpPort!);
        await c.helo(old.sessionId!);
        const answer = await keepAlive(old);
        assert.equal(cirFlagOf(answer), undefined);
        assert.doesNotMatch(answer.raw.toString('utf8'), /<CIR>/);
        await old.logout();
      });
    });

    test('/healthz counts wake-ups by method and outcome, and bound STCP connections', async () => {
      const before = await healthz(server);
      const count = (h: typeof before, key: string) => h.cir[key] ?? 0;
      const { phone, send } = await pair('health', { version: '1.2', encoding: 'xml' });
      const url = cirAnswer(await phone.negotiateCapabilities(methodsList('STCP', 'SHTTP')), '1.2').cirUrl!;
      const c = await StcpClient.connect(server.stcpPort!);
      await c.helo(phone.sessionId!);
      assert.equal((await healthz(server)).stcpConnections, before.stcpConnections + 1);
      assert.equal((await shttpGet(url)).status, 204);
      await send('count me');
      assert.equal(await c.line('the WVCI line', WAKE_TIMEOUT_MS), `WVCI 1.2 ${cookieOf(phone)}\r\n`);
      assert.equal((await shttpGet(url)).status, 200);
      await phone.receiveAll();
      const afterWake = await healthz(server);
      assert.equal(count(afterWake, 'STCP sent'), count(before, 'STCP sent') + 1);
      assert.equal(count(afterWake, 'SHTTP nothing'), count(before, 'SHTTP nothing') + 1);
      assert.equal(count(afterWake, 'SHTTP announced'), count(before, 'SHTTP announced') + 1);
      await c.close();
      await until(async () => (await healthz(server)).stcpConnections === before.stcpConnections, 3000, 'the closed connection is no longer counted');
      await phone.logout();
    });
  });

  describe('behind a proxy: CIR URLs on the public base URL', CONCURRENT, () => {
    for (const [what, config, base] of [
      ['http.publicUrl', { http: { publicUrl: 'https://im.example.org/village/' } }, 'https://im.example.org/village/cir/'],
      ['cir.shttp.publicUrl over http.publicUrl', { http: { publicUrl: 'https://im.example.org/' }, cir: { shttp: { publicUrl: 'http://cir.example.org:8080/' } } }, 'http://cir.example.org:8080/cir/'],
    ] as const) {
      test(`${what}: the CIRURL is there, and a GET of its path answers`, async () => {
        const server = await TestServer.start({ config });
        try {
          const phone = new Phone(server, { version: '1.2', clientId: 'cir-proxy' });
          assert.equal(resultCode(await phone.loginPassword('proxied', 'pw')), 200);
          const url = cirAnswer(await phone.negotiateCapabilities(methodsList('SHTTP')), '1.2').cirUrl ?? '';
          assert.ok(url.startsWith(base), `${url} starts with ${base}`);
          assert.equal((await shttpGet(new URL(`/cir/${url.slice(base.length)}`, server.url).toString())).status, 204, 'nothing waits yet');
        } finally {
          await server.dispose();
        }
      });
    }
  });

  describe('a server offering SUDP only (no STCP listener, no SHTTP)', CONCURRENT, () => {
    let server: TestServer;
    before(() => {
      server = servers!.sudpOnly;
    });

    for (const version of ['1.2', '1.3'] as const) {
      test(`CSP ${version}: a phone listing everything is offered SUDP alone, and keeps polling`, async () => {
        assert.equal(server.stcpPort, undefined, 'no STCP listener');
        const phone = new Phone(server, { version, encoding: 'wbxml', clientId: `cir-sudponly-${version}` });
        assert.equal(resultCode(await phone.loginPassword(`sudponly-${version.replace('.', '')}`, 'pw')), 200);
        const cir = cirAnswer(await phone.negotiateCapabilities([...methodsList('STCP', 'SHTTP', 'WAPUDP', 'SUDP', 'WAPSMS'), leaf('ServerPollMin', 30)!]), version);
        assert.deepEqual(cir, {
          methods: ['SUDP'],
          tcpAddress: undefined,
          tcpPort: undefined,
          cirUrl: undefined,
          cirHttpAddress: undefined,
          udpPort: version === '1.3' ? '3717' : undefined,
          serverPollMin: '30',
        });
        await phone.logout();
      });
    }
  });

  describe('a server with an SMS gateway (WAP SMS) and methods in another order', CONCURRENT, () => {
    let server: TestServer;
    before(() => {
      server = servers!.sms;
    });

    let serial = 0;
    const pair = async (name: string, variant: { version: CspVersion; encoding: Variant['encoding'] }, phoneOptions: { headers?: Record<string, string>; msisdn?: string } = {}) => {
      const n = ++serial;
      const phone = new Phone(server, { ...variant, clientId: `sms-${name}-${n}`, ...phoneOptions });
      assert.equal(resultCode(await phone.loginPassword(`${name}-${n}`, 'pw')), 200);
      const sender = new Phone(server, { version: '1.2', encoding: 'xml', clientId: `sms-${name}-${n}-sender` });
      assert.equal(resultCode(await sender.loginPassword(`${name}-${n}-sender`, 'pw')), 200);
      const send = async (text: string) => assert.equal(resultCode(await sender.sendText(`${name}-${n}`, text)), 200);
      return { phone, send };
    };

    /** Check one gateway request: the Kannel URL, the number, the WDP UDH and the WSP push PDU, also through tshark. */
    const checkSms = (hit: GatewayHit, phone: Phone, number: string) => {
      assert.equal(hit.path, '/cgi-bin/sendsms');
      assert.equal(hit.params.get('user')?.toString(), 'u');
      assert.equal(hit.params.get('pass')?.toString(), 'p');
      assert.equal(hit.to, number);
      assert.deepEqual(hit.udh, WDP_UDH, `udh ${hit.udh.toString('hex')}`);
      assert.deepEqual(hit.text, wapPdu(hit.text[0]!, wvci(phone)), `text ${hit.text.toString('hex')}`);
      // Kannel takes binary values %-encoded byte by byte.
      assert.match(hit.rawQuery, /(^|&)udh=(%[0-9A-F]{2}){7}(&|$)/);
      assert.match(hit.rawQuery, new RegExp(`(^|&)text=(%[0-9A-F]{2}){${hit.text.length}}(&|$)`));
      const decoded = tsharkDecodeWapPushSms(hit.udh, hit.text);
      assert.deepEqual(decoded.errors, []);
      assert.deepEqual(decoded.smsPorts, { destination: 2948, source: 9200 });
      assert.equal(decoded.pduType, 'Push');
      assert.equal(decoded.contentType, 'application/vnd.wv.csp.cir');
      assert.equal(decoded.applicationId, 'x-wap-application:wv.ua');
      assert.equal(decoded.data?.toString('latin1'), wvci(phone));
    };

    test('methods come in the configured order; WAPSMS only when the phone\'s number is known', async () => {
      const all = methodsList('STCP', 'SUDP', 'SHTTP', 'WAPUDP', 'WAPSMS');
      const { phone: known } = await pair('order', { version: '1.2', encoding: 'xml' }, { headers: { 'X-Network-MSISDN': '+491701000000' } });
      const withNumber = cirAnswer(await known.negotiateCapabilities(all), '1.2');
      assert.deepEqual(withNumber.methods, ['WAPSMS', 'SHTTP', 'STCP', 'WAPUDP', 'SUDP']);
      assert.equal(withNumber.tcpPort, String(server.stcpPort));
      assert.equal(withNumber.serverPollMin, '300');
      await known.logout();
      const { phone: unknown } = await pair('order', { version: '1.3', encoding: 'wbxml' });
      const without = cirAnswer(await unknown.negotiateCapabilities(all), '1.3');
      assert.deepEqual(without.methods, ['SHTTP', 'STCP', 'WAPUDP', 'SUDP']);
      assert.deepEqual(cirAnswer(await unknown.negotiateCapabilities(methodsList('WAPSMS', 'SUDP')), '1.3').methods, ['SUDP']);
      await unknown.logout();
    });

    test('WAP SMS to the number from X-Network-MSISDN: Kannel URL with to, udh and the push PDU as text', async () => {
      const { phone, send } = await pair('msisdn-header', { version: '1.2', encoding: 'xml' }, { headers: { 'X-Network-MSISDN': '+49 170 1000001' } });
      const cir = cirAnswer(await phone.negotiateCapabilities(methodsList('WAPSMS')), '1.2');
      assert.deepEqual(cir.methods, ['WAPSMS']);
      assert.equal(cir.serverPollMin, '300');
      await send('by sms');
      const { value } = await gatewayHits.take((h) => h.to === '+491701000001', WAKE_TIMEOUT_MS, 'the gateway request');
      checkSms(value, phone, '+491701000001');
      assert.deepEqual(texts(await phone.receiveAll()), ['by sms']);
      await phone.logout();
    });

    test('WAP SMS to the number in the ClientID\'s MSISDN (CSP 1.2 WBXML)', async () => {
      const { phone, send } = await pair('msisdn-clientid', { version: '1.2', encoding: 'wbxml' }, { msisdn: '+491701000002' });
      assert.deepEqual(cirAnswer(await phone.negotiateCapabilities(methodsList('WAPSMS', 'SSMS')), '1.2').methods, ['WAPSMS']);
      await send('by sms again');
      const { value } = await gatewayHits.take((h) => h.to === '+491701000002', WAKE_TIMEOUT_MS, 'the gateway request');
      checkSms(value, phone, '+491701000002');
      assert.deepEqual(texts(await phone.receiveAll()), ['by sms again']);
      await phone.logout();
    });

    test('gateway answering 500: retried (cir.sms.retries 1), logged without the number, then WAP UDP', async () => {
      const number = '+491701000003';
      failingNumbers.add(number);
      const before = (await healthz(server)).cir;
      const { phone, send } = await pair('sms-fails', { version: '1.2', encoding: 'xml' }, { headers: { 'X-Network-MSISDN': number } });
      assert.deepEqual(cirAnswer(await phone.negotiateCapabilities(methodsList('WAPUDP', 'WAPSMS')), '1.2').methods, ['WAPSMS', 'WAPUDP']);
      await send('despite the gateway');
      const isOurs = (h: GatewayHit) => h.to === number;
      const firstTry = await gatewayHits.take(isOurs, WAKE_TIMEOUT_MS, 'the first gateway request');
      checkSms(firstTry.value, phone, number);
      const retry = await gatewayHits.take(isOurs, 4000, 'the retry');
      assert.ok(retry.at - firstTry.at >= 900, `retried after ${retry.at - firstTry.at} ms (back-off 1 s)`);
      assert.deepEqual(retry.value.text, firstTry.value.text, 'the same SMS again');
      const push = await wap.inbox.take(hasCookie(phone), WAKE_TIMEOUT_MS, 'the WAP UDP wake-up after the SMS failed');
      assert.deepEqual(push.value.payload, wapPdu(push.value.payload[0]!, wvci(phone)));
      assert.equal(gatewayHits.peek(isOurs).length, 0, 'no third attempt');

      const session = logIdOf(phone.sessionId!);
      const failed = await waitForLog(server, (e) => e['msg'] === 'CIR wake-up' && e['session'] === session && e['method'] === 'WAPSMS', 'the failed SMS wake-up');
      assert.equal(failed['outcome'], 'failed');
      await waitForLog(server, (e) => e['msg'] === 'CIR wake-up' && e['session'] === session && e['method'] === 'WAPUDP' && e['outcome'] === 'sent', 'the WAP UDP wake-up');
      const attempts = server.logEntries().filter((e) => e['msg'] === 'SMS gateway attempt failed' && e['status'] === 500 && e['to'] === '…003');
      assert.deepEqual(attempts.map((e) => e['attempt']), [1, 2]);
      assert.deepEqual(texts(await phone.receiveAll()), ['despite the gateway']);
      const counts = (await healthz(server)).cir;
      assert.equal(counts['WAPSMS failed'] ?? 0, (before['WAPSMS failed'] ?? 0) + 1);
      assert.equal(counts['WAPUDP sent'] ?? 0, (before['WAPUDP sent'] ?? 0) + 1);
      await phone.logout();
    });
  });

  test('no log line holds a number from an operator header or the SMS gateway URL (it carries the gateway password)', () => {
    // The numbers that came in operator headers (one with spaces); the SMS path may log the last
    // three digits only. (+491701000002 came in the ClientID, which the login line logs whole.)
    const leaked = servers!.sms.logs.filter((l) => /170 ?100000[013]/.test(l) || l.includes('pass=p') || l.includes('sendsms'));
    assert.deepEqual(leaked, []);
    assert.ok(servers!.sms.logEntries().some((e) => e['msg'] === 'SMS gateway attempt failed' && e['to'] === '…003'), 'the SMS log lines are there (masked)');
  });
});
