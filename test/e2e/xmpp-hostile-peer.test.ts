// What Village's s2s port does with peers that misbehave before they have authenticated
// (issue 8, "bad input gets a clear error, never a crash"): endless input is cut off with a
// policy-violation stream error, claims to be one of our own domains are refused, dialback
// checks (each one a lookup and a connection of ours) are few per stream, and one address
// cannot hold more than its share of connections. Real server process, raw TCP on 127.0.0.1.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { request } from 'undici';
import { TestServer } from '../support/server.ts';

const WAIT_MS = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' to='imps.test' version='1.0'>`;

interface Peer {
  socket: Socket;
  text(): string;
  closed(): boolean;
  until(pattern: RegExp, what: string): Promise<void>;
  untilClosed(): Promise<void>;
}

async function peer(port: number): Promise<Peer> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let isClosed = false;
  socket.setEncoding('utf8');
  socket.on('data', (c: string) => (text += c));
  socket.on('error', () => {});
  socket.on('close', () => (isClosed = true));
  const wait = async (done: () => boolean, what: string) => {
    const deadline = Date.now() + WAIT_MS;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT_MS} ms; received: ${text}`);
      await sleep(20);
    }
  };
  return {
    socket,
    text: () => text,
    closed: () => isClosed,
    until: (pattern, what) => wait(() => pattern.test(text), what),
    untilClosed: () => wait(() => isClosed, 'close'),
  };
}

describe('hostile peers on the s2s port', () => {
  let server: TestServer;
  let silent: Server;
  const silentSockets: Socket[] = [];

  before(async () => {
    // "slow.test" is routed to a server that accepts and never says a word: verifying a
    // dialback key with it hangs until our step timeout.
    silent = createServer((s) => silentSockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const slowPort = (silent.address() as { port: number }).port;
    server = await TestServer.start({
      config: { domains: ['imps.test'], xmpp: { host: '127.0.0.1', port: 0, routes: { 'slow.test': `127.0.0.1:${slowPort}` } } },
    });
  });

  after(async () => {
    await server?.dispose();
    for (const s of silentSockets) s.destroy();
    await new Promise((r) => silent?.close(r));
  });

  const stillServing = async () => {
    const health = await request(new URL('/healthz', server.url));
    assert.equal(health.statusCode, 200, 'the server is still up');
    await health.body.dump();
  };

  const floods: [string, string, string][] = [
    ['a start tag that never ends', HEADER + `<message to='`, 'a'],
    ['an endless stream header', `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='`, 'b'],
    ['whitespace without end', HEADER, ' '],
  ];
  for (const [what, start, filler] of floods) {
    test(`${what} is cut off with a policy-violation stream error`, async () => {
      const p = await peer(server.xmppPort!);
      p.socket.write(start);
      const chunk = filler.repeat(16 * 1024);
      for (let i = 0; i < 40 && !p.closed(); i++) {
        p.socket.write(chunk);
        await sleep(5);
      }
      await p.until(/policy-violation/, 'a policy-violation');
      await p.untilClosed();
      await stillServing();
    });
  }

  test('something that is not XML (an HTTP request) gets a stream header, then the stream error', async () => {
    const p = await peer(server.xmppPort!);
    p.socket.write('GET / HTTP/1.1\r\nHost: imps.test\r\n\r\n');
    await p.untilClosed();
    assert.match(p.text(), /^<\?xml version='1.0'\?><stream:stream [^>]*>.*<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'\/>/s);
    await stillServing();
  });

  test('a peer claiming to be one of our own domains is refused', async () => {
    const p = await peer(server.xmppPort!);
    p.socket.write(HEADER.replace("to='imps.test'", "to='imps.test' from='imps.test'"));
    await p.until(/<\/stream:features>/, 'the features');
    p.socket.write(`<db:result from='imps.test' to='imps.test'>${'a'.repeat(64)}</db:result>`);
    await p.until(/type=['"]invalid['"]/, 'the refusal');
    await p.untilClosed();
  });

  test('a stream gets only a few dialback checks under way at once', async () => {
    const p = await peer(server.xmppPort!);
    p.socket.write(HEADER.replace("to='imps.test'", "to='imps.test' from='slow.test'"));
    await p.until(/<\/stream:features>/, 'the features');
    for (let i = 0; i < 5; i++) p.socket.write(`<db:result from='slow.test' to='imps.test'>${String(i).repeat(64)}</db:result>`);
    await p.until(/resource-constraint/, 'a resource-constraint for the fifth');
    assert.equal((p.text().match(/resource-constraint/g) ?? []).length, 1, 'only the fifth is turned away');
    p.socket.destroy();
  });

  test('one address cannot hold more than its share of connections', async () => {
    const peers: Peer[] = [];
    for (let i = 0; i < 50; i++) peers.push(await peer(server.xmppPort!));
    const extra = await peer(server.xmppPort!);
    await extra.untilClosed();
    assert.equal(extra.text(), '', 'refused without a word');
    for (const p of peers) p.socket.destroy();
    await sleep(200);
    // Once they are gone, the address is welcome again.
    const again = await peer(server.xmppPort!);
    again.socket.write(HEADER);
    await again.until(/<\/stream:features>/, 'the features');
    again.socket.destroy();
  });
});
