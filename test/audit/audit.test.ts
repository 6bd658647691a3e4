/**
 * `audit endpoints` and `audit flowlogs` on the bundled example: AWS-written PolicyEndpoints (generateName names,
 * random order, chunks, annotations, AWS's port order) compare equal; every difference says which flows it opens or
 * closes with the engine's reason; flow logs find the `except` bug's ACCEPT to 169.254.169.254.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { EndpointInfo, PolicyEndpoint } from '../../src/api/policyendpoint.js';
import { auditEndpoints, normalAddress } from '../../src/audit/endpoints.js';
import { auditFlowLogs, readFlowLogFile } from '../../src/audit/flowlog.js';
import { readAwsObjects } from '../../src/audit/read.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/program.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../../src/controller/resolve.js';
import { compile } from '../../src/engine/engine.js';
import { readCluster } from '../../src/model/read.js';
import { awsWritten } from './aws-style.js';

const EXAMPLE = 'examples/eks-multi-team/';
const FIXTURE_PE = 'examples/eks-aws/policyendpoints.yaml';
const FIXTURE_LOG = 'examples/eks-aws/network-policy-agent.log';

function engine() {
  return compile(readCluster([EXAMPLE]).cluster);
}

async function palisade(args: string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => stdin };
  const code = await run(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

function tmp(name: string, text: string | Buffer): string {
  const file = join(mkdtempSync(join(tmpdir(), 'palisade-audit-')), name);
  writeFileSync(file, text);
  return file;
}

/** The engine's own objects rewritten the way the AWS controller writes them. */
function awsObjects(seed: number, chunkSize = 200): PolicyEndpoint[] {
  return awsWritten(resolvePolicyEndpoints(engine()), { seed, chunkSize, named: true }) as unknown as PolicyEndpoint[];
}

function edit(pes: PolicyEndpoint[], policy: string, fn: (pe: PolicyEndpoint) => PolicyEndpoint): PolicyEndpoint[] {
  let done = false;
  return pes.map((pe) => {
    if (done || `${pe.spec.policyRef.namespace}/${pe.spec.policyRef.name}` !== policy) return pe;
    done = true;
    return fn(pe);
  });
}

