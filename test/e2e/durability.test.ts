// "SIGKILL at any moment loses nothing that was acknowledged": senders fire messages as fast
// as they can, the server is killed without warning mid-stream, and after a restart every
// message whose SendMessage-Response said 200 must reach its recipient.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer } from '../support/server.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { textOf } from '../../src/csp/tree.ts';

describe('durability', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const s of servers) await s.dispose();
  });

  for (const killAfterMs of [150, 400, 900]) {
    test(`SIGKILL ${killAfterMs} ms into a burst of sends loses no acknowledged message`, async (t) => {
      const server = await TestServer.start();
      servers.push(server);
      const recipient = new Phone(server, { version: '1.2' });
      await recipient.loginPassword('keeper', 'pw');
      await recipient.logout();

      const acknowledged = new Set<string>();
      let refused = 0;
      const sender = async (n: number) => {
        const p = new Phone(server, { version: (['1.1', '1.2', '1.3'] as const)[n % 3]! });
        await p.loginPassword(`sender${n}`, 'pw');
        for (let i = 0; ; i++) {
          let answer;
          try {
            answer = await p.sendText('keeper', `sender${n} #${i}`);
          } catch {
            return; // the server died under us: this one was never acknowledged
          }
          if (resultCode(answer) === 200) acknowledged.add(textOf(answer, 'MessageID')!);
          else refused++;
        }
      };
      const senders = [0, 1, 2, 3].map(sender);
      await new Promise((r) => setTimeout(r, killAfterMs));
      await server.kill();
      await Promise.all(senders);
      assert.ok(acknowledged.size > 0, 'some messages were acknowledged before the kill');
      t.diagnostic(`${acknowledged.size} messages acknowledged before the kill`);
      assert.equal(refused, 0);

      await server.restart();
      const after = new Phone(server, { version: '1.3' });
      await after.loginPassword('keeper', 'pw');
      const received = await after.receiveAll(100_000);
      const ids = new Set(received.map((r) => r.messageId));
      const lost = [...acknowledged].filter((id) => !ids.has(id));
      assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged messages were lost`);
      // Delivered exactly as stored: every text is one a sender produced.
      for (const r of received) assert.match(r.text, /^sender\d #\d+$/);
    });
  }
});
