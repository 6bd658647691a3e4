/**
 * Flow logs explained by the engine, on real packets: the lab of a cluster (`labUpCluster`, which hands the agents the
 * engine's explainer) logs the rule that admitted a connection, the isolating policy of a denied one, an Admin rule's
 * name; and when the kernel enforces other policies than the engine was compiled from, `mismatch: true` and a warning.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FlowRecord } from '../../src/agent/flowlog.js';
import { resolveClusterPolicyEndpoints } from '../../src/controller/resolve.js';
import { compile, type Engine } from '../../src/engine/engine.js';
import { labLeftovers, type Lab } from '../../src/lab/lab.js';
import { labUpCluster, policyEndpointsOf } from '../../src/lab/verify.js';
import { clusterFromYaml, namespace, pod } from '../support/cluster.js';
import { podByName, skipNetns, sleep } from './support.js';

const PREFIX = 'plf-';

/** b admits c on TCP `cPorts` (rule 0) and a on TCP 80 (rule 1); c may not reach the metadata host (a named Admin rule). */
const manifests = (cPorts: string) =>
  namespace('default') +
  pod('default', 'a', '10.244.1.2', { app: 'a' }, ['80/TCP']) +
  pod('default', 'b', '10.244.2.2', { app: 'b' }, ['80/TCP', '81/TCP']) +
  pod('default', 'c', '10.244.1.3', { app: 'c' }, ['80/TCP']) +
  `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-ingress, namespace: default}
spec:
  podSelector: {matchLabels: {app: b}}
  ingress:
  - {from: [{podSelector: {matchLabels: {app: c}}}], ports: [${cPorts}]}
  - {from: [{podSelector: {matchLabels: {app: a}}}], ports: [{port: 80}]}
---
apiVersion: policy.networking.k8s.io/v1alpha2
kind: ClusterNetworkPolicy
metadata: {name: no-metadata}
spec:
  tier: Admin
  priority: 0
  subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: c}}}}
  egress: [{name: block-imds, action: Deny, to: [{networks: [169.254.169.254/32]}]}]
---
`;

describe.skipIf(skipNetns('flowlog'))('flow logs name the rule and flag disagreement, real packets', () => {
  let lab: Lab;
  let engine: Engine;
  const warnings: Record<string, unknown>[] = [];

  const reach = async (from: string, host: string, port: number) =>
    (await (await lab.helper(from)).probe([{ host, port, protocol: 'TCP' }], 800))[0];
  const record = async (pred: (r: FlowRecord) => boolean): Promise<FlowRecord | undefined> => {
    for (let i = 0; i < 50; i++) {
      const r = lab.flowLogs.find(pred);
      if (r) return r;
      await sleep(100);
    }
    return undefined;
  };
  const about = (src: string, dst: string, port: number, verdict: string, direction: string) => (r: FlowRecord) =>
    r.msg.includes(`Src IP: ${src} `) && r.msg.includes(`Dest IP: ${dst} Dest Port: ${port} `) && r.verdict === verdict && r.direction === direction;

  beforeAll(async () => {
    engine = compile(clusterFromYaml(manifests('{port: 81}')));
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(JSON.parse(line) as Record<string, unknown>); } });
    lab = await labUpCluster(engine, { prefix: PREFIX, flowLogs: { accept: true }, logger });
    await lab.setPolicies(lab.policies(), resolveClusterPolicyEndpoints(engine));
  });

  afterAll(async () => {
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('an accepted connection names the policy and its second rule (index 1)', async () => {
    const [a, b] = [podByName(lab.pods, 'a'), podByName(lab.pods, 'b')];
    expect(await reach(a.id, b.ip, 80)).toBe(true);
    const r = await record(about(a.ip, b.ip, 80, 'ACCEPT', 'ingress'));
    console.log(JSON.stringify(r));
    expect(r).toMatchObject({ policies: ['default/b-ingress'], tier: 'NETWORK_POLICY', policy: 'default/b-ingress', rule: { index: 1 }, engineVerdict: 'ACCEPT', engineTier: 'NETWORK_POLICY' });
    expect(r).not.toHaveProperty('mismatch');
    expect(r!.msg).toMatch(/^Flow Info: Src IP: \S+ Src Port: \d+ Dest IP: \S+ Dest Port: 80 Proto TCP Verdict ACCEPT Direction ingress, Tier NETWORK_POLICY$/);
  });

  it('a denied connection names the isolating policy and no rule', async () => {
    const [b, c] = [podByName(lab.pods, 'b'), podByName(lab.pods, 'c')];
    expect(await reach(c.id, b.ip, 80)).toBe(false);
    const r = await record(about(c.ip, b.ip, 80, 'DENY', 'ingress'));
    console.log(JSON.stringify(r));
    expect(r).toMatchObject({ policy: 'default/b-ingress', engineVerdict: 'DENY', engineTier: 'NETWORK_POLICY' });
    expect(r).not.toHaveProperty('rule');
    expect(r).not.toHaveProperty('mismatch');
  });

  it('an Admin denial names the rule by index and name', async () => {
    const c = podByName(lab.pods, 'c');
    expect(await reach(c.id, lab.metadata.ip, 80)).toBe(false);
    const r = await record(about(c.ip, lab.metadata.ip, 80, 'DENY', 'egress'));
    expect(r).toMatchObject({ tier: 'ADMIN', policy: 'no-metadata', rule: { index: 0, name: 'block-imds' }, engineVerdict: 'DENY', engineTier: 'ADMIN' });
    expect(r).not.toHaveProperty('mismatch');
  });

  it('enforcing other policies than the engine explains: mismatch, a warning and the metric', async () => {
    const [b, c] = [podByName(lab.pods, 'b'), podByName(lab.pods, 'c')];
    expect(warnings.filter((w) => w.msg === 'flow verdict differs from the engine')).toEqual([]);
    // The kernel now lets c reach b on 80 too; the explainer still has the engine of the original manifests.
    await lab.setPolicies(policyEndpointsOf(compile(clusterFromYaml(manifests('{port: 80}, {port: 81}')))));
    lab.flowLogs.length = 0;
    expect(await reach(c.id, b.ip, 80)).toBe(true);
    const r = await record(about(c.ip, b.ip, 80, 'ACCEPT', 'ingress'));
    console.log(JSON.stringify(r));
    expect(r).toMatchObject({ verdict: 'ACCEPT', engineVerdict: 'DENY', policy: 'default/b-ingress', mismatch: true });
    expect(r).not.toHaveProperty('rule');
    const warning = warnings.find((w) => w.msg === 'flow verdict differs from the engine');
    expect(warning).toMatchObject({ level: 40, verdict: 'ACCEPT', engineVerdict: 'DENY', policy: 'default/b-ingress', flow: r!.msg });
    expect(String(warning!.engine)).toMatch(/isolated by NetworkPolicy default\/b-ingress; no rule allows it/);
    const counted = (await lab.agents.get(b.node)!.metrics.flowMismatches.get()).values.find((v) => v.labels.direction === 'ingress')?.value;
    expect(counted).toBe(1);
  });
});
