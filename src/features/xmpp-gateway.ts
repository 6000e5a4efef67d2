// IMPS ⇄ XMPP (issue 8): what Village users' messages, presence and subscriptions become for
// people on XMPP servers, and what their stanzas become for the phones. Addresses map
// one-to-one: wv:alice@imps.test ⇄ alice@imps.test (a resource per session), wv:bob@xmpp.test
// ⇄ bob@xmpp.test. The stanzas travel through src/adapters/xmpp/federation.ts.
//
//   SendMessage ──────────────▶ <message type='chat'> (DeliveryReport=T: XEP-0184 request;
//                                non-text content: a download link from the content store)
//   NewMessage ◀────────────── <message> (body; XHTML-IM reduced to its text); receipt when the phone has it
//   DeliveryReport-Request ◀── <received/> (200) or an error stanza (531, 532, 516, …)
//   presence (OnlineStatus, UserAvailability, StatusText) ⇄ <presence>, <show>, <status>
//   SubscribePresence ⇄ subscribe; PresenceAuth-User ⇄ subscribed / unsubscribed;
//   UnsubscribePresence ⇄ unsubscribe; CancelAuth ⇄ unsubscribed; probes answered from
//   stored presence and grants.
import { createHash, randomBytes } from 'node:crypto';
import { el, leaf, textOf } from '../csp/tree.ts';
import type { CspElement } from '../csp/tree.ts';
import { NS, childElements, childText, findChild, xml, type XmlNode } from '../adapters/xmpp/xml.ts';
import { newMessageId } from '../ids.ts';
import type { Services } from '../services.ts';
import type { StoredMessage } from '../store/messages.ts';
import type { CarriedMessage, QueuedStanza } from '../store/s2s-queue.ts';
import { refusesSender } from './block-lists.ts';
import { reportResult } from './delivery.ts';
import { notifyWatcher, publish, storeAttributes } from './presence.ts';
import { policyOf, requestAuthorization, visibleAttributes } from './authorization.ts';
import { groupIdOfRoom, handleRoomStanza } from './xmpp-groups.ts';

// ── Addresses ───────────────────────────────────────────────────────────────────────────────

export interface Jid {
  local: string;
  domain: string;
  resource?: string;
}

export function parseJid(jid: string | undefined): Jid | undefined {
  if (!jid) return undefined;
  const slash = jid.indexOf('/');
  const bare = slash >= 0 ? jid.slice(0, slash) : jid;
  const at = bare.indexOf('@');
  if (at <= 0) return undefined;
  return { local: bare.slice(0, at).toLowerCase(), domain: bare.slice(at + 1).toLowerCase(), ...(slash >= 0 ? { resource: jid.slice(slash + 1) } : {}) };
}

/** The IMPS user id of a bare JID ("bob@xmpp.test"). */
const userIdOf = (jid: Jid) => `${jid.local}@${jid.domain}`;
const domainOf = (userId: string) => userId.slice(userId.lastIndexOf('@') + 1);

/** Whether an IMPS user id lives on a server we reach over XMPP. */
export function isXmppUser(services: Services, userId: string): boolean {
  // One "@" only: a local part cannot hold one, so "a@b@xmpp.test" is nobody's JID.
  return services.xmpp !== undefined && userId.indexOf('@') === userId.lastIndexOf('@') && services.xmpp.isRemote(domainOf(userId));
}

const stanzaId = () => randomBytes(9).toString('base64url');

/** A session's XMPP resource: stable for the session, and no hint of its SessionID (a bearer token). */
export const xmppResource = (sessionId: string) => 'village-' + createHash('sha256').update(sessionId).digest('hex').slice(0, 10);
/** The domain of a JID or user id ("alice@imps.test/phone" → "imps.test"). */
const jidDomain = (jid: string) => parseJid(jid)?.domain ?? jid.split('/')[0]!.toLowerCase();

/** Queue a stanza on the link between the sender's and the recipient's domains (by default for messages.validityDefault). */
export function queueStanza(services: Services, stanza: XmlNode, expiresAt?: number, carried?: CarriedMessage): void {
  const xmpp = services.xmpp;
  if (!xmpp) return;
  const expiry = expiresAt ?? services.now() + services.config.messages.validityDefault * 1000;
  xmpp.send(jidDomain(stanza.attrs['from'] ?? ''), jidDomain(stanza.attrs['to'] ?? ''), stanza, expiry, carried);
}

