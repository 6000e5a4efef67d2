// Composition root: builds the store, services, router and adapters from a config, and
// takes them down again in the right order.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { Services } from './services.ts';
import { openDatabase } from './store/db.ts';
import { AccountStore } from './store/accounts.ts';
import { MessageStore } from './store/messages.ts';
import { NoticeStore } from './store/notices.ts';
import { AccessListStore } from './store/access-lists.ts';
import { ClientProfileStore } from './store/client-profiles.ts';
import { ContactListStore } from './store/contact-lists.ts';
import { PresenceStore } from './store/presence.ts';
import { GroupStore } from './store/groups.ts';
import { UserProfileStore } from './store/user-profiles.ts';
import { SearchResults } from './search-results.ts';
import { InvitationStore } from './store/invitations.ts';
import { startHousekeeping } from './housekeeping.ts';
import { everyoneOffline, tellXmppWatchersOffline } from './features/presence.ts';
import { openVault } from './auth/password-vault.ts';
import { ChallengeBook } from './auth/challenges.ts';
import { MetaStore } from './store/meta.ts';
import { LoginThrottle } from './auth/login-throttle.ts';
import { Authenticator } from './auth/authenticator.ts';
import { Router } from './router.ts';
import { startHttpAdapter, type HttpAdapter } from './adapters/http.ts';
import { CirService } from './adapters/cir/cir-service.ts';
import { XmppFederation } from './adapters/xmpp/federation.ts';
import { S2sQueue } from './store/s2s-queue.ts';
import { ContentStore } from './store/content.ts';
import { XmppReceiptStore } from './store/xmpp-receipts.ts';
import { handleXmppStanza } from './features/xmpp-gateway.ts';
import { isActive } from '../actors/session.ts';

export interface RunningServer {
  services: Services;
  http: HttpAdapter;
  /** Graceful stop: stop listening, finish in-flight requests, end sessions, close the database. */
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const db = openDatabase(config.dataDir);
  let vault;
  try {
    vault = openVault(config.dataDir, new MetaStore(db));
  } catch (err) {
    db.close();
    throw err;
  }
  const accounts = new AccountStore(db);
  const messages = new MessageStore(db);
  const notices = new NoticeStore(db);
  // No session survives a restart, so no offer can still be outstanding.
  messages.releaseAllOffers();
  notices.releaseAllOffers();
  const challenges = new ChallengeBook({
    lifetimeMs: config.session.nonceLifetime * 1000,
    perUser: 16,
    perAddressPerMinute: config.loginLimits.challengesPerAddressPerMinute,
  });
  const auth = new Authenticator(accounts, vault, new LoginThrottle(config.loginLimits), challenges, config.autoRegister);
  const router = new Router(log, config.session.maxPerUser);
  let cir: CirService;
  try {
    cir = await CirService.start(config, log, {
      session: (sessionId) => {
        const actor = router.session(sessionId);
        const snapshot = actor?.getSnapshot();
        return snapshot && isActive(snapshot) ? snapshot.context : undefined;
      },
      queued: (sessionId) => router.hasQueued(sessionId),
      failed: (sessionId, attempt) => router.session(sessionId)?.send({ type: 'CIR_FAILED', attempt }),
      stcpChanged: (sessionId, bound) => log.debug({ bound }, 'STCP connection of a session changed'),
    });
  } catch (err) {
    db.close();
    throw err;
  }
  const services: Services = {
    config,
    log,
    now: () => Date.now(),
    accounts,
    messages,
    notices,
    accessLists: new AccessListStore(db),
    profiles: new ClientProfileStore(db),
    contactLists: new ContactListStore(db),
    presence: new PresenceStore(db),
    groups: new GroupStore(db),
    userProfiles: new UserProfileStore(db),
    searches: new SearchResults({ perSession: config.search.maxPerSession, keepMs: config.search.keepSeconds * 1000 }),
    invitations: new InvitationStore(db),
    auth,
    router,
    cir,
    xmpp: undefined,
    content: new ContentStore(db),
    xmppReceipts: new XmppReceiptStore(db),
  };
  router.attach(services);
  // Whatever is queued for a user may need their phone woken.
  messages.onQueued = (user) => router.wake(user);
  notices.onQueued = (user) => router.wake(user);
  const wentOffline = everyoneOffline(services);
  if (wentOffline.length) log.info({ users: wentOffline.length }, 'users left online by an unclean stop are now shown offline');
  try {
    services.xmpp = await XmppFederation.start(config, log, new S2sQueue(db), { stanza: (node) => handleXmppStanza(services, node) }, services.now);
    tellXmppWatchersOffline(services, wentOffline);
  } catch (err) {
    await cir.close();
    db.close();
    throw err;
  }
  const housekeeping = startHousekeeping(services);

  let http: HttpAdapter;
  try {
    http = await startHttpAdapter(services);
  } catch (err) {
    housekeeping.stop();
    await cir.close();
    await services.xmpp?.close();
    db.close();
    throw err;
  }
  // Accepted and validated for the contract's sake, but served by later releases: say so.
  const notYet = [config.ssp && 'ssp'].filter(Boolean);
  if (notYet.length) log.warn({ keys: notYet }, 'these configured features are not implemented yet and are ignored');
  const bound = http.address();
  services.httpPort = bound.port;
  const stcp = cir.stcp?.address();
  log.info(
    {
      host: bound.address,
      port: bound.port,
      ...(stcp ? { stcpPort: stcp.port } : {}),
      ...(services.xmpp ? { xmppPort: services.xmpp.address().port } : {}),
      domains: config.domains,
      dataDir: config.dataDir,
    },
    'listening',
  );

  let stopping: Promise<void> | undefined;
  return {
    services,
    http,
    stop: () =>
      (stopping ??= (async () => {
        await http.close();
        housekeeping.stop();
        router.endAll('server shutting down');
        await cir.close();
        await services.xmpp?.close();
        db.close();
        log.info('stopped');
      })()),
  };
}
