import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { readCluster } from '../../src/model/read.js';
import { validateObject } from '../../src/api/validate.js';
import { generate, type GeneratedApi, type GeneratedTier } from '../../src/analyze/generate.js';
import { readTenants, validateTenants, type Tenants } from '../../src/analyze/tenants.js';
import { compile, type Engine } from '../../src/engine/engine.js';
import type { Protocol } from '../../src/api/types.js';
import { cli, np, ns, pod, readObjects, writeTree, type Obj } from './support.js';

const EXAMPLE = 'examples/tenants/tenants.yaml';

/** Pods in every team namespace, the shared services, DNS, and an unmanaged namespace, with IPs in 10.0.0.0/16. */
function world(tenants: Tenants): Obj[] {
  let n = 10;
  const ip = () => `10.0.${Math.floor(n / 250)}.${(n++ % 250) + 1}`;
  const objects: Obj[] = [ns('kube-system'), pod('kube-system', 'coredns', { labels: { 'k8s-app': 'kube-dns' }, ip: ip() }), ns('other'), pod('other', 'app', { ip: ip() })];
  for (const team of tenants.teams) {
    for (const name of team.namespaces) objects.push(ns(name, { team: team.name }), pod(name, 'app', { ip: ip() }));
  }
  for (const s of tenants.sharedServices) objects.push(ns(s.namespace), pod(s.namespace, s.name, { labels: { ...(s.podLabels ?? {}) }, ip: ip() }));
  return objects;
}

function engineFor(tenants: Tenants, tier: GeneratedTier, extra: readonly Obj[] = [], api: GeneratedApi = 'upstream'): Engine {
  const policies = generate(tenants, tier, api).flatMap((f) => f.objects) as unknown as Obj[];
  return compile(readObjects([...world(tenants), ...policies, ...extra]).cluster);
}

const allows = (e: Engine, from: string, to: string, protocol: Protocol, port: number) => e.allows({ from, to, protocol, port });

/** The properties every generated set must have, for any tenants file and tier. */
function expectTenantIsolation(tenants: Tenants, e: Engine): void {
  const teamPods = tenants.teams.map((t) => ({ team: t, pods: t.namespaces.map((n) => `${n}/app`) }));
  for (const a of teamPods) {
    for (const from of a.pods) {
      // DNS, both protocols.
      expect(allows(e, from, 'kube-system/coredns', 'UDP', 53), `${from} DNS/UDP`).toBe(true);
      expect(allows(e, from, 'kube-system/coredns', 'TCP', 53), `${from} DNS/TCP`).toBe(true);
      // The internet when allowed, never the blocked addresses.
      expect(allows(e, from, '8.8.8.8', 'TCP', 443), `${from} internet`).toBe(a.team.internet);
      for (const blocked of tenants.blocked) {
        const address = blocked.split('/')[0];
        expect(allows(e, from, address, 'TCP', 80), `${from} -> ${address}`).toBe(false);
      }
      // Unmanaged namespaces: neither way.
      expect(allows(e, from, 'other/app', 'TCP', 80)).toBe(false);
      expect(allows(e, 'other/app', from, 'TCP', 80)).toBe(false);
      for (const b of teamPods) {
        for (const to of b.pods) {
          if (to === from) continue;
          expect(allows(e, from, to, 'TCP', 8080), `${from} -> ${to}`).toBe(a.team === b.team);
        }
      }
    }
  }
  for (const s of tenants.sharedServices) {
    const svcPod = `${s.namespace}/${s.name}`;
    for (const { team, pods } of teamPods) {
      const reaches = s.reaches !== undefined && (s.reaches.teams === '*' || s.reaches.teams.includes(team.name));
      const reachable = s.reachableFrom !== undefined && (s.reachableFrom.teams === '*' || s.reachableFrom.teams.includes(team.name));
      for (const p of pods) {
        for (const port of s.reaches?.ports ?? []) expect(allows(e, svcPod, p, port.protocol, port.port), `${svcPod} -> ${p}:${port.port}`).toBe(reaches);
        for (const port of s.reachableFrom?.ports ?? []) expect(allows(e, p, svcPod, port.protocol, port.port), `${p} -> ${svcPod}:${port.port}`).toBe(reachable);
        // Only the declared ports.
        expect(allows(e, svcPod, p, 'TCP', 1)).toBe(false);
        if (!reachable) expect(allows(e, p, svcPod, 'TCP', 1)).toBe(false);
      }
    }
  }
}

