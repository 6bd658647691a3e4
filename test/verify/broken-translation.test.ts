/**
 * The translation tests have teeth: each deliberately broken translation below — the bugs this project had, or could
 * have — is caught on random clusters by the same checks the property tests run (engine == objects == table).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SUBJECT_GROUP_LABEL, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import type { Engine } from '../../src/engine/engine.js';
import type { DesiredState } from '../../src/nft/compile.js';
import { clusterArb } from '../../src/scenarios/random.js';
import { objectsDisagreement, rulesetDisagreement, translate } from './support.js';

const clusters = fc.sample(clusterArb({ tiers: true, maxPods: 6, maxPolicies: 3 }), { numRuns: 300, seed: 99 });

type Lists = { ingress?: readonly { cidr?: string }[]; egress?: readonly { cidr?: string }[] };

/** Drops, per object, the bare-IP entries that lie inside one of its CIDR entries: named ports on CIDR peers lost. */
function dropNamedPortsOnBlocks<T extends { spec: Lists }>(o: T): T {
  const inside = (ip: string, cidr: string) => {
    const [base, len] = cidr.split('/');
    if (len === undefined || ip.includes(':') !== base.includes(':')) return false;
    if (ip.includes(':')) return cidr === '::/0';
    const n = (t: string) => t.split('.').reduce((a, x) => a * 256 + Number(x), 0);
    const shift = 32 - Number(len);
    return Math.floor(n(ip) / 2 ** shift) === Math.floor(n(base) / 2 ** shift);
  };
  const prune = (list?: readonly { cidr?: string }[]) => list?.filter((e) => e.cidr === undefined || e.cidr.includes('/') || !list.some((c) => c.cidr?.includes('/') && inside(e.cidr!, c.cidr)));
  return { ...o, spec: { ...o.spec, ingress: prune(o.spec.ingress), egress: prune(o.spec.egress) } };
}

const breakages: { name: string; pe?: (pes: PolicyEndpoint[]) => PolicyEndpoint[]; cpe?: (c: ClusterPolicyEndpoint[]) => ClusterPolicyEndpoint[]; table?: (s: DesiredState) => DesiredState }[] = [
  { name: 'named ports on CIDR peers dropped (egress)', pe: (pes) => pes.map(dropNamedPortsOnBlocks), cpe: (c) => c.map(dropNamedPortsOnBlocks) },
  { name: 'tier rule order lost (entries reversed)', cpe: (c) => c.map((x) => ({ ...x, spec: { ...x.spec, ingress: x.spec.ingress && [...x.spec.ingress].reverse(), egress: x.spec.egress && [...x.spec.egress].reverse() } })) },
  {
    name: 'ingress named ports over-applied (subject groups merged)',
    pe: (pes) => pes.map((p) => ({ ...p, metadata: { ...p.metadata, labels: Object.fromEntries(Object.entries(p.metadata.labels ?? {}).filter(([k]) => k !== SUBJECT_GROUP_LABEL)) } })),
    cpe: (c) => c.map((p) => ({ ...p, metadata: { ...p.metadata, labels: Object.fromEntries(Object.entries(p.metadata.labels ?? {}).filter(([k]) => k !== SUBJECT_GROUP_LABEL)) } })),
  },
  { name: 'ports widened to every port', pe: (pes) => pes.map((p) => ({ ...p, spec: { ...p.spec, ingress: p.spec.ingress?.map(({ ports: _, ...e }) => e) } })) },
  {
    name: 'nft: the admin stage forgets its Deny rules',
    table: (s) => ({ ...s, chains: new Map([...s.chains].map(([k, c]) => [k, k.startsWith('ad') ? { ...c, rules: c.rules.filter((r) => !/ drop$/.test(r)) } : c])) }),
  },
  {
    name: 'nft: egress to the node itself not filtered (no input hook)',
    table: (s) => ({ ...s, chains: new Map([...s.chains].filter(([k]) => k !== 'input_filter')) }),
  },
];

describe('a broken translation is caught', () => {
  it.each(breakages)('$name', (b) => {
    let caught: string | undefined;
    for (const generated of clusters) {
      const t = translate(generated, {
        pe: (e: Engine) => (b.pe ? b.pe(resolvePolicyEndpoints(e)) : resolvePolicyEndpoints(e)),
        cpe: (e: Engine) => (b.cpe ? b.cpe(resolveClusterPolicyEndpoints(e)) : resolveClusterPolicyEndpoints(e)),
      });
      caught = b.table ? rulesetDisagreement(t, 'standard', b.table) : (objectsDisagreement(t) ?? rulesetDisagreement(t));
      if (caught) break;
    }
    expect(caught, 'no random cluster caught the broken translation').toBeDefined();
  });
});
