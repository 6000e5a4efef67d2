// XMPP federation with a pre-1.0 server (issue 8): a Google-Talk-era peer "old.test" whose
// streams carry no version (so no stream features, no TLS, no SASL) and which authenticates by
// Server Dialback only, each side verifying the other's key over a fresh connection
// (XEP-0220 §2.1.2). No real server of that age is packaged any more, so a scripted peer on a
// real TCP port stands in for it; Village is the real server process. Both directions:
// a phone's message to carl@old.test, and carl's message to the phone; two hosted domains
// sharing the listener (a link each, one peer stream authenticated for both); a late bare-JID
// "unavailable" checked with a probe; a download link that stops working after content.validity.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { TestServer } from '../support/server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { request } from 'undici';
import { getPresenceRequest, subscribeRequest, valueOf } from '../support/presence.ts';
import { child, childrenNamed } from '../../src/csp/tree.ts';

const WAIT_MS = 10_000;
/** content.validity here: short, so a download link is seen to stop working. */
const CONTENT_VALIDITY_S = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEADER_OPEN = `<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'`;

/** One TCP connection's text so far, and waiting for a pattern in it. */
class Conversation {
  text = '';
  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.text += chunk));
    socket.on('error', () => {});
  }

  send(data: string): void {
    this.socket.write(data);
  }

  async until(pattern: RegExp, what: string): Promise<RegExpExecArray> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const m = pattern.exec(this.text);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${WAIT_MS} ms; received: ${this.text}`);
      await sleep(20);
    }
  }
}

/**
 * The old server's s2s port. Village connects here twice: with its own stream (to deliver, a
 * db:result to answer) and, when we authenticate to Village, to verify our key (a db:verify).
 */
class LegacyPeer {
  readonly conversations: Conversation[] = [];
  /** Stream ids we gave Village's streams, and the dialback key (and the domain it is for) Village sent on each. */
  readonly keysFromVillage = new Map<string, { key: string; from: string; conversation: Conversation }>();
  private counter = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<LegacyPeer> {
    const server = createServer();
    const peer = new LegacyPeer(server);
    server.on('connection', (socket) => peer.converse(new Conversation(socket)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Answer each header version-less (pre-1.0: no features), then whatever dialback comes. */
  private async converse(c: Conversation): Promise<void> {
    this.conversations.push(c);
    try {
      await c.until(/<stream:stream[^>]*>/, 'a stream header');
      const id = `legacy-${++this.counter}`;
      c.send(`${HEADER_OPEN} from='old.test' id='${id}'>`);
      const first = await c.until(/<db:(result|verify)\b[^>]*>([^<]*)<\/db:\1>/, 'a dialback element');
      if (first[1] === 'result') {
        // Village wants to send to old.test: remember its key; the test verifies it with Village.
        const from = /\sfrom=['"]([^'"]*)['"]/.exec(first[0])![1]!;
        this.keysFromVillage.set(id, { key: first[2]!, from, conversation: c });
      } else {
        // Village verifies the key we sent on our stream to it: it is ours.
        const verifyId = /\sid=['"]([^'"]*)['"]/.exec(first[0])![1];
        c.send(`<db:verify from='old.test' to='imps.test' id='${verifyId}' type='valid'/>`);
      }
    } catch {
      c.socket.destroy();
    }
  }

  async close(): Promise<void> {
    for (const c of this.conversations) c.socket.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

/** A connection of ours to Village's s2s port. */
async function connectToVillage(port: number): Promise<Conversation> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return new Conversation(socket);
}

describe('XMPP federation with a pre-1.0 (dialback-only) server', () => {
  let peer: LegacyPeer;
  let server: TestServer;
  let phone: Phone;

  before(async () => {
    peer = await LegacyPeer.start();
    server = await TestServer.start({
      config: { domains: ['imps.test', 'other.test'], content: { validity: CONTENT_VALIDITY_S }, xmpp: { host: '127.0.0.1', port: 0, routes: { 'old.test': `127.0.0.1:${peer.port}` } } },
    });
    phone = new Phone(server, { version: '1.2' });
    assert.equal(resultCode(await phone.loginPassword('alice', 'pw')), 200);
  });

  after(async () => {
    await server?.dispose();
    await peer?.close();
  });

  /** Village's stream to old.test for one of its domains: the id we gave it, its key, the conversation. */
  const villageStream = async (from: string) => {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = [...peer.keysFromVillage].find(([, v]) => v.from === from);
      if (found) return { streamId: found[0], key: found[1].key, village: found[1].conversation };
      if (Date.now() > deadline) throw new Error(`Village opened no stream from ${from} within ${WAIT_MS} ms`);
      await sleep(20);
    }
  };

  /** Poll until the phone has messages (or give up). */
  const receive = async (p: Phone) => {
    let got: { sender: string; text: string }[] = [];
    for (let i = 0; i < 50 && got.length === 0; i++) {
      got = await p.receiveAll();
      if (got.length === 0) await sleep(100);
    }
    return got;
  };

  test('a phone’s message reaches the old server once it verified our key over a fresh connection', async () => {
    const text = 'Grüße an die alte Welt ✓';
    const answer = await phone.sendText('wv:carl@old.test', text);
    assert.equal(resultCode(answer), 200);

    const { streamId, key, village } = await villageStream('imps.test');
    assert.match(village.text, /<stream:stream[^>]*\sxmlns:db=['"]jabber:server:dialback['"]/, 'Village declares dialback in its header');

    // As a receiving server does: ask Village (the authoritative server) over a fresh connection.
    const verifier = await connectToVillage(server.xmppPort!);
    verifier.send(`${HEADER_OPEN} to='imps.test' from='old.test'>`);
    await verifier.until(/<stream:stream[^>]*>/, 'Village’s header');
    verifier.send(`<db:verify from='old.test' to='imps.test' id='${streamId}'>${key}</db:verify>`);
    await verifier.until(/<db:verify[^>]*type=['"]valid['"]/, 'Village confirming its key');
    // A forged key is not confirmed.
    verifier.send(`<db:verify from='old.test' to='imps.test' id='${streamId}'>${'0'.repeat(64)}</db:verify>`);
    await verifier.until(/<db:verify[^>]*type=['"]invalid['"]/, 'Village denying a key it did not send');
    verifier.socket.destroy();

    village.send(`<db:result from='old.test' to='imps.test' type='valid'/>`);
    const message = await village.until(/<message\b[^>]*>.*?<\/message>/s, 'the message');
    assert.match(message[0], /to=['"]carl@old\.test['"]/);
    assert.match(message[0], /from=['"]alice@imps\.test\/village-/);
    assert.ok(message[0].includes(`<body>${text}</body>`), `the text: ${message[0]}`);
  });

  test('the old server’s message reaches the phone after Village verified its key', async () => {
    // A pre-1.0 stream without 'to' (the dialback element names the domains).
    const ours = await connectToVillage(server.xmppPort!);
    ours.send(`${HEADER_OPEN} from='old.test'>`);
    const header = await ours.until(/<stream:stream[^>]*>/, 'Village’s header');
    const streamId = /\sid=['"]([^'"]+)['"]/.exec(header[0])?.[1];
    assert.ok(streamId, 'Village gives the stream an id');
    assert.doesNotMatch(header[0], /\sversion=/, 'and answers a version-less peer version-less');
    await sleep(100);
    assert.doesNotMatch(ours.text, /features/, 'no stream features for a pre-1.0 peer');

    const before = peer.conversations.length;
    ours.send(`<db:result from='old.test' to='imps.test'>0123456789abcdef</db:result>`);
    await ours.until(/<db:result[^>]*type=['"]valid['"]/, 'Village accepting our key');
    assert.ok(peer.conversations.length > before, 'Village asked old.test over a connection of its own');

    const text = 'Antwort aus der alten Welt ☺';
    ours.send(`<message from='carl@old.test/desk' to='alice@imps.test' type='chat' id='m1'><body>${text}</body></message>`);
    const got = await receive(phone);
    assert.deepEqual(got.map((m) => [m.sender, m.text]), [['wv:carl@old.test', text]]);
    ours.socket.destroy();
  });

  test('two hosted domains share the listener: a link of their own each way, one peer stream for both', async () => {
    const bea = new Phone(server, { version: '1.2' });
    assert.equal(resultCode(await bea.loginPassword('bea@other.test', 'pw')), 200);
    assert.equal(resultCode(await bea.sendText('wv:carl@old.test', 'von other.test')), 200);
    // Village opens a second stream to old.test, for other.test.
    const { streamId, key, village } = await villageStream('other.test');
    const verifier = await connectToVillage(server.xmppPort!);
    verifier.send(`${HEADER_OPEN} to='other.test' from='old.test'>`);
    await verifier.until(/<stream:stream[^>]*>/, 'Village’s header');
    verifier.send(`<db:verify from='old.test' to='other.test' id='${streamId}'>${key}</db:verify>`);
    await verifier.until(/<db:verify[^>]*type=['"]valid['"]/, 'Village confirming the other domain’s key');
    verifier.socket.destroy();
    village.send(`<db:result from='old.test' to='other.test' type='valid'/>`);
    const message = await village.until(/<message\b[^>]*>.*?<\/message>/s, 'the message');
    assert.match(message[0], /from=['"]bea@other\.test\/village-/);

    // The old server authenticates one stream for both of our domains (XEP-0220 multiplexing).
    const ours = await connectToVillage(server.xmppPort!);
    ours.send(`${HEADER_OPEN} from='old.test' to='imps.test'>`);
    await ours.until(/<stream:stream[^>]*>/, 'Village’s header');
    ours.send(`<db:result from='old.test' to='imps.test'>k1</db:result>`);
    await ours.until(/<db:result[^>]*to=['"]old\.test['"][^>]*type=['"]valid['"]|<db:result[^>]*type=['"]valid['"][^>]*to=['"]old\.test['"]/, 'imps.test accepted');
    ours.send(`<db:result from='old.test' to='other.test'>k2</db:result>`);
    await ours.until(/from=['"]other\.test['"][^>]*type=['"]valid['"]|type=['"]valid['"][^>]*from=['"]other\.test['"]/, 'other.test accepted');
    ours.send(`<message from='carl@old.test/desk' to='bea@other.test' type='chat'><body>an other.test</body></message>`);
    ours.send(`<message from='carl@old.test/desk' to='alice@imps.test' type='chat'><body>an imps.test</body></message>`);
    assert.deepEqual((await receive(bea)).map((m) => m.text), ['an other.test']);
    assert.deepEqual((await receive(phone)).map((m) => m.text), ['an imps.test']);
    ours.socket.destroy();
  });
  test('an "unavailable" from the bare JID while a client is online is checked with a probe first', async () => {
    // alice watches carl@old.test; carl approves over a stream of old.test's own.
    const ours = await connectToVillage(server.xmppPort!);
    ours.send(`${HEADER_OPEN} from='old.test' to='imps.test'>`);
    await ours.until(/<stream:stream[^>]*>/, 'Village’s header');
    ours.send(`<db:result from='old.test' to='imps.test'>k3</db:result>`);
    await ours.until(/type=['"]valid['"]/, 'imps.test accepted');
    const { village } = await villageStream('imps.test');
    const probes = () => (village.text.match(/<presence[^>]*type="probe"[^>]*>/g) ?? []).length;

    assert.equal(resultCode((await phone.request(subscribeRequest('1.2', { users: ['wv:carl@old.test'] }))).primitive), 200);
    await village.until(/<presence[^>]*type="subscribe"[^>]*to="carl@old\.test"|<presence[^>]*to="carl@old\.test"[^>]*type="subscribe"/, 'the subscription request');
    ours.send(`<presence from='carl@old.test' to='alice@imps.test' type='subscribed'/>`);
    ours.send(`<presence from='carl@old.test/desk' to='alice@imps.test'><status>hier</status></presence>`);
    const shown = async () => {
      const answer = (await phone.request(getPresenceRequest('1.2', { users: ['wv:carl@old.test'] }))).primitive;
      const list = child(childrenNamed(answer, 'Presence')[0], 'PresenceSubList');
      return { online: valueOf(list, 'OnlineStatus'), status: valueOf(list, 'StatusText') };
    };
    const until = async (want: { online: string; status: string }, what: string) => {
      const deadline = Date.now() + WAIT_MS;
      let now = await shown();
      while ((now.online !== want.online || now.status !== want.status) && Date.now() < deadline) {
        await sleep(50);
        now = await shown();
      }
      assert.deepEqual(now, want, what);
    };
    await until({ online: 'T', status: 'hier' }, 'carl online');
    const probesBefore = probes();

    // A late acknowledgement-style unavailable from the bare JID: asked about, not believed yet.
    ours.send(`<presence from='carl@old.test' to='alice@imps.test' type='unavailable'/>`);
    await village.until(new RegExp(`(<presence[^>]*type="probe"[^>]*>[^]*){${probesBefore + 1}}`), 'a probe');
    assert.deepEqual(await shown(), { online: 'T', status: 'hier' }, 'still shown online while asking');
    // The answer: carl's client is there.
    ours.send(`<presence from='carl@old.test/desk' to='alice@imps.test'><status>immer noch hier</status></presence>`);
    await until({ online: 'T', status: 'immer noch hier' }, 'carl still online');
    // Carl's client really leaves: believed at once.
    ours.send(`<presence from='carl@old.test/desk' to='alice@imps.test' type='unavailable'/>`);
    await until({ online: 'F', status: '' }, 'carl offline');
    ours.socket.destroy();
  });
  test('a download link works until content.validity runs out, then is not found', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');
    const answer = await phone.sendMessage({ to: 'wv:carl@old.test', bytes: png, contentType: 'image/png' });
    assert.equal(resultCode(answer), 200);
    const { village } = await villageStream('imps.test');
    const link = await village.until(/https?:\/\/[^\s<"]+\/content\/([A-Za-z0-9_-]{32,})/, 'the download link');
    const local = new URL(`/content/${link[1]}`, server.url);
    const fresh = await request(local);
    assert.equal(fresh.statusCode, 200);
    assert.deepEqual(Buffer.from(await fresh.body.arrayBuffer()), png);
    await sleep(CONTENT_VALIDITY_S * 1000 + 200);
    const expired = await request(local);
    await expired.body.dump();
    assert.equal(expired.statusCode, 404, 'the link has expired');
  });
});
