// Presence helpers for the end-to-end suites that subscribe, grant and read presence (presence,
// contact lists): requests built in each version's own shape, reading PresenceNotifications and
// PresenceSubLists, and the per-variant presence kit the suites build on.
import assert from 'node:assert/strict';
import type { CspElement } from '../../src/csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../../src/csp/tree.ts';
import type { CspVersion } from '../../src/csp/versions.ts';
import { NAMESPACES } from '../../src/csp/versions.ts';
import { resultCode, type Phone } from './phone.ts';
import { variantKit, type Variant } from './matrix.ts';

// ── Requests, built in each version's own shape ──────────────────────────────────────────────

/** A PresenceSubList with the PA namespace of the version. */
export const subList = (version: CspVersion, attributes: CspElement[]) => el('PresenceSubList', attributes, { xmlns: NAMESPACES[version].pa });
/** Attribute names as empty selectors (SubscribePresence, GetPresence, PresenceAuth-User, attribute lists). */
export const selectors = (version: CspVersion, names: string[]) => subList(version, names.map((n) => el(n)));
/** A one-value attribute as a phone publishes it (Qualifier T unless told otherwise). */
export const value = (name: string, v: string, qualifier = true) => el(name, [qualifier ? leaf('Qualifier', true) : undefined, leaf('PresenceValue', v)]);

/** Users named in a request: User elements in 1.1/1.2, a UserIDList in 1.3. */
export const userRefs = (version: CspVersion, ids: string[]): CspElement[] =>
  ids.length === 0 ? [] : version === '1.3' ? [el('UserIDList', ids.map((u) => leaf('UserID', u)))] : ids.map((u) => el('User', [leaf('UserID', u)]));

/** Contact lists named in a request: ContactList elements in 1.1/1.2, a ContactListIDList in 1.3. */
export const listRefs = (version: CspVersion, ids: string[]): CspElement[] =>
  version === '1.3' ? [el('ContactListIDList', ids.map((l) => leaf('ContactList', l)))] : ids.map((l) => leaf('ContactList', l)!);

/** Whom a SubscribePresence or GetPresence names: users, contact lists, or both. */
export interface PresenceTargets {
  users?: string[];
  lists?: string[];
}

const targets = (version: CspVersion, o: PresenceTargets) => [...(o.users ? userRefs(version, o.users) : []), ...(o.lists ? listRefs(version, o.lists) : [])];

/** SubscribePresence-Request. AutoSubscribe: unknown in 1.1, mandatory in 1.2 (F unless told), optional in 1.3. */
export function subscribeRequest(version: CspVersion, o: PresenceTargets & { attributes?: string[]; autoSubscribe?: boolean }): CspElement {
  return el('SubscribePresence-Request', [
    ...targets(version, o),
    o.attributes ? selectors(version, o.attributes) : undefined,
    version === '1.1' ? undefined : leaf('AutoSubscribe', version === '1.2' ? (o.autoSubscribe ?? false) : o.autoSubscribe),
  ]);
}

/** GetPresence-Request, with an optional PresenceSubList of attribute names. */
export const getPresenceRequest = (version: CspVersion, o: PresenceTargets & { attributes?: string[] }) =>
  el('GetPresence-Request', [...targets(version, o), o.attributes ? selectors(version, o.attributes) : undefined]);

export const updateRequest = (version: CspVersion, attributes: CspElement[]) => el('UpdatePresence-Request', [subList(version, attributes)]);

// ── Reading answers ───────────────────────────────────────────────────────────────────────

/** The PresenceSubLists of the PresenceNotification-Requests in `got` about `userId`. */
export function notified(got: CspElement[], userId: string): CspElement[] {
  return got
    .filter((p) => p.name === 'PresenceNotification-Request')
    .flatMap((p) => childrenNamed(p, 'Presence'))
    .filter((p) => textOf(p, 'UserID') === userId)
    .map((p) => child(p, 'PresenceSubList') ?? el('PresenceSubList'));
}

