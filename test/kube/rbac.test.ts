/**
 * RBAC equals what the code calls (issue 14, point 6). The calls are collected from the sources that talk to the API
 * server — the controller's informers, writer and Lease (src/controller/live.ts, lease.ts) and the agent's watches
 * (src/agent/kube-source.ts) — and compared, verb by verb and resource by resource, with the rules of deploy/rbac.yaml
 * and of the Helm chart as rendered: nothing granted that no code calls, nothing called that is not granted.
 *
 * How calls are read: a REST path an informer or watch follows (`/api/v1/pods`, `/apis/G/V/plural`) is `list` and
 * `watch` on it; a client call `read…`/`list…`/`create…`/`replace…`/`patch…`/`delete…` of a typed API is `get`/`list`/
 * `create`/`update`/`patch`/`delete` on its kind; the custom-object writer's plural helper names its resources.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { helmTemplate, type RenderedObject } from '../support/helm.js';
import { deployObjects } from './manifests.js';

const ROOT = join(import.meta.dirname, '../..');

/** Typed client kinds → group and resource (Kubernetes API reference). */
const KINDS: Readonly<Record<string, readonly [string, string]>> = {
  Namespace: ['', 'namespaces'],
  Pod: ['', 'pods'],
  Service: ['', 'services'],
  Node: ['', 'nodes'],
  Event: ['', 'events'],
  NetworkPolicy: ['networking.k8s.io', 'networkpolicies'],
  Lease: ['coordination.k8s.io', 'leases'],
};
const VERBS: Readonly<Record<string, string>> = { read: 'get', list: 'list', create: 'create', replace: 'update', patch: 'patch', delete: 'delete' };

/** `group/resource:verb` of every call in these files. */
function calls(files: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const constants = new Map([...text.matchAll(/const (\w+) = '([^']+)';/g)].map((m) => [m[1], m[2]]));
    const expand = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, k: string) => constants.get(k) ?? `?${k}`);
    // Paths followed by informers and watches (listed and watched).
    for (const m of text.matchAll(/['`](\/apis?\/[^'`]+)['`]/g)) {
      const parts = expand(m[1]).split('/').filter(Boolean);
      const [group, resource] = parts[0] === 'api' ? ['', parts[2]] : [parts[1], parts[3]];
      if (!resource) continue;
      out.add(`${group}/${resource}:list`);
      out.add(`${group}/${resource}:watch`);
    }
    // Typed client calls.
    for (const m of text.matchAll(/\b(?:api|core|net|custom|coordination)\.(read|list|create|replace|patch|delete)(?:Namespaced|Cluster)?([A-Z][A-Za-z]*?)(?:ForAllNamespaces)?\(/g)) {
      const verb = VERBS[m[1]];
      if (m[2] === 'CustomObject') {
        if (verb === 'list') continue; // a list of a path above
        const helper = /const plural = [^\n]*/.exec(text)?.[0] ?? '';
        for (const [, plural] of helper.matchAll(/'([a-z]+)'/g)) out.add(`networking.k8s.aws/${plural}:${verb}`);
        continue;
      }
      const kind = KINDS[m[2]];
      expect(kind, `${file}: ${m[0]} — add the kind to KINDS`).toBeDefined();
      out.add(`${kind[0]}/${kind[1]}:${verb}`);
    }
  }
  return out;
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** `group/resource:verb` of every grant of these roles. */
function grants(roles: readonly RenderedObject[]): Set<string> {
  const out = new Set<string>();
  for (const role of roles) {
    for (const r of (role as unknown as { rules: Rule[] }).rules) {
      for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs) out.add(`${g}/${res}:${v}`);
    }
  }
  return out;
}

const CONTROLLER = ['src/controller/live.ts', 'src/controller/lease.ts'];
const AGENT = ['src/agent/kube-source.ts'];

let chart: RenderedObject[];
beforeAll(async () => {
  chart = await helmTemplate();
}, 120_000);
const plain = () => deployObjects().filter((m) => m.file === 'rbac.yaml').map((m) => m.object as unknown as RenderedObject);

const roles = (objects: readonly RenderedObject[], names: readonly string[]) => objects.filter((o) => (o.kind === 'ClusterRole' || o.kind === 'Role') && names.includes(o.metadata.name));

describe.each([
  ['deploy/rbac.yaml', plain],
  ['the Helm chart (default values)', () => chart],
])('%s grants exactly what the code calls', (_where, objects) => {
  it('controller: its ClusterRole and Lease Role', () => {
    const found = calls(CONTROLLER);
    // Sanity of the reading itself: the calls known to be there are found.
    expect(found).toContain('networking.k8s.aws/policyendpoints:create');
    expect(found).toContain('coordination.k8s.io/leases:update');
    expect([...grants(roles(objects(), ['palisade-controller', 'palisade-controller-leader-election']))].sort()).toEqual([...found].sort());
  });

  it('controller: get and update of Leases only on its own Lease', () => {
    const lease = roles(objects(), ['palisade-controller-leader-election'])[0] as unknown as { rules: Rule[] };
    for (const r of lease.rules.filter((x) => x.verbs.some((v) => v !== 'create'))) expect(r.resourceNames).toEqual(['palisade-controller']);
  });

  it('agent: its ClusterRole', () => {
    const found = calls(AGENT);
    expect(found).toContain('networking.k8s.aws/clusterpolicyendpoints:watch');
    expect([...grants(roles(objects(), ['palisade-agent']))].sort()).toEqual([...found].sort());
  });
});
