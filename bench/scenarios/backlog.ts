// Offline backlog: B messages wait for a user who is offline; the user logs in and collects
// them all (MultiTrans 1 and 10, following piggy-backed messages as handsets do).
import { performance } from 'node:perf_hooks';
import { Phone, resultCode } from '../../test/support/phone.ts';
import { leaf } from '../../src/csp/tree.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, loggedInPhones, round } from '../lib.ts';

async function collect(server: { url: string }, user: string, multiTrans: number): Promise<{ count: number; seconds: number; requests: number }> {
  const phone = new Phone(server, { version: '1.2', strict: false });
  const t0 = performance.now();
  if (resultCode(await phone.loginPassword(user, 'pw')) !== 200) throw new Error('login failed');
  await phone.negotiateCapabilities([leaf('MultiTrans', multiTrans)!]);
  let requests = 2;
  let count = 0;
  let { transactions, poll } = await phone.poll();
  requests++;
  while (transactions.length || poll) {
    if (!transactions.length) {
      ({ transactions, poll } = await phone.poll());
      requests++;
      continue;
    }
    // Acknowledge everything received in one message (as many transactions as MultiTrans allows).
    const reply = await phone.post(
      transactions.map((t) => ({ mode: 'Response' as const, id: t.id, primitive: { name: 'MessageDelivered', children: [leaf('MessageID', t.primitive.children[0]!.children[0]!.text)!] } })),
    );
    requests++;
    count += transactions.length;
    transactions = (reply.message?.transactions ?? []).filter((t) => t.mode === 'Request').map((t) => ({ id: t.id!, primitive: t.primitive! }));
    poll = reply.message?.poll ?? false;
  }
  return { count, seconds: (performance.now() - t0) / 1000, requests };
}

export async function backlog(options: BenchOptions): Promise<ScenarioResult> {
  const b = options.backlog;
  const server = await benchServer(options, { messages: { maxQueuedPerUser: b + 1 } });
  try {
    const senders = await loggedInPhones(server, 20, 'backlog-sender');
    for (const user of ['backlog-1', 'backlog-10']) {
      const p = new Phone(server, { version: '1.2', strict: false });
      await p.loginPassword(user, 'pw');
      await p.logout();
    }
    const fill = async (user: string) => {
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        senders.map(async (s) => {
          while (next < b) {
            const i = next++;
            if (resultCode(await s.sendText(user, `backlog message ${i}`)) !== 200) throw new Error('queueing failed');
          }
        }),
      );
      return (performance.now() - t0) / 1000;
    };
    const fillSeconds = await fill('backlog-1');
    await fill('backlog-10');
    const one = await collect(server, 'backlog-1', 1);
    const ten = await collect(server, 'backlog-10', 10);
    if (one.count !== b || ten.count !== b) throw new Error(`collected ${one.count} and ${ten.count} of ${b}`);
    const data = {
      backlog: b,
      queuedPerSecond: round(b / fillSeconds),
      collectMultiTrans1: { seconds: round(one.seconds, 2), messagesPerSecond: round(b / one.seconds), httpRequests: one.requests },
      collectMultiTrans10: { seconds: round(ten.seconds, 2), messagesPerSecond: round(b / ten.seconds), httpRequests: ten.requests },
    };
    return {
      data,
      lines: [
        `offline backlog: ${b} messages waiting at login`,
        `  queued at:                 ${data.queuedPerSecond} /s  (20 senders)`,
        `  collected, MultiTrans 1:   ${data.collectMultiTrans1.seconds} s  (${data.collectMultiTrans1.messagesPerSecond} /s, ${one.requests} HTTP requests)`,
        `  collected, MultiTrans 10:  ${data.collectMultiTrans10.seconds} s  (${data.collectMultiTrans10.messagesPerSecond} /s, ${ten.requests} HTTP requests)`,
      ],
    };
  } finally {
    await server.stop();
    await server.dispose();
  }
}