export const valueOf = (list: CspElement | undefined, name: string) => textOf(child(list, name), 'PresenceValue');
export const qualifierOf = (list: CspElement | undefined, name: string) => textOf(child(list, name), 'Qualifier');
export const namesOf = (list: CspElement | undefined) => [...new Set((list?.children ?? []).map((c) => c.name))].sort();
export const authRequests = (got: CspElement[]) => got.filter((p) => p.name === 'PresenceAuth-Request');

export function assertStatus(primitive: CspElement, code = 200, what = 'the request'): void {
  assert.equal(primitive.name, 'Status', `${what} is answered with Status`);
  assert.equal(resultCode(primitive), code, `${what}: ${textOf(child(primitive, 'Result'), 'Description') ?? ''}`);
}

// ── The per-variant kit ─────────────────────────────────────────────────────────────────────

/** The variant kit plus presence: subscribing, publishing, asking, granting and denying. */
export function presenceKit(server: () => { url: string }, variant: Variant) {
  const { version } = variant;
  const kit = variantKit(server, variant);
  /** How a user appears to phones that logged in with a bare user ID (their domain left out). */
  const wv = (name: string) => `wv:${kit.user(name)}`;

  const subscribe = async (watcher: Phone, owners: string[], attributes?: string[]) => {
    const { primitive } = await watcher.request(subscribeRequest(version, { users: owners.map(wv), ...(attributes ? { attributes } : {}) }));
    assertStatus(primitive, 200, 'SubscribePresence');
  };

  const update = async (owner: Phone, attributes: CspElement[]) => {
    const { primitive } = await owner.request(updateRequest(version, attributes));
    assertStatus(primitive, 200, 'UpdatePresence');
  };

  /** What GetPresence shows of a user (asserting a 200 answer); undefined when no Presence for them. */
  const presenceOf = async (asker: Phone, name: string, attributes?: string[]) => {
    const { primitive } = await asker.request(getPresenceRequest(version, { users: [wv(name)], ...(attributes ? { attributes } : {}) }));
    assert.equal(primitive.name, 'GetPresence-Response');
    assert.equal(resultCode(primitive), 200);
    const found = childrenNamed(primitive, 'Presence').filter((p) => textOf(p, 'UserID') === wv(name));
    assert.ok(found.length <= 1, 'one Presence per user');
    assert.equal(childrenNamed(primitive, 'Presence').length, found.length, 'no Presence about anybody else');
    return found[0] && (child(found[0], 'PresenceSubList') ?? el('PresenceSubList'));
  };

  /** Let a watcher see everything (1.1/1.2 PresenceAuth-User; 1.3 ListManage AuthorizeAndGrant). */
  const grant = async (owner: Phone, watcher: string) => {
    if (version !== '1.3') {
      const { primitive } = await owner.request(el('PresenceAuth-User', [leaf('UserID', wv(watcher)), leaf('Acceptance', true)]));
      assertStatus(primitive, 200, 'PresenceAuth-User');
      return;
    }
    const created = (await owner.request(el('CreateList-Request', [leaf('ContactList', 'granted')]))).primitive;
    assert.ok(created.name === 'CreateList-Response' || resultCode(created) === 701, `CreateList: ${created.name} ${resultCode(created)}`);
    const { primitive } = await owner.request(
      el('ListManage-Request', [leaf('ContactList', 'granted'), el('AddNickList', [leaf('UserID', wv(watcher))]), leaf('ReceiveList', false), leaf('AuthorizeAndGrant', true)]),
    );
    assert.equal(primitive.name, 'ListManage-Response');
    assert.equal(resultCode(primitive), 200);
  };

  /** 1.1/1.2: the owner refuses. */
  const deny = async (owner: Phone, watcher: string) => {
    const { primitive } = await owner.request(el('PresenceAuth-User', [leaf('UserID', wv(watcher)), leaf('Acceptance', false)]));
    assertStatus(primitive, 200, 'PresenceAuth-User (deny)');
  };

  /** `watcher` subscribes to `owner`, the owner grants, and both phones are drained. */
  const watching = async (watcher: Phone, watcherName: string, owner: Phone, ownerName: string) => {
    await subscribe(watcher, [ownerName]);
    await owner.drain();
    await grant(owner, watcherName);
    await watcher.drain();
    await owner.drain();
  };

  return { ...kit, wv, subscribe, update, presenceOf, grant, deny, watching };
}
