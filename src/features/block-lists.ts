// Block and grant lists (reference imps-csp.md §3.5: BlockEntity-Request, 1.1 name
// BlockUser-Request; GetBlockedList-Request). A block list in use refuses the senders on it; a
// grant list in use refuses everyone not on it. Refused messages get 532 and are never stored.
import type { CspElement } from '../csp/tree.ts';
import { boolOf, child, childrenNamed, el, leaf, textOf } from '../csp/tree.ts';
import { status } from '../csp/envelope.ts';
import { parseUserId, wvAddress } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { AccessChange, AccessEntry, AccessList } from '../store/access-lists.ts';
import type { Services } from '../services.ts';
import type { PrimitiveHandler } from './types.ts';

/** Whether `owner`'s lists refuse messages from `sender`. */
export function refusesSender(services: Services, owner: string, sender: string): boolean {
  const access = services.accessLists.sender(owner, sender);
  return (access.blockInUse && access.blocked) || (access.grantInUse && !access.granted);
}

function entriesOf(list: CspElement | undefined, defaultDomain: string): AccessEntry[] {
  if (!list) return [];
  const entries: AccessEntry[] = [];
  for (const u of childrenNamed(list, 'UserID')) {
    const raw = textOf(u) ?? '';
    try {
      entries.push({ kind: 'user', entity: parseUserId(raw, defaultDomain).id });
    } catch {
      throw new CspError(402, `"${raw}" is not a user ID`);
    }
  }
  for (const g of childrenNamed(list, 'GroupID')) entries.push({ kind: 'group', entity: (textOf(g) ?? '').toLowerCase() });
  for (const s of childrenNamed(list, 'ScreenName')) {
    entries.push({ kind: 'screenname', entity: `${textOf(s, 'SName') ?? ''}\n${(textOf(s, 'GroupID') ?? '').toLowerCase()}` });
  }
  return entries;
}

function changeOf(request: CspElement, list: AccessList, defaultDomain: string): AccessChange | undefined {
  const listEl = child(request, list === 'block' ? 'BlockList' : 'GrantList');
  // 1.1/1.2 carry InUse inside the list; 1.3 moved it to BlockListInUse / GrantListInUse.
  const flagName = list === 'block' ? 'BlockListInUse' : 'GrantListInUse';
  const inUseEl = child(listEl, 'InUse') ? listEl : child(request, flagName) ? request : undefined;
  if (!listEl && !inUseEl) return undefined;
  const change: AccessChange = {};
  if (inUseEl) change.inUse = boolOf(inUseEl, inUseEl === listEl ? 'InUse' : flagName);
  const entityList = child(listEl, 'EntityList');
  if (entityList) change.replace = entriesOf(entityList, defaultDomain);
  change.add = entriesOf(child(listEl, 'AddList'), defaultDomain);
  change.remove = entriesOf(child(listEl, 'RemoveList'), defaultDomain);
  return change;
}

export const blockEntity: PrimitiveHandler = (request, session, services) => {
  const domain = services.config.domains[0]!;
  const block = changeOf(request, 'block', domain);
  const grant = changeOf(request, 'grant', domain);
  if (!block && !grant) throw new CspError(402, 'BlockEntity-Request changes neither BlockList nor GrantList');
  services.accessLists.change(session.user.id, { ...(block ? { block } : {}), ...(grant ? { grant } : {}) });
  return { response: status(200) };
};

function entityElement(entry: AccessEntry): CspElement {
  switch (entry.kind) {
    case 'user':
      return leaf('UserID', wvAddress(entry.entity))!;
    case 'group':
      return leaf('GroupID', entry.entity)!;
    case 'screenname': {
      const [sname, group] = entry.entity.split('\n');
      return el('ScreenName', [leaf('SName', sname), leaf('GroupID', group)]);
    }
  }
}

function listElement(name: 'BlockList' | 'GrantList', inUse: boolean, entries: AccessEntry[], version: CspVersion): CspElement {
  return el(name, [version === '1.3' ? undefined : leaf('InUse', inUse), el('EntityList', entries.map(entityElement))]);
}

export const getBlockedList: PrimitiveHandler = (_request, session, services) => {
  const lists = services.accessLists.get(session.user.id);
  const v13 = session.version === '1.3';
  return {
    response: el('GetBlockedList-Response', [
      listElement('BlockList', lists.blockInUse, lists.block, session.version),
      v13 ? leaf('BlockListInUse', lists.blockInUse) : undefined,
      listElement('GrantList', lists.grantInUse, lists.grant, session.version),
      v13 ? leaf('GrantListInUse', lists.grantInUse) : undefined,
    ]),
  };
};
