// `npm start -- [--config FILE] [--check]`: run the Village server.
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, configKeys } from './config.ts';
import { createLogger } from './log.ts';
import { startServer } from './server.ts';

const USAGE = `Usage: npm start -- [--config FILE] [--check]

  --config FILE   YAML (or JSON) configuration; without it the embedded defaults run:
                  domain localhost, HTTP on 127.0.0.1:8080, data in ./data, auto-registration on
  --check         validate the configuration, print it, and exit
  --help          this text

Every key can be overridden from the environment, e.g. VILLAGE_HTTP_PORT=8090.
Known variables: ${configKeys().map((k) => k.env).join(', ')}`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({ options: { config: { type: 'string', short: 'c' }, check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  let config;
  try {
    config = loadConfig(args.values.config ? { file: args.values.config } : {});
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      return 2;
    }
    throw err;
  }
  if (args.values.check) {
    process.stdout.write(`configuration OK (${args.values.config ?? 'embedded defaults'})\n${JSON.stringify(config, null, 2)}\n`);
    return 0;
  }

  const log = createLogger(config.log.level);
  // A bug that escapes every handler: say why in the log (flushed) before dying, so a
  // supervisor restarts a clean process rather than one in an unknown state.
  const die = (what: string) => (err: unknown) => {
    log.fatal({ err }, what);
    process.stderr.write(`fatal: ${what}: ${(err as Error)?.stack ?? String(err)}\n`);
    log.flush(() => process.exit(1));
  };
  process.on('uncaughtException', die('uncaught exception'));
  process.on('unhandledRejection', die('unhandled promise rejection'));
  let server;
  try {
    server = await startServer(config, log);
  } catch (err) {
    log.fatal({ err }, 'cannot start');
    log.flush();
    process.stderr.write(`cannot start: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const shutdown = (signal: string) => {
      process.removeAllListeners('SIGTERM');
      process.removeAllListeners('SIGINT');
      // A second signal while stopping means "now".
      process.once('SIGTERM', () => process.exit(1));
      process.once('SIGINT', () => process.exit(1));
      log.info({ signal }, 'stopping');
      server.stop().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'unclean stop');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
    // pino's asynchronous destination flushes on exit; give it the event loop to do so.
    setImmediate(() => process.exit(code));
  },
  (err) => {
    process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
