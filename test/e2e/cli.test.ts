// The admin CLI (`npm run village -- user …`) against the data directory of a running server:
// accounts it creates, re-keys and deletes are what the server logs in against; bad input gets a
// message naming what is wrong and exit code 2; passwords are stored sealed, the key file private.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT, TestServer } from '../support/server.ts';
import { Phone, resultCode } from '../support/phone.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let server: TestServer;
/** The server's own config file: the CLI works on the same dataDir and domains. */
let configFile: string;
let dataDir: string;

const FIRST_DOMAIN = 'cli.test';

/** Run `src/cli/village.ts --config FILE …args`, feeding `input` on stdin (stdin closed either way). */
function village(args: string[], input?: string, config: string = configFile): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/village.ts', '--config', config, ...args], {
      cwd: REPO_ROOT,
      env: process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

async function login(user: string, password: string): Promise<number> {
  const phone = new Phone(server, { version: '1.2' });
  return resultCode(await phone.loginPassword(user, password));
}

async function listed(): Promise<string[]> {
  const run = await village(['user', 'list']);
  assert.equal(run.code, 0, run.stderr);
  return run.stdout
    .split('\n')
    .map((line) => line.split(/\s/)[0] ?? '')
    .filter(Boolean);
}

before(async () => {
  for (const key of Object.keys(process.env)) if (key.startsWith('VILLAGE_')) delete process.env[key];
  server = await TestServer.start({ config: { domains: [FIRST_DOMAIN, 'other.test'], autoRegister: false } });
  configFile = server.configFile;
  dataDir = join(server.dataDir, 'data');
});

after(async () => {
  await server?.dispose();
});

