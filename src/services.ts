// What actors and features may call: injected, so tests and the benchmark can swap parts.
// composeServices builds the stores and the authenticator; the caller brings the rest.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
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
import { Authenticator } from './auth/authenticator.ts';
import type { Router } from './router.ts';
import type { Db } from './store/db.ts';
import type { PasswordVault } from './auth/password-vault.ts';
import { ChallengeBook } from './auth/challenges.ts';
import { LoginThrottle } from './auth/login-throttle.ts';
import type { CirService } from './adapters/cir/cir-service.ts';
import type { XmppFederation } from './adapters/xmpp/federation.ts';
import { ContentStore } from './store/content.ts';
import { XmppReceiptStore } from './store/xmpp-receipts.ts';

export interface Services {
  config: Config;
  log: Logger;
  /** Milliseconds since the epoch; replaceable for tests. */
  now(): number;
  accounts: AccountStore;
  messages: MessageStore;
  notices: NoticeStore;
  accessLists: AccessListStore;
  profiles: ClientProfileStore;
  contactLists: ContactListStore;
  presence: PresenceStore;
  groups: GroupStore;
  userProfiles: UserProfileStore;
  /** What each session's searches found, for paging (in memory). */
  searches: SearchResults;
  invitations: InvitationStore;
  auth: Authenticator;
  router: Router;
  /** Waking idle phones: the CIR transports (STCP listener, datagrams, SMS gateway, SHTTP URLs). */
  cir: CirService;
  /** XMPP server-to-server federation; undefined when the xmpp config key is absent. */
  xmpp: XmppFederation | undefined;
  /** The port the HTTP adapter is bound to (differs from config http.port when that is 0). */
  httpPort?: number;
  /** Media for people who cannot take it inline, served as download links. */
  content: ContentStore;
  xmppReceipts: XmppReceiptStore;
}

/** The stores over one database and the authenticator, around the parts the caller made; attaches the router. */
export function composeServices(
  db: Db,
  vault: PasswordVault,
  parts: Pick<Services, 'config' | 'log' | 'now' | 'router' | 'cir'>,
): Services {
  const { config } = parts;
  const accounts = new AccountStore(db);
  const challenges = new ChallengeBook({
    lifetimeMs: config.session.nonceLifetime * 1000,
    perUser: 16,
    perAddressPerMinute: config.loginLimits.challengesPerAddressPerMinute,
  });
  const services: Services = {
    ...parts,
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
    auth: new Authenticator(accounts, vault, new LoginThrottle(config.loginLimits), challenges, config.autoRegister),
    xmpp: undefined,
    content: new ContentStore(db),
    xmppReceipts: new XmppReceiptStore(db),
  };
  parts.router.attach(services);
  return services;
}
