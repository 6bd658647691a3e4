/**
 * A policy the controller splits into several PolicyEndpoints (at most 200 entries per list, each list split on its
 * own) is one whole to the agent: a pod selected by one object gets the rules written in another.
 */
import { describe, expect, it } from 'vitest';
import type { EndpointInfo, PodEndpoint, PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { mergePolicyEndpoints } from '../../src/api/policyendpoint.js';
import { resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { compileNode, type LocalPod } from '../../src/nft/compile.js';
import { renderFull } from '../../src/nft/script.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';

function pe(name: string, pods: PodEndpoint[], ingress: EndpointInfo[]): PolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name, namespace: 'default' },
    spec: { policyRef: { name: 'web', namespace: 'default' }, podIsolation: ['Ingress'], podSelectorEndpoints: pods, ingress },
  };
}

const local: LocalPod[] = [{ ips: ['10.0.1.1'], ifname: 'pl-v1' }];
const podEp: PodEndpoint = { podIP: '10.0.1.1', hostIP: '10.99.0.1', name: 'web-1', namespace: 'default' };
const rules: EndpointInfo[] = [{ cidr: '10.0.2.0/24', ports: [{ protocol: 'TCP', port: 80 }] }];

describe('a policy in several PolicyEndpoints', () => {
  it('merges by policyRef: the pods of one object get the rules of the other', () => {
    const whole = [pe('web-a', [podEp], rules)];
    const split = [pe('web-a', [podEp], []), pe('web-b', [], rules)];
    expect(mergePolicyEndpoints(split)).toEqual(whole);
    const compiled = (pes: PolicyEndpoint[]) => renderFull(compileNode({ mode: 'standard', nodeAddresses: [], pods: local, policyEndpoints: pes }));
    expect(compiled(split)).toBe(compiled(whole));
    expect(compiled(split)).toContain('10.0.2.0-10.0.2.255');
  });

  it('the controller chunks a policy over 250 pods, and a pod of the second chunk still gets the rule', () => {
    let yaml = namespace('default') + pod('default', 'client', '10.0.9.9', { app: 'client' });
    for (let i = 0; i < 250; i++) yaml += pod('default', `web-${i}`, `10.0.${1 + Math.floor(i / 200)}.${(i % 200) + 1}`, { app: 'web' });
    yaml += `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: client}}}], ports: [{port: 80}]}]
`;
    const pes = resolvePolicyEndpoints(compile(clusterFromYaml(yaml)));
    expect(pes.length).toBeGreaterThan(1);
    // Some web pods are listed in an object that carries no ingress entry of its own.
    const holder = pes.find((p) => (p.spec.podSelectorEndpoints ?? []).length > 0 && (p.spec.ingress ?? []).length === 0)!;
    expect(holder).toBeDefined();
    const listed = holder.spec.podSelectorEndpoints![0];
    const lastPod: LocalPod[] = [{ ips: [listed.podIP], ifname: 'pl-v9', name: listed.name, namespace: listed.namespace }];
    const script = renderFull(compileNode({ mode: 'standard', nodeAddresses: [], pods: lastPod, policyEndpoints: pes }));
    expect(script).toContain('10.0.9.9');
  });
});
