// What actors and features may call: injected, so tests and the benchmark can swap parts.
import type { Config } from './config.ts';
import type { Logger } from './log.ts';
import type { AccountStore } from './store/accounts.ts';
import type { MessageStore } from './store/messages.ts';
import type { NoticeStore } from './store/notices.ts';
import type { AccessListStore } from './store/access-lists.ts';
import type { ClientProfileStore } from './store/client-profiles.ts';
import type { ContactListStore } from './store/contact-lists.ts';
import type { PresenceStore } from './store/presence.ts';
import type { GroupStore } from './store/groups.ts';
import type { UserProfileStore } from './store/user-profiles.ts';
import type { SearchResults } from './search-results.ts';
import type { InvitationStore } from './store/invitations.ts';
import type { Authenticator } from './auth/authenticator.ts';
import type { Router } from './router.ts';
import type { CirService } from './adapters/cir/cir-service.ts';
import type { XmppFederation } from './adapters/xmpp/federation.ts';
import type { ContentStore } from './store/content.ts';
import type { XmppReceiptStore } from './store/xmpp-receipts.ts';

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
