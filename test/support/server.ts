// Starts the real server process (npm start's entry point) on a free port with a temporary
// data directory, for end-to-end tests. Nothing is mocked: tests speak HTTP to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface TestServerOptions {
  /** Config keys merged over the test defaults (domains imps.test + other.test, port 0). */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Keep the server's log lines in memory (default true; the benchmark turns it off). */
  keepLogs?: boolean;
  /** Extra arguments for node itself (e.g. --cpu-prof for the benchmark). */
  nodeArgs?: string[];
}

export class TestServer {
  readonly logs: string[] = [];
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> = Promise.resolve(null);
  port = 0;
  /** The STCP CIR listener's port, when cir.stcp is configured. */
  stcpPort: number | undefined;
  /** The XMPP s2s listener's port, when xmpp is configured. */
  xmppPort: number | undefined;

  private constructor(
    readonly dataDir: string,
    readonly configFile: string,
    private config: Record<string, unknown>,
    private readonly env: Record<string, string>,
    private readonly keepLogs: boolean,
    private readonly nodeArgs: string[],
  ) {}

  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'village-test-'));
    const configFile = join(dataDir, 'village.yaml');
    const overrides = options.config ?? {};
    const config: Record<string, unknown> = {
      domains: ['imps.test', 'other.test'],
      dataDir: join(dataDir, 'data'),
      autoRegister: true,
      ...overrides,
      http: { host: '127.0.0.1', port: 0, ...((overrides.http as object) ?? {}) },
      // Every test phone comes from 127.0.0.1: lift the per-address limits a real server keeps,
      // unless the test is about them.
      loginLimits: { registrationsPerAddressPerHour: 1_000_000, challengesPerAddressPerMinute: 1_000_000, maxFailuresPerAddress: 1_000_000, ...((overrides.loginLimits as object) ?? {}) },
      log: { level: 'debug', ...((overrides.log as object) ?? {}) },
    };
    const server = new TestServer(dataDir, configFile, config, options.env ?? {}, options.keepLogs ?? true, options.nodeArgs ?? []);
    await server.launch();
    return server;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  private async launch(): Promise<void> {
    writeFileSync(this.configFile, stringify(this.config));
    const child = spawn(process.execPath, [...this.nodeArgs, '--import', 'tsx', 'src/main.ts', '--config', this.configFile], {
      cwd: REPO_ROOT,
      // The developer's own VILLAGE_* settings must not leak into a test server.
      env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VILLAGE_'))), ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let buffered = '';
    const listening = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start within 30 s:\n${this.logs.join('\n')}`)), 30_000);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before listening:\n${this.logs.join('\n')}`));
      });
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (this.keepLogs || this.port === 0) this.logs.push(line);
          if (line.includes('"msg":"listening"')) {
            clearTimeout(timer);
            const listening = JSON.parse(line) as { port: number; stcpPort?: number; xmppPort?: number };
            this.stcpPort = listening.stcpPort;
            this.xmppPort = listening.xmppPort;
            resolve(listening.port);
          }
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (c: Buffer) => this.logs.push(c.toString('utf8')));
    });
    this.port = await listening;
    // Later restarts reuse the port, as a phone keeps its configured server address.
    this.config = { ...this.config, http: { ...(this.config.http as object), port: this.port } };
    const cir = this.config.cir as { stcp?: object } | undefined;
    if (cir?.stcp && this.stcpPort) this.config = { ...this.config, cir: { ...cir, stcp: { ...cir.stcp, port: this.stcpPort } } };
  }

  /** Log lines (pino JSON) parsed, for assertions on what the server logged. */
  logEntries(): Record<string, unknown>[] {
    return this.logs.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** SIGTERM and wait; returns the exit code. */
  async stop(): Promise<number | null> {
    this.child?.kill('SIGTERM');
    return this.exited;
  }

  /** SIGKILL: the process gets no chance to clean up. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.launch();
  }

  /** Stop (if running) and delete the data directory. */
  async dispose(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