describe('audit endpoints', () => {
  it('objects written as the AWS controller writes them compare equal (names, order, chunks, port order, annotations ignored)', () => {
    for (const [seed, chunk] of [[1, 200], [2, 2], [3, 1]] as const) {
      const pes = awsObjects(seed, chunk);
      // The fixture really is shuffled and chunked: more objects than policies when chunks are small.
      if (chunk === 1) expect(pes.length).toBeGreaterThan(16);
      const audit = auditEndpoints(engine(), pes);
      expect(audit.policies).toHaveLength(16);
      expect(audit.policies.filter((p) => p.status !== 'equal')).toEqual([]);
    }
  });

  it('a missing pod IP closes the flows the engine allows through that policy, with its reason', () => {
    const pes = edit(awsObjects(4), 'a/access-nginx', (pe) => ({ ...pe, spec: { ...pe.spec, ingress: (pe.spec.ingress ?? []).filter((e) => e.cidr !== '10.0.1.12') } }));
    const audit = auditEndpoints(engine(), pes);
    const p = audit.policies.find((x) => x.policy === 'a/access-nginx');
    expect(p?.status).toBe('differs');
    expect(p?.differences).toHaveLength(1);
    const d = p!.differences[0];
    expect({ list: d.list, change: d.change, entry: d.entry, ports: d.ports, effect: d.effect }).toEqual({ list: 'ingress', change: 'missing', entry: '10.0.1.12', ports: ['TCP 80'], effect: 'closes' });
    expect(d.flows).toHaveLength(1);
    expect(d.flows[0]).toMatchObject({ from: 'a/client', to: 'a/nginx', protocol: 'TCP', port: 80, direction: 'ingress', engine: 'allowed', effect: 'closes' });
    expect(d.flows[0].why).toContain('a/access-nginx');
    // Every other policy is still equal.
    expect(audit.policies.filter((x) => x.status !== 'equal').map((x) => x.policy)).toEqual(['a/access-nginx']);
  });

  it('an extra CIDR opens what the engine denies; an extra port opens that port', () => {
    const extra: EndpointInfo = { cidr: '169.254.169.254/32', ports: [{ protocol: 'TCP', port: 80 }] };
    let pes = edit(awsObjects(5), 'd/allow-team', (pe) => ({ ...pe, spec: { ...pe.spec, egress: [...(pe.spec.egress ?? []), extra] } }));
    pes = edit(pes, 'c/db-access', (pe) => ({ ...pe, spec: { ...pe.spec, ingress: (pe.spec.ingress ?? []).map((e) => (e.cidr === '203.0.113.0/24' ? { ...e, ports: [...(e.ports ?? []), { protocol: 'TCP' as const, port: 22 }] } : e)) } }));
    const audit = auditEndpoints(engine(), pes);
    const d = audit.policies.find((x) => x.policy === 'd/allow-team')!.differences;
    expect(d.map((x) => [x.list, x.change, x.entry, x.effect])).toEqual([['egress', 'extra', '169.254.169.254', 'opens']]);
    expect(d[0].flows[0]).toMatchObject({ from: 'd/monitor', to: '169.254.169.254-169.254.169.254', port: 80, engine: 'denied', effect: 'opens' });
    const c = audit.policies.find((x) => x.policy === 'c/db-access')!.differences;
    expect(c.map((x) => [x.list, x.change, x.entry, x.ports])).toEqual([['ingress', 'extra', '203.0.113.0/24', ['TCP 22']]]);
    expect(c[0].flows[0]).toMatchObject({ to: 'c/db', port: 22, engine: 'denied', effect: 'opens' });
    expect(c[0].flows[0].why).toContain('no rule allows it');
  });

  it('a pod the AWS object does not select, a missing policy, and objects for a policy that does not exist', () => {
    let pes = awsObjects(6).filter((pe) => pe.spec.policyRef.name !== 'default-deny' || pe.spec.policyRef.namespace !== 'e');
    pes = edit(pes, 'a/default-deny', (pe) => ({ ...pe, spec: { ...pe.spec, podSelectorEndpoints: (pe.spec.podSelectorEndpoints ?? []).filter((p) => p.name !== 'stranger') } }));
    pes.push({ apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'PolicyEndpoint', metadata: { name: 'old-policy-x7k2p', namespace: 'a' }, spec: { policyRef: { namespace: 'a', name: 'old-policy' } } });
    const byName = new Map(auditEndpoints(engine(), pes).policies.map((p) => [p.policy, p]));
    expect(byName.get('e/default-deny')?.status).toBe('missing');
    expect(byName.get('a/old-policy')).toMatchObject({ status: 'unexpected', objects: ['old-policy-x7k2p'] });
    const dd = byName.get('a/default-deny')!;
    expect(dd.status).toBe('differs');
    expect(dd.differences.map((d) => [d.list, d.change, d.entry, d.effect])).toEqual([['podSelectorEndpoints', 'missing', 'a/stranger 10.0.2.13', 'opens']]);
  });

  it('addresses compare in one form: a host bare or /32, a CIDR canonical', () => {
    expect(normalAddress('10.0.1.5/32')).toBe('10.0.1.5');
    expect(normalAddress('10.0.1.5')).toBe('10.0.1.5');
    expect(normalAddress('10.0.1.0/24')).toBe('10.0.1.0/24');
    expect(normalAddress('2600:1f14:0:0::5/128')).toBe('2600:1f14::5');
    expect(normalAddress('::/0')).toBe('::/0');
  });

  it('CLI on the bundled fixture: c/db-access holds a stale pod IP that opens a/stranger -> c/db; -o json shape; exit 1', async () => {
    const r = await palisade(['audit', 'endpoints', EXAMPLE, '--endpoints', FIXTURE_PE, '-o', 'json', '-q']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { policies: { policy: string; status: string; differences: { entry: string; effect: string; flows: { from: string; to: string; effect: string }[] }[] }[] };
    expect(json.policies.filter((p) => p.status !== 'equal').map((p) => [p.policy, p.status])).toEqual([['c/db-access', 'differs']]);
    const d = json.policies.find((p) => p.policy === 'c/db-access')!.differences[0];
    expect(d).toMatchObject({ entry: '10.0.2.13', effect: 'opens' });
    expect(d.flows.map((f) => [f.from, f.to, f.effect])).toEqual([['a/stranger', 'c/db', 'opens']]);
    const text = await palisade(['audit', 'endpoints', EXAMPLE, '--endpoints', FIXTURE_PE, '-q']);
    expect(text.out).toContain('NetworkPolicy c/db-access: differs');
    expect(text.out).toContain('16 policies: 15 equal, 1 differ, 0 missing, 0 unexpected');
  });

  it('reads PolicyEndpoints from stdin; equal everywhere gives exit 0', async () => {
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: awsObjects(7) });
    const r = await palisade(['audit', 'endpoints', EXAMPLE, '--endpoints', '-', '-q'], list);
    expect(r.code).toBe(0);
    expect(r.out).toContain('16 policies: 16 equal');
  });

  it('a malformed PolicyEndpoint is an input error with file:line:column and field path, exit 1', async () => {
    const file = tmp('pe.yaml', 'apiVersion: networking.k8s.aws/v1alpha1\nkind: PolicyEndpoint\nmetadata: {name: x-abcde, namespace: a}\nspec:\n  policyRef: {namespace: a}\n');
    expect(() => readAwsObjects([file])).toThrow(/1 error/);
    const r = await palisade(['audit', 'endpoints', EXAMPLE, '--endpoints', file, '-q']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/pe\.yaml:5:\d+: error: PolicyEndpoint a\/x-abcde: spec\.policyRef\.name: required/);
    expect(r.err).not.toMatch(/\n\s+at /);
    const none = await palisade(['audit', 'endpoints', EXAMPLE, '-q']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('give --endpoints FILE');
  });
});

