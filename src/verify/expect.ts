/**
 * The two expectations a node's table is proved against: the engine's verdicts (when the agent has the manifests, or
 * in the lab and the tests) and the meaning of the (Cluster)PolicyEndpoint objects it was given (always).
 */
import { formatIP, parseCIDR, parseIP, type Family } from '../api/ip.js';
import type { Engine } from '../engine/engine.js';
import { ObjectsInterpreter, type ObjectsInput } from './objects.js';
import type { Expectation, ProofPod } from './prove.js';

type Cuts = { addresses: Record<Family, Set<bigint>>; ports: Set<number> };

function emptyCuts(): Cuts {
  return { addresses: { 4: new Set(), 6: new Set() }, ports: new Set() };
}

function cutCidr(c: Cuts, text: string): void {
  const r = parseCIDR(text.includes('/') ? text : `${text}/${parseIP(text)?.family === 6 ? 128 : 32}`);
  if (!r) return;
  c.addresses[r.family].add(r.first);
  c.addresses[r.family].add(r.last + 1n);
}

type Entry = { readonly cidr?: string; readonly except?: readonly string[]; readonly ports?: readonly { readonly port?: number; readonly endPort?: number }[] };

function cutsOfEntries(entries: readonly Entry[]): Cuts {
  const cuts = emptyCuts();
  for (const e of entries) {
    if (e.cidr !== undefined) cutCidr(cuts, e.cidr);
    for (const x of e.except ?? []) cutCidr(cuts, x);
    for (const p of e.ports ?? []) {
      if (p.port === undefined) continue;
      cuts.ports.add(p.port);
      cuts.ports.add((p.endPort ?? p.port) + 1);
    }
  }
  return cuts;
}

function entriesOf(objects: readonly { readonly spec: { readonly ingress?: readonly Entry[]; readonly egress?: readonly Entry[] } }[]): Entry[] {
  return objects.flatMap((o) => [...(o.spec.ingress ?? []), ...(o.spec.egress ?? [])]);
}

/** What the objects mean, as an expectation; `pods` name the local pods by interface. */
export function objectsExpectation(input: ObjectsInput, pods: ReadonlyMap<string, { readonly name?: string; readonly namespace?: string }>): Expectation {
  const interp = new ObjectsInterpreter(input);
  const podOf = (pod: ProofPod) => {
    const named = pods.get(pod.ifname);
    return { ips: pod.ips, ...(named?.name ? { name: named.name, namespace: named.namespace } : {}) };
  };
  const objectIds = new WeakMap<object, number>();
  let next = 0;
  const idOf = (o: object) => {
    let id = objectIds.get(o);
    if (id === undefined) objectIds.set(o, (id = next++));
    return id;
  };
  return {
    cuts: cutsOfEntries([...entriesOf(input.policyEndpoints), ...entriesOf(input.clusterPolicyEndpoints ?? [])]),
    // Only the objects that select the pod decide for it.
    cutsFor(pod) {
      const sel = interp.selecting(podOf(pod));
      return cutsOfEntries([...entriesOf(sel.pes), ...entriesOf(sel.cpes)]);
    },
    groupKey(pod) {
      const sel = interp.selecting(podOf(pod));
      return [...sel.pes, ...sel.cpes].map(idOf).join(',');
    },
    allows(pod: ProofPod, direction, peer, protocol, port) {
      return interp.decideAddress(podOf(pod), { direction, protocol, port }, peer).allowed;
    },
  };
}

/**
 * The engine's verdicts, as an expectation. `byFamily` holds an engine per address family (the cluster as packets of
 * that family see it: see {@link projectFamily}); pods are named by endpoint id.
 */
export function engineExpectation(byFamily: Readonly<Record<Family, Engine>>): Expectation {
  const cuts = emptyCuts();
  for (const family of [4, 6] as const) {
    const engine = byFamily[family];
    for (const r of engine.compiled.externalRanges) {
      cuts.addresses[r.family].add(r.first);
      cuts.addresses[r.family].add(r.last + 1n);
    }
    for (const ep of engine.cluster.endpoints) {
      for (const p of ep.ports) {
        cuts.ports.add(p.port);
        cuts.ports.add(p.port + 1);
      }
    }
    const rules = [...engine.compiled.networkPolicies.flatMap((p) => [...p.rules.ingress, ...p.rules.egress]), ...engine.compiled.tierPolicies.flatMap((p) => [...p.rules.ingress, ...p.rules.egress])];
    for (const r of rules) {
      for (const proto of ['TCP', 'UDP', 'SCTP'] as const) {
        for (const x of r.ports.fixed[proto]) {
          cuts.ports.add(x.from);
          cuts.ports.add(x.to + 1);
        }
      }
    }
  }
  return {
    cuts,
    allows(pod, direction, peer, protocol, port) {
      const engine = byFamily[peer.family];
      const other = formatIP(peer.family, peer.value);
      const v = engine.verdict(direction === 'egress' ? { from: pod.id, to: other, protocol, port } : { from: other, to: pod.id, protocol, port });
      return direction === 'egress' ? v.egress.allowed : v.ingress.allowed;
    },
  };
}

export { projectFamily } from '../model/family.js';
