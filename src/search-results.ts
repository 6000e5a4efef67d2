// What a session's searches found, kept in memory so the phone can page through it
// (Search-Request with SearchID + SearchIndex) until it stops the search, stops using it, or
// the session ends. Bounded: a few searches per session, each forgotten after a while unused.
import { randomInt } from 'node:crypto';

export type SearchKind = 'users' | 'groups';

export interface StoredSearch {
  /** Decimal digits: CSP 1.1/1.2 carry SearchID as an integer. */
  readonly searchId: string;
  readonly kind: SearchKind;
  /** Canonical user or group ids, in the order they are handed out. */
  readonly ids: readonly string[];
  /** Results per page, as the first request asked (within the server's ceiling). */
  readonly pageSize: number;
  lastUsed: number;
}

export interface SearchResultsOptions {
  /** Searches one session keeps; a further one forgets the least recently used. */
  perSession: number;
  /** Milliseconds a search is kept after its last use. */
  keepMs: number;
}

/** SearchIDs are positive 31-bit integers (WBXML carries them as integers of at most 4 bytes). */
const MAX_ID = 2 ** 31 - 1;

export class SearchResults {
  private readonly bySession = new Map<string, Map<string, StoredSearch>>();
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: SearchResultsOptions) {}

  /** Keep a session's new search and give it a SearchID no other search of the session has. */
  add(sessionId: string, search: { kind: SearchKind; ids: readonly string[]; pageSize: number }, now: number): StoredSearch {
    this.sweep(now);
    let mine = this.bySession.get(sessionId);
    if (!mine) this.bySession.set(sessionId, (mine = new Map()));
    let searchId: string;
    do searchId = String(randomInt(1, MAX_ID));
    while (mine.has(searchId));
    const stored: StoredSearch = { searchId, kind: search.kind, ids: [...search.ids], pageSize: search.pageSize, lastUsed: now };
    mine.set(searchId, stored);
    while (mine.size > this.options.perSession) {
      const oldest = [...mine.values()].reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
      mine.delete(oldest.searchId);
    }
    return stored;
  }

  /** A search of this session that is still kept (its clock restarts); undefined otherwise. */
  get(sessionId: string, searchId: string, now: number): StoredSearch | undefined {
    const stored = this.bySession.get(sessionId)?.get(searchId);
    if (!stored) return undefined;
    if (now - stored.lastUsed >= this.options.keepMs) {
      this.remove(sessionId, searchId);
      return undefined;
    }
    stored.lastUsed = now;
    return stored;
  }

  /** StopSearch: false when the session has no such search. */
  remove(sessionId: string, searchId: string): boolean {
    const mine = this.bySession.get(sessionId);
    const removed = mine?.delete(searchId) ?? false;
    if (mine && mine.size === 0) this.bySession.delete(sessionId);
    return removed;
  }

  /** The session ended: its searches go with it. */
  forgetSession(sessionId: string): void {
    this.bySession.delete(sessionId);
  }

  /** Searches kept, over all sessions. */
  get size(): number {
    let n = 0;
    for (const mine of this.bySession.values()) n += mine.size;
    return n;
  }

  /** Drop every expired search (at most once a minute, or once per keep time if shorter). */
  private sweep(now: number): void {
    if (now - this.lastSweep < Math.min(60_000, this.options.keepMs)) return;
    this.lastSweep = now;
    for (const [sessionId, mine] of this.bySession) {
      for (const [searchId, stored] of mine) if (now - stored.lastUsed >= this.options.keepMs) mine.delete(searchId);
      if (mine.size === 0) this.bySession.delete(sessionId);
    }
  }
}
