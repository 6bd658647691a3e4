/**
 * Nodes in the incremental reconciler: tier policies with `nodes` peers (ClusterNetworkPolicy v1alpha2 and
 * AdminNetworkPolicy v1alpha1) follow random Node events (added, relabelled, re-addressed, status churn, deleted)
 * and policy events; after every pass the ClusterPolicyEndpoints written equal a full recompute from scratch over the
 * final objects. A Node event marks only the policies whose node selectors it gives different addresses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { JsonObject } from '../../src/api/load.js';
import { MemoryWriter } from '../../src/controller/fake-writer.js';
import { Reconciler, policyOfEndpoint, type EndpointObject } from '../../src/controller/reconciler.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { ClusterState, nodeView, tierKey, type WatchedKind } from '../../src/controller/state.js';
import { compile } from '../../src/engine/engine.js';
import { clusterOf, ns, pod, type Obj } from './fixtures.js';

const CHUNK = 2;
const NODES = ['n0', 'n1', 'n2', 'n3'] as const;
const NODE_IPS = ['192.0.2.1', '192.0.2.2', '192.0.2.3', '198.51.100.7', 'fd00:2::1'];

function node(name: string, labels: Record<string, string>, addresses: { type: string; address: string }[], heartbeat = '2026-01-01T00:00:00Z'): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    status: { addresses, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat }], images: [{ names: ['x'], sizeBytes: 1 }] },
  };
}

const nodeSelector = fc.oneof(
  fc.constant({}),
  fc.constantFrom('worker', 'infra').map((role) => ({ matchLabels: { role } })),
  fc.constant({ matchExpressions: [{ key: 'zone', operator: 'In', values: ['a'] }] }),
  fc.constant({ matchExpressions: [{ key: 'role', operator: 'DoesNotExist' }] }),
);

const nodeObject = fc
  .record({
    name: fc.constantFrom(...NODES),
    role: fc.constantFrom('worker', 'infra', undefined),
    zone: fc.constantFrom('a', 'b'),
    internal: fc.subarray(NODE_IPS, { minLength: 0, maxLength: 2 }),
    external: fc.option(fc.constantFrom(...NODE_IPS), { nil: undefined }),
    heartbeat: fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-01T00:00:10Z'),
  })
  .map((n) =>
    node(
      n.name,
      { zone: n.zone, ...(n.role ? { role: n.role } : {}) },
      [
        ...n.internal.map((address) => ({ type: 'InternalIP', address })),
        ...(n.external ? [{ type: 'ExternalIP', address: n.external }] : []),
        // Names are not addresses: they must not become entries.
        { type: 'Hostname', address: n.name },
        { type: 'InternalDNS', address: `${n.name}.internal` },
      ],
      n.heartbeat,
    ),
  );

const cnpObject = fc
  .record({ name: fc.constantFrom('c0', 'c1'), action: fc.constantFrom('Accept', 'Deny', 'Pass'), sel: nodeSelector, sel2: fc.option(nodeSelector, { nil: undefined }), port: fc.boolean() })
  .map(
    (c): Obj => ({
      apiVersion: 'policy.networking.k8s.io/v1alpha2',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: c.name },
      spec: {
        tier: 'Admin',
        priority: c.name === 'c0' ? 3 : 4,
        subject: { namespaces: { matchLabels: { team: 'x' } } },
        egress: [
          {
            action: c.action,
            to: [{ nodes: c.sel }, ...(c.sel2 ? [{ nodes: c.sel2 }] : [])],
            ...(c.port ? { protocols: [{ tcp: { destinationPort: { number: 10250 } } }] } : {}),
          },
        ],
      },
    }),
  );

const anpObject = fc.record({ action: fc.constantFrom('Allow', 'Deny', 'Pass'), sel: nodeSelector }).map(
  (a): Obj => ({
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name: 'a0' },
    spec: { priority: 7, subject: { namespaces: {} }, egress: [{ action: a.action, to: [{ nodes: a.sel }] }] },
  }),
);

type Event = { kind: WatchedKind; key: string; value?: Obj };
const nameOf = (o: Obj) => (o.metadata as { name: string }).name;

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 8, arbitrary: nodeObject.map((n): Event => ({ kind: 'Node', key: nameOf(n), value: n })) },
  { weight: 2, arbitrary: fc.constantFrom(...NODES).map((n): Event => ({ kind: 'Node', key: n })) },
  { weight: 2, arbitrary: cnpObject.map((c): Event => ({ kind: 'ClusterNetworkPolicy', key: nameOf(c), value: c })) },
  { weight: 1, arbitrary: fc.constantFrom('c0', 'c1').map((c): Event => ({ kind: 'ClusterNetworkPolicy', key: c })) },
  { weight: 1, arbitrary: anpObject.map((a): Event => ({ kind: 'AdminNetworkPolicy', key: 'a0', value: a })) },
  { weight: 1, arbitrary: fc.constant<Event>({ kind: 'AdminNetworkPolicy', key: 'a0' }) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom('p0', 'p1'), fc.constantFrom('10.0.0.1', '10.0.0.2')).map(([p, ip]): Event => ({ kind: 'Pod', key: `a/${p}`, value: pod('a', p, { ip, hostIP: '192.0.2.1' }) })),
  },
  { weight: 1, arbitrary: fc.constantFrom('x', 'y').map((team): Event => ({ kind: 'Namespace', key: 'a', value: ns('a', { team }) })) },
);

/** A policy's objects as sets of entries, with the fields every one of its objects repeats. */
function normalise(objects: readonly EndpointObject[]): Map<string, unknown> {
  const byPolicy = new Map<string, EndpointObject[]>();
  for (const o of objects) byPolicy.set(policyOfEndpoint(o), [...(byPolicy.get(policyOfEndpoint(o)) ?? []), o]);
  const out = new Map<string, unknown>();
  const sorted = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
  for (const [k, list] of byPolicy) {
    const { podSelectorEndpoints: _p, ingress: _i, egress: _e, ...fixed } = list[0].spec as unknown as Record<string, unknown>;
    out.set(k, {
      fixed,
      owners: list[0].metadata.ownerReferences,
      pods: sorted(list.flatMap((o) => o.spec.podSelectorEndpoints ?? [])),
      ingress: sorted(list.flatMap((o) => (o.spec.ingress ?? []) as unknown[])),
      egress: sorted(list.flatMap((o) => (o.spec.egress ?? []) as unknown[])),
    });
  }
  return out;
}

