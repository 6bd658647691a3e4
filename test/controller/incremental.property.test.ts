/**
 * The incremental reconciler equals a full recompute: random sequences of events (pods added, relabelled, moved to
 * another IP, finished, deleted; namespaces relabelled; Services and policies changed) are applied to a reconciler
 * that compiles only what each event can affect; the PolicyEndpoints it has written are then compared with
 * `resolvePolicyEndpoints` (and `resolveClusterPolicyEndpoints`) over the final objects, from scratch.
 *
 * Chunk placement may differ (the incremental layout keeps entries in the object that held them), so each policy is
 * compared as the sets of its entries, and every object is checked against the chunk size and the policy's own fields.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { JsonObject } from '../../src/api/load.js';
import { MemoryWriter } from '../../src/controller/fake-writer.js';
import { Reconciler, policyOfEndpoint, type EndpointObject } from '../../src/controller/reconciler.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import type { WatchedKind } from '../../src/controller/state.js';
import { compile } from '../../src/engine/engine.js';
import { clusterOf, np, ns, pod, svc, type Obj } from './fixtures.js';

const CHUNK = 2;
const NAMESPACES = ['a', 'b'] as const;
const APPS = ['web', 'db', 'api'] as const;
const IPS = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', 'fd00::6'];

const selector = fc.oneof(
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 2, arbitrary: fc.constantFrom(...APPS).map((app) => ({ matchLabels: { app } })) },
  { weight: 1, arbitrary: fc.constantFrom(...APPS).map((app) => ({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: [app] }] })) },
  // Selectors on a label Services do not select by: a Service can then match a peer whose pods it does not all hold.
  { weight: 2, arbitrary: fc.constant({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }) },
  { weight: 1, arbitrary: fc.constant({ matchLabels: { tier: 'front' } }) },
);
const namespaceSelector = fc.oneof(fc.constant({}), fc.constantFrom('x', 'y').map((team) => ({ matchLabels: { team } })));
const peer = fc.oneof(
  selector.map((podSelector) => ({ podSelector })),
  fc.tuple(namespaceSelector, fc.option(selector, { nil: undefined })).map(([n, p]) => ({ namespaceSelector: n, ...(p ? { podSelector: p } : {}) })),
  fc.constant({ ipBlock: { cidr: '10.0.0.0/24', except: ['10.0.0.4/32'] } }),
);
const ports = fc.oneof(
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.constant([{ port: 8080 }]) },
  { weight: 1, arbitrary: fc.constant([{ port: 'http' }]) },
  { weight: 1, arbitrary: fc.constant([{ protocol: 'UDP', port: 53 }, { port: 'metrics' }]) },
);
const rule = (dir: 'from' | 'to') =>
  fc.tuple(fc.option(fc.array(peer, { minLength: 1, maxLength: 3 }), { nil: undefined }), ports).map(([peers, p]) => ({ ...(peers ? { [dir]: peers } : {}), ...(p ? { ports: p } : {}) }));
const policySpec = fc.record({
  podSelector: selector,
  ingress: fc.option(fc.array(rule('from'), { maxLength: 2 }), { nil: undefined }),
  egress: fc.option(fc.array(rule('to'), { maxLength: 2 }), { nil: undefined }),
});

const podObject = fc
  .record({
    ns: fc.constantFrom(...NAMESPACES),
    name: fc.constantFrom('p0', 'p1', 'p2', 'p3', 'p4', 'p5'),
    app: fc.constantFrom(...APPS),
    tier: fc.constantFrom('front', 'front', 'back', undefined),
    ip: fc.option(fc.constantFrom(...IPS), { nil: undefined }),
    port: fc.constantFrom(8080, 9090),
    phase: fc.constantFrom('Running', 'Running', 'Running', 'Succeeded'),
    hostIP: fc.constantFrom('192.0.2.1', '192.0.2.2'),
  })
  .map((p) =>
    pod(p.ns, p.name, {
      labels: { app: p.app, ...(p.tier ? { tier: p.tier } : {}) },
      ...(p.ip ? { ip: p.ip } : {}),
      hostIP: p.hostIP,
      phase: p.phase,
      ports: [{ name: 'http', containerPort: p.port }, { name: 'metrics', containerPort: 9100 }],
    }),
  );

const serviceObject = fc
  .record({
    ns: fc.constantFrom(...NAMESPACES),
    name: fc.constantFrom('s0', 's1'),
    app: fc.constantFrom(...APPS),
    tier: fc.constantFrom('front', undefined),
    target: fc.constantFrom<number | string>(8080, 'http'),
    ip: fc.constantFrom('10.96.0.1', '10.96.0.2'),
  })
  .map((s) => svc(s.ns, s.name, { selector: { app: s.app, ...(s.tier ? { tier: s.tier } : {}) }, clusterIP: s.ip, ports: [{ port: 80, targetPort: s.target }] }));

const tierObject = fc.record({ team: fc.constantFrom('x', 'y'), action: fc.constantFrom('Accept', 'Deny', 'Pass'), app: fc.constantFrom(...APPS) }).map(
  (t): Obj => ({
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'tenant' },
    spec: {
      tier: 'Admin',
      priority: 3,
      subject: { namespaces: { matchLabels: { team: t.team } } },
      ingress: [{ action: t.action, from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: t.app } } } }] }],
      egress: [{ action: 'Accept', to: [{ pods: { namespaceSelector: { matchLabels: { team: t.team } }, podSelector: {} } }], protocols: [{ tcp: { destinationPort: { number: 80 } } }] }],
    },
  }),
);

type Event = { kind: WatchedKind; key: string; value?: Obj };

const keyOf = (o: Obj): string => {
  const m = o.metadata as { name: string; namespace?: string };
  return m.namespace ? `${m.namespace}/${m.name}` : m.name;
};
const upsert = (kind: WatchedKind) => (o: Obj): Event => ({ kind, key: keyOf(o), value: o });

const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: podObject.map(upsert('Pod')) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('p0', 'p1', 'p2', 'p3', 'p4', 'p5')).map(([n, p]): Event => ({ kind: 'Pod', key: `${n}/${p}` })) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('x', 'y', undefined)).map(([n, team]) => upsert('Namespace')(ns(n, team ? { team } : {}))) },
  { weight: 1, arbitrary: fc.constantFrom(...NAMESPACES).map((n): Event => ({ kind: 'Namespace', key: n })) },
  { weight: 4, arbitrary: serviceObject.map(upsert('Service')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('s0', 's1')).map(([n, s]): Event => ({ kind: 'Service', key: `${n}/${s}` })) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('n0', 'n1'), policySpec).map(([n, name, spec]) => upsert('NetworkPolicy')(np(n, name, spec, `uid-${n}-${name}`))) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('n0', 'n1')).map(([n, name]): Event => ({ kind: 'NetworkPolicy', key: `${n}/${name}` })) },
  { weight: 1, arbitrary: tierObject.map(upsert('ClusterNetworkPolicy')) },
  { weight: 1, arbitrary: fc.constant<Event>({ kind: 'ClusterNetworkPolicy', key: 'tenant' }) },
);

/**
 * AWS's own kinds under the names the upstream ones use (n0, n1, tenant): an ApplicationNetworkPolicy (egress may name
 * domainNames) beside a NetworkPolicy of the same namespace and name, and AWS's ClusterNetworkPolicy beside the
 * upstream one, each with objects of its own.
 */
