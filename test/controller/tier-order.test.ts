/** ClusterPolicyEndpoint entries keep rule order, because the first matching entry decides. */
import { describe, expect, it } from 'vitest';
import { resolveClusterPolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';

describe('ClusterPolicyEndpoint entry order', () => {
  it('does not merge a later Accept in front of an earlier overlapping Deny', () => {
    const cluster = clusterFromYaml(
      namespace('a', { team: 'a' }) +
        pod('a', 'web', '10.0.0.1', { app: 'web' }) +
        `apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: order}
spec:
  tier: Admin
  priority: 1
  subject: {namespaces: {matchLabels: {team: a}}}
  egress:
  - {action: Accept, to: [{networks: [192.168.1.0/24]}], protocols: [{tcp: {destinationPort: {number: 80}}}]}
  - {action: Deny, to: [{networks: [192.168.0.0/16]}]}
  - {action: Accept, to: [{networks: [192.168.1.0/24]}], protocols: [{tcp: {destinationPort: {number: 443}}}]}
`,
    );
    const engine = compile(cluster);
    // The engine: 443 to 192.168.1.5 is denied by rule 1 before rule 2 could accept it.
    expect(engine.allows({ from: 'a/web', to: '192.168.1.5', protocol: 'TCP', port: 443 })).toBe(false);
    expect(engine.allows({ from: 'a/web', to: '192.168.1.5', protocol: 'TCP', port: 80 })).toBe(true);
    const [cpe] = resolveClusterPolicyEndpoints(engine);
    expect(cpe.spec.egress?.map((e) => `${e.action} ${e.cidr} ${(e.ports ?? []).map((p) => p.port).join(',') || 'all'}`)).toEqual([
      'Accept 192.168.1.0/24 80',
      'Deny 192.168.0.0/16 all',
      'Accept 192.168.1.0/24 443',
    ]);
  });
});