describe('user add / list', () => {
  test('user add alice pw, then user list shows wv:alice@<first domain>', async () => {
    const run = await village(['user', 'add', 'alice', 'alice-pw-1']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok((await listed()).includes(`wv:alice@${FIRST_DOMAIN}`));
    assert.equal(await login(`wv:alice@${FIRST_DOMAIN}`, 'alice-pw-1'), 200);
  });

  test('adding the same user again exits 2 with "already exists"', async () => {
    await village(['user', 'add', 'dup', 'dup-pw']);
    const run = await village(['user', 'add', 'wv:DUP@cli.test', 'other-pw']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /already exists/);
    assert.match(run.stderr, /dup@cli\.test/);
  });

  test('a user of a domain the server does not host exits 2 naming the domain', async () => {
    const run = await village(['user', 'add', 'bob@unhosted.test', 'bob-pw']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unhosted\.test/);
    assert.ok(!(await listed()).some((u) => u.includes('bob')), 'nothing was created');
  });

  test('a malformed user ID exits 2 naming it', async () => {
    const run = await village(['user', 'add', 'bad/name', 'pw']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /bad\/name/);
  });

  test('the password is read from stdin when omitted', async () => {
    const run = await village(['user', 'add', 'carol@other.test'], 'carol-stdin-pw\n');
    assert.equal(run.code, 0, run.stderr);
    assert.ok((await listed()).includes('wv:carol@other.test'));
    assert.equal(await login('wv:carol@other.test', 'carol-stdin-pw'), 200);
  });

  test('no password argument and nothing on stdin exits 2 saying so', async () => {
    const run = await village(['user', 'add', 'nopass']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /password/i);
    assert.ok(!(await listed()).includes(`wv:nopass@${FIRST_DOMAIN}`));
  });

  test('user list DOMAIN lists only that domain; an unhosted domain exits 2', async () => {
    await village(['user', 'add', 'dora@other.test', 'dora-pw']);
    const run = await village(['user', 'list', 'other.test']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /wv:dora@other\.test/);
    assert.doesNotMatch(run.stdout, /@cli\.test/);
    const bad = await village(['user', 'list', 'unhosted.test']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unhosted\.test/);
  });
});

describe('user passwd / del', () => {
  test('user passwd: the new password logs in over HTTP, the old one gets 409', async () => {
    assert.equal((await village(['user', 'add', 'erin', 'erin-old-pw'])).code, 0);
    assert.equal(await login(`wv:erin@${FIRST_DOMAIN}`, 'erin-old-pw'), 200);
    const run = await village(['user', 'passwd', 'erin', 'erin-new-pw']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await login(`wv:erin@${FIRST_DOMAIN}`, 'erin-new-pw'), 200);
    assert.equal(await login(`wv:erin@${FIRST_DOMAIN}`, 'erin-old-pw'), 409);
  });

  test('user passwd reads the new password from stdin when omitted', async () => {
    assert.equal((await village(['user', 'add', 'fred', 'fred-old-pw'])).code, 0);
    const run = await village(['user', 'passwd', `wv:fred@${FIRST_DOMAIN}`], 'fred-stdin-pw\n');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await login(`wv:fred@${FIRST_DOMAIN}`, 'fred-stdin-pw'), 200);
  });

  test('user passwd of an unknown user exits 2 naming the user', async () => {
    const run = await village(['user', 'passwd', 'nobody', 'pw']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /nobody@cli\.test/);
  });

  test('user del removes the account: it is no longer listed and a login gets 531', async () => {
    assert.equal((await village(['user', 'add', 'gina', 'gina-pw'])).code, 0);
    assert.equal(await login(`wv:gina@${FIRST_DOMAIN}`, 'gina-pw'), 200);
    const run = await village(['user', 'del', 'gina']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(!(await listed()).includes(`wv:gina@${FIRST_DOMAIN}`));
    assert.equal(await login(`wv:gina@${FIRST_DOMAIN}`, 'gina-pw'), 531);
  });

  test('user del of an unknown user exits 2 naming the user', async () => {
    const run = await village(['user', 'del', 'ghost@other.test']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /ghost@other\.test/);
  });
});

describe('usage and configuration errors', () => {
  for (const args of [['frobnicate'], ['user', 'frobnicate', 'x'], ['group', 'add', 'x']]) {
    test(`unknown command "${args.join(' ')}" exits 2 with the usage`, async () => {
      const run = await village(args);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /Usage/);
      assert.ok(run.stderr.includes(args[0] === 'user' ? `user ${args[1]}` : args[0]!), 'names the unknown command');
    });
  }

  test('no command at all exits 2 with the usage', async () => {
    const run = await village([]);
    assert.equal(run.code, 2);
    assert.match(run.stdout + run.stderr, /Usage/);
  });

  test('a bad config file exits 2 naming the key', async () => {
    const bad = join(server.dataDir, 'bad-cli.yaml');
    writeFileSync(bad, stringify({ domains: [FIRST_DOMAIN], dataDir, htpp: { port: 1 } }));
    const run = await village(['user', 'list'], undefined, bad);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /htpp/);
  });
});

describe('secrets at rest', () => {
  const password = 'Plain-Text-Pa55word-7f3e9c';

  test('the password is stored sealed: village.db (and its WAL) hold no plain password bytes', async () => {
    const run = await village(['user', 'add', 'harry', password]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(await login(`wv:harry@${FIRST_DOMAIN}`, password), 200, 'the account works');
    const db = join(dataDir, 'village.db');
    assert.ok(existsSync(db), `${db} exists`);
    for (const path of [db, `${db}-wal`, `${db}-shm`]) {
      if (!existsSync(path)) continue;
      const bytes = readFileSync(path);
      assert.equal(bytes.indexOf(Buffer.from(password, 'utf8')), -1, `${path} holds the plain password`);
      assert.equal(bytes.indexOf(Buffer.from(password, 'utf16le')), -1, `${path} holds the plain password (UTF-16)`);
    }
  });

  test('secret.key in dataDir has mode 0600', () => {
    const key = join(dataDir, 'secret.key');
    assert.ok(existsSync(key), `${key} exists`);
    assert.equal(statSync(key).mode & 0o777, 0o600);
  });
});
