// Presence (reference imps-csp.md §3.3–3.4): what each user publishes, who watches whom, and
// the PresenceNotification-Requests that carry changes to every watcher's live sessions.
//
// A user's attributes are stored whole (canonical element trees) and rendered per watcher:
// only what the owner lets that watcher see (src/features/authorization.ts), only what the
// watcher subscribed to, only what the watcher's CSP version knows, always with Qualifier T
// (Android ignores attributes without it), addresses spelled the way the watcher logged in.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, leaf, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { displayAddress, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import { Failures } from '../csp/outcome.ts';
import type { CspVersion } from '../csp/versions.ts';
import { NAMESPACES } from '../csp/versions.ts';
import { schemaFor } from '../csp/schema/index.ts';
import type { Services } from '../services.ts';
import type { Subscription } from '../store/presence.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import { requestAuthorization, visibleAttributes } from './authorization.ts';
import { listMembers, parseListId } from './contact-lists.ts';
import { isXmppUser, probeXmppContacts, sendPresenceToXmpp, sendSubscriptionToXmpp } from './xmpp-gateway.ts';

/** Attributes a watcher sees change on login and logout. */
const ONLINE_ATTRIBUTES = ['OnlineStatus', 'UserAvailability'];

/** The attribute names a PresenceSubList selects (empty or absent: all). */
export function selectedAttributes(list: CspElement | undefined): string[] | undefined {
  const names = list?.children.map((c) => c.name) ?? [];
  return names.length ? [...new Set(names)] : undefined;
}

/** Drop what a version does not know (elements without a definition or a WBXML token there). */
function fitToVersion(node: CspElement, version: CspVersion): CspElement | undefined {
  const def = schemaFor(version).get(node.name);
  if (!def?.token) return undefined;
  const out: CspElement = { ...node, children: node.children.map((c) => fitToVersion(c, version)).filter((c): c is CspElement => !!c) };
  return out;
}

/** An attribute as published: with Qualifier T when the phone sent none (Android ignores unqualified ones). */
function qualified(attribute: CspElement): CspElement {
  if (child(attribute, 'Qualifier')) return attribute;
  return { ...attribute, children: [leaf('Qualifier', true)!, ...attribute.children] };
}

/** Attributes keyed per attribute name and, in 1.3, per ClientID (per-client attributes may repeat). */
function attributeKey(a: CspElement): string {
  const clientId = child(a, 'ClientID');
  return clientId ? `${a.name}\n${JSON.stringify(clientId)}` : a.name;
}

/** The PresenceSubList a watcher may see of an owner, for their version; undefined: nothing visible. */
export function presenceSubList(services: Services, owner: string, watcher: string, wanted: string[] | undefined, version: CspVersion): CspElement | undefined {
  const visible = visibleAttributes(services, owner, watcher);
  if (visible === 'none') return undefined;
  const shown = services.presence
    .attributes(owner)
    .filter((a) => (visible === 'all' || visible.has(a.name)) && (!wanted || wanted.includes(a.name)))
    .map((a) => fitToVersion(a, version))
    .filter((a): a is CspElement => !!a);
  // Some Nokia 1.1 clients need CommCap and ClientInfo present, even empty (Baraza found this).
  if (version === '1.1') {
    for (const name of ['ClientInfo', 'CommCap']) {
      if ((!wanted || wanted.includes(name)) && !shown.some((a) => a.name === name) && (visible === 'all' || visible.has(name))) shown.push(el(name));
    }
  }
  return el('PresenceSubList', shown, { xmlns: NAMESPACES[version].pa });
}

function presenceElement(services: Services, owner: string, session: SessionView, wanted: string[] | undefined): CspElement | undefined {
  const list = presenceSubList(services, owner, session.user.id, wanted, session.version);
  if (!list) return undefined;
  return el('Presence', [leaf('UserID', displayAddress(owner, session.addressStyle)), list]);
}