/** A generated tenants file with five teams, two namespaces each, internet on alternate teams. */
function fiveTeams(): Tenants {
  const teams = ['red', 'green', 'blue', 'amber', 'violet'].map((name, i) => ({ name, namespaces: [`${name}-web`, `${name}-db`], internet: i % 2 === 0 }));
  const { tenants, errors } = validateTenants({
    apiVersion: 'palisade.dev/v1alpha1',
    kind: 'Tenants',
    metadata: { name: 'five' },
    spec: {
      teams,
      sharedServices: [
        { name: 'prometheus', namespace: 'monitoring', podSelector: { app: 'prometheus' }, reaches: { teams: '*', ports: [{ port: 9100 }, { port: 9090 }] } },
        { name: 'registry', namespace: 'registry', reachableFrom: { teams: ['red', 'blue'], ports: [{ port: 5000 }] } },
        { name: 'kafka', namespace: 'kafka', podSelector: { app: 'kafka' }, reachableFrom: { teams: ['green'], ports: [{ port: 9092, endPort: 9094 }] }, reaches: { teams: ['violet'], ports: [{ port: 8080, protocol: 'TCP' }] } },
      ],
      blocked: ['169.254.169.254/32', '10.0.0.0/16'],
    },
  });
  expect(errors).toEqual([]);
  return tenants!;
}

describe('generate tenants: the example', () => {
  const { tenants } = readTenants(EXAMPLE);

  it('reads the example with its teams, services and blocked addresses', () => {
    expect(tenants.teams.map((t) => t.name)).toEqual(['payments', 'search', 'analytics']);
    expect(tenants.sharedServices.map((s) => s.name)).toEqual(['monitoring', 'ingress', 'vault']);
    expect(tenants.blocked).toEqual(['169.254.169.254/32', 'fd00:ec2::254/128', '10.0.0.0/16']);
  });

  for (const tier of ['namespace', 'admin'] as const) {
    it(`${tier} tier: every object passes validateObject`, () => {
      const files = generate(tenants, tier);
      expect(files.length).toBe(tier === 'admin' ? 3 : 4);
      for (const f of files) for (const o of f.objects) expect(validateObject(o), `${f.file} ${o.metadata.name}`).toEqual([]);
    });

    it(`${tier} tier: the engine proves isolation, DNS, shared services, internet and blocked addresses`, () => {
      expectTenantIsolation(tenants, engineFor(tenants, tier));
    });
  }

  it('namespace tier: one file per team namespace with the default deny first', () => {
    const files = generate(tenants, 'namespace');
    expect(files.map((f) => f.file)).toEqual(['payments.yaml', 'payments-db.yaml', 'search.yaml', 'analytics.yaml']);
    const analytics = files.find((f) => f.file === 'analytics.yaml')!.objects.map((o) => o.metadata.name);
    expect(analytics).toEqual(['tenant-default-deny', 'tenant-allow-team', 'tenant-allow-dns', 'tenant-allow-shared-services']);
    expect(files[0].objects.map((o) => o.metadata.name)).toContain('tenant-allow-internet');
  });

  it('admin tier: namespace owners stay free inside their team but cannot open the team to others', () => {
    const own = np('payments', 'owner-deny-all', { podSelector: {}, policyTypes: ['Ingress'] });
    const open = np('search', 'owner-allow-everyone', { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] });
    const e = engineFor(tenants, 'admin', [own, open]);
    expect(allows(e, 'payments-db/app', 'payments/app', 'TCP', 8080)).toBe(false); // the owner's own NetworkPolicy decides
    expect(allows(e, 'payments/app', 'payments-db/app', 'TCP', 8080)).toBe(true);
    expect(allows(e, 'payments/app', 'search/app', 'TCP', 8080)).toBe(false); // the Admin tier denies first
    expect(allows(e, 'other/app', 'search/app', 'TCP', 8080)).toBe(false);
    expect(allows(e, 'monitoring/monitoring', 'payments/app', 'TCP', 9090)).toBe(true); // Accept outranks the owner's deny
    const v = e.verdict({ from: 'payments/app', to: 'search/app', protocol: 'TCP', port: 8080 });
    expect(v.egress.tier).toBe('Admin');
    expect(v.egress.rules[0]).toMatchObject({ policy: 'tenant-payments', name: 'other-pods', action: 'Deny' });
  });
});