// ── IMPS → XMPP ─────────────────────────────────────────────────────────────────────────────

export interface OutgoingImpsMessage {
  messageId: string;
  sender: string;
  /** The sending session's resource (a resource per session). */
  resource: string;
  recipient: string;
  contentType: string;
  content: Buffer;
  binary: boolean;
  createdAt: number;
  expiresAt: number;
  deliveryReport: boolean;
}

/**
 * Text longer than this goes as a link too: servers cap s2s stanzas (Prosody at 512 KiB, and we
 * at 256 KiB), and a stanza a peer refuses with a stream error would block its link.
 */
const MAX_INLINE_TEXT_BYTES = 64 * 1024;

/**
 * The text an XMPP user reads: text as is (HTML reduced to text); anything else, or text too
 * long for a stanza, stored and linked (content store). Also used for group messages to MUC occupants.
 */
export function bodyFor(services: Services, message: Pick<OutgoingImpsMessage, 'contentType' | 'content' | 'binary'>): { body: string; url?: string } {
  const type = message.contentType.split(';')[0]!.trim().toLowerCase();
  const inline = message.content.length <= MAX_INLINE_TEXT_BYTES;
  if (inline && !message.binary && (type === 'text/plain' || type === '')) return { body: message.content.toString('utf8') };
  if (inline && !message.binary && type === 'text/html') return { body: htmlToText(message.content.toString('utf8')) };
  const token = randomBytes(24).toString('base64url');
  const now = services.now();
  // Text content is held as UTF-8: say so, or a browser guesses the charset.
  const storedType = !message.binary && !/;\s*charset=/i.test(message.contentType) ? `${type || 'text/plain'}; charset=utf-8` : message.contentType;
  services.content.put(token, storedType, message.content, now, now + services.config.content.validity * 1000);
  const url = new URL(`content/${token}`, publicBase(services)).toString();
  return { body: `${describe(type)} (${message.content.length} bytes): ${url}`, url };
}

const describe = (type: string) =>
  type.startsWith('image/') ? 'A picture' : type.startsWith('audio/') ? 'A sound' : type.startsWith('video/') ? 'A video' : type.startsWith('text/') || type === '' ? 'A long text' : 'A file';

/** Where this server's HTTP is reached from outside: config http.publicUrl, else the first domain on the bound port. */
export function publicBase(services: Services): string {
  const { http, domains } = services.config;
  const base = http.publicUrl ?? `http://${domains[0]}:${services.httpPort ?? http.port}/`;
  return base.endsWith('/') ? base : base + '/';
}

function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Queue an IMPS message for an XMPP user (durably: the sender is told 200). */
export function sendMessageToXmpp(services: Services, message: OutgoingImpsMessage): void {
  const id = stanzaId();
  const { body, url } = bodyFor(services, message);
  const stanza = xml(
    'message',
    NS.server,
    { type: 'chat', id, from: `${message.sender}/${message.resource}`, to: message.recipient },
    xml('body', NS.server, {}, body),
    url && xml('x', NS.oob, {}, xml('url', NS.oob, {}, url)),
    message.deliveryReport && xml('request', NS.receipts),
  );
  if (message.deliveryReport) {
    services.xmppReceipts.rememberSent({
      stanzaId: id,
      messageId: message.messageId,
      sender: message.sender,
      recipient: message.recipient,
      contentType: message.contentType,
      contentSize: message.content.length,
      createdAt: message.createdAt,
      expiresAt: message.expiresAt,
    });
  }
  queueStanza(services, stanza, message.expiresAt, {
    messageId: message.messageId,
    sender: message.sender,
    recipient: message.recipient,
    deliveryReport: message.deliveryReport,
    contentType: message.contentType,
    contentSize: message.content.length,
  });
  services.log.info({ sender: message.sender, to: message.recipient, messageId: message.messageId }, 'message queued for XMPP');
}

/** A queued message expired before its link came up: the IMPS sender is told (542). */
export function bounceExpired(services: Services, item: QueuedStanza): void {
  const m = item.message;
  if (!m) return;
  reportResult(services, { messageId: m.messageId, sender: m.sender, contentType: m.contentType, contentSize: m.contentSize, createdAt: item.createdAt }, m.recipient, 542, `Could not reach ${item.remoteDomain} before the message expired`);
}

