// The admin CLI (`npm run village -- user …`, `… queue …`) against the data directory of a running
// server: accounts it creates, re-keys and deletes are what the server logs in against; the queue
// commands list and drop what waits for a user; bad input gets a message naming what is wrong and
// exit code 2; passwords are stored sealed, the key file private.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import Database from 'better-sqlite3';
import { TestServer } from '../support/server.ts';
import { villageCli, type CliResult } from '../support/cli.ts';
import { Phone, resultCode } from '../support/phone.ts';
import { textOf } from '../../src/csp/tree.ts';

let server: TestServer;
/** The server's own config file: the CLI works on the same dataDir and domains. */
let configFile: string;
let dataDir: string;

const FIRST_DOMAIN = 'cli.test';

/** Run `src/cli/village.ts --config FILE …args`, feeding `input` on stdin (stdin closed either way). */
function village(args: string[], input?: string, config: string = configFile): Promise<CliResult> {
  return villageCli({ configFile: config }, args, input, { timeoutMs: 60_000 });
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

describe('queue list / purge', () => {
  /** Create accounts with the CLI (this server does not register on login). */
  async function accounts(...names: string[]): Promise<void> {
    for (const n of names) {
      const run = await village(['user', 'add', n, `${n}-pw`]);
      assert.equal(run.code, 0, run.stderr);
    }
  }

  async function phoneOf(name: string): Promise<Phone> {
    const phone = new Phone(server, { version: '1.2' });
    assert.equal(resultCode(await phone.loginPassword(`wv:${name}@${FIRST_DOMAIN}`, `${name}-pw`)), 200);
    return phone;
  }

  /** Copies owed to a user, counted in the message store itself (read-only). */
  function storedFor(name: string): number {
    const db = new Database(join(dataDir, 'village.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM deliveries WHERE recipient = ?').get(`${name}@${FIRST_DOMAIN}`) as { n: number }).n;
    } finally {
      db.close();
    }
  }

  const lines = (out: string) => out.split('\n').filter((l) => l.trim() !== '');

  test('queue list shows each waiting message (id, sender, type, size) and the count on stderr', async () => {
    await accounts('qa-alice', 'qa-bob');
    const alice = await phoneOf('qa-alice');
    const text = 'Grüße, Bob';
    const image = Buffer.alloc(321, 0xab);
    const first = await alice.sendText('qa-bob', text);
    const second = await alice.sendMessage({ to: 'qa-bob', bytes: image, contentType: 'image/jpeg' });
    assert.equal(resultCode(first), 200);
    assert.equal(resultCode(second), 200);

    const run = await village(['queue', 'list', 'qa-bob']);
    assert.equal(run.code, 0, run.stderr);
    const listed = lines(run.stdout);
    assert.equal(listed.length, 2, run.stdout);
    const expected = [
      { id: textOf(first, 'MessageID')!, type: 'text/plain', size: Buffer.byteLength(text, 'utf8') },
      { id: textOf(second, 'MessageID')!, type: 'image/jpeg', size: image.length },
    ];
    expected.forEach((m, i) => {
      const line = listed[i]!;
      assert.ok(line.includes(m.id), `line ${i} names message ${m.id}: ${line}`);
      assert.ok(line.includes(`qa-alice@${FIRST_DOMAIN}`), `line ${i} names the sender: ${line}`);
      assert.ok(line.includes(m.type), `line ${i} names the type: ${line}`);
      assert.match(line, new RegExp(`(^|\\s)${m.size}(\\s|$)`), `line ${i} gives the size ${m.size}: ${line}`);
    });
    assert.match(run.stderr, /(^|\D)2 messages?\b/);

    // Another address form of the same user, and a user with nothing waiting.
    const again = await village(['queue', 'list', `wv:QA-BOB@${FIRST_DOMAIN}`]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(lines(again.stdout).length, 2);
    const empty = await village(['queue', 'list', 'qa-alice']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(lines(empty.stdout), []);
    assert.match(empty.stderr, /(^|\D)0 messages?\b/);
  });

  test('queue purge drops what waits: the store holds nothing for the user, a later login receives nothing, others keep theirs', async () => {
    await accounts('qp-alice', 'qp-bob', 'qp-carol');
    const alice = await phoneOf('qp-alice');
    for (const t of ['one', 'two', 'three']) assert.equal(resultCode(await alice.sendText('qp-bob', t)), 200);
    assert.equal(resultCode(await alice.sendText(['qp-bob', 'qp-carol'], 'for both')), 200);
    assert.equal(storedFor('qp-bob'), 4);

    const run = await village(['queue', 'purge', 'qp-bob']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(storedFor('qp-bob'), 0, 'the message store count for the user is 0');
    const listed = await village(['queue', 'list', 'qp-bob']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(lines(listed.stdout), []);
    assert.match(listed.stderr, /(^|\D)0 messages?\b/);

    const bob = await phoneOf('qp-bob');
    assert.deepEqual(await bob.receiveAll(), []);
    const carol = await phoneOf('qp-carol');
    assert.deepEqual((await carol.receiveAll()).map((r) => r.text), ['for both'], 'other users keep what waits for them');
  });

  for (const verb of ['list', 'purge']) {
    test(`queue ${verb} of an unknown user exits 2 naming the user`, async () => {
      const run = await village(['queue', verb, 'qnobody']);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /qnobody@cli\.test/);
    });
  }

  test('queue list without a user exits 2', async () => {
    const run = await village(['queue', 'list']);
    assert.equal(run.code, 2);
    assert.ok(run.stderr.length > 0, 'says what is missing');
  });

  test('an unknown queue subcommand exits 2 with the usage, naming it', async () => {
    await accounts('qs-bob');
    const run = await village(['queue', 'frobnicate', 'qs-bob']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage/);
    assert.match(run.stderr, /queue frobnicate/);
  });
});

describe('user set (the profile user search looks at)', () => {
  /** The stored profile row of a user (read-only), or undefined. */
  function profileRow(name: string): Record<string, unknown> | undefined {
    const db = new Database(join(dataDir, 'village.db'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT * FROM user_profiles WHERE user_id = ?').get(`${name}@${FIRST_DOMAIN}`) as Record<string, unknown> | undefined;
    } finally {
      db.close();
    }
  }

  async function add(name: string): Promise<void> {
    const run = await village(['user', 'add', name, `${name}-pw`]);
    assert.equal(run.code, 0, run.stderr);
  }

  test('user set stores the fields given and prints the whole profile; KEY= clears one; keys are any case; no keys only shows it', async () => {
    await add('pia');
    const set = await village(['user', 'set', 'pia', 'first=Pia', 'last=Lund', 'email=pia@example.org', 'mobile=+358 40 123', 'city=Turku', 'country=Finland', 'friendly=Pii']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout.trim(), `wv:pia@${FIRST_DOMAIN}: first=Pia last=Lund email=pia@example.org mobile=+358 40 123 city=Turku country=Finland friendly=Pii`);

    const changed = await village(['user', 'set', `wv:pia@${FIRST_DOMAIN}`, 'city=', 'LAST=Lindqvist']);
    assert.equal(changed.code, 0, changed.stderr);
    const expected = `wv:pia@${FIRST_DOMAIN}: first=Pia last=Lindqvist email=pia@example.org mobile=+358 40 123 country=Finland friendly=Pii`;
    assert.equal(changed.stdout.trim(), expected);
    const shown = await village(['user', 'set', 'pia']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout.trim(), expected, 'no keys: the profile is shown, unchanged');

    const row = profileRow('pia');
    assert.equal(row?.['last_name'], 'Lindqvist');
    assert.equal(row?.['city'], null, 'a cleared field is stored as missing');
  });

  test('an unknown key exits 2 naming it, and nothing is changed', async () => {
    await add('quin');
    assert.equal((await village(['user', 'set', 'quin', 'first=Quin'])).code, 0);
    const run = await village(['user', 'set', 'quin', 'first=Other', 'shoe=42']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown key "shoe"/);
    assert.match(run.stderr, /first, last, email, mobile, city, country, friendly/, 'the keys there are are listed');
    assert.equal(profileRow('quin')?.['first_name'], 'Quin');
  });

  for (const [arg, pattern] of [
    ['first', /"first" needs a value/],
    ['email=not-an-address', /email "not-an-address" is not an e-mail address/],
    ['mobile=call me', /mobile "call me" is not a phone number/],
    [`city=${'x'.repeat(129)}`, /city is longer than 128 characters/],
  ] as const) {
    test(`user set … ${arg.slice(0, 24)} exits 2 saying what is wrong`, async () => {
      await add(`bad-${arg.slice(0, 4)}`);
      const run = await village(['user', 'set', `bad-${arg.slice(0, 4)}`, arg]);
      assert.equal(run.code, 2);
      assert.match(run.stderr, pattern);
      assert.equal(profileRow(`bad-${arg.slice(0, 4)}`), undefined, 'nothing stored');
    });
  }

  test('user set of an unknown user exits 2 naming the user', async () => {
    const run = await village(['user', 'set', 'nobody-here', 'first=No']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, new RegExp(`no user wv:nobody-here@${FIRST_DOMAIN.replace('.', '\\.')}`));
  });

  test('user del forgets the profile: a new account of the same name starts without one', async () => {
    await add('rolf');
    assert.equal((await village(['user', 'set', 'rolf', 'first=Rolf', 'email=rolf@example.org'])).code, 0);
    assert.ok(profileRow('rolf'));
    assert.equal((await village(['user', 'del', 'rolf'])).code, 0);
    assert.equal(profileRow('rolf'), undefined);
    await add('rolf');
    const shown = await village(['user', 'set', 'rolf']);
    assert.equal(shown.stdout.trim(), `wv:rolf@${FIRST_DOMAIN}: (no profile)`);
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
