// Composition root: builds the store, services, router and adapters from a config, and
// takes them down again in the right order.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import { composeServices, type Services } from './services.ts';
import { openDatabase } from './store/db.ts';
import { startHousekeeping } from './housekeeping.ts';
import { everyoneOffline, tellXmppWatchersOffline } from './features/presence.ts';
import { openVault } from './auth/password-vault.ts';
import { MetaStore } from './store/meta.ts';
import { Router } from './router.ts';
import { startHttpAdapter, type HttpAdapter } from './adapters/http.ts';
import { CirService } from './adapters/cir/cir-service.ts';
import { XmppFederation } from './adapters/xmpp/federation.ts';
import { S2sQueue } from './store/s2s-queue.ts';
import { handleXmppStanza } from './features/xmpp-gateway.ts';

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
  const router = new Router(log, config.session.maxPerUser);
  let cir: CirService;
  try {
    cir = await CirService.start(config, log, router.cirHooks());
  } catch (err) {
    db.close();
    throw err;
  }
  const services = composeServices(db, vault, { config, log, now: () => Date.now(), router, cir });
  const { messages, notices } = services;
  // No session survives a restart, so no offer can still be outstanding.
  messages.releaseAllOffers();
  notices.releaseAllOffers();
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