/** An IMPS phone acknowledged a message that came over XMPP and asked for a receipt. */
export function acknowledgedFromXmpp(services: Services, message: StoredMessage): void {
  if (!services.xmpp) return;
  const owed = services.xmppReceipts.takeOwed(message.messageId);
  if (!owed) return;
  queueStanza(services, xml('message', NS.server, { from: owed.toJid, to: owed.fromJid, id: stanzaId() }, xml('received', NS.receipts, { id: owed.stanzaId })));
}

// Presence values: XMPP available (no show) or "chat" ⇄ AVAILABLE; "away", "xa", "dnd" ⇄
// DISCREET (shown as dnd); online but NOT_AVAILABLE ⇄ xa; offline ⇄ unavailable (Baraza's map).
const presenceValue = (a: CspElement | undefined) => textOf(a, 'PresenceValue');

/** The XMPP presence an owner's stored attributes amount to, for one watcher (only what they may see). */
function presenceStanza(services: Services, owner: string, watcher: string): XmlNode | undefined {
  const visible = visibleAttributes(services, owner, watcher);
  if (visible === 'none') return undefined;
  const sees = (name: string) => visible === 'all' || visible.has(name);
  const attributes = services.presence.attributes(owner);
  const find = (name: string) => (sees(name) ? attributes.find((a) => a.name === name) : undefined);
  const online = presenceValue(find('OnlineStatus'))?.toUpperCase() === 'T';
  const availability = presenceValue(find('UserAvailability'))?.toUpperCase();
  const statusText = presenceValue(find('StatusText'));
  const from = owner;
  if (!online || !sees('OnlineStatus')) return xml('presence', NS.server, { from, to: watcher, type: 'unavailable' }, statusText ? xml('status', NS.server, {}, statusText) : undefined);
  const show = availability === 'DISCREET' ? 'dnd' : availability === 'NOT_AVAILABLE' ? 'xa' : undefined;
  return xml('presence', NS.server, { from, to: watcher }, show && xml('show', NS.server, {}, show), statusText ? xml('status', NS.server, {}, statusText) : undefined);
}

/** Tell an XMPP watcher the owner's presence as they may see it. */
export function sendPresenceToXmpp(services: Services, owner: string, watcher: string): void {
  const stanza = presenceStanza(services, owner, watcher);
  if (stanza) queueStanza(services, stanza);
}

export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export function sendSubscriptionToXmpp(services: Services, from: string, to: string, type: SubscriptionType): void {
  queueStanza(services, xml('presence', NS.server, { from, to, type, id: stanzaId() }));
}

/** Ask an XMPP user's server for their presence now (a probe waits at most ten minutes for its link). */
function sendProbe(services: Services, from: string, to: string): void {
  queueStanza(services, xml('presence', NS.server, { from, to, type: 'probe', id: stanzaId() }), services.now() + 600_000);
}

/**
 * Our user came online: ask the servers of the XMPP users they watch for those users' presence
 * now (RFC 6121 §4.3), since what we stored may be stale (after a restart everyone is shown
 * offline until heard from).
 */
export function probeXmppContacts(services: Services, userId: string): void {
  if (!services.xmpp) return;
  for (const { target } of services.presence.watchedBy(userId)) {
    if (isXmppUser(services, target)) sendProbe(services, userId, target);
  }
}

// ── XMPP → IMPS ─────────────────────────────────────────────────────────────────────────────

/** A stanza from an authenticated peer to one of our domains. */
export function handleXmppStanza(services: Services, node: XmlNode): void {
  try {
    if (routeToRoom(services, node)) return;
    if (node.name === 'message') receiveMessage(services, node);
    else if (node.name === 'presence') receivePresence(services, node);
    else if (node.name === 'iq') receiveIq(services, node);
  } catch (err) {
    services.log.error({ err, stanza: node.name }, 'XMPP stanza failed');
  }
}

/**
 * Stanzas to one of our groups' room JIDs are MUC traffic (xmpp-groups.ts), not a user's: they
 * go there first, before the user handling bounces groupchat messages.
 */