/**
 * Tell every live session watching `owner` that attributes changed. The notification is
 * rendered when the session hands it out, so it carries the latest values; a newer change
 * replaces an older one still waiting (same key).
 */
export function publish(services: Services, owner: string, changed: string[]): void {
  // The subscriptions at hand are used as they are (not looked up again watcher by watcher).
  for (const sub of services.presence.watchersOf(owner)) notify(services, owner, sub, changed);
}

/** Queue a PresenceNotification about `owner` for one watcher's live sessions (if anything visible changed). */
export function notifyWatcher(services: Services, owner: string, watcher: string, changed: string[] | undefined): void {
  if (watcher === owner) return;
  const sub = services.presence.subscription(watcher, owner);
  if (sub) notify(services, owner, sub, changed);
}

function notify(services: Services, owner: string, sub: Subscription, changed: string[] | undefined): void {
  const { watcher } = sub;
  if (watcher === owner) return;
  // A watcher on an XMPP server is sent <presence> (what they may see), whether or not we think it changed for them.
  if (isXmppUser(services, watcher)) {
    if (!isXmppUser(services, owner)) sendPresenceToXmpp(services, owner, watcher);
    return;
  }
  if (services.router.sessionsOf(watcher).length === 0) return;
  const visible = visibleAttributes(services, owner, watcher);
  if (visible === 'none') return;
  const relevant = (name: string) => (visible === 'all' || visible.has(name)) && (!sub.attributes || sub.attributes.includes(name));
  if (changed && !changed.some(relevant)) return;
  services.router.deliverToUser(watcher, {
    key: `presence:${owner}`,
    render: (session) => {
      // Rendered when handed out: a watcher who has unsubscribed meanwhile gets nothing.
      const current = services.presence.subscription(watcher, owner);
      if (!current) return undefined;
      const presence = presenceElement(services, owner, session, current.attributes);
      return presence ? el('PresenceNotification-Request', [presence]) : undefined;
    },
  });
}

/** Replace the given attributes of a user's presence (matched by name and, in 1.3, ClientID). */
export function storeAttributes(services: Services, userId: string, update: CspElement[]): string[] {
  const current = services.presence.attributes(userId);
  const incoming = update.map(qualified);
  const replaced = new Set(incoming.map(attributeKey));
  const merged = [...current.filter((a) => !replaced.has(attributeKey(a))), ...incoming];
  services.presence.setAttributes(userId, merged, services.now());
  return [...new Set(incoming.map((a) => a.name))];
}

const value = (name: string, v: string) => el(name, [leaf('Qualifier', true), leaf('PresenceValue', v)]);

/** The server publishes on the user's behalf: online at the first session, offline after the last. */
export function userCameOnline(services: Services, userId: string): void {
  if (services.router.sessionsOf(userId).length !== 1) return;
  const current = services.presence.attributes(userId);
  const availability = current.find((a) => a.name === 'UserAvailability');
  const update = [value('OnlineStatus', 'T')];
  if (!availability || textOf(availability, 'PresenceValue')?.toUpperCase() === 'NOT_AVAILABLE') update.push(value('UserAvailability', 'AVAILABLE'));
  storeAttributes(services, userId, update);
  publish(services, userId, ONLINE_ATTRIBUTES);
  probeXmppContacts(services, userId);
}

/**
 * At start-up no session exists: whoever was online when the server last stopped without a
 * goodbye (a crash, SIGKILL) is published offline, or watchers would see them online forever.
 */
export function everyoneOffline(services: Services): string[] {
  const users = services.presence.usersOnline();
  for (const userId of users) storeAttributes(services, userId, [value('OnlineStatus', 'F'), value('UserAvailability', 'NOT_AVAILABLE')]);
  return users;
}

/**
 * Watchers on XMPP servers kept their own view of our users through our crash: once federation
 * is up again, those we just showed offline are shown offline to them too.
 */
