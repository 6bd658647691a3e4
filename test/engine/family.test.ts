/**
 * Dual-stack pods: a packet carries one address of its family, so an IPv4 ipBlock admits a dual-stack pod's IPv4
 * packets and not its IPv6 ones (NetworkPolicy ipBlock: "a particular CIDR ... that is allowed"; the data plane
 * matches the packet's address). Asked by address, the engine answers for that family exactly.
 */
import { describe, expect, it } from 'vitest';
import { engineOf, np, ns, type Obj } from '../controller/fixtures.js';

const dual = (name: string, v4: string, v6: string, labels: Record<string, string>): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'a', labels },
  spec: { containers: [{ name: 'c', image: 'x' }] },
  status: { phase: 'Running', podIP: v4, podIPs: [{ ip: v4 }, { ip: v6 }] },
});

describe('per address family', () => {
  const engine = engineOf([
    ns('a'),
    dual('client', '10.0.0.1', 'fd00::1', { app: 'client' }),
    dual('server', '10.0.0.2', 'fd00::2', { app: 'server' }),
    np('a', 'v4-only', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/24' } }] }] }),
  ]);

  it.each([
    { from: '10.0.0.1', allowed: true, why: 'an IPv4 packet from the client is inside 10.0.0.0/24' },
    { from: 'fd00::1', allowed: false, why: 'an IPv6 packet from the client is outside every block of the policy' },
  ])('$from → a/server: $why', ({ from, allowed }) => {
    expect(engine.verdict({ from, to: 'a/server', protocol: 'TCP', port: 80 }).allowed).toBe(allowed);
    const to = from.includes(':') ? 'fd00::2' : '10.0.0.2';
    expect(engine.allows({ from, to, protocol: 'TCP', port: 80 })).toBe(allowed);
  });

  it('by endpoint id the pair is allowed: over IPv4 it is', () => {
    expect(engine.verdict({ from: 'a/client', to: 'a/server', protocol: 'TCP', port: 80 }).allowed).toBe(true);
  });
});