function routeToRoom(services: Services, node: XmlNode): boolean {
  const to = parseJid(node.attrs['to']);
  const from = parseJid(node.attrs['from']);
  if (!to || !from || groupIdOfRoom(services, to) === undefined) return false;
  return handleRoomStanza(services, node, from, to);
}

/** An error answer to a stanza (RFC 6120 §8.3), unless the stanza was an error itself. */
function bounce(services: Services, node: XmlNode, type: 'cancel' | 'modify' | 'auth' | 'wait', condition: string, text?: string): void {
  if (node.attrs['type'] === 'error') return;
  const from = node.attrs['to'];
  const to = node.attrs['from'];
  if (!from || !to) return;
  const error = xml('error', NS.server, { type }, xml(condition, NS.stanzaErrors), text ? xml('text', NS.stanzaErrors, {}, text) : undefined);
  queueStanza(services, xml(node.name, NS.server, { from, to, type: 'error', ...(node.attrs['id'] ? { id: node.attrs['id'] } : {}) }, error), services.now() + 3600_000);
}

/** CSP codes for the stanza error conditions an XMPP server answers a message with. */
function cspCodeFor(condition: string | undefined): { code: number; description: string } {
  switch (condition) {
    case 'item-not-found':
    case 'service-unavailable':
    case 'recipient-unavailable':
    case 'gone':
      return { code: 531, description: 'Unknown user on the XMPP server' };
    case 'forbidden':
    case 'not-allowed':
    case 'not-authorized':
    case 'not-acceptable':
      return { code: 532, description: 'The XMPP recipient does not accept your messages' };
    case 'remote-server-not-found':
    case 'remote-server-timeout':
      return { code: 516, description: 'The XMPP server could not be reached' };
    case 'resource-constraint':
      return { code: 507, description: 'The XMPP recipient cannot take more messages' };
    default:
      return { code: 500, description: `The XMPP server refused the message (${condition ?? 'unknown error'})` };
  }
}

function receiveMessage(services: Services, node: XmlNode): void {
  const from = parseJid(node.attrs['from']);
  const to = parseJid(node.attrs['to']);
  if (!from || !to) return;
  const type = node.attrs['type'] ?? 'normal';

  // An answer to one of ours: a receipt, or an error.
  const received = findChild(node, 'received', NS.receipts);
  if (received) {
    const sent = services.xmppReceipts.takeSent(received.attrs['id'] ?? node.attrs['id'] ?? '');
    if (sent) reportResult(services, sent, sent.recipient, 200, 'Message delivered');
  }
  if (type === 'error') {
    const sent = services.xmppReceipts.takeSent(node.attrs['id'] ?? '');
    const condition = childElements(findChild(node, 'error')).find((c) => c.ns === NS.stanzaErrors && c.name !== 'text')?.name;
    if (sent) {
      const { code, description } = cspCodeFor(condition);
      reportResult(services, sent, sent.recipient, code, description);
    }
    services.log.info({ from: userIdOf(from), condition }, 'XMPP error for a message');
    return;
  }
  if (type === 'groupchat') return bounce(services, node, 'cancel', 'feature-not-implemented', 'Group chat messages must go to a group address');

  const body = childText(node, 'body') ?? xhtmlText(findChild(node, 'html', NS.xhtmlIm));
  if (body === undefined || body === '') return; // chat states, receipts and the like carry no message
  const recipient = userIdOf(to);
  const sender = userIdOf(from);
  if (!services.config.domains.includes(to.domain) || !services.accounts.get(recipient)) return bounce(services, node, 'cancel', 'service-unavailable');
  if (refusesSender(services, recipient, sender)) return bounce(services, node, 'cancel', 'service-unavailable');
  if (services.messages.countFor(recipient) >= services.config.messages.maxQueuedPerUser) return bounce(services, node, 'wait', 'resource-constraint');

  const now = services.now();
  const messageId = newMessageId();
  const expiresAt = now + services.config.messages.validityDefault * 1000;
  services.messages.enqueue(
    { messageId, sender, contentType: 'text/plain', content: Buffer.from(body, 'utf8'), binary: false, createdAt: now, expiresAt, deliveryReport: false, addressedTo: [recipient] },
    [recipient],
  );
  if (findChild(node, 'request', NS.receipts) && node.attrs['id']) {
    services.xmppReceipts.oweReceipt({ messageId, fromJid: node.attrs['from']!, toJid: node.attrs['to']!, stanzaId: node.attrs['id'] }, expiresAt);
  }
  services.log.info({ from: sender, to: recipient, messageId }, 'message from XMPP stored');
}

