// Who may see whose presence (reference imps-csp.md §3.3): the owner's policy (config default,
// per-user override), reactive authorisation (PresenceAuth-Request to the owner, PresenceAuth-User
// back, CancelAuth, GetReactiveAuthStatus), and attribute lists that narrow what a watcher sees.
//
//   watcher is the owner ───────────────────────────────▶ everything
//   watcher refused by the owner's block/grant lists ──▶ nothing
//   grant recorded: granted (per attribute) / denied ──▶ that
//   otherwise: owner's policy auto ▶ everything; ask ▶ nothing until granted; deny ▶ nothing
//   then narrowed by the first attribute list that applies: the watcher's own, the lists of the
//   owner's contact lists the watcher is on (united), or the owner's default list.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, leaf, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { displayAddress, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import { NAMESPACES } from '../csp/versions.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { AddressStyle } from '../csp/address.ts';
import type { Policy } from '../store/presence.ts';
import type { Services } from '../services.ts';
import type { PrimitiveHandler } from './types.ts';
import { notifyWatcher, selectedAttributes } from './presence.ts';
import { parseListId } from './contact-lists.ts';
import { refusesSender } from './block-lists.ts';
import { isXmppUser, sendSubscriptionToXmpp } from './xmpp-gateway.ts';

export const PRESENCE_AUTH = 'PresenceAuth';

export function policyOf(services: Services, owner: string): Policy {
  return services.presence.policy(owner) ?? services.config.presence.authorization;
}

/** What `watcher` may see of `owner`'s presence: 'all', a set of attribute names, or 'none'. */
export function visibleAttributes(services: Services, owner: string, watcher: string): 'all' | 'none' | Set<string> {
  if (owner === watcher) return 'all';
  // Someone the owner blocked (or left off an active grant list) sees nothing either.
  if (refusesSender(services, owner, watcher)) return 'none';
  const grant = services.presence.grant(owner, watcher);
  let allowed: 'all' | Set<string>;
  if (grant?.state === 'granted') allowed = grant.attributes ? new Set(grant.attributes) : 'all';
  else if (grant?.state === 'denied') return 'none';
  else if (policyOf(services, owner) === 'auto') allowed = 'all';
  else return 'none';

  const narrowing = attributeListFor(services, owner, watcher);
  if (!narrowing) return allowed;
  if (allowed === 'all') return new Set(narrowing);
  return new Set([...allowed].filter((a) => narrowing.includes(a)));
}

function attributeListFor(services: Services, owner: string, watcher: string): string[] | undefined {
  const own = services.presence.attributeList(owner, 'user', watcher);
  if (own) return own;
  const fromLists = services.contactLists.listsWith(owner, watcher).map((l) => services.presence.attributeList(owner, 'list', l)).filter((l): l is string[] => !!l);
  if (fromLists.length) return [...new Set(fromLists.flat())];
  return services.presence.attributeList(owner, 'default');
}

/**
 * A new watcher of `owner`: under the "ask" policy, record the request as pending and queue a
 * PresenceAuth-Request for the owner (durable, so an owner who is offline gets it later).
 */
export function requestAuthorization(services: Services, owner: string, watcher: string, attributes: string[] | undefined): void {
  if (owner === watcher || policyOf(services, owner) !== 'ask' || services.presence.grant(owner, watcher)) return;
  const now = services.now();
  services.presence.setGrant(owner, watcher, { state: 'pending' }, now);
  services.notices.add(owner, PRESENCE_AUTH, { watcher, ...(attributes ? { attributes } : {}) }, now, now + services.config.messages.validityDefault * 1000);
  services.log.info({ owner, watcher }, 'presence authorisation requested');
}

