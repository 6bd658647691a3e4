/**
 * The live source validates at the boundary too (issue 14 point 2, issue 15 point 2): objects listed from the API
 * server go through the same validator as files; an invalid one makes `list()` refuse (the agent keeps its rules) and
 * names the object and field; an entry the agent cannot enforce is left out and named. The API server is a stub that
 * answers the two lists and holds the watches open.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubePolicyEndpointSource } from '../../src/agent/kube-source.js';

const PE = (name: string, egress: unknown[]) => ({
  metadata: { name, namespace: 'default', resourceVersion: '1' },
  spec: { policyRef: { name, namespace: 'default' }, podIsolation: ['Egress'], podSelectorEndpoints: [{ podIP: '10.0.1.1', hostIP: '10.99.0.1', name: 'a', namespace: 'default' }], egress },
});

async function stub(pes: unknown[]) {
  const watches: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      watches.push(res);
      return;
    }
    const items = url.pathname.endsWith('/policyendpoints') ? pes : [];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({ clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }], users: [{ name: 'u', token: 't' }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
  return { kc, close: () => new Promise<void>((r) => { for (const w of watches) w.destroy(); server.closeAllConnections(); server.close(() => r()); }) };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('KubePolicyEndpointSource validates what the API server lists', () => {
  it('leaves out and names a domainName entry; keeps the rest', async () => {
    const api = await stub([PE('web', [{ domainName: 'api.example.com' }, { cidr: '10.0.3.0/24', ports: [{ port: 443 }] }])]);
    cleanups.push(api.close);
    const source = new KubePolicyEndpointSource({ kubeConfig: api.kc });
    await source.start();
    cleanups.push(() => source.stop());
    const [pe] = await source.list();
    expect(pe.spec.egress).toEqual([{ cidr: '10.0.3.0/24', ports: [{ port: 443 }] }]);
    expect(source.unenforceable()).toEqual([{ object: 'PolicyEndpoint default/web', path: 'spec.egress[0]', reason: 'domainName "api.example.com": the agent does not resolve DNS names' }]);
  });

  it('refuses to list while an object is invalid, naming it and the field', async () => {
    const api = await stub([PE('web', [{ cidr: '10.0.3.0/24', ports: [{ port: '443 } ; flush ruleset' }] }]), PE('ok', [])]);
    cleanups.push(api.close);
    const logs: string[] = [];
    const source = new KubePolicyEndpointSource({ kubeConfig: api.kc, log: (_l, m) => logs.push(m) });
    await source.start();
    cleanups.push(() => source.stop());
    await expect(source.list()).rejects.toThrow(/the API server: error: PolicyEndpoint default\/web: spec\.egress\[0\]\.ports\[0\]\.port: must be an integer \(got a string\)/);
    expect(logs.join('\n')).toMatch(/refused the API server: error: PolicyEndpoint default\/web/);
  });
});
