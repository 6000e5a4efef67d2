// A private Prosody 0.12 (Debian's package) hosting xmpp.test, for XMPP s2s federation tests.
// Each instance has its own config, data dir, pid file, debug log and free ports under a temp
// dir, listens on 127.0.0.1 only, and is a foreground child process of the test (never the
// system service). Its DNS is libunbound (Prosody's net.unbound) told to answer from local data
// only, so xmpp.test's s2s to imps.test goes to 127.0.0.1:villageS2sPort.
//
// Modes (s2s only; c2s is plaintext for test clients in every mode):
//   plain              no TLS at all (mod_tls not loaded, no certificate): dialback only
//   starttls-optional  STARTTLS offered, not required; s2s_secure_auth false
//   starttls-required  s2s_require_encryption true, s2s_secure_auth false: dialback over TLS
//   secure             s2s_require_encryption + s2s_secure_auth true, the test CA trusted: the
//                      peer's certificate must validate (then SASL EXTERNAL, or dialback)
// Fails with an install hint when Prosody is missing; nothing here ever skips.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testPki, type TestPki } from './pki.ts';

export type ProsodyMode = 'plain' | 'starttls-optional' | 'starttls-required' | 'secure';
export const PROSODY_MODES: readonly ProsodyMode[] = ['plain', 'starttls-optional', 'starttls-required', 'secure'];

export interface ProsodyUser {
  name: string;
  password: string;
}

export interface ProsodyOptions {
  mode: ProsodyMode;
  /** Where imps.test's s2s listens (on 127.0.0.1): Prosody's SRV and A records for imps.test. */
  villageS2sPort: number;
  /** Certificates (default: this process's testPki()). Prosody uses `xmpp` and trusts `ca`. */
  pki?: TestPki;
  /** Accounts on xmpp.test, registered before the first start. */
  users?: ProsodyUser[];
  /**
   * Lua appended to the global section (after everything the mode sets, before the
   * VirtualHost line): a later assignment of the same option wins.
   */
  extraConfig?: string;
}

export const PROSODY_DOMAIN = 'xmpp.test';
const VILLAGE_DOMAIN = 'imps.test';
const INSTALL_HINT = 'run `bash test/install-peers.sh` (or `apt-get install -y prosody lua-unbound`)';
const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export class ProsodyMissingError extends Error {
  constructor(tool: string) {
    super(`Prosody is not installed (no \`${tool}\` on PATH): ${INSTALL_HINT}`);
    this.name = 'ProsodyMissingError';
  }
}

class PortTakenError extends Error {}

/** Every instance not yet disposed, killed (SIGKILL) when this process exits. */
const live = new Set<Prosody>();
let hooksInstalled = false;
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.killNow();
  });
  // On a signal 'exit' is not emitted: clean up, then die of the same signal as before.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const p of live) p.killNow();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
  // And if this process dies of SIGKILL, mod_harness_watchdog (below) ends Prosody within a second.
}

export class Prosody {
  readonly domain = PROSODY_DOMAIN;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private disposed = false;

  readonly mode: ProsodyMode;
  /** The instance's temp dir: config, data, pid file, log, hosts file, plugin. */
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  private ports = { c2s: 0, s2s: 0 };

  private constructor(mode: ProsodyMode, dir: string) {
    this.mode = mode;
    this.dir = dir;
    this.configFile = join(dir, 'prosody.cfg.lua');
    this.logFile = join(dir, 'prosody.log');
  }

  /** Write the config, register the users, start Prosody and wait until c2s and s2s accept. */
  static async start(options: ProsodyOptions): Promise<Prosody> {
    const prosodyBin = onPath('prosody');
    const prosodyctlBin = onPath('prosodyctl');
    installExitHooks();
    const pki = options.pki ?? testPki();
    const instance = new Prosody(options.mode, mkdtempSync(join(tmpdir(), 'village-prosody-')));
    live.add(instance);
    try {
      const { dir } = instance;
      mkdirSync(join(dir, 'data'));
      mkdirSync(join(dir, 'plugins'));
      mkdirSync(join(dir, 'certs')); // empty: certificates come from the `ssl` option
      writeFileSync(join(dir, 'hosts'), `127.0.0.1 ${VILLAGE_DOMAIN}\n`);
      writeFileSync(join(dir, 'plugins', 'mod_harness_watchdog.lua'), WATCHDOG_PLUGIN);
      // The ports were free a moment before Prosody binds them; if one was taken in between,
      // try again with others.
      for (let attempt = 1; ; attempt++) {
        const [c2s, s2s] = await freePorts(2);
        instance.ports = { c2s: c2s!, s2s: s2s! };
        const config = { mode: options.mode, dir, c2sPort: c2s!, s2sPort: s2s!, villageS2sPort: options.villageS2sPort, logFile: instance.logFile, pki, extraConfig: options.extraConfig };
        writeFileSync(instance.configFile, prosodyConfig(config));
        if (attempt === 1) for (const user of options.users ?? []) instance.register(prosodyctlBin, user);
        try {
          await instance.launch(prosodyBin);
          return instance;
        } catch (err) {
          if (!(err instanceof PortTakenError) || attempt === 3) throw err;
        }
      }
    } catch (err) {
      await instance.dispose();
      throw err;
    }
  }