/** PresenceAuth-Request for the owner's version; CSP 1.3 has none (its phones authorise through lists). */
export function presenceAuthPrimitive(payload: { watcher: string; attributes?: string[] }, version: CspVersion, style: AddressStyle): CspElement | undefined {
  if (version === '1.3') return undefined;
  return el('PresenceAuth-Request', [
    leaf('UserID', displayAddress(payload.watcher, style)),
    payload.attributes ? el('PresenceSubList', payload.attributes.map((a) => el(a)), { xmlns: NAMESPACES[version].pa }) : undefined,
  ]);
}

/**
 * Grant (per attribute) or deny. A grant shows the watcher the owner's presence at once; a
 * denial after a grant tells the watcher's phone the owner went offline (it still shows the
 * last presence it saw).
 */
export function decide(services: Services, owner: string, watcher: string, accept: boolean, attributes: string[] | undefined): void {
  const before = services.presence.grant(owner, watcher)?.state;
  services.presence.setGrant(owner, watcher, accept ? { state: 'granted', ...(attributes ? { attributes } : {}) } : { state: 'denied' }, services.now());
  // An XMPP watcher's server learns the decision as <presence type='subscribed'/'unsubscribed'>.
  if (isXmppUser(services, watcher)) sendSubscriptionToXmpp(services, owner, watcher, accept ? 'subscribed' : 'unsubscribed');
  if (accept) notifyWatcher(services, owner, watcher, undefined);
  else if (before === 'granted' || (before === undefined && policyOf(services, owner) === 'auto')) showOffline(services, owner, watcher);
}

function showOffline(services: Services, owner: string, watcher: string): void {
  services.router.deliverToUser(watcher, {
    key: `presence:${owner}`,
    render: (s) =>
      el('PresenceNotification-Request', [
        el('Presence', [
          leaf('UserID', displayAddress(owner, s.addressStyle)),
          el('PresenceSubList', [el('OnlineStatus', [leaf('Qualifier', true), leaf('PresenceValue', false)])], { xmlns: NAMESPACES[s.version].pa }),
        ]),
      ]),
  });
}

function userArg(services: Services, request: CspElement, name = 'UserID'): string {
  const raw = textOf(request, name);
  if (!raw) throw new CspError(402, `${request.name} needs ${name}`);
  try {
    return parseUserId(raw, services.config.domains[0]!).id;
  } catch {
    throw new CspError(402, `"${raw}" is not a user ID`);
  }
}

export const presenceAuthUser: PrimitiveHandler = (request, session, services) => {
  const watcher = userArg(services, request);
  const accept = boolOf(request, 'Acceptance', false);
  decide(services, session.user.id, watcher, accept, accept ? selectedAttributes(child(request, 'PresenceSubList')) : undefined);
  return { response: status(200) };
};

export const cancelAuth: PrimitiveHandler = (request, session, services) => {
  const watcher = userArg(services, request);
  services.presence.setGrant(session.user.id, watcher, { state: 'denied' }, services.now());
  if (isXmppUser(services, watcher)) sendSubscriptionToXmpp(services, session.user.id, watcher, 'unsubscribed');
  // The watcher's phone still shows the last presence it saw: tell it the owner looks offline.
  else showOffline(services, session.user.id, watcher);
  return { response: status(200) };
};

export const getReactiveAuthStatus: PrimitiveHandler = (request, session, services) => {
  if (session.version === '1.3') throw new CspError(405, 'CSP 1.3 has no reactive authorisation status');
  const asked = childrenNamed(request, 'UserID').map((u) => parseUserId(textOf(u) ?? '', services.config.domains[0]!).id);
  const grants = services.presence.grants(session.user.id).filter((g) => asked.length === 0 || asked.includes(g.watcher));
  return {
    response: el('GetReactiveAuthStatus-Response', [
      el(
        'ReactiveAuthStatusList',
        grants.map((g) =>
          el('ReactiveAuthStatus', [
            leaf('UserID', displayAddress(g.watcher, session.addressStyle)),
            leaf('ReactiveAuthState', g.state.toUpperCase()),
            g.attributes ? el('PresenceSubList', g.attributes.map((a) => el(a)), { xmlns: NAMESPACES[session.version].pa }) : undefined,
          ]),
        ),
      ),
    ]),
  };
};

