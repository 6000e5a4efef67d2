// Group fan-out: one group with G joined users (default 1 000); one member sends messages to
// the group; how fast they fan out (deliveries/s) and how long until every member has polled
// each message.
import { performance } from 'node:perf_hooks';
import { Phone, resultCode } from '../../test/support/phone.ts';
import { child, el, leaf, type CspElement } from '../../src/csp/tree.ts';
import type { BenchOptions, ScenarioResult } from '../lib.ts';
import { benchServer, latencySummary, loggedInPhones, pollLoop, round, sleep, stamped } from '../lib.ts';

const MESSAGES = 10;
const GROUP = 'wv:host0/hall@imps.test';

export async function group(options: BenchOptions): Promise<ScenarioResult> {
  const g = options.groupSize;
  // Members poll less often than in the other scenarios: a thousand phones on one 2-core machine.
  const idlePollMs = Math.max(options.idlePollMs, 1000);
  const server = await benchServer(options, { groups: { maxActiveUsers: g + 10 } });
  try {
    const [host] = await loggedInPhones(server, 1, 'host');
    const created = await host!.request(
      el('CreateGroup-Request', [
        leaf('GroupID', GROUP),
        el('GroupProperties', [el('Property', [leaf('Name', 'Topic'), leaf('Value', 'benchmark')])]),
        leaf('JoinGroup', true),
        leaf('SubscribeNotification', false),
      ]),
    );
    if (resultCode(created.primitive) !== 200) throw new Error('CreateGroup failed');
    const members = await loggedInPhones(server, g - 1, 'member');
    const join = (p: Phone) =>
      p.request(el('JoinGroup-Request', [leaf('GroupID', GROUP), p.version === '1.1' ? undefined : leaf('JoinedRequest', false), leaf('SubscribeNotification', false)]));
    const t0 = performance.now();
    const joins = await Promise.all(members.map(async (p) => (await join(p)).primitive.name));
    const joinSeconds = (performance.now() - t0) / 1000;
    if (joins.some((n) => n !== 'JoinGroup-Response')) throw new Error(`${joins.filter((n) => n !== 'JoinGroup-Response').length} joins failed`);

    // Per message: the time from sending until the last member polled it.
    const seenAt = new Map<string, number[]>();
    const sentAt = new Map<string, number>();
    const expected = MESSAGES * members.length;
    let received = 0;
    const onMessage = (m: CspElement) => {
      const text = child(m, 'ContentData')!.text!;
      const list = seenAt.get(text) ?? [];
      list.push(performance.now());
      seenAt.set(text, list);
      received++;
    };
    const deadline = performance.now() + 300_000;
    const pollers = members.map((p) => pollLoop(p, idlePollMs, onMessage, () => received >= expected || performance.now() > deadline));
    await sleep(200);
    const sendMs: number[] = [];
    const send = async (i: number) => {
      const text = stamped(`hello hall ${i}`);
      const started = performance.now();
      const answer = await host!.request(
        el('SendMessage-Request', [
          leaf('DeliveryReport', false),
          el('MessageInfo', [leaf('ContentSize', text.length), el('Recipient', [el('Group', [leaf('GroupID', GROUP)])]), el('Sender', [])]),
          leaf('ContentData', text),
        ]),
      );
      sendMs.push(performance.now() - started);
      if (resultCode(answer.primitive) !== 200) throw new Error(`group message failed: ${resultCode(answer.primitive)}`);
      sentAt.set(text, started);
      return text;
    };
    // First one message into a quiet group: how long until the last member has it, which is
    // what a chat feels like. Then the rest back to back: how fast the server fans out.
    const first = await send(0);
    while (received < members.length && performance.now() < deadline) await sleep(20);
    const quietSendMs = sendMs[0]!;
    const singleMs = Math.max(...(seenAt.get(first) ?? [Infinity])) - sentAt.get(first)!;
    const t1 = performance.now();
    for (let i = 1; i < MESSAGES; i++) await send(i);
    await Promise.all(pollers);
    const seconds = (performance.now() - t1) / 1000;
    if (received < expected) throw new Error(`only ${received} of ${expected} deliveries arrived`);
    const burst = received - members.length;
    const untilAll = [...sentAt].filter(([text]) => text !== first).map(([text, at]) => Math.max(...seenAt.get(text)!) - at).sort((a, b) => a - b);
    sendMs.sort((a, b) => a - b);
    const data = {
      joinedUsers: g,
      messages: MESSAGES,
      joinsPerSecond: round(members.length / joinSeconds),
      sendMs: latencySummary(sendMs),
      oneMessageSendMs: round(quietSendMs),
      oneMessageUntilEveryMemberPolledMs: round(singleMs),
      burstDeliveriesPerSecond: round(burst / seconds),
      burstUntilEveryMemberPolledMs: { median: round(untilAll[Math.floor(untilAll.length / 2)]!), max: round(untilAll.at(-1)!) },
      idlePollMs,
    };
    return {
      data,
      lines: [
        `group fan-out: one group with ${g} joined users, ${MESSAGES} messages to the group`,
        `  joins:                      ${data.joinsPerSecond} /s`,
        `  SendMessage answered in:    p50 ${data.sendMs.p50} ms, p99 ${data.sendMs.p99} ms  (one message stored for ${g - 1} members)`,
        `  one message, quiet group:   SendMessage answered in ${data.oneMessageSendMs} ms, every member has polled it after ${data.oneMessageUntilEveryMemberPolledMs} ms  (idle members poll every ${idlePollMs} ms)`,
        `  ${MESSAGES - 1} more back to back:     ${data.burstDeliveriesPerSecond} deliveries/s (${burst} in ${round(seconds, 2)} s); every member had each after median ${data.burstUntilEveryMemberPolledMs.median} ms, worst ${data.burstUntilEveryMemberPolledMs.max} ms`,
      ],
    };
  } finally {
    await server.stop();
    await server.dispose();
  }
}
