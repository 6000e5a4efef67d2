import { TestServer } from '/work/main/test/support/server.ts';
import { Phone, resultCode } from '/work/main/test/support/phone.ts';
import { Prosody, freePorts } from '/work/main/test/support/prosody.ts';
import { connectXmppUser } from '/work/main/test/support/xmpp-client.ts';
import { testPki } from '/work/main/test/support/pki.ts';
const [villagePort] = await freePorts(1);
const pki = testPki();
const prosody = await Prosody.start({ mode: 'secure', villageS2sPort: villagePort!, users: [{ name: 'bob', password: 'pw' }] });
const server = await TestServer.start({ config: { domains: ['imps.test'], messages: { sweepInterval: 1 }, xmpp: { host: '127.0.0.1', port: villagePort, routes: { 'xmpp.test': `127.0.0.1:${prosody.s2sPort}` }, tls: { cert: pki.untrusted.imps.cert, key: pki.untrusted.imps.key, ca: pki.ca.cert } } } });
try {
  const bob = await connectXmppUser({ port: prosody.c2sPort, domain: 'xmpp.test', username: 'bob', password: 'pw' });
  const alice = new Phone(server, { version: '1.2' });
  console.log('login', resultCode(await alice.loginPassword('alice', 'pw')));
  console.log('send', resultCode(await alice.sendText('wv:bob@xmpp.test', 'hi', { deliveryReport: true, validity: 3 })));
  bob.sendMessage('alice@imps.test', 'from bob');
  for (let i = 0; i < 30; i++) { const got = await alice.drain(); if (got.length) console.log(i, JSON.stringify(got)); await new Promise((r) => setTimeout(r, 200)); }
  console.log('bob received', bob.received.map((s) => JSON.stringify(s)));
  await bob.close();
} finally {
  console.log(server.logs.filter((l) => /XMPP|xmpp|dialback|stanza|TLS|SASL/.test(l)).join('\n'));
  console.log(prosody.logText().split('\n').filter((l) => /cert|auth|error|Error|secure|fail|TLS/i.test(l)).slice(-40).join('\n'));
  await server.dispose();
  await prosody.dispose();
}