// ── Attribute lists ───────────────────────────────────────────────────────────────────────

interface Targets {
  users: string[];
  lists: string[];
  defaultList: boolean;
}

function targetsOf(request: CspElement, services: Services, owner: { id: string; local: string; domain: string }): Targets {
  const domain = services.config.domains[0]!;
  const users = [
    ...childrenNamed(request, 'UserID'),
    ...childrenNamed(child(request, 'UserIDList'), 'UserID'),
    ...childrenNamed(request, 'User').map((u) => child(u, 'UserID')).filter((u): u is CspElement => !!u),
  ].map((u) => {
    try {
      return parseUserId(textOf(u) ?? '', domain).id;
    } catch {
      throw new CspError(402, `"${textOf(u)}" is not a user ID`);
    }
  });
  const lists = [...childrenNamed(request, 'ContactList'), ...childrenNamed(child(request, 'ContactListIDList'), 'ContactList')].map((c) => parseListId(textOf(c) ?? '', owner, domain));
  return { users, lists, defaultList: boolOf(request, 'DefaultList', false) };
}

export const createAttributeList: PrimitiveHandler = (request, session, services) => {
  const names = selectedAttributes(child(request, 'PresenceSubList')) ?? [];
  const owner = session.user.id;
  const t = targetsOf(request, services, session.user);
  if (!t.defaultList && t.users.length === 0 && t.lists.length === 0) throw new CspError(402, 'CreateAttributeList-Request names no user, list or default');
  for (const l of t.lists) if (!services.contactLists.get(owner, l)) throw new CspError(700, `No contact list ${displayAddress(l, {})}`);
  if (t.defaultList) services.presence.setAttributeList(owner, 'default', '', names);
  for (const u of t.users) services.presence.setAttributeList(owner, 'user', u, names);
  for (const l of t.lists) services.presence.setAttributeList(owner, 'list', l, names);
  // Naming a user in an attribute list authorises them (CSP 1.3's way of granting).
  for (const u of t.users) if (services.presence.grant(owner, u)?.state !== 'granted') decide(services, owner, u, true, undefined);
  for (const sub of services.presence.watchersOf(owner)) notifyWatcher(services, owner, sub.watcher, undefined);
  return { response: status(200) };
};

export const deleteAttributeList: PrimitiveHandler = (request, session, services) => {
  const owner = session.user.id;
  const t = targetsOf(request, services, session.user);
  if (t.defaultList) services.presence.removeAttributeList(owner, 'default', '');
  for (const u of t.users) services.presence.removeAttributeList(owner, 'user', u);
  for (const l of t.lists) services.presence.removeAttributeList(owner, 'list', l);
  return { response: status(200) };
};

export const getAttributeList: PrimitiveHandler = (request, session, services) => {
  const owner = session.user.id;
  const t = targetsOf(request, services, session.user);
  const pa = NAMESPACES[session.version].pa;
  const list = (names: string[]) => el('PresenceSubList', names.map((n) => el(n)), { xmlns: pa });
  const entries: CspElement[] = [];
  for (const u of t.users) {
    const names = services.presence.attributeList(owner, 'user', u);
    if (names) entries.push(el('Presence', [leaf('UserID', displayAddress(u, session.addressStyle)), list(names)]));
  }
  for (const l of t.lists) {
    const names = services.presence.attributeList(owner, 'list', l);
    if (names) entries.push(el('Presence', [leaf('ContactList', displayAddress(l, {})), list(names)]));
  }
  const defaults = t.defaultList ? services.presence.attributeList(owner, 'default') : undefined;
  return {
    response: el('GetAttributeList-Response', [el('Result', [leaf('Code', 200), leaf('Description', 'Successful')]), defaults ? el('DefaultAttributeList', [list(defaults)]) : undefined, ...entries]),
  };
};