export function tellXmppWatchersOffline(services: Services, users: string[]): void {
  for (const userId of users) {
    if (isXmppUser(services, userId)) continue;
    for (const { watcher } of services.presence.watchersOf(userId)) if (isXmppUser(services, watcher)) sendPresenceToXmpp(services, userId, watcher);
  }
}

export function userWentOffline(services: Services, userId: string): void {
  if (services.router.sessionsOf(userId).length !== 0) return;
  storeAttributes(services, userId, [value('OnlineStatus', 'F'), value('UserAvailability', 'NOT_AVAILABLE')]);
  publish(services, userId, ONLINE_ATTRIBUTES);
}

// ── Primitives ─────────────────────────────────────────────────────────────────────────────

export const updatePresence: PrimitiveHandler = (request, session, services) => {
  const list = child(request, 'PresenceSubList');
  if (!list || list.children.length === 0) throw new CspError(402, 'UpdatePresence-Request needs a PresenceSubList with attributes');
  const schema = schemaFor(session.version);
  const unknown = list.children.filter((a) => !schema.get(a.name));
  if (unknown.length === list.children.length) throw new CspError(750, `Unknown presence attribute ${unknown[0]!.name}`);
  const changed = storeAttributes(services, session.user.id, list.children.filter((a) => schema.get(a.name)));
  publish(services, session.user.id, changed);
  return { response: unknown.length ? status(201, `Ignored unknown attributes: ${unknown.map((a) => a.name).join(', ')}`) : status(200) };
};

/** The users a request names: User / UserID elements, or 1.3 UserIDList. */
function namedUsers(request: CspElement, services: Services): { ids: string[]; bad: CspElement[] } {
  const raw = [
    ...childrenNamed(request, 'User').map((u) => textOf(u, 'UserID') ?? ''),
    ...childrenNamed(request, 'UserID').map((u) => textOf(u) ?? ''),
    ...childrenNamed(child(request, 'UserIDList'), 'UserID').map((u) => textOf(u) ?? ''),
  ];
  const ids: string[] = [];
  const bad: CspElement[] = [];
  for (const r of raw) {
    try {
      const id = parseUserId(r, services.config.domains[0]!).id;
      if (!ids.includes(id)) ids.push(id);
    } catch {
      bad.push(leaf('UserID', r)!);
    }
  }
  return { ids, bad };
}

/** The contact lists a request names: ContactList elements, or 1.3 ContactListIDList. */
function namedLists(request: CspElement, session: SessionView, services: Services): string[] {
  const raw = [...childrenNamed(request, 'ContactList'), ...childrenNamed(child(request, 'ContactListIDList'), 'ContactList')].map((c) => textOf(c) ?? '');
  return raw.map((r) => parseListId(r, session.user, services.config.domains[0]!));
}

export const getPresence: PrimitiveHandler = (request, session, services) => {
  const wanted = selectedAttributes(child(request, 'PresenceSubList'));
  const { ids, bad } = namedUsers(request, services);
  const failures = new Failures();
  for (const b of bad) failures.add(402, b);
  let found = 0;
  const targets: string[] = [];
  for (const id of ids) {
    if (watchable(services, id)) (found++, targets.push(id));
    else failures.add(531, leaf('UserID', displayAddress(id, session.addressStyle))!);
  }
  for (const listId of namedLists(request, session, services)) {
    if (!services.contactLists.get(session.user.id, listId)) {
      failures.add(700, leaf('ContactList', displayAddress(listId, {}))!);
      continue;
    }
    found++;
    for (const m of listMembers(services, session.user.id, listId)) if (!targets.includes(m) && watchable(services, m)) targets.push(m);
  }
  if (found === 0 && failures.count === 0) throw new CspError(402, 'GetPresence-Request names nobody');
  // Users may always see their own presence (CSP 1.1 Nokia clients ask for it); others what they were granted.
  const presences = targets.map((id) => presenceElement(services, id, session, wanted)).filter((p): p is CspElement => !!p);
  return { response: el('GetPresence-Response', [failures.result(session.version, found), ...presences]) };
};

