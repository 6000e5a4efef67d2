// Group ids and group properties (reference imps-csp.md §3.6, §8).
//
// A group id is "wv:owner/name@domain" (a user's group) or "wv:/name@domain" (a public service
// group). Property names are compared case-insensitively: WV-023, Nokia and Android spell the
// access property "Accesstype", the value token and Baraza "AccessType". Village keeps the
// canonical spelling inside and writes "Accesstype" to 1.1/1.2 phones, as their own code does.
import type { CspElement } from '../csp/tree.ts';
import { child, childrenNamed, el, leaf, textOf } from '../csp/tree.ts';
import type { AddressStyle, UserAddress } from '../csp/address.ts';
import { displayAddress } from '../csp/address.ts';
import { CspError } from '../csp/status.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { GroupRecord, Privilege, WelcomeNote } from '../store/groups.ts';
import type { Services } from '../services.ts';

export const PROPERTY_NAMES = [
  'Name',
  'Topic',
  'AccessType',
  'Type',
  'PrivateMessaging',
  'Searchable',
  'MaxActiveUsers',
  'ActiveUsers',
  'AutoJoin',
  'DisplayName',
  'AutoDelete',
  'Validity',
  'ShowID',
  'RequireInvitation',
  'History',
  'MinimumAge',
] as const;

const BY_LOWER = new Map<string, string>(PROPERTY_NAMES.map((n) => [n.toLowerCase(), n]));
const BOOLEANS = new Set(['PrivateMessaging', 'Searchable', 'AutoJoin', 'AutoDelete', 'ShowID', 'RequireInvitation', 'History']);
const INTEGERS = new Set(['MaxActiveUsers', 'Validity', 'MinimumAge']);
/** Computed by the server, never set by a client. */
const READ_ONLY = new Set(['ActiveUsers']);

const GROUP_NAME = /^[a-z0-9._~+-]{1,64}$/;

/** Canonical group id ("owner/name@domain" or "/name@domain"); 402 when it cannot be one. */
export function parseGroupId(raw: string, requester: Pick<UserAddress, 'domain'>, domains: string[]): string {
  let s = raw.trim().toLowerCase();
  if (s.startsWith('wv:')) s = s.slice(3);
  const at = s.lastIndexOf('@');
  const domain = at >= 0 ? s.slice(at + 1) : requester.domain;
  const path = at >= 0 ? s.slice(0, at) : s;
  const slash = path.indexOf('/');
  if (slash < 0) throw new CspError(402, `"${raw}" is not a group ID (wv:owner/name@domain or wv:/name@domain)`);
  const owner = path.slice(0, slash);
  const name = path.slice(slash + 1);
  if (!GROUP_NAME.test(name) || (owner && !/^[a-z0-9._+-]+$/.test(owner))) throw new CspError(402, `"${raw}" is not a group ID`);
  if (!domains.includes(domain)) throw new CspError(800, `This server does not host groups of ${domain}`);
  return `${owner}/${name}@${domain}`;
}

/**
 * The wire form of a group id: always with its domain. (User ids follow the phone's login
 * spelling; a group id is whatever the phone was given or typed, and in practice that is the
 * full form a creator or an invitation spells out.)
 */
export function groupAddress(groupId: string, _style?: AddressStyle): string {
  return displayAddress(groupId, {});
}

/** The name part of a group id ("friends" of "alice/friends@x"). */
export function groupName(groupId: string): string {
  return groupId.slice(groupId.indexOf('/') + 1, groupId.lastIndexOf('@'));
}

export function defaultProperties(groupId: string, maxActiveUsers: number): Record<string, string> {
  return {
    Name: groupName(groupId),
    Topic: '',
    AccessType: 'Open',
    Type: groupId.startsWith('/') ? 'Public' : 'Private',
    PrivateMessaging: 'T',
    Searchable: 'T',
    MaxActiveUsers: String(maxActiveUsers),
    AutoDelete: 'F',
    ShowID: 'F',
  };
}

/** Read GroupProperties (Property: Name, Value; WelcomeNote); 806 for a value that cannot be. */
export function readGroupProperties(element: CspElement | undefined): { properties: Record<string, string>; welcomeNote?: WelcomeNote } {
  const properties: Record<string, string> = {};
  for (const p of childrenNamed(element, 'Property')) {
    const raw = textOf(p, 'Name') ?? '';
    const name = BY_LOWER.get(raw.toLowerCase());
    const value = textOf(p, 'Value') ?? '';
    if (!name) throw new CspError(806, `Unknown group property ${raw}`);
    if (READ_ONLY.has(name)) continue;
    if (BOOLEANS.has(name) && !/^[TF]$/i.test(value)) throw new CspError(806, `${name} must be T or F`);
    if (INTEGERS.has(name) && !/^\d{1,9}$/.test(value)) throw new CspError(806, `${name} must be a whole number`);
    if (name === 'AccessType' && !/^(open|restricted)$/i.test(value)) throw new CspError(806, 'AccessType must be Open or Restricted');
    if (name === 'Type' && !/^(public|private)$/i.test(value)) throw new CspError(806, 'Type must be Public or Private');
    properties[name] = BOOLEANS.has(name) ? value.toUpperCase() : name === 'AccessType' || name === 'Type' ? value[0]!.toUpperCase() + value.slice(1).toLowerCase() : value;
  }
  const note = child(element, 'WelcomeNote');
  if (!note) return { properties };
  const encoding = textOf(note, 'ContentEncoding')?.toUpperCase();
  return {
    properties,
    welcomeNote: { contentType: textOf(note, 'ContentType') || 'text/plain', content: child(note, 'ContentData')?.text ?? '', binary: encoding === 'BASE64' },
  };
}

export function welcomeNoteElement(note: WelcomeNote): CspElement {
  return el('WelcomeNote', [leaf('ContentType', note.contentType), note.binary ? leaf('ContentEncoding', 'BASE64') : undefined, leaf('ContentData', note.content)]);
}

/** GroupProperties as a version reads them (optionally only some names), ActiveUsers computed. */
export function groupPropertiesElement(group: GroupRecord, version: CspVersion, only?: string[], activeUsers?: number): CspElement {
  const values: Record<string, string> = { ...group.properties };
  if (activeUsers !== undefined) values['ActiveUsers'] = String(activeUsers);
  const names = PROPERTY_NAMES.filter((n) => values[n] !== undefined && (!only || only.includes(n)));
  const wire = (n: string) => (n === 'AccessType' && version !== '1.3' ? 'Accesstype' : n);
  return el('GroupProperties', [
    ...names.map((n) => el('Property', [leaf('Name', wire(n)), leaf('Value', values[n])])),
    !only && group.welcomeNote ? welcomeNoteElement(group.welcomeNote) : undefined,
  ]);
}

/** OwnProperties: the asking user's own standing in the group. */
export function ownPropertiesElement(privilege: Privilege | undefined): CspElement {
  return el('OwnProperties', [el('Property', [leaf('Name', 'PrivilegeLevel'), leaf('Value', privilege ?? 'User')])]);
}

export function showsIds(services: Services, groupId: string): boolean {
  return (services.groups.get(groupId)?.properties['ShowID'] ?? 'F').toUpperCase() === 'T';
}