function xhtmlText(html: XmlNode | undefined): string | undefined {
  if (!html) return undefined;
  const walk = (n: XmlNode): string => n.children.map((c) => (typeof c === 'string' ? c : c.name === 'br' ? '\n' : walk(c))).join('');
  return walk(html).trim();
}

function receivePresence(services: Services, node: XmlNode): void {
  const from = parseJid(node.attrs['from']);
  const to = parseJid(node.attrs['to']);
  if (!from) return;
  const remote = userIdOf(from);
  const type = node.attrs['type'];
  const local = to ? userIdOf(to) : undefined;
  const localKnown = local !== undefined && services.config.domains.includes(to!.domain) && services.accounts.get(local) !== undefined;
  switch (type) {
    case undefined:
    case 'unavailable':
      return presenceUpdate(services, remote, from.resource, node, type === 'unavailable', localKnown ? local : undefined);
    case 'probe':
      if (localKnown) sendPresenceToXmpp(services, local, remote);
      return;
    case 'subscribe':
      if (!localKnown) return sendSubscriptionToXmpp(services, node.attrs['to'] ?? '', remote, 'unsubscribed');
      return subscribeRequest(services, local, remote);
    case 'subscribed':
      // The XMPP user let our user see their presence; it follows in their next <presence>.
      // Unasked-for approvals are ignored (RFC 6121 §3.1.6): our user never wanted to watch them.
      if (!localKnown || !services.presence.subscription(local, remote)) return;
      services.presence.setGrant(remote, local, { state: 'granted' }, services.now());
      // And ask for their presence now: servers may send presence before the approval that
      // lets us show it (Prosody writes a fresh presence ahead of stanzas queued while its
      // link was coming up), and what we then showed would be stale.
      sendProbe(services, local, remote);
      return;
    case 'unsubscribed':
      if (!localKnown) return;
      services.presence.setGrant(remote, local, { state: 'denied' }, services.now());
      notifyWatcher(services, remote, local, undefined);
      return;
    case 'unsubscribe':
      if (!localKnown) return;
      services.presence.unsubscribe(remote, local);
      return;
    case 'error':
      services.log.info({ from: remote }, 'XMPP presence error');
      return;
  }
}

/** What one XMPP resource (client) of a remote user last said. */
interface ResourcePresence {
  show: string | undefined;
  status: string | undefined;
  priority: number;
  at: number;
}

/** The online resources of XMPP users, per server instance: one client leaving must not hide another. */
const onlineResources = new WeakMap<Services, Map<string, Map<string, ResourcePresence>>>();
/** XMPP users whose bare-JID "unavailable" is being checked with a probe, and since when (ms). */
const confirming = new WeakMap<Services, Map<string, number>>();
/** How long a probe's answer is waited for before a bare-JID "unavailable" is simply believed. */
const CONFIRM_MS = 10_000;

/** The per-server-instance map in `maps`, made on first use. */
function mapFor<V>(maps: WeakMap<Services, Map<string, V>>, services: Services): Map<string, V> {
  let map = maps.get(services);
  if (!map) maps.set(services, (map = new Map()));
  return map;
}

/**
 * An XMPP user's presence, stored under their id and shown to our users who watch them. Their
 * clients are tracked apart; phones see the one with the highest priority (the latest on a tie),
 * and the user goes offline only when the last one does.
 *
 * An "unavailable" from the bare JID while clients are known online is checked first: servers
 * send one to acknowledge a subscription request, and Prosody may deliver it late, after the
 * user's own presence. A probe asks; its answer (their clients' presence, or unavailable again)
 * decides. `prober` is our user it was addressed to.
 */
