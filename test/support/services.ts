// Real services (SQLite in a temp directory, real router) for unit tests of actors, with a
// simulated clock so timers can be advanced without waiting.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.ts';
import { composeServices, type Services } from '../../src/services.ts';
import { openDatabase } from '../../src/store/db.ts';
import { openVault, type PasswordVault } from '../../src/auth/password-vault.ts';
import { MetaStore } from '../../src/store/meta.ts';
import { Router } from '../../src/router.ts';
import { CirService } from '../../src/adapters/cir/cir-service.ts';

export interface TestServices {
  services: Services;
  clock: SimulatedClock;
  vault: PasswordVault;
  /** Advance both the actors' timers and services.now(). */
  advance(ms: number): void;
}

export function makeServices(configText = ''): TestServices {
  const dir = mkdtempSync(join(tmpdir(), 'village-unit-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `domains: [imps.test]\ndataDir: ${join(dir, 'data')}\n${configText}`);
  const config: Config = loadConfig({ file, env: {} });
  const db = openDatabase(config.dataDir);
  const vault = openVault(config.dataDir, new MetaStore(db));
  const clock = new SimulatedClock();
  let now = 1_800_000_000_000;
  const log = pino({ level: 'silent' });
  const router = new Router(log, config.session.maxPerUser, clock);
  const cir = new CirService(config, log, router.cirHooks(), undefined);
  const services = composeServices(db, vault, { config, log, now: () => now, router, cir });
  return {
    services,
    clock,
    vault,
    advance(ms) {
      now += ms;
      clock.increment(ms);
    },
  };
}


