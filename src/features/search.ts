// Search (reference imps-csp.md §3.2): users by id, names, e-mail, mobile number, place and
// online status; groups by id, name, topic, owner and joined user. The first Search-Request
// carries the criteria (SearchPairList) and a SearchLimit; the server keeps what it found for
// the session (src/search-results.ts) and hands it out a page at a time. A continuation
// carries only SearchID + SearchIndex; StopSearch-Request forgets the search.
//
// SearchIndex is the 0-based position of a page's first result: the Search-Response's
// SearchIndex is where the next page starts (the number of results handed out so far), and a
// phone continues by sending it back. CompletionFlag T says nothing is left.
//
// Criteria are ANDed and compared ignoring case (handsets vary it); text criteria match a
// substring. One search looks for users or for groups, never both.
import type { CspElement } from '../csp/tree.ts';
import { child, childrenNamed, el, intOf, leaf, requireText, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { displayAddress, parseUserId } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { Services } from '../services.ts';
import type { StoredSearch } from '../search-results.ts';
import { foldText, type UserCriterion } from '../store/user-profiles.ts';
import type { GroupRecord } from '../store/groups.ts';
import type { PrimitiveHandler, SessionView } from './types.ts';
import { groupAddress } from './group-properties.ts';
import { visibleAttributes } from './authorization.ts';

/** SearchElement value tokens that look for users, and what they compare. */
const USER_ELEMENTS: Record<string, UserCriterion['kind']> = {
  USER_ID: 'id',
  USER_FIRST_NAME: 'firstName',
  USER_LAST_NAME: 'lastName',
  // What users call themselves: the profile's friendly name, or the Alias they publish.
  USER_ALIAS: 'name',
  USER_FRIENDLY_NAME: 'name',
  USER_EMAIL_ADDRESS: 'email',
  USER_MOBILE_NUMBER: 'mobile',
  USER_CITY: 'city',
  USER_COUNTRY: 'country',
  USER_ONLINE_STATUS: 'online',
};

type GroupCriterionKind = 'id' | 'name' | 'topic' | 'joined' | 'owner';

/** SearchElement value tokens that look for groups. */
const GROUP_ELEMENTS: Record<string, GroupCriterionKind> = {
  GROUP_ID: 'id',
  GROUP_NAME: 'name',
  GROUP_TOPIC: 'topic',
  GROUP_USER_ID_JOINED: 'joined',
  GROUP_USER_ID_OWNER: 'owner',
};

/** Elements CSP defines that Village keeps nothing for (1.2 auto-join, 1.3 public profile). */
const UNSUPPORTED = new Set([
  'GROUP_USER_ID_AUTOJOIN',
  'USER_GENDER',
  'USER_INTENTION',
  'USER_INTERESTS_HOBBIES',
  'USER_MARITAL_STATUS',
  'USER_AGE_MAX',
  'USER_AGE_MIN',
]);

/** Most criteria one search may combine. */
const MAX_PAIRS = 10;

interface Pair {
  element: string;
  value: string;
}

/**
 * The (SearchElement, SearchString) pairs of a request, whatever shape the phone used: one
 * pair per SearchPairList (1.1/1.2), SearchPair elements inside a SearchPairList (1.3), or
 * several untagged pairs in one SearchPairList (Baraza's reading of 1.3).
 */
function readPairs(request: CspElement): Pair[] {
  const pairs: Pair[] = [];
  for (const list of childrenNamed(request, 'SearchPairList')) {
    let pending: string | undefined;
    const take = (element: string | undefined, value: string | undefined) => {
      if (!element) throw new CspError(402, 'A SearchPairList names no SearchElement');
      if (value === undefined) throw new CspError(402, `SearchElement ${element} has no SearchString`);
      pairs.push({ element: element.toUpperCase(), value });
    };
    for (const c of list.children) {
      if (c.name === 'SearchPair') take(textOf(c, 'SearchElement'), textOf(c, 'SearchString'));
      else if (c.name === 'SearchElement') {
        if (pending !== undefined) take(pending, undefined);
        pending = textOf(c) ?? '';
      } else if (c.name === 'SearchString') {
        take(pending, textOf(c) ?? '');
        pending = undefined;
      }
    }
    if (pending !== undefined) take(pending, undefined);
  }
  return pairs;
}

/** A search string as compared: trimmed, and without "wv:" where an address is looked for. */
function needle(value: string, stripScheme: boolean): string {
  const v = value.trim();
  return stripScheme ? v.replace(/^wv:/i, '') : v;
}

function requireBroadEnough(services: Services, element: string, value: string): void {
  const min = services.config.search.minChars;
  if ([...value].length < min) throw new CspError(537, `${element}: search for at least ${min} characters`);
}

function exactUser(services: Services, element: string, value: string): string {
  try {
    return parseUserId(value, services.config.domains[0]!).id;
  } catch {
    throw new CspError(402, `${element}: "${value}" is not a user ID`);
  }
}

function onlineValue(element: string, value: string): boolean {
  const v = value.trim().toUpperCase();
  if (v === 'T' || v === 'TRUE') return true;
  if (v === 'F' || v === 'FALSE') return false;
  throw new CspError(402, `${element} is T or F, not "${value}"`);
}

/**
 * Presence is not public: a match that rests on what a user publishes (their Alias, whether
 * they are online) counts only where the searcher may see that attribute (authorization.ts).
 * A friendly name in the profile an operator set is public.
 */
function visibleMatch(services: Services, searcher: string, userId: string, criteria: UserCriterion[]): boolean {
  if (userId === searcher) return true;
  const visible = visibleAttributes(services, userId, searcher);
  const sees = (attribute: string) => visible === 'all' || (visible !== 'none' && visible.has(attribute));
  return criteria.every((c) => {
    if (c.kind === 'online') return sees('OnlineStatus');
    if (c.kind !== 'name') return true;
    const friendly = services.userProfiles.get(userId)?.friendlyName;
    return (friendly !== undefined && foldText(friendly).includes(foldText(c.contains))) || sees('Alias');
  });
}

/** Users meeting every pair, in id order (536 beyond search.maxResults). */
function findUsers(services: Services, searcher: string, pairs: Pair[]): string[] {
  const criteria: UserCriterion[] = pairs.map(({ element, value }) => {
    const kind = USER_ELEMENTS[element]!;
    if (kind === 'online') return { kind, online: onlineValue(element, value) };
    const contains = needle(value, kind === 'id');
    requireBroadEnough(services, element, contains);
    return { kind, contains };
  });
  // A filter alone (everyone online) is no search.
  if (criteria.every((c) => c.kind === 'online')) throw new CspError(537, 'USER_ONLINE_STATUS narrows a search; it cannot be the only criterion');
  const { maxResults } = services.config.search;
  const found = services.userProfiles.search(criteria, maxResults + 1).filter((id) => visibleMatch(services, searcher, id, criteria));
  if (found.length > maxResults) throw new CspError(536, `More than ${maxResults} users match; narrow the search`);
  return found;
}

/** Searchable groups meeting every pair, in id order (536 beyond search.maxResults). */
function findGroups(services: Services, pairs: Pair[]): string[] {
  const tests = pairs.map(({ element, value }): ((g: GroupRecord) => boolean) => {
    const kind = GROUP_ELEMENTS[element]!;
    if (kind === 'joined') {
      const joined = new Set(services.groups.joinedBy(exactUser(services, element, value)));
      return (g) => joined.has(g.groupId);
    }
    if (kind === 'owner') {
      const owner = exactUser(services, element, value);
      return (g) => g.owner === owner;
    }
    const wanted = foldText(needle(value, kind === 'id'));
    requireBroadEnough(services, element, wanted);
    const field = (g: GroupRecord) => (kind === 'id' ? g.groupId : kind === 'name' ? (g.properties['Name'] ?? '') : (g.properties['Topic'] ?? ''));
    return (g) => foldText(field(g)).includes(wanted);
  });
  const found = services.groups
    .all()
    .filter((g) => (g.properties['Searchable'] ?? 'T').toUpperCase() === 'T' && tests.every((t) => t(g)))
    .map((g) => g.groupId);
  const { maxResults } = services.config.search;
  if (found.length > maxResults) throw new CspError(536, `More than ${maxResults} groups match; narrow the search`);
  return found;
}

/** A SearchID as phones send it back: decimal, or hex as in the WV 1.1 examples ("0x23829381"). */
function searchIdOf(raw: string): string {
  const s = raw.trim();
  if (/^\d+$/.test(s)) return s.replace(/^0+(?=\d)/, '');
  if (/^0x[0-9a-f]{1,8}$/i.test(s)) return String(parseInt(s.slice(2), 16));
  return s;
}

/** The SearchLimit a request asks for, within the server's page size (absent or 0: the page size). */
function pageSizeOf(services: Services, request: CspElement): number {
  const asked = intOf(request, 'SearchLimit');
  const ceiling = services.config.search.pageSize;
  return asked ? Math.min(asked, ceiling) : ceiling;
}

function resultEntries(services: Services, session: SessionView, search: Pick<StoredSearch, 'kind'>, ids: readonly string[]): CspElement | undefined {
  if (ids.length === 0) return undefined;
  if (search.kind === 'groups') return el('SearchResult', [el('GroupList', ids.map((id) => leaf('GroupID', groupAddress(id, session.addressStyle))))]);
  const users = ids.map((id) => {
    // 1.3 lets a User carry the name it goes by.
    const friendly = session.version === '1.3' ? services.userProfiles.get(id)?.friendlyName : undefined;
    return el('User', [leaf('UserID', displayAddress(id, session.addressStyle)), leaf('FriendlyName', friendly)]);
  });
  return el('SearchResult', [el('UserList', users)]);
}

/** One page of a kept search, from `index` on. */
function page(services: Services, session: SessionView, search: StoredSearch, index: number, pageSize: number): CspElement {
  const total = search.ids.length;
  const shown = search.ids.slice(index, index + pageSize);
  const next = index + shown.length;
  return el('Search-Response', [
    leaf('SearchID', search.searchId),
    leaf('SearchFindings', total),
    leaf('CompletionFlag', next >= total),
    leaf('SearchIndex', next),
    resultEntries(services, session, search, shown),
  ]);
}

function startSearch(request: CspElement, session: SessionView, services: Services, pairs: Pair[]): CspElement {
  if (pairs.length > MAX_PAIRS) throw new CspError(402, `At most ${MAX_PAIRS} search criteria`);
  for (const { element } of pairs) {
    if (UNSUPPORTED.has(element)) throw new CspError(405, `Searching by ${element} is not supported`);
    if (!USER_ELEMENTS[element] && !GROUP_ELEMENTS[element]) throw new CspError(402, `Unknown SearchElement ${element}`);
  }
  const forGroups = pairs.filter((p) => GROUP_ELEMENTS[p.element]).length;
  if (forGroups > 0 && forGroups < pairs.length) throw new CspError(402, 'A search looks for users or for groups, not both');
  const kind = forGroups ? 'groups' : 'users';
  const ids = kind === 'groups' ? findGroups(services, pairs) : findUsers(services, session.user.id, pairs);
  const pageSize = pageSizeOf(services, request);
  if (ids.length === 0) {
    // Nothing to page through: no SearchID to continue or stop.
    return el('Search-Response', [leaf('SearchFindings', 0), leaf('CompletionFlag', true), leaf('SearchIndex', 0)]);
  }
  const stored = services.searches.add(session.sessionId, { kind, ids, pageSize }, services.now());
  services.log.debug({ user: session.user.id, kind, criteria: pairs.map((p) => p.element), found: ids.length }, 'search');
  return page(services, session, stored, 0, pageSize);
}

function continueSearch(request: CspElement, session: SessionView, services: Services): CspElement {
  const raw = requireText(request, 'SearchID');
  const stored = services.searches.get(session.sessionId, searchIdOf(raw), services.now());
  if (!stored) throw new CspError(424, `No search ${raw} in this session (stopped, expired or never started)`);
  const index = intOf(request, 'SearchIndex');
  if (index === undefined) throw new CspError(402, 'Continuing a search needs SearchIndex');
  if (index >= stored.ids.length) throw new CspError(425, `SearchIndex ${index} is beyond the ${stored.ids.length} results (the first is 0)`);
  const pageSize = child(request, 'SearchLimit') ? pageSizeOf(services, request) : stored.pageSize;
  return page(services, session, stored, index, pageSize);
}

// ── Primitives ─────────────────────────────────────────────────────────────────────────────

export const search: PrimitiveHandler = (request, session, services) => {
  if (child(request, 'AdvancedCriteria')) throw new CspError(405, 'Advanced search (AdvancedCriteria) is not supported');
  const pairs = readPairs(request);
  if (pairs.length) return { response: startSearch(request, session, services, pairs) };
  if (child(request, 'SearchID')) return { response: continueSearch(request, session, services) };
  throw new CspError(402, 'Search-Request needs SearchPairList (a new search) or SearchID and SearchIndex (the next page)');
};

export const stopSearch: PrimitiveHandler = (request, session, services) => {
  const raw = requireText(request, 'SearchID');
  if (!services.searches.remove(session.sessionId, searchIdOf(raw))) throw new CspError(424, `No search ${raw} in this session`);
  return { response: status(200) };
};
