// Where a peer domain's s2s service lives (RFC 6120 §3.2): a configured route (xmpp.routes,
// "HOST:PORT") wins; then DNS SRV _xmpp-server._tcp.<domain> in priority order (weights
// shuffled as RFC 2782 asks); then the domain itself on port 5269.
import { promises as dns } from 'node:dns';
import type { Target } from './outgoing.ts';

/** How SRV records are looked up (node:dns by default; tests pass their own). */
export type SrvLookup = (name: string) => Promise<{ name: string; port: number; priority: number; weight: number }[]>;

export async function resolveTargets(domain: string, routes: Record<string, string>, resolveSrv: SrvLookup = (name) => dns.resolveSrv(name)): Promise<Target[]> {
  const route = routes[domain];
  if (route) {
    const at = route.lastIndexOf(':');
    return [{ host: route.slice(0, at), port: Number(route.slice(at + 1)) }];
  }
  try {
    const records = await resolveSrv(`_xmpp-server._tcp.${domain}`);
    // "." as target means the service is decidedly not available (RFC 2782).
    if (records.length === 1 && records[0]!.name === '.') return [];
    if (records.length > 0) {
      return records
        .map((r) => ({ ...r, order: r.priority * 65536 - Math.random() * (r.weight + 1) }))
        .sort((a, b) => a.order - b.order)
        .map((r) => ({ host: r.name, port: r.port }));
    }
  } catch {
    // No SRV record (or no DNS): the fallback below.
  }
  return [{ host: domain, port: 5269 }];
}
