/** A dual-stack peer pod is written with both of its addresses, so the agent admits it over either family. */
import { describe, expect, it } from 'vitest';
import { resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';

describe('dual-stack peers', () => {
  it('lists every pod IP of a selected peer', () => {
    const dual = `apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {containers: [{name: c}]}
status: {phase: Running, podIP: 10.0.0.2, podIPs: [{ip: 10.0.0.2}, {ip: "fd00:10::2"}]}
---
`;
    const cluster = clusterFromYaml(
      namespace('shop') +
        pod('shop', 'web', '10.0.0.1', { app: 'web' }) +
        dual +
        `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}]}]
`,
    );
    const [pe] = resolvePolicyEndpoints(compile(cluster));
    expect((pe.spec.ingress ?? []).map((e) => e.cidr).sort()).toEqual(['10.0.0.2', 'fd00:10::2']);
  });
});