describe('audit flowlogs', () => {
  it('the bundled log: the except bug shows as ACCEPT to 169.254.169.254, the engine denies it on egress', () => {
    const a = auditFlowLogs(engine(), [readFlowLogFile(FIXTURE_LOG)]);
    expect(a.flows).toBe(7);
    expect(a.unparsed).toBe(1);
    expect(a.unparsedLines[0]).toMatchObject({ file: FIXTURE_LOG, line: 9 });
    expect(a.notCompared).toBe(1); // the ICMP line
    expect(a.mismatches).toHaveLength(1);
    const m = a.mismatches[0];
    expect(m).toMatchObject({ file: FIXTURE_LOG, line: 4, from: 'a/client', dst: '169.254.169.254', port: 80, node: 'node-1', aws: { verdict: 'ACCEPT', format: 'keys' } });
    expect(m.engine).toHaveLength(1);
    expect(m.engine[0]).toMatchObject({ direction: 'egress', allowed: false });
    expect(m.engine[0].why).toContain('a/allow-egress');
    expect(a.byNode).toEqual([
      { node: 'node-1', flows: 5, mismatches: 1 },
      { node: 'node-2', flows: 1, mismatches: 0 },
    ]);
    expect(a.byPolicy.find((p) => p.policy === 'a/allow-egress')).toMatchObject({ mismatches: 1 });
  });

  it('a line with a direction is compared in that direction only (v1.3 form)', () => {
    // a/stranger -> a/nginx:80: egress allowed (a/allow-egress), ingress denied (a/default-deny, a/access-nginx).
    const line = (verdict: string, dir: string) => `{"level":"info","ts":"2026-01-01T00:00:00Z","msg":"Flow Info: Src IP: 10.0.2.13 Src Port: 1000 Dest IP: 10.0.1.11 Dest Port: 80 Proto TCP Verdict ${verdict} Direction ${dir}, Tier NETWORK_POLICY"}`;
    const text = [line('ACCEPT', 'egress'), line('DENY', 'ingress'), line('ACCEPT', 'ingress'), line('DENY', 'egress')].join('\n');
    const a = auditFlowLogs(engine(), [{ file: 'n.log', text }]);
    expect(a.flows).toBe(4);
    expect(a.mismatches.map((m) => [m.line, m.aws.verdict, m.aws.direction])).toEqual([
      [3, 'ACCEPT', 'ingress'],
      [4, 'DENY', 'egress'],
    ]);
    // The agent runs on the pod's node: ingress lines on a/nginx's node, egress lines on a/stranger's.
    expect(a.byNode).toEqual([
      { node: 'node-1', flows: 2, mismatches: 1 },
      { node: 'node-2', flows: 2, mismatches: 1 },
    ]);
  });

  it('rotated .gz files read through zlib; line numbers count from 1 in each file', async () => {
    const text = readFileSync(FIXTURE_LOG, 'utf8');
    const gz = tmp('network-policy-agent-2026-11-30T10-05-00.000.log.gz', gzipSync(text));
    const second = tmp('network-policy-agent.log', 'Node: node-1;SIP: 10.0.1.12;SPORT: 5;DIP: 169.254.169.254;DPORT: 80;PROTOCOL: TCP;PolicyVerdict: ACCEPT\n');
    const r = await palisade(['audit', 'flowlogs', EXAMPLE, '--log', gz, '--log', second, '-o', 'json', '-q']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { flows: number; unparsed: number; mismatches: { file: string; line: number }[] };
    expect(json.flows).toBe(8);
    expect(json.unparsed).toBe(1);
    expect(json.mismatches.map((m) => [m.file, m.line])).toEqual([
      [gz, 4],
      [second, 1],
    ]);
  });

  it('a log that agrees with the engine exits 0; a missing --log or file is an input error', async () => {
    const ok = tmp('ok.log', '{"msg":"Flow Info: Src IP: 10.0.1.12 Src Port: 1 Dest IP: 10.0.1.11 Dest Port: 80 Proto TCP Verdict ACCEPT Direction egress"}\n');
    const r = await palisade(['audit', 'flowlogs', EXAMPLE, '--log', ok, '-q']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('1 flows: 0 mismatches');
    const none = await palisade(['audit', 'flowlogs', EXAMPLE, '-q']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('give --log FILE');
    const missing = await palisade(['audit', 'flowlogs', EXAMPLE, '--log', '/nonexistent.log', '-q']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no such file: /nonexistent.log');
  });

  it('every command has --help with an example', async () => {
    for (const args of [['audit', 'endpoints', '--help'], ['audit', 'flowlogs', '--help'], ['doctor', '--help']]) {
      const r = await palisade(args);
      expect(r.code).toBe(0);
      const help = r.out + r.err;
      const examples = help.slice(help.indexOf('Examples:'));
      expect(help).toContain('Examples:');
      expect(examples.split('\n').filter((l) => l.startsWith(`  palisade ${args.slice(0, -1).join(' ')}`)).length).toBeGreaterThan(0);
    }
  });
});

describe('audit flowlogs: addresses that are not addresses', () => {
  it('a line whose IP was redacted (as in aws/aws-network-policy-agent#92) is counted as not read, never fatal', () => {
    const text = '{"level":"info","timestamp":"2023-10-09T10:01:34.774Z","logger":"ebpf-client","msg":"Flow Info:  ","Src IP":"****","Src Port":50878,"Dest IP":"169.254.169.254","Dest Port":80,"Proto":"TCP","Verdict":"ACCEPT"}\n';
    const a = auditFlowLogs(engine(), [{ file: 'redacted.log', text }]);
    expect({ flows: a.flows, unparsed: a.unparsed }).toEqual({ flows: 0, unparsed: 1 });
    expect(a.unparsedLines).toEqual([{ file: 'redacted.log', line: 1, reason: 'not an IP address: **** -> 169.254.169.254' }]);
  });
});

describe('audit endpoints: Service ClusterIPs', () => {
  it("a missing ClusterIP entry closes the flows to the Service's pods (the AWS agent matches before DNAT)", () => {
    // The example's kube-dns Service (172.20.0.10) selects kube-system/coredns; a/allow-egress lists it for DNS.
    const pes = edit(awsObjects(8), 'a/allow-egress', (pe) => ({ ...pe, spec: { ...pe.spec, egress: (pe.spec.egress ?? []).filter((e) => e.cidr !== '172.20.0.10') } }));
    const d = auditEndpoints(engine(), pes).policies.find((p) => p.policy === 'a/allow-egress')!.differences;
    expect(d.map((x) => [x.list, x.change, x.entry, x.effect])).toEqual([['egress', 'missing', '172.20.0.10', 'closes']]);
    const flows = d[0].flows.map((f) => `${f.from}>${f.to} ${f.protocol}/${f.port} ${f.effect}`);
    expect(flows).toContain('a/client>kube-system/coredns UDP/53 closes');
    expect(flows).toContain('a/client>kube-system/coredns TCP/53 closes');
  });
});

describe('audit endpoints: ClusterPolicyEndpoints of admin-tier policies', () => {
  const TIERS = 'test/fixtures/lab/admin-tiers.yaml';
  const tierEngine = () => compile(readCluster([EXAMPLE, TIERS]).cluster);

  it('objects with other names, no owner, entries reordered compare equal; a Deny entry missing opens what the engine denies', () => {
    const e = tierEngine();
    const cpes = resolveClusterPolicyEndpoints(e).map((c, i) => ({
      ...c,
      metadata: { name: `${c.spec.policyRef.name}-${'qwxyz'.slice(0, 5 - (i % 2))}${i}` },
      spec: { ...c.spec, ...(c.spec.ingress ? { ingress: [...c.spec.ingress].reverse() } : {}), ...(c.spec.egress ? { egress: [...c.spec.egress].reverse() } : {}) },
    }));
    const pes = resolvePolicyEndpoints(e);
    const equal = auditEndpoints(e, pes, cpes);
    expect(equal.policies.filter((p) => p.status !== 'equal')).toEqual([]);
    expect(equal.policies.filter((p) => p.kind === 'ClusterNetworkPolicy').map((p) => p.policy).sort()).toEqual(['monitoring-scrapes', 'no-metadata']);
    const withoutDeny = cpes.map((c) => (c.spec.policyRef.name === 'no-metadata' ? { ...c, spec: { ...c.spec, egress: [] } } : c));
    const p = auditEndpoints(e, pes, withoutDeny).policies.find((x) => x.policy === 'no-metadata')!;
    expect(p.status).toBe('differs');
    expect(p.differences.map((d) => [d.list, d.change, d.entry, d.action, d.effect])).toEqual([['egress', 'missing', '169.254.169.254', 'Deny', 'opens']]);
    expect(p.differences[0].flows[0]).toMatchObject({ to: '169.254.169.254-169.254.169.254', engine: 'denied', effect: 'opens' });
    expect(p.differences[0].flows[0].why).toContain('no-metadata');
  });
});

describe('audit endpoints: an AWS kind and an upstream policy of the same name', () => {
  const e = compile(readCluster(['test/fixtures/aws/same-names.yaml']).cluster);
  const pes = resolvePolicyEndpoints(e);
  const cpes = resolveClusterPolicyEndpoints(e);

  it('are audited apart, each equal to its own objects', () => {
    const a = auditEndpoints(e, pes, cpes);
    expect(a.policies.map((p) => [p.kind, p.policy, p.status]).sort()).toEqual([
      ['ApplicationNetworkPolicy (networking.k8s.aws)', 'shop/web', 'equal'],
      ['ClusterNetworkPolicy (networking.k8s.aws)', 'guard', 'equal'],
      ['ClusterNetworkPolicy', 'guard', 'equal'],
      ['NetworkPolicy', 'shop/web', 'equal'],
    ]);
  });

  it("the AWS policies' objects missing are reported for them alone, the upstream ones still equal", () => {
    const aws = (o: { metadata: { ownerReferences?: readonly { apiVersion?: string }[] } }) => o.metadata.ownerReferences?.[0]?.apiVersion?.startsWith('networking.k8s.aws/') === true;
    const a = auditEndpoints(e, pes.filter((p) => !aws(p)), cpes.filter((c) => !aws(c)));
    expect(a.policies.filter((p) => p.status !== 'equal').map((p) => [p.kind, p.policy, p.status]).sort()).toEqual([
      ['ApplicationNetworkPolicy (networking.k8s.aws)', 'shop/web', 'missing'],
      ['ClusterNetworkPolicy (networking.k8s.aws)', 'guard', 'missing'],
    ]);
  });
});
