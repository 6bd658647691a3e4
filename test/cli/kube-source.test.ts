/**
 * `--kubeconfig` as the input of the analysis commands, against a real kube-apiserver 1.20: the matrix of the live
 * cluster equals the matrix of the same objects loaded from a manifest file. 1.20 serves CronJob at batch/v1beta1 only
 * and has no admin-tier CRDs; both must be tolerated.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';

import { readKubeCluster } from '../../src/cli/kube-source.js';
import { inputOptions, readInput } from '../../src/cli/input.js';
import { run } from '../../src/cli/main.js';
import { action, type Io, type Register } from '../../src/cli/program.js';
import { compile } from '../../src/engine/engine.js';
import { kubeApiServer, useKubeApiServer } from '../kube/apiserver.js';

function capture(): { io: Io; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' }, out, err };
}

type Obj = Record<string, unknown>;
const namespace = (name: string, labels: Record<string, string>): Obj => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...labels, 'kubernetes.io/metadata.name': name } } });
const pod = (ns: string, name: string, labels: Record<string, string>, ip: string): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, labels },
  spec: { containers: [{ name: 'c', image: 'x', ports: [{ name: 'http', containerPort: 8080 }] }] },
  status: { phase: 'Running', hostIP: '192.0.2.1', podIP: ip, podIPs: [{ ip }] },
});
const deployment: Obj = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'worker', namespace: 'shop' },
  spec: { selector: { matchLabels: { app: 'worker' } }, template: { metadata: { labels: { app: 'worker' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } },
};
const policy: Obj = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'web', namespace: 'shop' },
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }, { namespaceSelector: { matchLabels: { team: 'ops' } } }], ports: [{ port: 'http' }] }],
  },
};
// The namespaces the API server makes by itself, as a manifest would declare them.
const builtIn = ['default', 'kube-system', 'kube-public', 'kube-node-lease'].map((n) => namespace(n, {}));
const objects: Obj[] = [
  ...builtIn,
  namespace('shop', { team: 'shop' }),
  namespace('ops', { team: 'ops' }),
  pod('shop', 'web-1', { app: 'web' }, '10.244.0.11'),
  pod('shop', 'api-1', { app: 'api' }, '10.244.0.21'),
  pod('ops', 'mon-1', { app: 'mon' }, '10.244.1.5'),
  deployment,
  policy,
];

/** `matrix` as the real command reads input, with `[paths...]`: the matrix JSON of what it read. */
const registerProbe: Register = (program, io, setExit) => {
  inputOptions(program.command('probe').argument('[paths...]')).action(
    action(io, setExit, (paths: string[], opts: { defaultNamespace: string; quiet?: boolean }) => {
      io.out(JSON.stringify(compile(readInput(paths, io, opts).cluster).matrixJson()));
    }),
  );
};

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('--kubeconfig against kube-apiserver 1.20'), () => {
  const server = useKubeApiServer();
  let manifest = '';

  it('creates namespaces, pods with their IPs, a Deployment and a policy', async () => {
    const kc = server().kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    for (const o of objects) {
      const meta = o.metadata as { name: string; namespace: string };
      switch (o.kind) {
        case 'Namespace':
          if (!builtIn.includes(o)) await core.createNamespace({ body: o });
          break;
        case 'Pod': {
          const { status, ...body } = o;
          await core.createNamespacedPod({ namespace: meta.namespace, body: body as V1Pod });
          const created = await core.readNamespacedPod({ name: meta.name, namespace: meta.namespace });
          created.status = { ...created.status, ...(status as V1Pod['status']) };
          await core.replaceNamespacedPodStatus({ name: meta.name, namespace: meta.namespace, body: created });
          break;
        }
        case 'Deployment':
          await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace: meta.namespace, body: o });
          break;
        case 'NetworkPolicy':
          // Raw JSON: the typed client would want `_from` for `from`.
          await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: 'networking.k8s.io', version: 'v1', namespace: meta.namespace, plural: 'networkpolicies', body: o });
          break;
      }
    }
    manifest = join(mkdtempSync(join(tmpdir(), 'palisade-kube-source-')), 'objects.json');
    writeFileSync(manifest, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
    const kubeconfig = join(server().dir, 'kubeconfig');
    const read = await readKubeCluster({ kubeconfig });
    expect(read.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(read.cluster.endpoints.map((e) => e.id).sort()).toEqual(['ops/mon-1', 'shop/api-1', 'shop/web-1', 'shop/worker']);
    // Each object is named by where it came from, as a file position would be.
    const web = read.documents.find((d) => d.kind === 'Pod' && d.name === 'web-1');
    expect(web?.pos.file).toBe(`kube:${server().kubeConfig.getCurrentContext()}/Pod/shop/web-1`);
    expect((read.cluster.policies[0].policy.spec.ingress ?? [])[0].from).toHaveLength(2);
  });

  it('the live cluster gives the matrix its manifests give (probe command with [paths...])', async () => {
    const live = capture();
    expect(await run(['probe', '--kubeconfig', join(server().dir, 'kubeconfig'), '-q'], live.io, [registerProbe])).toBe(0);
    const files = capture();
    expect(await run(['probe', manifest, '-q'], files.io, [registerProbe])).toBe(0);
    const m = JSON.parse(live.out.join('\n'));
    expect(m).toEqual(JSON.parse(files.out.join('\n')));
    expect(m.connections.length).toBeGreaterThan(0);
  });

  it('an unknown context, and PATH with --kubeconfig, are input errors (exit 1), not stack traces', async () => {
    const a = capture();
    expect(await run(['probe', '--kubeconfig', join(server().dir, 'kubeconfig'), '--context', 'nope'], a.io, [registerProbe])).toBe(1);
    expect(a.err.join('\n')).toContain('no context "nope"');
    const b = capture();
    expect(await run(['probe', manifest, '--kubeconfig', join(server().dir, 'kubeconfig')], b.io, [registerProbe])).toBe(1);
    expect(b.err.join('\n')).toContain('not both');
  });

  it('palisade matrix --kubeconfig equals palisade matrix FILE', async () => {
    const live = capture();
    expect(await run(['matrix', '--kubeconfig', join(server().dir, 'kubeconfig'), '-o', 'json', '-q'], live.io)).toBe(0);
    const files = capture();
    expect(await run(['matrix', manifest, '-o', 'json', '-q'], files.io)).toBe(0);
    expect(JSON.parse(live.out.join('\n'))).toEqual(JSON.parse(files.out.join('\n')));
  });

  it('palisade diff --kubeconfig NEW: what applying NEW to the live cluster would change', async () => {
    // NEW holds only a changed policy: the live pods stay, the policy of the same name is replaced.
    const dir = mkdtempSync(join(tmpdir(), 'palisade-kube-diff-'));
    const changed = { ...policy, spec: { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'api' } } }], ports: [{ port: 'http' }] }] } };
    writeFileSync(join(dir, 'web.json'), JSON.stringify(changed));
    const r = capture();
    expect(await run(['diff', '--kubeconfig', join(server().dir, 'kubeconfig'), join(dir, 'web.json'), '-o', 'json', '-q', '--exit-code'], r.io)).toBe(1);
    const d = JSON.parse(r.out.join('\n')) as { opened: { from: string; to: string }[]; closed: { from: string; to: string }[] };
    expect(d.opened).toEqual([]);
    expect(d.closed.map((c) => `${c.from}>${c.to}`)).toEqual(['ops/mon-1>shop/web-1']);
    const usage = capture();
    expect(await run(['diff', '--kubeconfig', join(server().dir, 'kubeconfig'), manifest, manifest], usage.io)).toBe(1);
    expect(usage.err.join('\n')).toContain('the live cluster is OLD');
  });
});
