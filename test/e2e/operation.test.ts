// Running the server as a process (issue: config, SIGTERM): `--check` validates YAML and JSON
// configs and names every bad key; environment overrides are applied and their errors name the
// variable; SIGTERM finishes the requests in flight, closes down and exits 0.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { TestServer } from '../support/server.ts';
import { sharedServer } from '../support/shared-server.ts';
import { runNode, type NodeRun } from '../support/process.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { el, leaf, textOf } from '../../src/csp/tree.ts';
import { buildMessage, readMessage } from '../../src/csp/envelope.ts';
import { decodeXml, encodeXml } from '../../src/csp/xml-codec.ts';

/** Run `src/main.ts` with arguments and extra environment; resolves when it exits. */
function runMain(args: string[], env: Record<string, string> = {}): Promise<NodeRun> {
  return runNode('src/main.ts', args, { env, timeoutMs: 60_000 });
}

/** Scratch directory for config files and data directories. */
const dir = mkdtempSync(join(tmpdir(), 'village-operation-'));
const file = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

before(() => {
  // A developer's own VILLAGE_* settings must not leak into the processes these tests start.
  for (const key of Object.keys(process.env)) if (key.startsWith('VILLAGE_')) delete process.env[key];
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The key as a whole word: "domain" must not be matched by "domains", nor "port" by "http.port". */
function namesKey(key: string): RegExp {
  return new RegExp(`(?<![\\w.])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w])`);
}

/** Wait until the server has logged a line with this msg (SIGTERM handling is asynchronous). */
async function waitForLog(server: TestServer, msg: string): Promise<void> {
  for (let waited = 0; waited < 20_000; waited += 10) {
    if (server.logEntries().some((e) => e['msg'] === msg)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`the server never logged "${msg}":\n${server.logs.slice(-20).join('\n')}`);
}

const goodConfig = () => ({
  domains: ['imps.example.org', 'second.example.org'],
  dataDir: join(dir, 'data'),
  autoRegister: false,
  http: { host: '127.0.0.1', port: 8090, maxBodyBytes: 65536 },
  cir: { stcp: { host: '0.0.0.0', port: 3717 }, sms: { url: 'http://127.0.0.1:13013/cgi-bin/sendsms?to={to}' } },
  xmpp: { host: '0.0.0.0', port: 5269, routes: { 'jabber.example.net': 'xmpp.example.net:5269' } },
  ssp: { peers: { 'imps.example.com': 'https://imps.example.com/ssp' } },
});

describe('--check', () => {
  test('a good YAML config is accepted: exit 0', async () => {
    const path = file('good.yaml', stringify(goodConfig()));
    const run = await runMain(['--config', path, '--check']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /imps\.example\.org/);
  });

  test('a good JSON config is accepted: exit 0', async () => {
    const path = file('good.json', JSON.stringify(goodConfig(), null, 2));
    const run = await runMain(['--config', path, '--check']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /second\.example\.org/);
  });

  const bad: { what: string; config: Record<string, unknown>; names: string[] }[] = [
    { what: 'an unknown key', config: { ...goodConfig(), http: { host: '127.0.0.1', bind: '0.0.0.0' } }, names: ['http.bind'] },
    { what: 'an unknown top-level key', config: { ...goodConfig(), domain: 'typo.example.org' }, names: ['domain'] },
    { what: 'a wrong type', config: { ...goodConfig(), autoRegister: 'maybe' }, names: ['autoRegister'] },
    { what: 'a bad port', config: { ...goodConfig(), http: { host: '127.0.0.1', port: 70000 } }, names: ['http.port'] },
    { what: 'a bad nested port', config: { ...goodConfig(), cir: { stcp: { host: '0.0.0.0', port: -1 } } }, names: ['cir.stcp.port'] },
    {
      what: 'several errors at once',
      config: { ...goodConfig(), autoRegister: 'maybe', http: { host: '127.0.0.1', port: 'eighty', bind: 'x' } },
      names: ['autoRegister', 'http.port', 'http.bind'],
    },
  ];
  for (const { what, config, names } of bad) {
    test(`${what} stops with a non-zero exit and names ${names.join(', ')}`, async () => {
      const path = file(`bad-${names.join('-')}.yaml`, stringify(config));
      const run = await runMain(['--config', path, '--check']);
      assert.notEqual(run.code, 0, `exit code; stdout: ${run.stdout}`);
      for (const name of names) assert.match(run.stderr, namesKey(name), `stderr names ${name}`);
    });
  }

  test('a bad config stops the server too (without --check), naming the key', async () => {
    const path = file('bad-start.yaml', stringify({ ...goodConfig(), http: { host: '127.0.0.1', port: 99999 } }));
    const run = await runMain(['--config', path]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, namesKey('http.port'));
  });

  test('a config file that is not YAML is rejected naming the file', async () => {
    const path = file('broken.yaml', 'domains: [unclosed\n  http: {');
    const run = await runMain(['--config', path, '--check']);
    assert.notEqual(run.code, 0);
    assert.ok(run.stderr.includes(path), run.stderr);
  });

  test('an environment override with a bad value names the variable', async () => {
    const path = file('good-env.yaml', stringify(goodConfig()));
    const run = await runMain(['--config', path, '--check'], { VILLAGE_HTTP_PORT: 'abc' });
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, namesKey('VILLAGE_HTTP_PORT'));
  });

  test('environment overrides replace the file values', async () => {
    const path = file('good-env2.yaml', stringify(goodConfig()));
    const run = await runMain(['--config', path, '--check'], {
      VILLAGE_HTTP_PORT: '8091',
      VILLAGE_AUTO_REGISTER: 'true',
      VILLAGE_DOMAINS: 'env.example.org',
    });
    assert.equal(run.code, 0, run.stderr);
    const printed = JSON.parse(run.stdout.slice(run.stdout.indexOf('{'))) as { http: { port: number }; autoRegister: boolean; domains: string[] };
    assert.equal(printed.http.port, 8091);
    assert.equal(printed.autoRegister, true);
    assert.deepEqual(printed.domains, ['env.example.org']);
  });
});

describe('a server configured from the environment', () => {
  // The file names imps.test and other.test; VILLAGE_DOMAINS wins.
  const server = sharedServer({ env: { VILLAGE_DOMAINS: 'env.test,second-env.test' } });

  test('logs in users of the domains named in VILLAGE_DOMAINS', async () => {
    const a = new Phone(server(), { version: '1.2' });
    assert.equal(resultCode(await a.loginPassword('wv:envuser@env.test', 'pw-env')), 200);
    const b = new Phone(server(), { version: '1.3' });
    assert.equal(resultCode(await b.loginPassword('wv:envuser2@second-env.test', 'pw-env')), 200);
  });

  test('answers 516 for a domain only the config file named', async () => {
    const phone = new Phone(server(), { version: '1.2' });
    assert.equal(resultCode(await phone.loginPassword('wv:fileuser@imps.test', 'pw-file')), 516);
  });
});

// ───────────────────────────── SIGTERM ─────────────────────────────

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One HTTP/1.1 request on its own socket, sent in two steps: headers with
 * `Expect: 100-continue` first (the server's "100 Continue" proves it has taken the request),
 * then the body when `sendBody` is called. `response` resolves on a complete answer
 * (Content-Length bytes) and rejects if the connection ends before that.
 */
function heldRequest(port: number, contentType: string, body: Buffer) {
  const socket: Socket = connect(port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  let continued!: () => void;
  let failContinue!: (err: Error) => void;
  const accepted = new Promise<void>((resolve, reject) => {
    continued = resolve;
    failContinue = reject;
  });
  const response = new Promise<RawResponse>((resolve, reject) => {
    let sawContinue = false;
    const tryParse = () => {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString('latin1');
        const [statusLine, ...lines] = head.split('\r\n');
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine ?? '')?.[1]);
        if (status === 100) {
          sawContinue = true;
          buffer = buffer.subarray(end + 4);
          continued();
          continue;
        }
        const headers: Record<string, string> = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length']);
        if (!Number.isInteger(length)) return reject(new Error(`answer without Content-Length: ${head}`));
        if (buffer.length - (end + 4) < length) return;
        if (!sawContinue) failContinue(new Error(`answered with ${status} before 100 Continue`));
        resolve({ status, headers, body: buffer.subarray(end + 4, end + 4 + length) });
        socket.end();
        return;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      tryParse();
    });
    const early = (why: string) => () => {
      const err = new Error(`connection ${why} before a complete answer (got ${JSON.stringify(buffer.toString('latin1').slice(0, 200))})`);
      failContinue(err);
      reject(err);
    };
    socket.on('end', early('ended'));
    socket.on('close', early('closed'));
    socket.on('error', (err) => {
      failContinue(err);
      reject(err);
    });
  });
  response.catch(() => {});
  accepted.catch(() => {});
  socket.write(
    `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${contentType}\r\n` +
      `Content-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
  );
  return { accepted, response, sendBody: () => socket.write(body) };
}

function loginBody(user: string, password: string, transactionId: string): Buffer {
  const root = buildMessage({
    version: '1.2',
    transactions: [
      {
        mode: 'Request',
        id: transactionId,
        primitive: el('Login-Request', [
          leaf('UserID', user),
          el('ClientID', [leaf('URL', `sigterm-${transactionId}`)]),
          leaf('Password', password),
          leaf('TimeToLive', 600),
          leaf('SessionCookie', `cookie-${transactionId}`),
        ]),
      },
    ],
  });
  return encodeXml(root, '1.2');
}

describe('SIGTERM', () => {
  test('finishes the requests in flight with complete 200 answers, exits 0 and logs "stopped" last', async () => {
    const server = await TestServer.start();
    try {
      const count = 20;
      // Logins of new users: auto-registration writes to the database, which must still be open.
      const requests = Array.from({ length: count }, (_, i) =>
        heldRequest(server.port, 'application/vnd.wv.csp.xml', loginBody(`wv:sig${i}@imps.test`, `pw-${i}`, `sig-${i}`)),
      );
      await Promise.all(requests.map((r) => r.accepted));
      const exited = server.stop(); // SIGTERM while all 20 are in flight
      await waitForLog(server, 'stopping'); // the server is shutting down before the bodies arrive
      for (const r of requests) r.sendBody();
      const answers = await Promise.all(requests.map((r) => r.response));
      answers.forEach((answer, i) => {
        assert.equal(answer.status, 200, `request ${i}`);
        assert.equal(answer.headers['transfer-encoding'], undefined);
        const decoded = decodeXml(answer.body, { maxDepth: 100 });
        const message = readMessage(decoded.root, decoded.version);
        const tx = message.transactions[0];
        assert.equal(tx?.id, `sig-${i}`);
        assert.equal(tx?.primitive?.name, 'Login-Response');
        assert.equal(resultCode(tx?.primitive), 200, `login ${i}: ${textOf(tx?.primitive?.children.find((c) => c.name === 'Result'), 'Description')}`);
      });
      assert.equal(await exited, 0, 'exit code after SIGTERM');
      const entries = server.logEntries();
      assert.equal(entries.at(-1)?.['msg'], 'stopped', `last log line: ${JSON.stringify(entries.at(-1))}`);
    } finally {
      await server.dispose();
    }
  });

  test('requests racing a SIGTERM get a complete 200 answer or no connection at all, never a truncated one', async () => {
    const server = await TestServer.start();
    const pool = new Pool(new URL(server.url).origin, { connections: 20, pipelining: 1 });
    try {
      const phone = new Phone(server, { version: '1.3' });
      const body = encodeXml(
        buildMessage({ version: '1.3', transactions: [{ mode: 'Request', id: 'race', primitive: el('GetSPInfo-Request') }] }),
        '1.3',
      );
      const inFlight = Array.from({ length: 20 }, async () => {
        const res = await pool.request({ path: '/', method: 'POST', body, headers: { 'content-type': phone.contentType } });
        const raw = Buffer.from(await res.body.arrayBuffer());
        return { status: res.statusCode, headers: res.headers, raw };
      });
      const exited = server.stop();
      const settled = await Promise.allSettled(inFlight);
      let answered = 0;
      for (const s of settled) {
        if (s.status === 'rejected') {
          // Refused or reset before the server took the request: the phone retries; that is allowed.
          const code = (s.reason as { code?: string }).code ?? '';
          assert.match(code, /ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|UND_ERR_CLOSED/, `unexpected failure: ${String(s.reason)}`);
          continue;
        }
        answered++;
        const { status, headers, raw } = s.value;
        assert.equal(status, 200);
        assert.equal(Number(headers['content-length']), raw.length, 'complete body');
        const decoded = decodeXml(raw, { maxDepth: 100 });
        assert.equal(readMessage(decoded.root, decoded.version).transactions[0]?.primitive?.name, 'GetSPInfo-Response');
      }
      assert.equal(await exited, 0, `exit code after SIGTERM (${answered} of 20 answered)`);
      assert.equal(server.logEntries().at(-1)?.['msg'], 'stopped');
    } finally {
      await pool.destroy();
      await server.dispose();
    }
  });

  test('an idle server stops at once on SIGTERM with exit code 0 and closes its port', async () => {
    const server = await TestServer.start();
    try {
      const phone = new Phone(server, { version: '1.1' });
      assert.equal(resultCode(await phone.loginPassword('wv:idle@imps.test', 'pw-idle')), 200);
      assert.equal(await server.stop(), 0);
      assert.equal(server.logEntries().at(-1)?.['msg'], 'stopped');
      await assert.rejects(phone.postRaw(encodeXml(buildMessage({ version: '1.1', transactions: [{ mode: 'Request', id: 'x', primitive: el('GetSPInfo-Request') }] }), '1.1')), /ECONNREFUSED|connect/);
    } finally {
      await server.dispose();
    }
  });
});