const V2 = 'policy.networking.k8s.io/v1alpha2';
const cnp = (name: string, sel: Obj): Obj => ({
  apiVersion: V2,
  kind: 'ClusterNetworkPolicy',
  metadata: { name },
  spec: { tier: 'Admin', priority: 1, subject: { namespaces: {} }, egress: [{ action: 'Deny', to: [{ nodes: sel }] }] },
});
const internal = (address: string) => ({ type: 'InternalIP', address });

describe('Node events', () => {
  it('mark only the policies whose node selectors the change gives other addresses', () => {
    const s = new ClusterState();
    const workers = tierKey('ClusterNetworkPolicy', 'workers');
    const infra = tierKey('ClusterNetworkPolicy', 'infra');
    s.apply('ClusterNetworkPolicy', 'workers', cnp('workers', { matchLabels: { role: 'worker' } }) as JsonObject);
    s.apply('ClusterNetworkPolicy', 'infra', cnp('infra', { matchLabels: { role: 'infra' } }) as JsonObject);
    s.apply('ClusterNetworkPolicy', 'plain', { ...cnp('plain', {}), spec: { tier: 'Admin', priority: 2, subject: { namespaces: {} }, egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.0/8'] }] }] } } as JsonObject);
    const n1 = node('n1', { role: 'worker' }, [internal('192.0.2.1')]);
    expect([...s.apply('Node', 'n1', n1 as JsonObject)]).toEqual([workers]);
    // Status churn (a heartbeat) and a label no selector reads: nothing to do.
    expect([...s.apply('Node', 'n1', node('n1', { role: 'worker' }, [internal('192.0.2.1')], '2026-01-01T00:01:00Z') as JsonObject)]).toEqual([]);
    expect([...s.apply('Node', 'n1', node('n1', { role: 'worker', zone: 'b' }, [internal('192.0.2.1')]) as JsonObject)]).toEqual([]);
    // A hostname is not an address.
    expect([...s.apply('Node', 'n1', node('n1', { role: 'worker', zone: 'b' }, [internal('192.0.2.1'), { type: 'Hostname', address: 'n1' }]) as JsonObject)]).toEqual([]);
    // Relabelled from worker to infra: both selectors' answers move.
    expect([...s.apply('Node', 'n1', node('n1', { role: 'infra' }, [internal('192.0.2.1')]) as JsonObject)].sort()).toEqual([infra, workers].sort());
    // A new address moves the one selector that picks the node.
    expect([...s.apply('Node', 'n1', node('n1', { role: 'infra' }, [internal('192.0.2.1'), { type: 'ExternalIP', address: '198.51.100.7' }]) as JsonObject)]).toEqual([infra]);
    // A node without addresses gives nothing: adding it is no change; deleting n1 is.
    expect([...s.apply('Node', 'n2', node('n2', { role: 'worker' }, []) as JsonObject)]).toEqual([]);
    expect([...s.apply('Node', 'n1', undefined)]).toEqual([infra]);
  });

  it('keeps a Node as name, uid, labels and its InternalIP/ExternalIP addresses', () => {
    const full = {
      ...node('n1', { role: 'worker' }, [internal('192.0.2.1'), { type: 'ExternalIP', address: '198.51.100.7' }, { type: 'Hostname', address: 'n1' }, { type: 'InternalDNS', address: 'n1.internal' }]),
      metadata: { name: 'n1', uid: 'u1', labels: { role: 'worker' }, resourceVersion: '7', managedFields: [{ manager: 'kubelet' }] },
    };
    expect(nodeView(full as JsonObject)).toEqual({
      metadata: { name: 'n1', uid: 'u1', labels: { role: 'worker' } },
      status: { addresses: [internal('192.0.2.1'), { type: 'ExternalIP', address: '198.51.100.7' }] },
    });
  });

  it('the written ClusterPolicyEndpoints equal a full recompute after any sequence of Node and policy events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 15 }), fc.array(event, { maxLength: 30 }), fc.array(fc.boolean(), { maxLength: 30 }), async (initial, events, flushes) => {
        const writer = new MemoryWriter();
        const r = new Reconciler(writer, { chunkSize: CHUNK, batchWindowMs: 0 });
        const current = new Map<string, Obj>();
        const apply = (e: Event) => {
          r.observe(e.kind, e.key, e.value as JsonObject | undefined);
          if (e.value) current.set(`${e.kind}/${e.key}`, e.value);
          else current.delete(`${e.kind}/${e.key}`);
        };
        const compare = () => {
          // From scratch: every object as the API holds it (the full Node, not the controller's view of it).
          const engine = compile(clusterOf([...current.values()]));
          const full: EndpointObject[] = [...resolvePolicyEndpoints(engine, { chunkSize: CHUNK }), ...resolveClusterPolicyEndpoints(engine, { chunkSize: CHUNK })];
          const incremental = [...writer.objects.values()];
          for (const o of incremental) for (const l of [o.spec.podSelectorEndpoints, o.spec.ingress, o.spec.egress]) expect((l ?? []).length).toBeLessThanOrEqual(CHUNK);
          expect(normalise(incremental)).toEqual(normalise(full));
        };
        r.observe('Namespace', 'a', ns('a', { team: 'x' }) as JsonObject);
        current.set('Namespace/a', ns('a', { team: 'x' }));
        for (const e of initial) apply(e);
        r.setActive(true);
        await r.flush();
        compare();
        for (const [i, e] of events.entries()) {
          apply(e);
          if (flushes[i] ?? true) {
            await r.flush();
            compare();
          }
        }
        await r.flush();
        compare();
        r.stop();
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it('a nodes peer resolves to the node InternalIP (so the property compares real addresses)', () => {
    const engine = compile(
      clusterOf([ns('a', { team: 'x' }), pod('a', 'p0', { ip: '10.0.0.1' }), node('n0', { role: 'worker' }, [internal('192.0.2.1')]), cnp('c', { matchLabels: { role: 'worker' } })]),
    );
    const [cpe] = resolveClusterPolicyEndpoints(engine, { chunkSize: CHUNK });
    expect(cpe.spec.egress).toEqual([{ cidr: '192.0.2.1', action: 'Deny' }]);
  });
});
