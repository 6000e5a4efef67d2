// The XMPP federation test harness itself (test/support/prosody.ts, pki.ts, xmpp-client.ts),
// in each of Prosody's four s2s security modes:
//   * two xmpp.test users exchange a message through Prosody (c2s);
//   * Prosody federates towards imps.test at 127.0.0.1:villageS2sPort (its unbound SRV record):
//     a plain TCP listener there receives Prosody's s2s stream header. Nothing answers it, so
//     what Prosody would do next (dialback, STARTTLS) is for the federation tests proper.
// No Village code is involved. Missing Prosody fails (with the install command), never skips.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as createConnection, createServer, type Server, type Socket } from 'node:net';
import { Prosody, PROSODY_MODES, type ProsodyMode } from '../support/prosody.ts';
import { bodyOf, connectXmppUser, messageFrom, type XmppUser } from '../support/xmpp-client.ts';

const USERS = [
  { name: 'alice', password: 'alice-pw' },
  { name: 'bob', password: 'bob pw with spaces & <xml>' },
];

/** A TCP listener standing in for Village's s2s port: records what each connection sends. */
class FakeS2sListener {
  readonly received: string[] = [];
  private readonly sockets = new Set<Socket>();
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeS2sListener> {
    const server = createServer();
    const listener = new FakeS2sListener(server);
    server.on('connection', (socket) => {
      const i = listener.received.push('') - 1;
      listener.sockets.add(socket);
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (listener.received[i] += chunk));
      socket.on('error', () => {});
      socket.on('close', () => listener.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return listener;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** The first stream header any connection sent, waiting up to timeoutMs for it. */
  async streamHeader(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const text of this.received) {
        const header = /<stream:stream\b[^>]*>/.exec(text);
        if (header) return header[0];
      }
      if (Date.now() > deadline) throw new Error(`no XML stream header within ${timeoutMs} ms; received ${JSON.stringify(this.received)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

function attr(header: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}=(?:'([^']*)'|"([^"]*)")`).exec(header);
  return m ? (m[1] ?? m[2]) : undefined;
}

for (const mode of PROSODY_MODES) {
  describe(`Prosody harness, mode ${mode}`, () => {
    let listener: FakeS2sListener;
    let prosody: Prosody;
    const users: XmppUser[] = [];

    before(async () => {
      listener = await FakeS2sListener.start();
      prosody = await Prosody.start({ mode, villageS2sPort: listener.port, users: USERS });
    });

    after(async () => {
      await Promise.all(users.splice(0).map((u) => u.close()));
      await prosody?.dispose();
      await listener?.close();
    });

    const login = async (i: number): Promise<XmppUser> => {
      const u = await connectXmppUser({ port: prosody.c2sPort, domain: prosody.domain, username: USERS[i]!.name, password: USERS[i]!.password });
      users.push(u);
      return u;
    };

    test('two users exchange messages through Prosody (c2s)', async () => {
      const [alice, bob] = await Promise.all([login(0), login(1)]);
      assert.match(alice.jid, /^alice@xmpp\.test\/.+/);
      alice.sendMessage(bob.bareJid, 'hello bob <&>');
      const got = await bob.waitFor(messageFrom(alice.bareJid), 5000, 'the message from alice');
      assert.equal(bodyOf(got), 'hello bob <&>');
      assert.equal(got.attrs['from'], alice.jid);
      bob.sendMessage(alice.jid, 'hi alice');
      assert.equal(bodyOf(await alice.waitFor(messageFrom(bob.bareJid), 5000, 'the reply from bob')), 'hi alice');
    });

    test('a message to someone@imps.test makes Prosody open an s2s stream to 127.0.0.1:villageS2sPort', async () => {
      const alice = users.find((u) => u.bareJid === 'alice@xmpp.test') ?? (await login(0));
      alice.sendMessage('someone@imps.test', 'to the village');
      let header: string;
      try {
        header = await listener.streamHeader(5000);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- Prosody log (tail) ---\n${prosody.logTail(40)}`);
      }
      assert.equal(attr(header, 'to'), 'imps.test', header);
      assert.equal(attr(header, 'xmlns'), 'jabber:server', header);
      assert.equal(attr(header, 'from'), 'xmpp.test', header);
      assert.equal(attr(header, 'version'), '1.0', header);
    });

    if (mode === 'plain') {
      test('restart() keeps the ports and the accounts', async () => {
        const ports = [prosody.c2sPort, prosody.s2sPort];
        await Promise.all(users.splice(0).map((u) => u.close()));
        await prosody.restart();
        assert.deepEqual([prosody.c2sPort, prosody.s2sPort], ports);
        assert.ok(prosody.running);
        const bob = await login(1);
        assert.match(bob.jid, /^bob@xmpp\.test\//);
        assert.match(prosody.logText(), /Received SIGTERM/);
      });
    }
  });
}

test('modes differ in the s2s stream features Prosody offers', async () => {
  // A peer's view of Prosody's incoming s2s port in two contrasting modes (the others are
  // covered by the federation tests proper): plain offers dialback only, secure requires TLS.
  const expectations: [ProsodyMode, RegExp, RegExp | undefined][] = [
    ['plain', /<dialback xmlns='urn:xmpp:features:dialback'/, /starttls/],
    ['secure', /<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required\/><\/starttls>/, undefined],
  ];
  for (const [mode, present, absent] of expectations) {
    const prosody = await Prosody.start({ mode, villageS2sPort: 9 });
    try {
      const features = await s2sFeatures(prosody.s2sPort);
      assert.match(features, present, `${mode}: ${features}`);
      if (absent) assert.doesNotMatch(features, absent, `${mode}: ${features}`);
    } finally {
      await prosody.dispose();
    }
  }
});

/** Open an s2s stream from imps.test to Prosody and return its <stream:features/>. */
function s2sFeatures(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port);
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no stream features within 3000 ms; got ${JSON.stringify(got)}`));
    }, 3000);
    socket.on('connect', () =>
      socket.write(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='imps.test' to='xmpp.test' version='1.0'>",
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('utf8');
      const m = /<stream:features>.*<\/stream:features>|<stream:features\/>/s.exec(got);
      if (m) {
        clearTimeout(timer);
        socket.destroy();
        resolve(m[0]);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
