// Runs one of the repository's scripts in its own node process (through tsx, as npm start and
// npm run village do) and collects what it wrote and how it ended.
import { spawn } from 'node:child_process';
import { REPO_ROOT } from './server.ts';

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunNodeOptions {
  /** Written to stdin, which is then closed; without it the process gets no stdin at all. */
  stdin?: string;
  /** Variables set over this process's own environment. */
  env?: Record<string, string>;
  /** SIGKILL the process if it is still running after this long; no limit without it. */
  timeoutMs?: number;
}

/** Run `node --import tsx SCRIPT …args` in the repository root; resolves when it exits. */
export function runNode(script: string, args: string[] = [], options: RunNodeOptions = {}): Promise<NodeRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
  });
}
