// Client capability negotiation (reference imps-csp.md §4.5–4.6): what the phone says it can
// take, and the list the server agrees to (AgreedCapabilityList in 1.2+, an echoed
// CapabilityList in 1.1).
import type { CspElement } from '../csp/tree.ts';
import { childrenNamed, el, leaf, textOf } from '../csp/tree.ts';
import type { CspVersion } from '../csp/versions.ts';

export interface ClientCapabilities {
  /** Whether ClientCapability-Request (or a 1.3 login CapabilityList) has been processed. */
  negotiated: boolean;
  clientType?: string;
  /** P: push (NewMessage); N: notify (MessageNotification + GetMessage). InitialDeliveryMethod, then SetDeliveryMethod. */
  deliveryMethod: 'P' | 'N';
  anyContent: boolean;
  acceptedContentTypes: string[];
  /** Largest content pushed whole; larger messages are only announced (MessageNotification). */
  pushLimit?: number;
  /** Largest content the client can take at all (AcceptedPullLength in 1.3, else AcceptedContentLength). */
  maxLength?: number;
  /** How many transactions the client takes in one message. */
  multiTrans: number;
  parserSize?: number;
  supportedBearers: string[];
  supportedCirMethods: string[];
  /** Agreed minimum seconds between two Polling-Requests. */
  serverPollMin: number;
  defaultLanguage?: string;
}

/** Most transactions we ever put into one message, whatever the client claims. */
const MAX_MULTI_TRANS = 10;

export function defaultCapabilities(serverPollMin: number): ClientCapabilities {
  return {
    negotiated: false,
    deliveryMethod: 'P',
    anyContent: true,
    acceptedContentTypes: [],
    multiTrans: 1,
    supportedBearers: ['HTTP'],
    supportedCirMethods: [],
    serverPollMin,
  };
}

const upper = (list: CspElement[]) => list.map((e) => (textOf(e) ?? '').toUpperCase()).filter(Boolean);

// Capabilities are read liberally: a value a phone gets wrong is ignored (the default stays),
// because a refused capability exchange makes handsets give up the whole login.
function lenientInt(list: CspElement, name: string): number | undefined {
  const value = textOf(list, name);
  return value && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

function lenientBool(list: CspElement, name: string, fallback: boolean): boolean {
  const value = textOf(list, name)?.toUpperCase();
  return value === 'T' || value === 'TRUE' ? true : value === 'F' || value === 'FALSE' ? false : fallback;
}

/** Read a client's CapabilityList (any order, any case, bad values ignored) into agreed capabilities. */
export function negotiate(list: CspElement | undefined, configuredPollMin: number): ClientCapabilities {
  const caps = defaultCapabilities(configuredPollMin);
  caps.negotiated = true;
  if (!list) return caps;
  caps.clientType = textOf(list, 'ClientType')?.toUpperCase() || undefined;
  if (textOf(list, 'InitialDeliveryMethod')?.toUpperCase() === 'N') caps.deliveryMethod = 'N';
  caps.acceptedContentTypes = childrenNamed(list, 'AcceptedContentType')
    .map((e) => (e.children.length ? textOf(e, 'ContentType') : textOf(e)) ?? '')
    .filter(Boolean);
  caps.anyContent = lenientBool(list, 'AnyContent', caps.acceptedContentTypes.length === 0);
  const contentLength = lenientInt(list, 'AcceptedContentLength');
  caps.pushLimit = lenientInt(list, 'AcceptedPushLength') ?? contentLength;
  caps.maxLength = lenientInt(list, 'AcceptedPullLength') ?? contentLength;
  caps.multiTrans = Math.min(Math.max(lenientInt(list, 'MultiTrans') ?? 1, 1), MAX_MULTI_TRANS);
  caps.parserSize = lenientInt(list, 'ParserSize');
  const bearers = upper(childrenNamed(list, 'SupportedBearer'));
  caps.supportedBearers = bearers.length === 0 || bearers.includes('HTTP') || bearers.includes('HTTPS') ? ['HTTP'] : [];
  caps.supportedCirMethods = upper(childrenNamed(list, 'SupportedCIRMethod'));
  caps.serverPollMin = Math.max(lenientInt(list, 'ServerPollMin') ?? 0, configuredPollMin);
  caps.defaultLanguage = textOf(list, 'DefaultLanguage') || undefined;
  return caps;
}

/** The server's side of the agreement, as the version expects to read it. */
export function agreedCapabilityElement(version: CspVersion, caps: ClientCapabilities, cir: CspElement[] = []): CspElement {
  const bearers = caps.supportedBearers.map((b) => leaf('SupportedBearer', b));
  if (version === '1.1') {
    // 1.1 has no AgreedCapabilityList: the server echoes the CapabilityList it accepts.
    return el('CapabilityList', [
      leaf('ClientType', caps.clientType ?? 'MOBILE_PHONE'),
      leaf('InitialDeliveryMethod', caps.deliveryMethod),
      caps.acceptedContentTypes.length ? undefined : leaf('AnyContent', caps.anyContent),
      ...caps.acceptedContentTypes.map((t) => leaf('AcceptedContentType', t)),
      leaf('AcceptedContentLength', caps.maxLength ?? 65536),
      ...bearers,
      leaf('MultiTrans', caps.multiTrans),
      leaf('ParserSize', caps.parserSize ?? 65536),
      ...cir,
      leaf('ServerPollMin', caps.serverPollMin),
    ]);
  }
  // The codecs put children in the version's order; CIR methods and their addresses are in `cir`.
  return el('AgreedCapabilityList', [
    ...bearers,
    ...cir,
    leaf('ServerPollMin', caps.serverPollMin),
    version === '1.3' ? leaf('MultiTrans', caps.multiTrans) : undefined,
  ]);
}

/** Whether a client that negotiated these capabilities takes a content type. */
export function acceptsContentType(profile: { anyContent: boolean; contentTypes: string[] }, contentType: string): boolean {
  if (profile.anyContent || profile.contentTypes.length === 0) return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return profile.contentTypes.some((accepted) => {
    const a = accepted.split(';')[0]!.trim().toLowerCase();
    return a === type || a === '*/*' || (a.endsWith('/*') && type.startsWith(a.slice(0, -1)));
  });
}