describe('generate tenants: a five-team cluster', () => {
  const tenants = fiveTeams();
  for (const tier of ['namespace', 'admin'] as const) {
    it(`${tier} tier: valid objects, proven by the engine`, () => {
      for (const f of generate(tenants, tier)) for (const o of f.objects) expect(validateObject(o)).toEqual([]);
      expectTenantIsolation(tenants, engineFor(tenants, tier));
    });
  }

  it('admin tier: one ClusterNetworkPolicy per team with distinct priorities', () => {
    const files = generate(tenants, 'admin');
    const priorities = files.map((f) => (f.objects[0] as { spec: { priority: number } }).spec.priority);
    expect(files.map((f) => f.file)).toEqual(['tenant-red.yaml', 'tenant-green.yaml', 'tenant-blue.yaml', 'tenant-amber.yaml', 'tenant-violet.yaml']);
    expect(new Set(priorities).size).toBe(5);
  });
});

describe('tenants file validation', () => {
  const cases: { name: string; yaml: string; expected: RegExp }[] = [
    {
      name: 'a namespace owned by two teams',
      yaml: 'apiVersion: palisade.dev/v1alpha1\nkind: Tenants\nmetadata: {name: t}\nspec:\n  teams:\n  - name: a\n    namespaces: [shop]\n  - name: b\n    namespaces: [shop]\n',
      expected: /tenants\.yaml:9:18: error: Tenants t: spec\.teams\[1\]\.namespaces\[0\]: Invalid value: "shop": namespace already owned by team "a"/,
    },
    {
      name: 'an unknown team in a shared service',
      yaml: 'apiVersion: palisade.dev/v1alpha1\nkind: Tenants\nmetadata: {name: t}\nspec:\n  teams:\n  - {name: a, namespaces: [a]}\n  sharedServices:\n  - name: vault\n    namespace: vault\n    reachableFrom: {teams: [b], ports: [{port: 8200}]}\n',
      expected: /tenants\.yaml:10:29: error: .*spec\.sharedServices\[0\]\.reachableFrom\.teams\[0\]: Unsupported value: "b": supported values: "a", "\*"/,
    },
    {
      name: 'a bad CIDR in blocked',
      yaml: 'apiVersion: palisade.dev/v1alpha1\nkind: Tenants\nspec:\n  teams: [{name: a, namespaces: [a]}]\n  blocked: [10.0.0.0/33]\n',
      expected: /tenants\.yaml:5:13: error: .*spec\.blocked\[0\]: Invalid value: "10\.0\.0\.0\/33"/,
    },
    {
      name: 'a typo in a field name',
      yaml: 'apiVersion: palisade.dev/v1alpha1\nkind: Tenants\nspec:\n  teams:\n  - name: a\n    namespace: [a]\n',
      expected: /tenants\.yaml:6:5: error: .*spec\.teams\[0\]\.namespace: unknown field "namespace"/,
    },
    {
      name: 'a port out of range',
      yaml: 'apiVersion: palisade.dev/v1alpha1\nkind: Tenants\nspec:\n  teams: [{name: a, namespaces: [a]}]\n  sharedServices:\n  - {name: m, namespace: mon, reaches: {teams: "*", ports: [{port: 70000}]}}\n',
      expected: /spec\.sharedServices\[0\]\.reaches\.ports\[0\]\.port: Invalid value: 70000: must be between 1 and 65535/,
    },
  ];
  for (const c of cases) {
    it(`rejects ${c.name} with file:line:column, field and reason; exit 1`, async () => {
      const dir = writeTree({ 'tenants.yaml': c.yaml });
      const r = await cli(['generate', 'tenants', join(dir, 'tenants.yaml')]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(c.expected);
      expect(r.out).toBe('');
    });
  }
});

describe('generate tenants: the command', () => {
  it('writes one file per namespace that readCluster loads without error', async () => {
    const out = join(writeTree({}), 'policies');
    const r = await cli(['generate', 'tenants', EXAMPLE, '-o', out]);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['analytics.yaml', 'payments-db.yaml', 'payments.yaml', 'search.yaml']);
    const read = readCluster([out]);
    expect(read.diagnostics.filter((d) => d.severity !== 'note')).toEqual([]);
    expect(read.cluster.policies.length).toBe(19);
    expect(readFileSync(join(out, 'analytics.yaml'), 'utf8')).not.toContain('tenant-allow-internet');
  });

  it('writes admin-tier ClusterNetworkPolicies to stdout, without YAML aliases', async () => {
    const r = await cli(['generate', 'tenants', EXAMPLE, '--tier', 'admin', '-o', '-']);
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.out).map((d) => d.toJS() as { kind: string; metadata: { name: string } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['ClusterNetworkPolicy/tenant-payments', 'ClusterNetworkPolicy/tenant-search', 'ClusterNetworkPolicy/tenant-analytics']);
    expect(r.out).not.toMatch(/[&*]a\d/);
  });

  it('reads the tenants file from stdin', async () => {
    const r = await cli(['generate', 'tenants', '-'], readFileSync(EXAMPLE, 'utf8'));
    expect(r.code).toBe(0);
    expect(r.out).toContain('name: tenant-default-deny');
  });

  it('has --help with an example', async () => {
    const r = await cli(['generate', 'tenants', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('palisade generate tenants examples/tenants/tenants.yaml');
  });
});

describe("generate tenants --tier admin --api aws: AWS's own ClusterNetworkPolicy (networking.k8s.aws/v1alpha1)", () => {
  it('the example and five teams: isolated both ways, DNS works, the internet when allowed, IMDS and other blocked addresses never', () => {
    for (const tenants of [readTenants(EXAMPLE).tenants, fiveTeams()]) {
      const files = generate(tenants, 'admin', 'aws');
      for (const o of files.flatMap((f) => f.objects)) {
        expect(o.apiVersion).toBe('networking.k8s.aws/v1alpha1');
        expect(validateObject(o).filter((e) => (e.severity ?? 'error') === 'error')).toEqual([]);
      }
      expectTenantIsolation(tenants, engineFor(tenants, 'admin', [], 'aws'));
    }
  });

  it('means exactly what the upstream admin tier means (every pair and probed port of the example)', () => {
    const { tenants } = readTenants(EXAMPLE);
    const up = engineFor(tenants, 'admin');
    const aws = engineFor(tenants, 'admin', [], 'aws');
    expect(aws.matrixJson()).toEqual(up.matrixJson());
  });

  it('examples/eks-multi-team-aws/ is what the generator writes for examples/tenants/eks-multi-team.yaml', async () => {
    const dir = 'examples/eks-multi-team-aws';
    const r = await cli(['generate', 'tenants', 'examples/tenants/eks-multi-team.yaml', '--tier', 'admin', '--api', 'aws', '-o', '-']);
    expect(r.code).toBe(0);
    const written = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f), 'utf8').trimEnd());
    expect(r.out.trimEnd()).toBe(written.join('\n---\n'));
  });

  it('the bundled example with the AWS admin tier: teams isolated, DNS works, IMDS blocked (the engine, through why)', async () => {
    const inputs = ['examples/eks-multi-team/namespaces.yaml', 'examples/eks-multi-team/workloads.yaml', 'examples/eks-multi-team-aws/'];
    const e = compile(readCluster(inputs).cluster);
    expect(e.allows({ from: 'a/client', to: 'd/monitor', protocol: 'TCP', port: 9090 })).toBe(false);
    expect(e.allows({ from: 'e/shop', to: 'b/api', protocol: 'TCP', port: 8080 })).toBe(false);
    expect(e.allows({ from: 'a/client', to: 'c/db', protocol: 'TCP', port: 5432 })).toBe(true);
    for (const from of ['a/client', 'f/worker']) {
      expect(e.allows({ from, to: 'kube-system/coredns', protocol: 'UDP', port: 53 })).toBe(true);
      expect(e.allows({ from, to: 'kube-system/coredns', protocol: 'TCP', port: 53 })).toBe(true);
      expect(e.allows({ from, to: '169.254.169.254', protocol: 'TCP', port: 80 })).toBe(false);
      expect(e.allows({ from, to: '8.8.8.8', protocol: 'TCP', port: 443 })).toBe(true);
    }
    const r = await cli(['why', 'a/client', '169.254.169.254', '--port', '80', ...inputs]);
    expect(r.out).toContain('DENIED — Admin tier, ClusterNetworkPolicy (networking.k8s.aws) tenant-team-a rule 3 (blocked) Deny');
  });

  it('--api aws without --tier admin is a usage mistake, exit 1 with a message', async () => {
    const r = await cli(['generate', 'tenants', EXAMPLE, '--api', 'aws']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--api aws writes admin-tier policies');
  });
});