  /** Prosody's c2s port on 127.0.0.1 (plaintext allowed). */
  get c2sPort(): number {
    return this.ports.c2s;
  }

  /** Prosody's s2s port on 127.0.0.1 (where Village connects to xmpp.test). */
  get s2sPort(): number {
    return this.ports.s2s;
  }

  /** Prosody's debug log so far, then what it printed on stdout/stderr (config errors go there). */
  logText(): string {
    const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
    return this.output ? `${log}\n--- stdout/stderr ---\n${this.output}` : log;
  }

  /** The last `lines` lines of logText(), for failure messages. */
  logTail(lines = 60): string {
    return this.logText().trimEnd().split('\n').slice(-lines).join('\n');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (Prosody shuts down cleanly), SIGKILL after STOP_TIMEOUT_MS. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Freeze Prosody (SIGSTOP): its sockets stay open, but it reads nothing more. */
  freeze(): void {
    if (this.child && this.running) this.child.kill('SIGSTOP');
  }

  /** Kill Prosody outright (SIGKILL), as a crash would; restart() brings it back. */
  async crash(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Stop and start again: same config, ports, accounts and data. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch(onPath('prosody'));
  }

  /** Kill Prosody and remove its temp dir (logs included). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.child && this.running) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort for exit hooks. */
  killNow(): void {
    if (this.child && this.running) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private register(prosodyctlBin: string, user: ProsodyUser): void {
    try {
      execFileSync(prosodyctlBin, ['--config', this.configFile, 'register', user.name, PROSODY_DOMAIN, user.password], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 20_000,
      });
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
      const said = `${e.stdout?.toString('utf8') ?? ''}${e.stderr?.toString('utf8') ?? ''}`.trim();
      throw new Error(`prosodyctl register ${user.name} ${PROSODY_DOMAIN} failed: ${said || e.message}`);
    }
  }

  private async launch(prosodyBin: string): Promise<void> {
    if (this.disposed) throw new Error('this Prosody was disposed');
    const logBefore = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').length : 0;
    // -F: stay in the foreground (no daemonizing), so the child is Prosody itself.
    const child = spawn(prosodyBin, ['-F', '--config', this.configFile], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (this.output += c.toString('utf8')));
    let spawnError: Error | undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        resolve();
      });
      child.once('exit', () => resolve());
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    const fail = async (why: string, type: new (message: string) => Error = Error): Promise<never> => {
      if (this.running) {
        child.kill('SIGKILL');
        await this.exited;
      }
      throw new type(`Prosody (${this.mode}) did not start: ${why}\n--- Prosody's log (tail) ---\n${this.logTail()}`);
    };
    for (;;) {
      if (spawnError) await fail(`could not run ${prosodyBin}: ${spawnError.message}`);
      if (!this.running) await fail(`it exited (code ${child.exitCode}, signal ${child.signalCode})`);
      const fresh = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(logBefore) : '';
      // A port that is taken is only logged; Prosody runs on without it.
      const portError = /Failed to open server port[^\n]*/.exec(fresh);
      if (portError) await fail(portError[0], PortTakenError);
      // Without lua-unbound (a Recommends of prosody) net.adns reads /etc/resolv.conf and ignores
      // the `unbound` table: imps.test would be looked up in real DNS.
      if (fresh.includes('Using legacy DNS API')) await fail(`lua-unbound is missing, so Prosody cannot resolve imps.test to 127.0.0.1: ${INSTALL_HINT}`);
      if ((await canConnect(this.c2sPort)) && (await canConnect(this.s2sPort))) return;
      if (Date.now() > deadline) await fail(`c2s ${this.c2sPort} / s2s ${this.s2sPort} not accepting after ${START_TIMEOUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// ── The config ───────────────────────────────────────────────────────────────────────────────

interface ConfigInput {
  mode: ProsodyMode;
  dir: string;
  c2sPort: number;
  s2sPort: number;
  villageS2sPort: number;
  logFile: string;
  pki: TestPki;
  extraConfig: string | undefined;
}

/** Lua string literal. */
function lua(s: string): string {
  return JSON.stringify(s);
}

/** The whole prosody.cfg.lua for one instance. */
export function prosodyConfig(c: ConfigInput): string {
  const tls = c.mode !== 'plain';
  const requireEncryption = c.mode === 'starttls-required' || c.mode === 'secure';
  const secureAuth = c.mode === 'secure';
  const modules = ['disco', 'roster', 'saslauth', 'offline', ...(tls ? ['tls'] : []), 'dialback', 'ping', 'posix', 'harness_watchdog'];
  const lines = [
    `-- Generated by test/support/prosody.ts: a private Prosody for tests, mode ${c.mode}.`,
    // Prosody refuses to run as root (mod_posix) and prosodyctl would switch to the prosody
    // user, who cannot write this temp dir: as root (CI), stay root.
    ...(process.getuid?.() === 0 ? ['run_as_root = true'] : []),
    `pidfile = ${lua(join(c.dir, 'prosody.pid'))}`,
    `data_path = ${lua(join(c.dir, 'data'))}`,
    `plugin_paths = { ${lua(join(c.dir, 'plugins'))} }`,
    `certificates = ${lua(join(c.dir, 'certs'))}`,
    `log = { { levels = { min = "debug" }, to = "file", filename = ${lua(c.logFile)} } }`,
    '',
    '-- Everything on 127.0.0.1, on ports of its own; no direct-TLS, HTTP or admin listeners.',
    'interfaces = { "127.0.0.1" }',
    `c2s_ports = { ${c.c2sPort} }`,
    `s2s_ports = { ${c.s2sPort} }`,
    'c2s_direct_tls_ports = { }',
    's2s_direct_tls_ports = { }',
    'legacy_ssl_ports = { }',
    'use_ipv6 = false',
    '',
    `modules_enabled = { ${modules.map(lua).join(', ')} }`,
    `harness_parent_pid = ${process.pid}`,
    'authentication = "internal_hashed"',
    'storage = "internal"',
    '',
    '-- c2s: plaintext SASL PLAIN from test clients on 127.0.0.1.',
    'c2s_require_encryption = false',
    'allow_unencrypted_plain_auth = true',
    '',
    '-- s2s security: Prosody defaults s2s_require_encryption to true, Debian sets s2s_secure_auth.',
    `s2s_require_encryption = ${requireEncryption}`,
    `s2s_secure_auth = ${secureAuth}`,
    ...(tls
      ? [
          `ssl = { certificate = ${lua(c.pki.xmpp.cert)}; key = ${lua(c.pki.xmpp.key)}; cafile = ${lua(c.pki.ca.cert)}; }`,
        ]
      : ['s2s_allow_encryption = false']),
    '',
    `-- DNS: libunbound answers imps.test from local data only (.test is a local zone in unbound;`,
    `-- anything else goes to a forwarder on 127.0.0.1 that is not there, never to the Internet).`,
    'unbound = {',
    '  resolvconf = false;',
    '  forward = "127.0.0.1";',
    `  hoststxt = ${lua(join(c.dir, 'hosts'))};`,
    `  options = { ["local-data:"] = ${lua(`_xmpp-server._tcp.${VILLAGE_DOMAIN}. 300 IN SRV 0 0 ${c.villageS2sPort} ${VILLAGE_DOMAIN}.`)} };`,
    '}',
    ...(c.extraConfig ? ['', '-- extraConfig', c.extraConfig] : []),
    '',
    `VirtualHost ${lua(PROSODY_DOMAIN)}`,
    '',
  ];
  return lines.join('\n');
}

/**
 * Ends Prosody when the node process that started it is gone (its parent pid changes), so not
 * even a SIGKILLed test run leaves a Prosody behind.
 */
const WATCHDOG_PLUGIN = `-- Written by test/support/prosody.ts
module:set_global();
local parent = module:get_option_number("harness_parent_pid");
if not parent then return end
local function parent_pid()
  local f = io.open("/proc/self/stat");
  if not f then return parent end
  local stat = f:read("*l") or "";
  f:close();
  return tonumber(stat:match("%)%s+%S+%s+(%d+)")) or parent;
end
module:add_timer(1, function ()
  if parent_pid() == parent then return 1 end
  module:log("warn", "The test process %d is gone: exiting", parent);
  os.exit(1);
end);
`;

// ── Helpers ──────────────────────────────────────────────────────────────────────────────────

/** The tool's full path, or ProsodyMissingError. */
function onPath(tool: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  }
  throw new ProsodyMissingError(tool);
}

/** `count` distinct ports that were free on 127.0.0.1 a moment ago. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
