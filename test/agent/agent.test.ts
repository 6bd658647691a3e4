/**
 * The agent on a real data plane (netns lab, agents started here): strict vs standard mode on a new pod, flow logs for
 * allowed and denied connections, metrics and health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runAgent, type Agent } from '../../src/agent/agent.js';
import type { ClusterPolicyEndpoint } from '../../src/api/policyendpoint.js';
import type { FlowRecord } from '../../src/agent/flowlog.js';
import { StaticPolicyEndpointSource } from '../../src/agent/source.js';
import type { EnforcingMode } from '../../src/nft/compile.js';
import { labLeftovers, labUp, type Lab, type LabPod } from '../../src/lab/lab.js';
import { podByName, policyEndpoint, skipNetns, sleep } from '../lab/support.js';

const PREFIX = 'pla-';
const ports = [{ port: 80, protocol: 'TCP' as const }, { port: 53, protocol: 'UDP' as const }];

describe.skipIf(skipNetns('agent'))('node agent on nftables, real packets', () => {
  let lab: Lab;
  let agents: Agent[] = [];
  const source = new StaticPolicyEndpointSource();
  const records: FlowRecord[] = [];

  const startAgents = async (mode: EnforcingMode, metricsPort?: number) => {
    for (const a of agents) await a.stop();
    agents = [];
    for (const n of lab.nodes) {
      agents.push(await runAgent({
        node: n.name, input: source, enforcingMode: mode, netns: n.netns, podInterfaces: `${PREFIX}v*`,
        // The tests sync explicitly; a short poll would let the agent program a new pod before the test has looked at
        // the unprogrammed state (it did, on a loaded CI machine).
        pollIntervalMs: 600_000,
        flowLogs: { accept: true, sink: (r) => records.push(r) }, metricsPort, logger: pino({ level: 'silent' }),
      }));
    }
  };
  const syncAll = async () => { for (const a of agents) await a.sync(); };
  const reach = async (from: LabPod, to: LabPod, port = 80) =>
    (await (await lab.helper(from.id)).probe([{ host: to.ip, port, protocol: 'TCP' }], 800))[0];

  beforeAll(async () => {
    lab = await labUp(
      { nodes: ['n1', 'n2'], pods: [{ name: 'a', node: 'n1', ports }, { name: 'b', node: 'n1', ports }, { name: 'c', node: 'n2', ports }] },
      { prefix: PREFIX, agents: false },
    );
  });

  afterAll(async () => {
    for (const a of agents) await a.stop({ removeTable: true }).catch(() => undefined);
    await lab?.down();
    expect(await labLeftovers(PREFIX)).toEqual([]);
  });

  it('strict mode: a new pod is denied before and after it is programmed, until a policy selects it', async () => {
    const [a, c] = [podByName(lab.pods, 'a'), podByName(lab.pods, 'c')];
    const open = (pods: LabPod[]) => policyEndpoint('open', pods, { isolation: ['Ingress'], ingress: [{ cidr: '10.244.0.0/16' }] });
    source.set([open([a, c])]);
    await startAgents('strict');
    expect(await reach(a, c)).toBe(true);
    expect(await reach(a, podByName(lab.pods, 'b'))).toBe(false); // selected by nothing: strict deny
    const s = await lab.addPod({ name: 's', node: 'n1', ports });
    // Not programmed yet: the unknown-interface rule denies.
    expect(agents[0].state()!.sets.get('ingress_dispatch')!.elements.some((e) => e.key === `"${s.hostIf}"`)).toBe(false);
    expect(await reach(a, s)).toBe(false);
    expect(await reach(s, a)).toBe(false);
    await syncAll(); // programmed, still selected by nothing
    expect(agents[0].state()!.sets.get('ingress_dispatch')!.elements.find((e) => e.key === `"${s.hostIf}"`)?.value).toBe('goto deny_ingress');
    expect(await reach(a, s)).toBe(false);
    source.set([open([a, c, s])]);
    await syncAll();
    expect(await reach(a, s)).toBe(true);
    expect(await reach(s, c)).toBe(true);
  });

  it('standard mode: a new pod is open at once, before the agent has seen it', async () => {
    const a = podByName(lab.pods, 'a');
    await startAgents('standard', 0);
    const t = await lab.addPod({ name: 't', node: 'n1', ports });
    expect(await reach(a, t)).toBe(true);
    expect(await reach(t, podByName(lab.pods, 'b'))).toBe(true);
    await syncAll();
    expect(await reach(a, t)).toBe(true);
  });

  it('writes AWS-format flow logs naming the policy, for denied and accepted connections', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => podByName(lab.pods, n));
    source.set([policyEndpoint('b-only-from-a', [b], { isolation: ['Ingress'], ingress: [{ cidr: `${a.ip}/32`, ports: [{ port: 80 }] }] })]);
    await syncAll();
    records.length = 0;
    expect(await reach(a, b)).toBe(true);
    expect(await reach(c, b)).toBe(false);
    for (let i = 0; i < 30 && records.filter((r) => r.msg.includes(`Dest IP: ${b.ip}`)).length < 2; i++) await sleep(100);
    const deny = records.find((r) => r.verdict === 'DENY' && r.msg.includes(`Src IP: ${c.ip} `));
    const accept = records.find((r) => r.verdict === 'ACCEPT' && r.msg.includes(`Src IP: ${a.ip} `));
    expect(deny).toBeDefined();
    expect(accept).toBeDefined();
    const line = JSON.parse(JSON.stringify(deny)) as Record<string, unknown>;
    // AWS's agent writes level, ts, caller, then msg (zap's JSON encoder order).
    expect(Object.keys(line).slice(0, 4)).toEqual(['level', 'ts', 'caller', 'msg']);
    expect(deny!.msg).toMatch(
      new RegExp(`^Flow Info: Src IP: ${c.ip.replace(/\./g, '\\.')} Src Port: \\d+ Dest IP: ${b.ip.replace(/\./g, '\\.')} Dest Port: 80 Proto TCP Verdict DENY Direction ingress, Tier NETWORK_POLICY$`),
    );
    expect(deny!.policies).toEqual(['default/b-only-from-a']);
    expect(accept!.policies).toEqual(['default/b-only-from-a']);
    expect(deny!.node).toBe('n1');
  });

  it('admin tiers: an Admin Deny overrides a NetworkPolicy allow, Pass hands on to it, flow logs say Tier ADMIN', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => podByName(lab.pods, n));
    const allowAll = policyEndpoint('b-open', [b], { isolation: ['Ingress'], ingress: [{ cidr: '10.244.0.0/16' }] });
    const admin: ClusterPolicyEndpoint = {
      apiVersion: 'networking.k8s.aws/v1alpha1',
      kind: 'ClusterPolicyEndpoint',
      metadata: { name: 'guard-b-q8w2e' },
      spec: {
        policyRef: { name: 'guard-b' },
        tier: 'Admin',
        priority: 10,
        subject: { namespaces: {} },
        podSelectorEndpoints: [{ podIP: b.ip, hostIP: b.hostIP, name: b.name, namespace: b.namespace }],
        ingress: [{ cidr: a.ip, action: 'Pass' }, { cidr: c.ip, action: 'Deny', ports: [{ protocol: 'TCP', port: 80 }] }],
      },
    };
    source.set([allowAll], [admin]);
    await syncAll();
    records.length = 0;
    expect(await reach(a, b)).toBe(true); // Pass → the NetworkPolicy allows
    expect(await reach(c, b)).toBe(false); // Admin Deny, though the NetworkPolicy allows
    for (let i = 0; i < 30 && !records.some((r) => r.verdict === 'DENY' && r.msg.includes(`Src IP: ${c.ip} `)); i++) await sleep(100);
    const deny = records.find((r) => r.verdict === 'DENY' && r.msg.includes(`Src IP: ${c.ip} `));
    expect(deny?.msg).toMatch(/Verdict DENY Direction ingress, Tier ADMIN$/);
    expect(deny?.policies).toEqual(['guard-b']);
    const accept = records.find((r) => r.verdict === 'ACCEPT' && r.msg.includes(`Src IP: ${a.ip} `) && r.direction === 'ingress');
    expect(accept?.tier).toBe('NETWORK_POLICY');
    source.set([], []);
    await syncAll();
    expect(await reach(c, b)).toBe(true);
  });

  it('serves /metrics (verdict counters from nft, sync histogram, element gauges) and /healthz', async () => {
    const port = agents[0].metricsPort!;
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    // Label order is prom-client's business: match each label anywhere in the braces.
    const sample = (name: string, labels: Record<string, string>) =>
      new RegExp(`^${name}\\{${Object.entries(labels).map(([k, v]) => `(?=[^}]*${k}="${v}")`).join('')}[^}]*\\} (\\S+)$`, 'm');
    const value = (name: string, labels: Record<string, string>) => Number(sample(name, labels).exec(text)?.[1] ?? NaN);
    expect(value('palisade_agent_new_connection_verdicts_total', { verdict: 'drop', direction: 'ingress', node: 'n1' })).toBeGreaterThan(0);
    expect(value('palisade_agent_new_connection_verdicts_total', { verdict: 'accept', direction: 'ingress', node: 'n1' })).toBeGreaterThan(0);
    expect(value('palisade_agent_sync_duration_seconds_count', { kind: 'full', node: 'n1' })).toBe(1);
    expect(value('palisade_agent_nft_elements', { node: 'n1' })).toBeGreaterThan(0);
    expect(value('palisade_agent_flow_logs_total', { verdict: 'DENY', direction: 'ingress', node: 'n1' })).toBeGreaterThan(0);
  });
});