function presenceUpdate(services: Services, remote: string, resource: string | undefined, node: XmlNode, unavailable: boolean, prober: string | undefined): void {
  const byUser = mapFor(onlineResources, services);
  const resources = byUser.get(remote) ?? new Map<string, ResourcePresence>();
  const pending = mapFor(confirming, services);
  const checkingSince = pending.get(remote);
  const now = services.now();
  if (unavailable && resource === undefined && resources.size > 0 && prober && (checkingSince === undefined || now - checkingSince > CONFIRM_MS)) {
    pending.set(remote, now);
    sendProbe(services, prober, remote);
    return;
  }
  pending.delete(remote);
  const said: ResourcePresence = {
    show: childText(node, 'show')?.trim().toLowerCase(),
    status: childText(node, 'status'),
    priority: Number.parseInt(childText(node, 'priority') ?? '0', 10) || 0,
    at: now,
  };
  if (unavailable) {
    if (resource === undefined) resources.clear();
    else resources.delete(resource);
  } else resources.set(resource ?? '', said);
  if (resources.size === 0) byUser.delete(remote);
  else byUser.set(remote, resources);
  const shown = [...resources.values()].sort((a, b) => b.priority - a.priority || b.at - a.at)[0];
  const offline = shown === undefined;
  const { show, status } = shown ?? said;
  const value = (name: string, v: string) => el(name, [leaf('Qualifier', true), leaf('PresenceValue', v)]);
  const update = [
    value('OnlineStatus', offline ? 'F' : 'T'),
    value('UserAvailability', offline ? 'NOT_AVAILABLE' : !show || show === 'chat' ? 'AVAILABLE' : 'DISCREET'),
    value('StatusText', status ?? ''),
  ];
  const changed = storeAttributes(services, remote, update);
  publish(services, remote, changed);
}

/** An XMPP user asks to see our user's presence: the owner's policy and decisions answer it. */
function subscribeRequest(services: Services, owner: string, watcher: string): void {
  services.presence.subscribe({ watcher, target: owner }, services.now());
  const grant = services.presence.grant(owner, watcher)?.state;
  const policy = policyOf(services, owner);
  if (grant === 'granted' || (grant === undefined && policy === 'auto')) {
    sendSubscriptionToXmpp(services, owner, watcher, 'subscribed');
    sendPresenceToXmpp(services, owner, watcher);
  } else if (grant === 'denied' || (grant === undefined && policy === 'deny') || refusesSender(services, owner, watcher)) {
    sendSubscriptionToXmpp(services, owner, watcher, 'unsubscribed');
  } else {
    // "ask": the owner's phone gets a PresenceAuth-Request; PresenceAuth-User answers the XMPP user.
    requestAuthorization(services, owner, watcher, undefined);
  }
}

function receiveIq(services: Services, node: XmlNode): void {
  const type = node.attrs['type'];
  if (type !== 'get' && type !== 'set') return;
  const query = childElements(node)[0];
  const answer = (...children: XmlNode[]) =>
    queueStanza(services, xml('iq', NS.server, { type: 'result', from: node.attrs['to'], to: node.attrs['from'], id: node.attrs['id'] }, ...children), services.now() + 60_000);
  // XEP-0199 ping gets its answer.
  if (type === 'get' && query?.name === 'ping' && query.ns === NS.ping) return answer();
  // XEP-0030 disco#info: what this server is, and that our users' accounts exist.
  if (type === 'get' && query?.name === 'query' && query.ns === NS.discoInfo && !query.attrs['node']) {
    const info = discoInfo(services, parseJid(node.attrs['to']), node.attrs['to'] ?? '');
    if (info) return answer(xml('query', NS.discoInfo, {}, ...info));
  }
  // Anything else is not implemented (RFC 6120 requires an answer).
  bounce(services, node, 'cancel', 'service-unavailable');
}

/** The identity and features of one of our domains or of one of our users, or undefined for nobody. */
function discoInfo(services: Services, jid: Jid | undefined, to: string): XmlNode[] | undefined {
  const feature = (v: string) => xml('feature', NS.discoInfo, { var: v });
  if (!jid && services.config.domains.includes(to.toLowerCase())) {
    return [xml('identity', NS.discoInfo, { category: 'server', type: 'im', name: services.config.service.name }), feature(NS.discoInfo), feature(NS.ping)];
  }
  if (jid && !jid.resource && services.config.domains.includes(jid.domain) && services.accounts.get(userIdOf(jid))) {
    return [xml('identity', NS.discoInfo, { category: 'account', type: 'registered' }), feature(NS.discoInfo)];
  }
  return undefined;
}
