// Runs the admin CLI (npm run village) against a test server's config file.
import { runNode, type NodeRun, type RunNodeOptions } from './process.ts';

export type CliResult = NodeRun;

/** `village --config FILE …args`, with `stdin` fed to it (stdin is closed either way). */
export function villageCli(server: { configFile: string }, args: string[], stdin?: string, options: Omit<RunNodeOptions, 'stdin'> = {}): Promise<CliResult> {
  return runNode('src/cli/village.ts', ['--config', server.configFile, ...args], { ...options, stdin: stdin ?? '' });
}
