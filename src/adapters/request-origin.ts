// Where a phone's HTTP request came from, as far as waking it later needs to know: its
// address (for SUDP and WAP UDP datagrams, and for throttling), the address and host name it
// reached us on (what to tell it for STCP and SHTTP), and the phone number an operator's WAP
// gateway may have added (for WAP SMS). Reference imps-csp.md §2.1, prior-art.md §4.5 rule 11.
import type { IncomingMessage } from 'node:http';
import { normalizeMsisdn } from './cir/sms-gateway.ts';

export interface RequestOrigin {
  /** The client's address: the socket's peer, or the X-Forwarded-For entry of a trusted proxy. */
  address: string;
  /** Our own address the request arrived on (without an IPv4-mapped "::ffff:" prefix). */
  localAddress?: string;
  /** The Host header: the name and port the phone uses for this server. */
  host?: string;
  /** The phone's number from an operator header (config cir.sms.msisdnHeaders). */
  msisdn?: string;
}

const unmapped = (address: string | undefined) => address?.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');

/**
 * The client's address: the socket's peer, or — when that peer is a trusted reverse proxy — the
 * nearest address in X-Forwarded-For that is not a trusted proxy itself.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: ReadonlySet<string>): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustedProxies.has(peer)) return unmapped(peer)!;
  const forwarded = String(req.headers['x-forwarded-for'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (let i = forwarded.length - 1; i >= 0; i--) if (!trustedProxies.has(forwarded[i]!)) return forwarded[i]!;
  return unmapped(peer)!;
}

export function requestOrigin(req: IncomingMessage, trustedProxies: ReadonlySet<string>, msisdnHeaders: readonly string[]): RequestOrigin {
  const origin: RequestOrigin = { address: clientAddress(req, trustedProxies) };
  const local = unmapped(req.socket.localAddress);
  if (local) origin.localAddress = local;
  if (req.headers.host) origin.host = req.headers.host;
  for (const header of msisdnHeaders) {
    const value = req.headers[header.toLowerCase()];
    const msisdn = normalizeMsisdn(Array.isArray(value) ? value[0] : value);
    if (msisdn) {
      origin.msisdn = msisdn;
      break;
    }
  }
  return origin;
}