const anpPeer = fc.oneof({ weight: 3, arbitrary: peer }, { weight: 1, arbitrary: fc.constant({ domainNames: ['api.example.com'] }) });
const anpSpec = fc.record({
  podSelector: selector,
  ingress: fc.option(fc.array(rule('from'), { maxLength: 2 }), { nil: undefined }),
  egress: fc.option(
    fc.array(fc.tuple(fc.option(fc.array(anpPeer, { minLength: 1, maxLength: 3 }), { nil: undefined }), ports).map(([peers, p]) => ({ ...(peers ? { to: peers } : {}), ...(p ? { ports: p } : {}) })), { maxLength: 2 }),
    { nil: undefined },
  ),
});
const anpObject = fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('n0', 'n1'), anpSpec).map(
  ([n, name, spec]): Obj => ({ apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ApplicationNetworkPolicy', metadata: { name, namespace: n, uid: `uid-anp-${n}-${name}` }, spec }),
);
const awsTierObject = fc
  .record({ team: fc.constantFrom('x', 'y'), tier: fc.constantFrom('Admin', 'Baseline'), action: fc.constantFrom('Accept', 'Deny', 'Pass'), app: fc.constantFrom(...APPS), domains: fc.boolean() })
  .map(
    (t): Obj => ({
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ClusterNetworkPolicy',
      metadata: { name: 'tenant', uid: 'uid-aws-tenant' },
      spec: {
        tier: t.tier,
        priority: 2,
        subject: { namespaces: { matchLabels: { team: t.team } } },
        ingress: [{ action: t.action, from: [{ pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: t.app } } } }] }],
        egress: [
          {
            action: 'Accept',
            to: [{ pods: { namespaceSelector: { matchLabels: { team: t.team } }, podSelector: {} } }, ...(t.domains ? [{ domainNames: ['*.example.com'] }] : [])],
            ports: [{ portNumber: { protocol: 'TCP', port: 80 } }],
          },
        ],
      },
    }),
  );
const awsEvent: fc.Arbitrary<Event> = fc.oneof(
  { weight: 4, arbitrary: event },
  { weight: 1, arbitrary: anpObject.map(upsert('ApplicationNetworkPolicy')) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...NAMESPACES), fc.constantFrom('n0', 'n1')).map(([n, name]): Event => ({ kind: 'ApplicationNetworkPolicy', key: `${n}/${name}` })) },
  { weight: 1, arbitrary: awsTierObject.map(upsert('AwsClusterNetworkPolicy')) },
  { weight: 1, arbitrary: fc.constant<Event>({ kind: 'AwsClusterNetworkPolicy', key: 'tenant' }) },
);

