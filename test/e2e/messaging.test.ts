// Text messaging between local users over real HTTP: push delivery through polling, the Poll
// flag, MultiTrans, piggy-backing on acknowledgements, offline storage across logout and
// restart, several recipients and several transactions in one message.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode, detailedResults } from '../support/phone.ts';
import { MATRIX, VERSIONS, variantKit } from '../support/matrix.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';

const TEXTS = ['Hello, Bob!', 'Grüße aus Köln — ça va? 你好 👋🏽', '<not> & "markup" \'quoted\''];

describe('messaging', () => {
  const server = sharedServer({ config: { messages: { reofferAfter: 2 } } });

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, phone } = variantKit(server, variant);
    const pair = async (a: string, b: string) => {
      const pa = phone();
      const pb = phone();
      await pa.loginPassword(user(a), 'pw');
      await pb.loginPassword(user(b), 'pw');
      return [pa, pb] as const;
    };

    describe(label, () => {
      test('a message reaches the online recipient as NewMessage, UTF-8 intact, and MessageDelivered removes it', async () => {
        const [alice, bob] = await pair('alice', 'bob');
        for (const text of TEXTS) {
          const sent = await alice.sendText(user('bob'), text);
          assert.equal(sent.name, 'SendMessage-Response');
          assert.equal(resultCode(sent), 200);
          const messageId = textOf(sent, 'MessageID')!;
          assert.ok(messageId);

          const { transactions, poll } = await bob.poll();
          assert.equal(transactions.length, 1);
          assert.equal(poll, false, 'nothing else waits');
          const newMessage = transactions[0]!.primitive;
          assert.equal(newMessage.name, 'NewMessage');
          const info = child(newMessage, 'MessageInfo');
          assert.equal(textOf(info, 'MessageID'), messageId);
          assert.equal(textOf(info, 'ContentType'), 'text/plain');
          assert.equal(textOf(info, 'ContentSize'), String(Buffer.byteLength(text)));
          // Bob logged in with a bare user ID, so addresses of his own domain come without it.
          assert.equal(textOf(child(child(info, 'Sender'), 'User'), 'UserID'), `wv:${user('alice')}`);
          assert.equal(textOf(child(child(info, 'Recipient'), 'User'), 'UserID'), `wv:${user('bob')}`);
          assert.match(textOf(info, 'DateTime')!, /^\d{8}T\d{6}Z$/);
          assert.equal(child(newMessage, 'ContentData')!.text, text);

          const ack = await bob.acknowledge(transactions[0]!.id, messageId);
          assert.equal(ack.status, 200);
          assert.equal(ack.raw.length, 0, 'a client response alone gets an empty body when nothing waits');
          assert.equal((await bob.poll()).transactions.length, 0);
        }
      });

      test('addresses are spelled the way the phone logged in; Recipient names only the receiving user', async () => {
        const alice = phone();
        await alice.loginPassword(`wv:${user('st-alice')}@imps.test`, 'pw');
        const bare = phone();
        await bare.loginPassword(user('st-bare'), 'pw');
        const full = phone();
        await full.loginPassword(`WV:${user('st-full').toUpperCase()}@imps.test`, 'pw');
        const remote = phone();
        await remote.loginPassword(`${user('st-remote')}@other.test`, 'pw');
        await alice.sendText([user('st-bare'), `${user('st-full')}@imps.test`, `${user('st-remote')}@other.test`], 'hi all');
        const seen = async (p: Phone) => {
          const { transactions } = await p.poll();
          const info = child(transactions[0]!.primitive, 'MessageInfo');
          return {
            sender: textOf(child(child(info, 'Sender'), 'User'), 'UserID'),
            recipients: childrenNamed(child(info, 'Recipient'), 'User').map((u) => textOf(u, 'UserID')),
          };
        };
        assert.deepEqual(await seen(bare), { sender: `wv:${user('st-alice')}`, recipients: [`wv:${user('st-bare')}`] });
        assert.deepEqual(await seen(full), { sender: `wv:${user('st-alice')}@imps.test`, recipients: [`wv:${user('st-full')}@imps.test`] });
        // A phone of another domain sees imps.test users with their domain even when it logged in bare.
        assert.deepEqual(await seen(remote), { sender: `wv:${user('st-alice')}@imps.test`, recipients: [`wv:${user('st-remote')}@other.test`] });
      });

      test('an empty poll is an empty 200 body', async () => {
        const [, bob] = await pair('quiet-a', 'quiet-b');
        const { exchange, transactions } = await bob.poll();
        assert.equal(exchange.status, 200);
        assert.equal(exchange.raw.length, 0);
        assert.equal(exchange.headers['content-length'], '0');
        assert.equal(transactions.length, 0);
      });

      test('Poll=T in every response while more is queued; one NewMessage per poll with MultiTrans 1', async () => {
        const [alice, bob] = await pair('p-alice', 'p-bob');
        for (let i = 0; i < 3; i++) assert.equal(resultCode(await alice.sendText(user('p-bob'), `m${i}`)), 200);
        // Even an unrelated request tells Bob to poll.
        const keepAlive = await bob.post([{ primitive: el('KeepAlive-Request') }]);
        assert.equal(keepAlive.message?.poll, true);
        const seen: string[] = [];
        for (let i = 0; i < 3; i++) {
          const { transactions, poll } = await bob.poll();
          assert.equal(transactions.length, 1);
          seen.push(child(transactions[0]!.primitive, 'ContentData')!.text!);
          assert.equal(poll, i < 2, `Poll after message ${i}`);
        }
        assert.deepEqual(seen, ['m0', 'm1', 'm2'], 'in the order they were sent');
      });

      test('MultiTrans 3: up to three NewMessages in one answer', async () => {
        const [alice, bob] = await pair('mt-alice', 'mt-bob');
        await bob.negotiateCapabilities([leaf('MultiTrans', 3)!]);
        for (let i = 0; i < 4; i++) await alice.sendText(user('mt-bob'), `n${i}`);
        const first = await bob.poll();
        assert.equal(first.transactions.length, 3);
        assert.equal(first.poll, true);
        const second = await bob.poll();
        assert.equal(second.transactions.length, 1);
        assert.equal(second.poll, false);
      });

      test('the answer to an acknowledgement carries the next queued message', async () => {
        const [alice, bob] = await pair('pb-alice', 'pb-bob');
        for (let i = 0; i < 2; i++) await alice.sendText(user('pb-bob'), `x${i}`);
        const { transactions } = await bob.poll();
        const id = textOf(child(transactions[0]!.primitive, 'MessageInfo'), 'MessageID')!;
        const ack = await bob.acknowledge(transactions[0]!.id, id);
        const next = ack.message?.transactions.filter((t) => t.mode === 'Request') ?? [];
        assert.equal(next.length, 1);
        assert.equal(child(next[0]!.primitive, 'ContentData')!.text, 'x1');
      });

      test('a message for an offline user waits; the next login is told to poll and gets it', async () => {
        const alice = phone();
        await alice.loginPassword(user('off-alice'), 'pw');
        const bob = phone();
        await bob.loginPassword(user('off-bob'), 'pw');
        await bob.logout();
        assert.equal(resultCode(await alice.sendText(user('off-bob'), 'while you were away')), 200);
        const later = phone();
        const login = await later.loginPassword(user('off-bob'), 'pw');
        assert.equal(resultCode(login), 200);
        const received = await later.receiveAll();
        assert.deepEqual(received.map((r) => r.text), ['while you were away']);
      });

      test('an unacknowledged message is offered again (after the re-offer interval, or at the next login)', async () => {
        const [alice, bob] = await pair('ua-alice', 'ua-bob');
        await alice.sendText(user('ua-bob'), 'say you got it');
        const first = await bob.poll();
        assert.equal(first.transactions.length, 1);
        assert.equal((await bob.poll()).transactions.length, 0, 'not twice at once');
        await bob.logout();
        const again = phone();
        await again.loginPassword(user('ua-bob'), 'pw');
        const received = await again.receiveAll();
        assert.deepEqual(received.map((r) => r.text), ['say you got it']);
        assert.equal((await again.poll()).transactions.length, 0, 'acknowledged: gone for good');
      });

      test('several recipients: each gets the message; unknown ones are reported with 531 in a 201', async () => {
        const alice = phone();
        await alice.loginPassword(user('multi-a'), 'pw');
        const recipients = [user('multi-b'), user('multi-c')];
        const phones = [];
        for (const r of recipients) {
          const p = phone();
          await p.loginPassword(r, 'pw');
          phones.push(p);
        }
        const sent = await alice.sendText([...recipients, user('multi-nobody'), `${user('multi-b')}@far.example`], 'to all');
        assert.equal(resultCode(sent), 201);
        const details = detailedResults(sent);
        assert.deepEqual(details.map((d) => d.code).sort(), [516, 531]);
        assert.deepEqual(details.find((d) => d.code === 531)!.userIds, [user('multi-nobody')]);
        for (const p of phones) {
          const got = await p.receiveAll();
          assert.deepEqual(got.map((g) => g.text), ['to all']);
        }
      });

      test('a message only to unknown users is refused with 531 and no MessageID', async () => {
        const alice = phone();
        await alice.loginPassword(user('lonely'), 'pw');
        const sent = await alice.sendText(user('ghost'), 'anyone?');
        assert.equal(resultCode(sent), 531);
        assert.equal(textOf(sent, 'MessageID'), undefined);
      });

      test('several transactions in one message are each answered', async () => {
        const [alice, bob] = await pair('tx-alice', 'tx-bob');
        const send = (text: string) =>
          el('SendMessage-Request', [
            leaf('DeliveryReport', false),
            el('MessageInfo', [leaf('ContentSize', text.length), el('Recipient', [el('User', [leaf('UserID', user('tx-bob'))])]), el('Sender', [el('User', [leaf('UserID', user('tx-alice'))])])]),
            leaf('ContentData', text),
          ]);
        const exchange = await alice.post([
          { primitive: send('one'), id: 'a1' },
          { primitive: el('KeepAlive-Request'), id: 'a2' },
          { primitive: send('two'), id: 'a3' },
        ]);
        const answers = exchange.message!.transactions;
        assert.deepEqual(answers.map((t) => [t.id, t.primitive?.name]), [
          ['a1', 'SendMessage-Response'],
          ['a2', 'KeepAlive-Response'],
          ['a3', 'SendMessage-Response'],
        ]);
        assert.deepEqual((await bob.receiveAll()).map((r) => r.text), ['one', 'two']);
      });

      test('a missing ContentType means text/plain; a message without MessageInfo is a 402', async () => {
        const [alice, bob] = await pair('ct-alice', 'ct-bob');
        const bare = el('SendMessage-Request', [
          leaf('DeliveryReport', false),
          el('MessageInfo', [leaf('ContentSize', 2), el('Recipient', [el('User', [leaf('UserID', user('ct-bob'))])]), el('Sender', [])]),
          leaf('ContentData', 'ok'),
        ]);
        assert.equal(resultCode((await alice.request(bare)).primitive), 200);
        const { transactions } = await bob.poll();
        assert.equal(textOf(child(transactions[0]!.primitive, 'MessageInfo'), 'ContentType'), 'text/plain');
        const broken = el('SendMessage-Request', [leaf('DeliveryReport', false), leaf('ContentData', 'no info')]);
        assert.equal(resultCode((await alice.request(broken)).primitive), 402);
      });
    });
  }

  test('every version talks to every other version', async () => {
    const phones = new Map<string, Phone>();
    for (const v of VERSIONS) {
      const p = new Phone(server(), { version: v });
      await p.loginPassword(`mix${v.replace('.', '')}`, 'pw');
      phones.set(v, p);
    }
    for (const from of VERSIONS) for (const to of VERSIONS) {
      if (from !== to) assert.equal(resultCode(await phones.get(from)!.sendText(`wv:mix${to.replace('.', '')}`, `from ${from} to ${to}`)), 200);
    }
    for (const to of VERSIONS) {
      const got = (await phones.get(to)!.receiveAll()).map((r) => r.text).sort();
      assert.deepEqual(got, VERSIONS.filter((v) => v !== to).map((from) => `from ${from} to ${to}`).sort());
    }
  });

  test('undelivered messages survive a graceful restart', async () => {
    const alice = new Phone(server(), { version: '1.2' });
    await alice.loginPassword('restart-alice', 'pw');
    const bob = new Phone(server(), { version: '1.3' });
    await bob.loginPassword('restart-bob', 'pw');
    await alice.sendText('restart-bob', 'before the restart');
    // Offered but never acknowledged: must not be lost either.
    assert.equal((await bob.poll()).transactions.length, 1);
    await alice.sendText('restart-bob', 'also before');
    assert.equal(await server().stop(), 0);
    await server().restart();
    const stale = await bob.request(el('Polling-Request'));
    assert.equal(resultCode(stale.primitive), 604, 'sessions do not survive a restart');
    const again = new Phone(server(), { version: '1.3' });
    await again.loginPassword('restart-bob', 'pw');
    assert.deepEqual((await again.receiveAll()).map((r) => r.text), ['before the restart', 'also before']);
  });
});
