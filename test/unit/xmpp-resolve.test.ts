// Where a peer domain's s2s service is found (src/adapters/xmpp/resolve.ts, RFC 6120 §3.2):
// a configured route first, then DNS SRV in priority order, "." meaning no service, then the
// domain itself on 5269. The SRV lookup is a stand-in here (the e2e suites use routes).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { resolveTargets, type SrvLookup } from '../../src/adapters/xmpp/resolve.ts';

const srv = (records: { name: string; port: number; priority: number; weight: number }[]): SrvLookup & { asked: string[] } => {
  const asked: string[] = [];
  return Object.assign(async (name: string) => (asked.push(name), records), { asked });
};
const failing: SrvLookup = async () => {
  throw Object.assign(new Error('queryNsrv ENOTFOUND'), { code: 'ENOTFOUND' });
};

describe('XMPP peer resolution', () => {
  test('a configured route wins; DNS is not asked', async () => {
    const lookup = srv([{ name: 'srv.example', port: 5270, priority: 0, weight: 0 }]);
    assert.deepEqual(await resolveTargets('xmpp.example', { 'xmpp.example': '10.0.0.7:5299' }, lookup), [{ host: '10.0.0.7', port: 5299 }]);
    assert.deepEqual(lookup.asked, []);
  });

  test('SRV records of _xmpp-server._tcp.<domain>, lowest priority first', async () => {
    const lookup = srv([
      { name: 'backup.example', port: 5270, priority: 20, weight: 0 },
      { name: 'main.example', port: 5269, priority: 10, weight: 5 },
    ]);
    assert.deepEqual(await resolveTargets('xmpp.example', {}, lookup), [
      { host: 'main.example', port: 5269 },
      { host: 'backup.example', port: 5270 },
    ]);
    assert.deepEqual(lookup.asked, ['_xmpp-server._tcp.xmpp.example']);
  });

  test('within one priority, weights share the first place (both come first sometimes)', async () => {
    const lookup = srv([
      { name: 'a.example', port: 5269, priority: 10, weight: 50 },
      { name: 'b.example', port: 5269, priority: 10, weight: 50 },
    ]);
    const firsts = new Set<string>();
    for (let i = 0; i < 200; i++) firsts.add((await resolveTargets('xmpp.example', {}, lookup))[0]!.host);
    assert.deepEqual([...firsts].sort(), ['a.example', 'b.example']);
  });

  test('a lone "." target means the domain has no s2s service', async () => {
    assert.deepEqual(await resolveTargets('xmpp.example', {}, srv([{ name: '.', port: 0, priority: 0, weight: 0 }])), []);
  });

  test('no SRV record: the domain itself on port 5269', async () => {
    assert.deepEqual(await resolveTargets('xmpp.example', {}, failing), [{ host: 'xmpp.example', port: 5269 }]);
    assert.deepEqual(await resolveTargets('xmpp.example', {}, srv([])), [{ host: 'xmpp.example', port: 5269 }]);
  });
});
