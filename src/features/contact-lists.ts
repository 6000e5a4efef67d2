// Contact lists (reference imps-csp.md §3.3): GetList, CreateList, DeleteList, ListManage.
// A list id is "wv:owner/name@domain"; phones may send it without "wv:", without the owner or
// without the domain, in any case. Lists a phone subscribed to with AutoSubscribe keep their
// subscriptions in step with their members.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, leaf, textOf } from '../csp/tree.ts';
import { result, status } from '../csp/envelope.ts';
import type { UserAddress } from '../csp/address.ts';
import { displayAddress, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { ListMember } from '../store/contact-lists.ts';
import type { Services } from '../services.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import { decide } from './authorization.ts';
import { subscribe, watchable } from './presence.ts';

const LIST_NAME = /^[a-z0-9._~+-]{1,64}$/;

/** Canonical list id "owner/name@domain" of one of `owner`'s lists; 402 when it cannot be one. */
export function parseListId(raw: string, owner: Pick<UserAddress, 'id' | 'local' | 'domain'>, defaultDomain: string): string {
  let s = raw.trim().toLowerCase();
  if (s.startsWith('wv:')) s = s.slice(3);
  const at = s.lastIndexOf('@');
  const domain = at >= 0 ? s.slice(at + 1) : owner.domain || defaultDomain;
  const path = at >= 0 ? s.slice(0, at) : s;
  const slash = path.indexOf('/');
  const user = slash >= 0 ? path.slice(0, slash) : owner.local;
  const name = slash >= 0 ? path.slice(slash + 1) : path;
  if (!LIST_NAME.test(name)) throw new CspError(402, `"${raw}" is not a contact list ID`);
  if ((user && user !== owner.local) || domain !== owner.domain) throw new CspError(402, `"${raw}" is another user's contact list`);
  return `${owner.local}/${name}@${owner.domain}`;
}

export function listMembers(services: Services, owner: string, listId: string): string[] {
  return services.contactLists.members(owner, listId).map((m) => m.member);
}

/** NickList / AddNickList entries: NickName (Name, UserID) or a bare UserID. */
function readMembers(list: CspElement | undefined, services: Services): ListMember[] {
  if (!list) return [];
  const domain = services.config.domains[0]!;
  const out: ListMember[] = [];
  const add = (raw: string, nickname: string | undefined) => {
    let member: string;
    try {
      member = parseUserId(raw, domain).id;
    } catch {
      throw new CspError(402, `"${raw}" is not a user ID`);
    }
    if (!out.some((m) => m.member === member)) out.push({ member, ...(nickname ? { nickname } : {}) });
  };
  for (const nick of childrenNamed(list, 'NickName')) add(textOf(nick, 'UserID') ?? '', textOf(nick, 'Name'));
  for (const id of childrenNamed(list, 'UserID')) add(textOf(id) ?? '', undefined);
  return out;
}

/** DisplayName and Default from ContactListProperties (Property: Name, Value; names case-insensitive). */
function readProperties(props: CspElement | undefined): { displayName?: string; isDefault?: boolean } {
  const out: { displayName?: string; isDefault?: boolean } = {};
  for (const p of childrenNamed(props, 'Property')) {
    const name = textOf(p, 'Name')?.toLowerCase();
    const value = textOf(p, 'Value') ?? '';
    if (name === 'displayname') out.displayName = value;
    else if (name === 'default') out.isDefault = value.toUpperCase() === 'T';
  }
  return out;
}

function nickList(services: Services, session: SessionView, listId: string): CspElement {
  return el(
    'NickList',
    services.contactLists.members(session.user.id, listId).map((m) =>
      m.nickname ? el('NickName', [leaf('Name', m.nickname), leaf('UserID', displayAddress(m.member, session.addressStyle))]) : leaf('UserID', displayAddress(m.member, session.addressStyle))!,
    ),
  );
}

function properties(services: Services, owner: string, listId: string): CspElement {
  const list = services.contactLists.get(owner, listId)!;
  return el('ContactListProperties', [
    el('Property', [leaf('Name', 'DisplayName'), leaf('Value', list.displayName ?? listId.slice(listId.indexOf('/') + 1, listId.lastIndexOf('@')))]),
    el('Property', [leaf('Name', 'Default'), leaf('Value', list.isDefault)]),
  ]);
}

function requireList(services: Services, session: SessionView, request: CspElement): string {
  const raw = textOf(request, 'ContactList');
  if (!raw) throw new CspError(402, `${request.name} needs ContactList`);
  const listId = parseListId(raw, session.user, services.config.domains[0]!);
  return listId;
}

export const getList: PrimitiveHandler = (_request, session, services) => {
  const lists = services.contactLists.lists(session.user.id);
  const ids = lists.map((l) => leaf('ContactList', displayAddress(l.listId, {}))!);
  const fallback = lists.find((l) => l.isDefault);
  return {
    response: el('GetList-Response', [
      ...(session.version === '1.3' ? [ids.length ? el('ContactListIDList', ids) : undefined] : ids),
      fallback ? leaf('DefaultContactList', displayAddress(fallback.listId, {})) : undefined,
    ]),
  };
};

export const createList: PrimitiveHandler = (request, session, services) => {
  const owner = session.user.id;
  const listId = requireList(services, session, request);
  const { presence } = services.config;
  if (services.contactLists.get(owner, listId)) throw new CspError(701, `Contact list ${displayAddress(listId, {})} already exists`);
  if (services.contactLists.lists(owner).length >= presence.maxContactLists) throw new CspError(753, `At most ${presence.maxContactLists} contact lists`);
  const members = readMembers(child(request, 'NickList'), services);
  if (members.length > presence.maxContactsPerList) throw new CspError(754, `At most ${presence.maxContactsPerList} contacts per list`);
  const props = readProperties(child(request, 'ContactListProperties'));
  services.contactLists.create(owner, listId, props.displayName, members, services.now());
  if (props.isDefault) services.contactLists.change(owner, listId, { isDefault: true });
  if (session.version === '1.3') return { response: el('CreateList-Response', [leaf('ContactList', displayAddress(listId, {})), properties(services, owner, listId)]) };
  return { response: status(200) };
};

export const deleteList: PrimitiveHandler = (request, session, services) => {
  const owner = session.user.id;
  const listId = requireList(services, session, request);
  if (!services.contactLists.delete(owner, listId)) throw new CspError(700, `No contact list ${displayAddress(listId, {})}`);
  services.presence.unsubscribeVia(owner, listId);
  return { response: status(200) };
};

export const listManage: PrimitiveHandler = (request, session, services) => {
  const owner = session.user.id;
  const listId = requireList(services, session, request);
  const list = services.contactLists.get(owner, listId);
  if (!list) throw new CspError(700, `No contact list ${displayAddress(listId, {})}`);
  const add = readMembers(child(request, 'AddNickList'), services);
  const remove = readMembers(child(request, 'RemoveNickList'), services).map((m) => m.member);
  const props = readProperties(child(request, 'ContactListProperties'));
  const known = new Set(listMembers(services, owner, listId));
  const added = add.filter((m) => !known.has(m.member)).length;
  if (known.size + added > services.config.presence.maxContactsPerList) throw new CspError(754, `At most ${services.config.presence.maxContactsPerList} contacts per list`);
  services.contactLists.change(owner, listId, { add, remove, ...props });
  // A list watched with AutoSubscribe keeps its subscriptions in step with its members.
  if (list.autoSubscribe) {
    for (const m of add) if (watchable(services, m.member)) subscribe(services, owner, m.member, undefined, listId);
    for (const m of remove) if (services.presence.subscription(owner, m)?.viaList === listId) services.presence.unsubscribe(owner, m);
  }
  // CSP 1.3: adding with AuthorizeAndGrant also lets the new members see the owner.
  if (boolOf(request, 'AuthorizeAndGrant', false)) for (const m of add) decide(services, owner, m.member, true, undefined);
  const receive = session.version === '1.1' || boolOf(request, 'ReceiveList', false);
  return {
    response: el('ListManage-Response', [
      result(200),
      receive ? nickList(services, session, listId) : undefined,
      receive ? properties(services, owner, listId) : undefined,
    ]),
  };
};
