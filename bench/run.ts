// `npm run bench [-- options]`: simulated phones against the real server process over real
// HTTP. A benchmark, not a test: it asserts nothing about speed, it reports. Scenarios:
//   core        N phones log in at once, exchange messages flat out and at a steady rate
//   recipients  one sender, each message to R recipients
//   backlog     B messages waiting for an offline user, collected at login
//   group       one group with G joined users; messages fanned out; time until all have polled
//   presence    one user with W watchers changes presence; time until all have polled it
//   codecs      decode/encode throughput of XML, WBXML and JSON on the generated corpus
//   stcp        S phones each hold an idle STCP CIR connection: RSS per socket, HELO→OK, message → WVCI latency
//   xmpp        IMPS phones → XMPP users on a real Prosody through s2s, and Prosody users to each other (yardstick)
// Options: --clients N (200) --messages M (20) --recipients R (100) --backlog B (10000)
//          --watchers W (500) --group-size G (1000) --stcp-sockets S (10000) --xmpp-messages X (200 per pair)
//          --only core,recipients,backlog,presence,group,codecs,stcp,xmpp  --profile DIR (V8 CPU profile of the server)
import { parseArgs } from 'node:util';
import { setGlobalDispatcher, Agent } from 'undici';
import type { BenchOptions, ScenarioResult } from './lib.ts';
import { core } from './scenarios/core.ts';
import { recipients } from './scenarios/recipients.ts';
import { backlog } from './scenarios/backlog.ts';
import { codecs } from './scenarios/codecs.ts';
import { presence } from './scenarios/presence.ts';
import { group } from './scenarios/group.ts';
import { stcp } from './scenarios/cir.ts';
import { xmpp } from './scenarios/xmpp.ts';

const SCENARIOS: Record<string, (o: BenchOptions) => Promise<ScenarioResult>> = { core, recipients, backlog, presence, group, codecs, stcp, xmpp };

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '200' },
    messages: { type: 'string', default: '20' },
    recipients: { type: 'string', default: '100' },
    backlog: { type: 'string', default: '10000' },
    watchers: { type: 'string', default: '500' },
    'group-size': { type: 'string', default: '1000' },
    'stcp-sockets': { type: 'string', default: '10000' },
    'xmpp-messages': { type: 'string', default: '200' },
    'idle-poll-ms': { type: 'string', default: '200' },
    'paced-rate': { type: 'string', default: '100' },
    'paced-seconds': { type: 'string', default: '10' },
    only: { type: 'string', default: Object.keys(SCENARIOS).join(',') },
    profile: { type: 'string' },
  },
});

const options: BenchOptions = {
  clients: Number(values.clients),
  messages: Number(values.messages),
  recipients: Number(values.recipients),
  backlog: Number(values.backlog),
  watchers: Number(values.watchers),
  groupSize: Number(values['group-size']),
  stcpSockets: Number(values['stcp-sockets']),
  xmppMessages: Number(values['xmpp-messages']),
  idlePollMs: Number(values['idle-poll-ms']),
  pacedRate: Number(values['paced-rate']),
  pacedSeconds: Number(values['paced-seconds']),
  ...(values.profile ? { profile: values.profile } : {}),
};

// One keep-alive connection per phone, as handsets do.
setGlobalDispatcher(new Agent({ connections: Math.max(options.clients, options.recipients, options.watchers, options.groupSize) + 32, pipelining: 1 }));

async function main() {
  const report: Record<string, unknown> = {};
  for (const name of values.only!.split(',')) {
    const scenario = SCENARIOS[name.trim()];
    if (!scenario) throw new Error(`unknown scenario "${name}" (known: ${Object.keys(SCENARIOS).join(', ')})`);
    const result = await scenario(options);
    process.stdout.write(result.lines.join('\n') + '\n\n');
    report[name] = result.data;
  }
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((err) => {
  process.stderr.write(`benchmark failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
