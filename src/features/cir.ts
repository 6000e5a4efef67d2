// CIR negotiation (reference imps-csp.md §4.5–4.6, §5): which of the wake-up methods a phone
// lists the server will use for it, and what the phone must be told to use them — TCPAddress
// and TCPPort for STCP, CIRURL (1.2) / CIRHTTPAddress (1.3) for SHTTP. A phone with a reliable
// method is told a long ServerPollMin (it need not poll: it will be woken) and may keep its
// session alive longer (cir.keepAliveMax).
import { BlockList, isIP } from 'node:net';
import type { CspElement } from '../csp/tree.ts';
import { el, leaf, textOf } from '../csp/tree.ts';
import type { CspVersion } from '../csp/versions.ts';
import type { Config } from '../config.ts';
import type { Services } from '../services.ts';
import type { RequestOrigin } from '../adapters/request-origin.ts';
import { DEFAULT_SUDP_PORT } from '../adapters/cir/cir-service.ts';
import { normalizeMsisdn } from '../adapters/cir/sms-gateway.ts';
import type { ClientCapabilities } from './capabilities.ts';

export type CirMethod = Config['cir']['methods'][number];

/** What a session agreed for waking its phone. */
export interface CirAgreement {
  /** Agreed methods, in the server's order of preference. */
  methods: CirMethod[];
  /** SUDP: where the phone listens (1.3 UDPAddress, else the address it polls from). */
  udpAddress?: string;
  udpPort?: number;
  /** WAP SMS: the phone's number (operator header or the ClientID's MSISDN). */
  msisdn?: string;
  /** SHTTP: the secret part of the session's CIR URL. */
  shttpToken?: string;
  /** When it was agreed (ms since the epoch). */
  agreedAt: number;
}

/** Methods after which a phone need not poll: a wake-up reliably reaches it (or it asks itself). */
const RELIABLE: readonly CirMethod[] = ['STCP', 'SHTTP', 'WAPSMS'];

export interface CirNegotiation {
  agreement: CirAgreement | undefined;
  /** Children for the agreed capability list (1.2+) or the echoed CapabilityList (1.1). */
  elements: CspElement[];
}

interface Negotiating {
  sessionId: string;
  version: CspVersion;
  origin: RequestOrigin;
  clientId: CspElement | undefined;
  previous: CirAgreement | undefined;
}

/**
 * Agree CIR methods from a phone's CapabilityList. Adjusts `caps.serverPollMin` for phones
 * with a reliable method. A phone that lists none gets no agreement (it polls).
 */
export function negotiateCir(services: Services, session: Negotiating, list: CspElement | undefined, caps: ClientCapabilities): CirNegotiation {
  const { cir } = services;
  const msisdn = session.origin.msisdn ?? normalizeMsisdn(textOf(session.clientId, 'MSISDN'));
  const usable = cir.available(session.version, msisdn);
  const methods = usable.filter((m: CirMethod) => caps.supportedCirMethods.includes(m));
  if (session.previous?.shttpToken && !methods.includes('SHTTP')) cir.forgetShttp(session.previous.shttpToken);
  if (methods.length === 0) return { agreement: undefined, elements: [] };

  const agreement: CirAgreement = { methods, agreedAt: services.now() };
  const elements: CspElement[] = methods.map((m) => leaf('SupportedCIRMethod', m)!);
  if (methods.includes('STCP')) {
    const endpoint = cir.stcpEndpoint(session.origin)!;
    elements.push(leaf('TCPAddress', endpoint.host)!, leaf('TCPPort', endpoint.port)!);
  }
  if (methods.includes('SHTTP')) {
    const { url, token } = cir.shttpUrl(session.sessionId, session.origin, session.previous?.shttpToken);
    agreement.shttpToken = token;
    // CIRURL (1.2) and CIRHTTPAddress (1.3) hold the address in a URL element.
    elements.push(el(session.version === '1.3' ? 'CIRHTTPAddress' : 'CIRURL', [leaf('URL', url)]));
  }
  if (methods.includes('SUDP')) {
    const port = list ? Number(textOf(list, 'UDPPort')) : NaN;
    agreement.udpPort = Number.isInteger(port) && port > 0 && port < 65536 ? port : DEFAULT_SUDP_PORT;
    const address = udpAddressFrom(list ? textOf(list, 'UDPAddress') : undefined, session.origin.address);
    if (address) agreement.udpAddress = address;
    // 1.1's echo and 1.3's agreed list carry the port the server will send to; 1.2's has no place for it.
    if (session.version !== '1.2') elements.push(leaf('UDPPort', agreement.udpPort)!);
  }
  if (methods.includes('WAPSMS') && msisdn) agreement.msisdn = msisdn;
  if (methods.some((m: CirMethod) => RELIABLE.includes(m))) caps.serverPollMin = Math.max(caps.serverPollMin, services.config.cir.serverPollMin);
  return { agreement, elements };
}

/** Addresses no phone has: this host, loopback, multicast, reserved and broadcast (BlockList also checks IPv4-mapped IPv6 forms against the IPv4 rules). */
const NOT_A_PHONE = new BlockList();
NOT_A_PHONE.addSubnet('0.0.0.0', 8, 'ipv4');
NOT_A_PHONE.addSubnet('127.0.0.0', 8, 'ipv4');
NOT_A_PHONE.addSubnet('224.0.0.0', 3, 'ipv4');
NOT_A_PHONE.addAddress('::', 'ipv6');
NOT_A_PHONE.addAddress('::1', 'ipv6');
NOT_A_PHONE.addSubnet('ff00::', 8, 'ipv6');

/**
 * A 1.3 UDPAddress the server may send SUDP datagrams to, or undefined (then the address the
 * phone polls from is used). The phone chooses the port and, through its SessionCookie, most
 * of the payload, so an address it names is taken only when it could be a phone's: an IP
 * literal (a name would have the server resolve whatever a phone says), and not an address
 * of the server's own host, a multicast group or a broadcast — unless it is the very address
 * the phone polls from.
 */
function udpAddressFrom(text: string | undefined, polledFrom: string): string | undefined {
  const address = text?.trim();
  const family = address ? isIP(address) : 0;
  if (!address || family === 0) return undefined;
  if (address === polledFrom) return address;
  return NOT_A_PHONE.check(address, family === 4 ? 'ipv4' : 'ipv6') ? undefined : address;
}

/** The KeepAliveTime ceiling for a session: longer while its CIR channel is up. */
export function keepAliveCeiling(services: Services, sessionId: string, agreement: CirAgreement | undefined): number {
  const { session, cir } = services.config;
  return services.cir.channelUp(sessionId, agreement) ? Math.max(cir.keepAliveMax, session.keepAliveMax) : session.keepAliveMax;
}
