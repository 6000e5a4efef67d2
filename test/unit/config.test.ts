import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, configKeys, ConfigError } from '../../src/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'config-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const failsNaming = (fn: () => unknown, ...needles: string[]) =>
  assert.throws(fn, (e) => e instanceof ConfigError && needles.every((n) => e.message.includes(n)), needles.join(', '));

describe('configuration', () => {
  test('embedded defaults: localhost, 127.0.0.1:8080, ./data, auto-registration on', () => {
    const c = loadConfig({ env: {} });
    assert.deepEqual(c.domains, ['localhost']);
    assert.equal(c.http.host, '127.0.0.1');
    assert.equal(c.http.port, 8080);
    assert.equal(c.dataDir, './data');
    assert.equal(c.autoRegister, true);
    assert.equal(c.xmpp, undefined);
  });

  test('the contract keys of the issue load from YAML', () => {
    const c = loadConfig({
      env: {},
      file: file(
        'full.yaml',
        `domains: [imps.test, other.test]
dataDir: ./data
autoRegister: true
http: { host: 127.0.0.1, port: 8080 }
cir:
  stcp: { host: 127.0.0.1, port: 8081 }
  sms:  { url: "http://127.0.0.1:13013/cgi-bin/sendsms?to={to}&udh={udh}&text={text}" }
xmpp: { host: 127.0.0.1, port: 5269, routes: { xmpp.test: "127.0.0.1:5270" } }
ssp:  { peers: { remote.test: "http://127.0.0.1:9080/" } }
`,
      ),
    });
    assert.deepEqual(c.domains, ['imps.test', 'other.test']);
    assert.equal(c.cir.stcp?.port, 8081);
    assert.equal(c.xmpp?.routes['xmpp.test'], '127.0.0.1:5270');
    assert.equal(c.ssp?.peers['remote.test'], 'http://127.0.0.1:9080/');
  });

  test('JSON is YAML', () => {
    const c = loadConfig({ env: {}, file: file('c.json', '{"domains": ["Json.Test"], "http": {"port": 9000}}') });
    assert.deepEqual(c.domains, ['json.test']);
    assert.equal(c.http.port, 9000);
  });

  test('errors name the key: unknown keys, wrong types, bad ports, bad URLs, bad routes', () => {
    failsNaming(() => loadConfig({ env: {}, file: file('a.yaml', 'colour: blue\n') }), '"colour"');
    failsNaming(() => loadConfig({ env: {}, file: file('b.yaml', 'http: { bind: x }\n') }), '"http.bind"');
    failsNaming(() => loadConfig({ env: {}, file: file('c.yaml', 'http: { port: 70000 }\n') }), 'http.port');
    failsNaming(() => loadConfig({ env: {}, file: file('d.yaml', 'autoRegister: maybe\n') }), 'autoRegister');
    failsNaming(() => loadConfig({ env: {}, file: file('e.yaml', 'cir: { sms: { url: "gopher://x" } }\n') }), 'cir.sms.url');
    failsNaming(() => loadConfig({ env: {}, file: file('f.yaml', 'xmpp: { routes: { x.test: "nohostport" } }\n') }), 'xmpp.routes.x.test');
    failsNaming(() => loadConfig({ env: {}, file: file('g.yaml', 'domains: []\n') }), 'domains');
    failsNaming(() => loadConfig({ env: {}, file: file('h.yaml', 'domains: [imps.test\n') }), 'not valid YAML');
    failsNaming(() => loadConfig({ env: {}, file: join(dir, 'missing.yaml') }), 'cannot read config file');
  });

  test('every key has an environment override, named after its path', () => {
    const names = configKeys().map((k) => k.env);
    for (const expected of ['VILLAGE_DOMAINS', 'VILLAGE_DATA_DIR', 'VILLAGE_AUTO_REGISTER', 'VILLAGE_HTTP_HOST', 'VILLAGE_HTTP_PORT', 'VILLAGE_CIR_STCP_PORT', 'VILLAGE_CIR_SMS_URL', 'VILLAGE_XMPP_ROUTES', 'VILLAGE_SSP_PEERS']) {
      assert.ok(names.includes(expected), expected);
    }
    const c = loadConfig({
      env: {
        VILLAGE_DOMAINS: 'a.test, b.test',
        VILLAGE_HTTP_PORT: '8090',
        VILLAGE_AUTO_REGISTER: 'no',
        VILLAGE_XMPP_ROUTES: '{xmpp.test: "127.0.0.1:5270"}',
        VILLAGE_SESSION_KEEP_ALIVE_MAX: '900',
      },
      file: file('base.yaml', 'domains: [file.test]\nhttp: { port: 1 }\n'),
    });
    assert.deepEqual(c.domains, ['a.test', 'b.test']);
    assert.equal(c.http.port, 8090);
    assert.equal(c.autoRegister, false);
    assert.equal(c.xmpp?.routes['xmpp.test'], '127.0.0.1:5270');
    assert.equal(c.session.keepAliveMax, 900);
    failsNaming(() => loadConfig({ env: { VILLAGE_HTTP_PORT: 'eighty' } }), 'http.port', 'VILLAGE_HTTP_PORT');
  });

  test('README documents every environment variable with its key', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const missing = configKeys().filter((k) => !readme.includes(`\`${k.env}\` | ${k.path.join('.')} |`));
    assert.deepEqual(missing.map((k) => k.env), []);
  });

  test("README's complete example is a valid configuration that sets every section", () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const from = readme.indexOf('```yaml', readme.indexOf('A complete example'));
    const example = readme.slice(from + '```yaml'.length, readme.indexOf('```', from + 7));
    const c = loadConfig({ file: file('readme-example.yaml', example), env: {} });
    assert.deepEqual(c.domains, ['imps.example.org', 'other.example.org']);
    assert.equal(c.cir.stcp?.port, 8081);
    assert.ok(c.cir.sms?.url.includes('{to}'));
    assert.ok(c.xmpp && c.ssp);
  });
});
