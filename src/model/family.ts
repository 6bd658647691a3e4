/**
 * A cluster as the packets of one address family see it. A dual-stack pod is two addresses: an IPv4 packet carries
 * its IPv4 address, which an IPv6 block never matches. Keeping only each endpoint's addresses of one family gives a
 * cluster whose verdicts are exact for that family's packets.
 */
import { parseIP, type Family } from '../api/ip.js';

/** The cluster with each endpoint's addresses of `family` only. */
export function projectFamily<C extends { readonly endpoints: readonly { readonly ips: readonly string[] }[] }>(cluster: C, family: Family): C {
  return { ...cluster, endpoints: cluster.endpoints.map((e) => ({ ...e, ips: e.ips.filter((ip) => parseIP(ip)?.family === family) })) };
}

/** True when some endpoint has addresses of both families. */
export function isDualStack(cluster: { readonly endpoints: readonly { readonly ips: readonly string[] }[] }): boolean {
  return cluster.endpoints.some((e) => {
    const families = new Set(e.ips.map((ip) => parseIP(ip)?.family));
    return families.has(4) && families.has(6);
  });
}
