// Delivery in full over real HTTP: push and notify/get (by InitialDeliveryMethod, by
// SetDeliveryMethod, by size), GetMessageList, RejectMessage, ForwardMessage, delivery reports
// (delivered 200, rejected 538, expired 542) that also reach an offline sender, Validity and
// the expiry sweep, the per-user queue bound, and one delivery per user across sessions.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sharedServer } from '../support/shared-server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { MATRIX, variantKit } from '../support/matrix.ts';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';

const infoOf = (p: CspElement) => child(p, 'MessageInfo');
const idOf = (p: CspElement) => textOf(infoOf(p), 'MessageID')!;
const statusOk = () => el('Status', [el('Result', [leaf('Code', 200)])]);

describe('delivery', () => {
  const server = sharedServer({ config: { messages: { reofferAfter: 3, sweepInterval: 1, maxQueuedPerUser: 5 } } });

  for (const variant of MATRIX) {
    const { version, label } = variant;
    const { user, phone, loggedIn } = variantKit(server, variant);

    /** Poll once and answer every server request with Status 200; returns what came. */
    const pollAndAnswer = async (p: Phone) => {
      const { transactions, poll } = await p.poll();
      for (const t of transactions) if (t.primitive.name !== 'NewMessage') await p.post([{ mode: 'Response', id: t.id, primitive: statusOk() }]);
      return { transactions, poll };
    };

    describe(label, () => {
      test('notify/get: InitialDeliveryMethod N brings MessageNotification; GetMessage fetches; MessageDelivered ends it', async () => {
        const alice = await loggedIn('nalice');
        const bob = await loggedIn('nbob');
        await bob.negotiateCapabilities([leaf('InitialDeliveryMethod', 'N')!]);
        assert.equal(resultCode(await alice.sendText(user('nbob'), 'fetch me')), 200);

        const { transactions } = await pollAndAnswer(bob);
        assert.equal(transactions.length, 1);
        const note = transactions[0]!.primitive;
        assert.equal(note.name, 'MessageNotification');
        assert.equal(child(note, 'ContentData'), undefined, 'a notification carries no content');
        const messageId = idOf(note);
        assert.equal(textOf(infoOf(note), 'ContentSize'), '8');
        const again = await bob.poll();
        assert.equal(again.transactions.length, 0, 'announced once per session');
        assert.equal(again.poll, false);

        const { primitive: got } = await bob.request(el('GetMessage-Request', [leaf('MessageID', messageId)]));
        assert.equal(got.name, 'GetMessage-Response');
        assert.equal(child(got, 'ContentData')!.text, 'fetch me');
        assert.equal(idOf(got), messageId);
        assert.equal(resultCode((await bob.request(el('MessageDelivered', [leaf('MessageID', messageId)]))).primitive), 200);
        assert.equal(resultCode((await bob.request(el('GetMessage-Request', [leaf('MessageID', messageId)]))).primitive), 426);
      });

      test('SetDeliveryMethod switches between notify and push', async () => {
        const alice = await loggedIn('sdalice');
        const bob = await loggedIn('sdbob');
        assert.equal(resultCode((await bob.request(el('SetDeliveryMethod-Request', [leaf('DeliveryMethod', 'N')]))).primitive), 200);
        await alice.sendText(user('sdbob'), 'one');
        const first = await pollAndAnswer(bob);
        assert.equal(first.transactions[0]!.primitive.name, 'MessageNotification');
        assert.equal(resultCode((await bob.request(el('SetDeliveryMethod-Request', [leaf('DeliveryMethod', 'P')]))).primitive), 200);
        await alice.sendText(user('sdbob'), 'two');
        const second = await bob.poll();
        assert.equal(second.transactions.length, 1);
        assert.equal(second.transactions[0]!.primitive.name, 'NewMessage');
        assert.equal(child(second.transactions[0]!.primitive, 'ContentData')!.text, 'two');
        assert.equal(resultCode((await bob.request(el('SetDeliveryMethod-Request', [leaf('DeliveryMethod', 'X')]))).primitive), 402);
      });

      test('a message larger than the accepted push length is only announced', async () => {
        const alice = await loggedIn('szalice');
        const bob = await loggedIn('szbob');
        // 1.1/1.2 set the push length with SetDeliveryMethod; 1.3 has no such field there (and
        // no WBXML token for AcceptedContentLength) but negotiates AcceptedPushLength.
        if (version === '1.3') await bob.negotiateCapabilities([leaf('AcceptedPushLength', 10)!]);
        else await bob.request(el('SetDeliveryMethod-Request', [leaf('DeliveryMethod', 'P'), leaf('AcceptedContentLength', 10)]));
        await alice.sendText(user('szbob'), 'short');
        await alice.sendText(user('szbob'), 'a good deal longer than ten bytes');
        assert.deepEqual((await bob.drain()).map((p) => p.name), ['NewMessage', 'MessageNotification']);
      });

      test('GetMessageList lists what waits, oldest first', async () => {
        const alice = await loggedIn('glalice');
        const bob = await loggedIn('glbob');
        const ids: string[] = [];
        for (const t of ['first', 'second', 'third']) ids.push(textOf(await alice.sendText(user('glbob'), t), 'MessageID')!);
        const { primitive } = await bob.request(el('GetMessageList-Request'));
        assert.equal(primitive.name, 'GetMessageList-Response');
        const infos = version === '1.3' ? childrenNamed(child(primitive, 'MessageInfoList'), 'MessageInfo') : childrenNamed(primitive, 'MessageInfo');
        assert.deepEqual(infos.map((i) => textOf(i, 'MessageID')), ids);
        if (version === '1.3') assert.equal(textOf(primitive, 'MessageTotalCount'), '3');
        const limited = (await bob.request(el('GetMessageList-Request', [leaf('MessageCount', 1)]))).primitive;
        const limitedInfos = version === '1.3' ? childrenNamed(child(limited, 'MessageInfoList'), 'MessageInfo') : childrenNamed(limited, 'MessageInfo');
        assert.equal(limitedInfos.length, 1);
      });

      test('DeliveryReport: the sender hears 200 when the recipient acknowledges', async () => {
        const alice = await loggedIn('dralice');
        const bob = await loggedIn('drbob');
        const sent = await alice.sendText(user('drbob'), 'tell me', { deliveryReport: true });
        const messageId = textOf(sent, 'MessageID')!;
        assert.deepEqual((await bob.receiveAll()).map((r) => r.messageId), [messageId]);
        const { transactions } = await alice.poll();
        assert.equal(transactions.length, 1);
        const report = transactions[0]!.primitive;
        assert.equal(report.name, 'DeliveryReport-Request');
        assert.equal(resultCode(report), 200);
        assert.equal(idOf(report), messageId);
        assert.equal(textOf(child(child(infoOf(report), 'Recipient'), 'User'), 'UserID'), `wv:${user('drbob')}`);
        assert.equal(child(report, 'DeliveryTime') !== undefined, version !== '1.1', 'DeliveryTime exists from 1.2 on');
        // Answered: gone. Unanswered reports would come back after the re-offer interval.
        const answer = await alice.post([{ mode: 'Response', id: transactions[0]!.id, primitive: statusOk() }]);
        assert.equal(answer.status, 200);
        assert.equal((await alice.poll()).transactions.length, 0);
      });

      test('DeliveryReport: rejected (538), and a sender who is offline gets it at the next login', async () => {
        const alice = await loggedIn('rjalice');
        const bob = await loggedIn('rjbob');
        const messageId = textOf(await alice.sendText(user('rjbob'), 'unwanted', { deliveryReport: true }), 'MessageID')!;
        await alice.logout();
        assert.equal(resultCode((await bob.request(el('RejectMessage-Request', [leaf('MessageID', messageId)]))).primitive), 200);
        assert.equal((await bob.poll()).transactions.length, 0, 'a rejected message is gone');
        assert.equal(resultCode((await bob.request(el('RejectMessage-Request', [leaf('MessageID', messageId)]))).primitive), 426);

        const back = await loggedIn('rjalice');
        const { transactions } = await back.poll();
        assert.equal(transactions.length, 1);
        assert.equal(transactions[0]!.primitive.name, 'DeliveryReport-Request');
        assert.equal(resultCode(transactions[0]!.primitive), 538);
        assert.equal(idOf(transactions[0]!.primitive), messageId);
      });

      test('three users: one report per recipient', async () => {
        const alice = await loggedIn('3alice');
        const bob = await loggedIn('3bob');
        const carol = await loggedIn('3carol');
        const messageId = textOf(await alice.sendText([user('3bob'), user('3carol')], 'to both', { deliveryReport: true }), 'MessageID')!;
        for (const p of [bob, carol]) assert.deepEqual((await p.receiveAll()).map((r) => r.messageId), [messageId]);
        const reports = (await alice.drain()).filter((p) => p.name === 'DeliveryReport-Request');
        assert.deepEqual(reports.map((r) => textOf(child(child(infoOf(r), 'Recipient'), 'User'), 'UserID')).sort(), [`wv:${user('3bob')}`, `wv:${user('3carol')}`]);
        assert.ok(reports.every((r) => resultCode(r) === 200 && idOf(r) === messageId));
      });

      test('ForwardMessage sends a waiting message on, from the forwarder', async () => {
        const alice = await loggedIn('fwalice');
        const bob = await loggedIn('fwbob');
        const carol = await loggedIn('fwcarol');
        const original = textOf(await alice.sendText(user('fwbob'), 'pass it on'), 'MessageID')!;
        const { primitive } = await bob.request(
          el('ForwardMessage-Request', [leaf('MessageID', original), el('Recipient', [el('User', [leaf('UserID', user('fwcarol'))])])]),
        );
        if (version === '1.3') {
          assert.equal(primitive.name, 'ForwardMessage-Response');
          assert.notEqual(textOf(primitive, 'MessageID'), original);
        } else {
          assert.equal(primitive.name, 'Status');
          assert.equal(resultCode(primitive), 200);
        }
        const got = await carol.receiveAll();
        assert.deepEqual(got.map((g) => [g.sender, g.text]), [[`wv:${user('fwbob')}`, 'pass it on']]);
        const bad = (await bob.request(el('ForwardMessage-Request', [leaf('MessageID', 'nope'), el('Recipient', [el('User', [leaf('UserID', user('fwcarol'))])])]))).primitive;
        assert.equal(resultCode(bad), 426);
      });

      test('one user, two phones: a message goes to one of them, and to the other if the first leaves without acknowledging', async () => {
        const alice = await loggedIn('msalice');
        const first = await loggedIn('msbob', { clientId: `first-${version}` });
        const second = await loggedIn('msbob', { clientId: `second-${version}` });
        await alice.sendText(user('msbob'), 'just once');
        const a = await first.poll();
        assert.equal(a.transactions.length, 1);
        assert.equal((await second.poll()).transactions.length, 0, 'not offered to both');
        await first.logout();
        const b = await second.receiveAll();
        assert.deepEqual(b.map((x) => x.text), ['just once']);
        await alice.sendText(user('msbob'), 'and again');
        const third = await loggedIn('msbob', { clientId: `third-${version}` });
        const got = [...(await second.receiveAll()), ...(await third.receiveAll())];
        assert.deepEqual(got.map((x) => x.text), ['and again'], 'acknowledged on one phone: never on another');
      });

      test('Validity: an unfetched message expires, and the sender is told (542)', async () => {
        const alice = await loggedIn('exalice');
        const bob = await loggedIn('exbob');
        await bob.logout();
        const messageId = textOf(await alice.sendText(user('exbob'), 'short-lived', { deliveryReport: true, validity: 1 }), 'MessageID')!;
        await new Promise((r) => setTimeout(r, 2600)); // Validity 1 s; the sweep runs every second
        const back = await loggedIn('exbob');
        assert.deepEqual(await back.receiveAll(), []);
        const { transactions } = await alice.poll();
        assert.equal(transactions.length, 1);
        assert.equal(resultCode(transactions[0]!.primitive), 542);
        assert.equal(idOf(transactions[0]!.primitive), messageId);
      });

      test('the queue of one user is bounded: 507 when full', async () => {
        const alice = await loggedIn('qalice');
        const bob = await loggedIn('qbob');
        await bob.logout();
        for (let i = 0; i < 5; i++) assert.equal(resultCode(await alice.sendText(user('qbob'), `m${i}`)), 200);
        assert.equal(resultCode(await alice.sendText(user('qbob'), 'one too many')), 507);
        const carol = await loggedIn('qcarol');
        const partial = await alice.sendText([user('qbob'), user('qcarol')], 'to both');
        assert.equal(resultCode(partial), 201);
        assert.deepEqual((await carol.receiveAll()).map((r) => r.text), ['to both']);
        const back = await loggedIn('qbob');
        assert.equal((await back.receiveAll()).length, 5);
      });
    });
  }

  test('a pending delivery report survives a restart', async () => {
    const alice = new Phone(server(), { version: '1.2' });
    await alice.loginPassword('persist-alice', 'pw');
    const bob = new Phone(server(), { version: '1.3' });
    await bob.loginPassword('persist-bob', 'pw');
    const messageId = textOf(await alice.sendText('persist-bob', 'across a restart', { deliveryReport: true }), 'MessageID')!;
    await alice.logout();
    assert.equal((await bob.receiveAll()).length, 1);
    assert.equal(await server().stop(), 0);
    await server().restart();
    const back = new Phone(server(), { version: '1.1' });
    await back.loginPassword('persist-alice', 'pw');
    const { transactions } = await back.poll();
    assert.equal(transactions[0]?.primitive.name, 'DeliveryReport-Request');
    assert.equal(idOf(transactions[0]!.primitive), messageId);
    assert.equal(child(transactions[0]!.primitive, 'DeliveryTime'), undefined, 'rendered for the 1.1 phone now asking');
  });
});
