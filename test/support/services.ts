// Real services (SQLite in a temp directory, real router) for unit tests of actors, with a
// simulated clock so timers can be advanced without waiting.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedClock } from 'xstate';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Services } from '../../src/services.ts';
import { openDatabase } from '../../src/store/db.ts';
import { AccountStore } from '../../src/store/accounts.ts';
import { MessageStore } from '../../src/store/messages.ts';
import { NoticeStore } from '../../src/store/notices.ts';
import { AccessListStore } from '../../src/store/access-lists.ts';
import { ClientProfileStore } from '../../src/store/client-profiles.ts';
import { ContactListStore } from '../../src/store/contact-lists.ts';
import { PresenceStore } from '../../src/store/presence.ts';
import { GroupStore } from '../../src/store/groups.ts';
import { UserProfileStore } from '../../src/store/user-profiles.ts';
import { SearchResults } from '../../src/search-results.ts';
import { InvitationStore } from '../../src/store/invitations.ts';
import { openVault, type PasswordVault } from '../../src/auth/password-vault.ts';
import { ChallengeBook } from '../../src/auth/challenges.ts';
import { MetaStore } from '../../src/store/meta.ts';
import { LoginThrottle } from '../../src/auth/login-throttle.ts';
import { Authenticator } from '../../src/auth/authenticator.ts';
import { Router } from '../../src/router.ts';
import { CirService } from '../../src/adapters/cir/cir-service.ts';
import { ContentStore } from '../../src/store/content.ts';
import { XmppReceiptStore } from '../../src/store/xmpp-receipts.ts';
import { isActive } from '../../actors/session.ts';

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
  const accounts = new AccountStore(db);
  const services: Services = {
    config,
    log,
    now: () => now,
    accounts,
    messages: new MessageStore(db),
    notices: new NoticeStore(db),
    accessLists: new AccessListStore(db),
    profiles: new ClientProfileStore(db),
    contactLists: new ContactListStore(db),
    presence: new PresenceStore(db),
    groups: new GroupStore(db),
    userProfiles: new UserProfileStore(db),
    searches: new SearchResults({ perSession: config.search.maxPerSession, keepMs: config.search.keepSeconds * 1000 }),
    invitations: new InvitationStore(db),
    auth: new Authenticator(
      accounts,
      vault,
      new LoginThrottle(config.loginLimits),
      new ChallengeBook({ lifetimeMs: config.session.nonceLifetime * 1000, perUser: 16, perAddressPerMinute: config.loginLimits.challengesPerAddressPerMinute }),
      config.autoRegister,
    ),
    router: new Router(log, config.session.maxPerUser, clock),
    cir: undefined as unknown as CirService,
    xmpp: undefined,
    content: new ContentStore(db),
    xmppReceipts: new XmppReceiptStore(db),
  };
  services.cir = new CirService(
    config,
    log,
    {
      session: (id) => {
        const snapshot = services.router.session(id)?.getSnapshot();
        return snapshot && isActive(snapshot) ? snapshot.context : undefined;
      },
      queued: (id) => services.router.hasQueued(id),
      failed: (id, attempt) => services.router.session(id)?.send({ type: 'CIR_FAILED', attempt }),
      stcpChanged: () => undefined,
    },
    undefined,
  );
  services.router.attach(services);
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