/** A policy's objects as sets of entries, with the fields every one of its objects repeats. */
function normalise(objects: readonly EndpointObject[]): Map<string, unknown> {
  const byPolicy = new Map<string, EndpointObject[]>();
  for (const o of objects) {
    const k = policyOfEndpoint(o);
    byPolicy.set(k, [...(byPolicy.get(k) ?? []), o]);
  }
  const out = new Map<string, unknown>();
  for (const [k, list] of byPolicy) {
    const sorted = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x)).sort();
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

function checkObjects(objects: readonly EndpointObject[]): void {
  const byPolicy = new Map<string, EndpointObject[]>();
  for (const o of objects) byPolicy.set(policyOfEndpoint(o), [...(byPolicy.get(policyOfEndpoint(o)) ?? []), o]);
  for (const list of byPolicy.values()) {
    for (const o of list) {
      for (const l of [o.spec.podSelectorEndpoints, o.spec.ingress, o.spec.egress]) expect((l ?? []).length).toBeLessThanOrEqual(CHUNK);
      const { podSelectorEndpoints: _p, ingress: _i, egress: _e, ...fixed } = o.spec as unknown as Record<string, unknown>;
      const { podSelectorEndpoints: _p0, ingress: _i0, egress: _e0, ...fixed0 } = list[0].spec as unknown as Record<string, unknown>;
      expect(fixed).toEqual(fixed0);
    }
  }
}

async function incrementalEqualsFull(initial: readonly Event[], events: readonly Event[], flushes: readonly boolean[]): Promise<void> {
        const writer = new MemoryWriter();
        const r = new Reconciler(writer, { chunkSize: CHUNK, batchWindowMs: 0 });
        const current = new Map<string, { kind: WatchedKind; value: Obj }>();
        const apply = (e: Event) => {
          r.observe(e.kind, e.key, e.value as JsonObject | undefined);
          if (e.value) current.set(`${e.kind}/${e.key}`, { kind: e.kind, value: e.value });
          else current.delete(`${e.kind}/${e.key}`);
        };
        // After every pass, what the API holds must be what a full recompute of the objects so far gives: a policy
        // that an event should have marked and did not would differ here, before a later event repairs it.
        // Tier policies' uids, as the reconciler takes them from its objects (AWS's ClusterNetworkPolicy has one here).
        const uidOf = (kind: string, name: string, group?: string): string | undefined => {
          const o = [...current.values()].find((c) => c.value.kind === kind && (c.value.metadata as { name: string }).name === name && String(c.value.apiVersion).startsWith(`${group ?? 'policy.networking.k8s.io'}/`));
          return (o?.value.metadata as { uid?: string } | undefined)?.uid;
        };
        const compare = () => {
          const engine = compile(clusterOf([...current.values()].map((c) => c.value)));
          const full: EndpointObject[] = [...resolvePolicyEndpoints(engine, { chunkSize: CHUNK }), ...resolveClusterPolicyEndpoints(engine, { chunkSize: CHUNK, uidOf })];
          const incremental = [...writer.objects.values()];
          checkObjects(incremental);
          expect(normalise(incremental)).toEqual(normalise(full));
          // What the reconciler believes exists is what the API holds.
          expect(normalise(r.objects())).toEqual(normalise(incremental));
        };
        for (const e of initial) apply(e);
        r.setActive(true);
        await r.flush();
        compare();
        for (const [i, e] of events.entries()) {
          apply(e);
          // Some events are batched with the next ones, as the batch window does live.
          if (flushes[i] ?? true) {
            await r.flush();
            compare();
          }
        }
        await r.flush();
        compare();
        r.stop();
}

describe('incremental reconciler', () => {
  it('writes what a full recompute from scratch would write, after any sequence of events', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { minLength: 1, maxLength: 25 }), fc.array(event, { maxLength: 40 }), fc.array(fc.boolean(), { maxLength: 40 }), incrementalEqualsFull),
      { numRuns: 300 },
    );
  }, 120_000);

  it("also with AWS's ApplicationNetworkPolicy and ClusterNetworkPolicy beside the upstream kinds of the same names", async () => {
    let aws = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(awsEvent, { minLength: 1, maxLength: 25 }), fc.array(awsEvent, { maxLength: 40 }), fc.array(fc.boolean(), { maxLength: 40 }), async (initial, events, flushes) => {
        if ([...initial, ...events].some((e) => e.value && (e.kind === 'ApplicationNetworkPolicy' || e.kind === 'AwsClusterNetworkPolicy'))) aws++;
        await incrementalEqualsFull(initial, events, flushes);
      }),
      { numRuns: 150, seed: 21 },
    );
    expect(aws).toBeGreaterThan(100);
  }, 120_000);
});
