/**
 * What the node looks like: its local pods (from the host routes to pod IPs, as the VPC CNI installs them: a /32 or
 * /128 route `dev <host-veth>`) and its own addresses. Read with `ip -j`, never from the nft table.
 */
import type { LocalPod } from '../nft/compile.js';
import { canonicalAddress } from '../nft/address.js';
import { run, type Netns } from '../nft/apply.js';
import { isInterfaceName } from '../nft/names.js';

/** Converts an nft/iptables interface wildcard (`eni*`) to a RegExp. */
export function interfacePattern(wildcard: string): RegExp {
  const body = wildcard.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*$/, '.*');
  return new RegExp(`^${body}$`);
}

interface RouteJson {
  dst?: string;
  dev?: string;
  type?: string;
  gateway?: string;
}

/** Local pods: host routes on interfaces matching `podInterfaces`, grouped by interface. */
export async function discoverPods(podInterfaces: string, where: Netns = {}): Promise<LocalPod[]> {
  const re = interfacePattern(podInterfaces);
  const byIf = new Map<string, string[]>();
  for (const fam of ['-4', '-6']) {
    const { stdout } = await run('ip', ['-j', fam, 'route', 'show'], where);
    const routes = (stdout.trim() ? JSON.parse(stdout) : []) as RouteJson[];
    for (const r of routes) {
      // A name nft could not take verbatim is never a pod's (and must never reach the script).
      if (!r.dst || !r.dev || r.gateway || !re.test(r.dev) || !isInterfaceName(r.dev)) continue;
      const [addr, len] = r.dst.split('/');
      const full = fam === '-4' ? '32' : '128';
      if (len !== undefined && len !== full) continue;
      const ips = byIf.get(r.dev) ?? [];
      ips.push(canonicalAddress(addr));
      byIf.set(r.dev, ips);
    }
  }
  return [...byIf].map(([ifname, ips]) => ({ ifname, ips: ips.sort() }));
}

/** The node's own global addresses (not loopback, not link-local). */
export async function discoverNodeAddresses(where: Netns = {}): Promise<string[]> {
  const { stdout } = await run('ip', ['-j', 'addr', 'show'], where);
  const links = JSON.parse(stdout) as { addr_info?: { local?: string; scope?: string }[] }[];
  const out: string[] = [];
  for (const l of links) for (const a of l.addr_info ?? []) if (a.local && a.scope === 'global') out.push(canonicalAddress(a.local));
  return [...new Set(out)].sort();
}