/** Watch `target` for `watcher`, ask the owner when their policy says so, and show what is visible now. */
export function subscribe(services: Services, watcher: string, target: string, attributes: string[] | undefined, viaList?: string): void {
  services.presence.subscribe({ watcher, target, ...(attributes ? { attributes } : {}), ...(viaList ? { viaList } : {}) }, services.now());
  if (isXmppUser(services, target)) {
    // The XMPP user's server asks them; their "subscribed" and presence come back as stanzas.
    // Sent even when they once approved: their server may have dropped it since (after our
    // unsubscribe, say), and one that still holds it answers "subscribed" at once.
    sendSubscriptionToXmpp(services, watcher, target, 'subscribe');
  } else requestAuthorization(services, target, watcher, attributes);
  notifyWatcher(services, target, watcher, undefined);
}

/** A local user, or someone on an XMPP server we federate with: someone whose presence can be watched. */
export function watchable(services: Services, id: string): boolean {
  if (isXmppUser(services, id)) return true;
  return services.config.domains.includes(id.slice(id.lastIndexOf('@') + 1)) && services.accounts.get(id) !== undefined;
}

export const subscribePresence: PrimitiveHandler = (request, session, services) => {
  const watcher = session.user.id;
  const attributes = selectedAttributes(child(request, 'PresenceSubList'));
  const auto = boolOf(request, 'AutoSubscribe', false);
  const { ids, bad } = namedUsers(request, services);
  const failures = new Failures();
  for (const b of bad) failures.add(402, b);
  let ok = 0;
  for (const id of ids) {
    if (!watchable(services, id)) {
      failures.add(531, leaf('UserID', displayAddress(id, session.addressStyle))!);
      continue;
    }
    subscribe(services, watcher, id, attributes);
    ok++;
  }
  for (const listId of namedLists(request, session, services)) {
    if (!services.contactLists.get(watcher, listId)) {
      failures.add(700, leaf('ContactList', displayAddress(listId, {}))!);
      continue;
    }
    for (const m of listMembers(services, watcher, listId)) if (watchable(services, m)) subscribe(services, watcher, m, attributes, listId);
    if (auto) services.contactLists.change(watcher, listId, { autoSubscribe: true });
    ok++;
  }
  if (ok === 0 && failures.count === 0) throw new CspError(402, 'SubscribePresence-Request names nobody');
  return { response: el('Status', [failures.result(session.version, ok)]) };
};

export const unsubscribePresence: PrimitiveHandler = (request, session, services) => {
  const watcher = session.user.id;
  const { ids } = namedUsers(request, services);
  for (const id of ids) {
    if (isXmppUser(services, id) && services.presence.subscription(watcher, id)) sendSubscriptionToXmpp(services, watcher, id, 'unsubscribe');
    services.presence.unsubscribe(watcher, id);
  }
  for (const listId of namedLists(request, session, services)) {
    services.presence.unsubscribeVia(watcher, listId);
    if (services.contactLists.get(watcher, listId)) services.contactLists.change(watcher, listId, { autoSubscribe: false });
  }
  return { response: status(200) };
};

export const getWatcherList: PrimitiveHandler = (_request, session, services) => {
  const watchers = services.presence.watchersOf(session.user.id).filter((w) => w.watcher !== session.user.id);
  const user = (id: string) => el('User', [leaf('UserID', displayAddress(id, session.addressStyle))]);
  if (session.version === '1.1') return { response: el('GetWatcherList-Response', watchers.map((w) => user(w.watcher))) };
  return {
    response: el('GetWatcherList-Response', [
      session.version === '1.3' ? leaf('WatcherCount', watchers.length) : undefined,
      ...watchers.map((w) => el('Watcher', [user(w.watcher)])),
    ]),
  };
};
