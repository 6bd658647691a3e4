/**
 * `doctor`'s checks on facts, without a cluster: version parsing as EKS and AWS images write versions, the ≥ 1.25
 * pass path (the test API server is 1.20, so only a unit test reaches it), flags as pflag reads them, the known bugs
 * by the versions AWS fixed them in (issue numbers in src/audit/doctor.ts).
 */
import { describe, expect, it } from 'vitest';
import { boolFlag, compareVersions, imageTag, parseVersion, runChecks, type ClusterFacts } from '../../src/audit/doctor.js';

const ECR = '602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon';

/** A healthy EKS cluster as doctor reads it. */
function healthy(over: Partial<ClusterFacts> = {}): ClusterFacts {
  return {
    serverVersion: 'v1.29.1-eks-b9c9ed7',
    awsNode: [
      { name: 'aws-vpc-cni-init', image: `${ECR}/amazon-k8s-cni-init:v1.18.0-eksbuild.1`, args: [] },
      { name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.18.0-eksbuild.1`, args: [] },
      { name: 'aws-eks-nodeagent', image: `${ECR}/aws-network-policy-agent:v1.1.0-eksbuild.1`, args: ['--enable-ipv6=false', '--enable-network-policy=true', '--enable-cloudwatch-logs=false', '--enable-policy-event-logs=true', '--metrics-bind-addr=:8162', '--health-probe-bind-addr=:8163'] },
    ],
    vpcCniConfig: { 'enable-network-policy-controller': 'true' },
    nodes: [
      { name: 'ip-10-0-1-5.ec2.internal', kernelVersion: '5.10.192-183.736.amzn2.x86_64' },
      { name: 'ip-10-0-2-7.ec2.internal', kernelVersion: '6.1.84-99.169.amzn2023.x86_64' },
    ],
    crds: ['policyendpoints.networking.k8s.aws'],
    errors: {},
    ...over,
  };
}

function status(facts: ClusterFacts, id: string): string | undefined {
  return runChecks(facts).checks.find((c) => c.id === id)?.status;
}

describe('versions as EKS and AWS write them', () => {
  const table: readonly [string, string, [number, number, number] | undefined][] = [
    ['EKS API server gitVersion (aws/amazon-network-policy-controller-k8s#41)', 'v1.25.12-eks-2d98532', [1, 25, 12]],
    ['kind/kubeadm gitVersion', 'v1.20.2', [1, 20, 2]],
    ['VPC CNI image tag', 'v1.15.1-eksbuild.1', [1, 15, 1]],
    ['AL2 kernel (aws/aws-network-policy-agent#105)', '5.10.192-183.736.amzn2.x86_64', [5, 10, 192]],
    ['Bottlerocket kernel', '5.15.128', [5, 15, 128]],
    ['major.minor only', '1.29+', [1, 29, 0]],
    ['not a version', 'latest', undefined],
  ];
  for (const [name, text, want] of table) it(`${name}: ${text}`, () => expect(parseVersion(text)).toEqual(want));

  it('compares numerically, not as text', () => {
    expect(compareVersions([1, 9, 0], [1, 25, 0])).toBe(-1);
    expect(compareVersions([1, 25, 0], [1, 25, 0])).toBe(0);
    expect(compareVersions([1, 100, 0], [1, 25, 0])).toBe(1);
  });

  it('reads image tags, with registries that have ports and digests', () => {
    expect(imageTag(`${ECR}/amazon-k8s-cni:v1.15.0-eksbuild.2`)).toBe('v1.15.0-eksbuild.2');
    expect(imageTag('localhost:5000/cni:v1.14.1@sha256:abcd')).toBe('v1.14.1');
    expect(imageTag('localhost:5000/cni')).toBeUndefined();
  });

  it('reads boolean flags as pflag does', () => {
    expect(boolFlag(['--enable-network-policy=true'], 'enable-network-policy')).toBe(true);
    expect(boolFlag(['--enable-network-policy'], 'enable-network-policy')).toBe(true);
    expect(boolFlag(['--enable-network-policy=false'], 'enable-network-policy')).toBe(false);
    expect(boolFlag(['--enable-network-policy-x=true'], 'enable-network-policy')).toBeUndefined();
    expect(boolFlag([], 'enable-network-policy')).toBeUndefined();
  });
});

describe('doctor checks', () => {
  it('a healthy EKS cluster on Kubernetes ≥ 1.25 passes everything', () => {
    const r = runChecks(healthy());
    expect(r.checks.filter((c) => c.status !== 'pass').map((c) => c.id)).toEqual([]);
    expect(r.summary.fail).toBe(0);
    expect(r.checks.find((c) => c.id === 'kubernetes-version')?.evidence).toContain('v1.29.1-eks-b9c9ed7');
  });

  it('Kubernetes 1.25.0 passes, 1.24 fails with the fix', () => {
    expect(status(healthy({ serverVersion: 'v1.25.0' }), 'kubernetes-version')).toBe('pass');
    const r = runChecks(healthy({ serverVersion: 'v1.24.17-eks-5e0fdde' }));
    const c = r.checks.find((x) => x.id === 'kubernetes-version')!;
    expect(c.status).toBe('fail');
    expect(c.fix).toContain('1.25');
  });

  it('VPC CNI before v1.14 fails; no aws-node DaemonSet fails every AWS check that needs it', () => {
    const old = healthy({ awsNode: [{ name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.13.4-eksbuild.1`, args: [] }] });
    expect(status(old, 'vpc-cni-version')).toBe('fail');
    expect(status(old, 'node-agent')).toBe('fail');
    const none = runChecks(healthy({ awsNode: undefined }));
    expect(none.checks.find((c) => c.id === 'vpc-cni-version')).toMatchObject({ status: 'fail', evidence: 'no DaemonSet kube-system/aws-node' });
  });

  it('network policy off in the ConfigMap or on the agent fails, naming the key and the flag', () => {
    const cm = runChecks(healthy({ vpcCniConfig: { 'enable-network-policy-controller': 'false' } })).checks.find((c) => c.id === 'network-policy-controller')!;
    expect(cm).toMatchObject({ status: 'fail', evidence: 'enable-network-policy-controller: "false"' });
    const facts = healthy();
    const off = { ...facts, awsNode: facts.awsNode!.map((c) => (c.name === 'aws-eks-nodeagent' ? { ...c, args: ['--enable-network-policy=false'] } : c)) };
    expect(runChecks(off).checks.find((c) => c.id === 'node-agent')).toMatchObject({ status: 'fail', evidence: 'aws-eks-nodeagent runs with --enable-network-policy=false' });
  });

  it('known bugs by version: the except bug before agent v1.0.4 / VPC CNI v1.15.1 fails (aws/aws-network-policy-agent#92; fixed version per #120)', () => {
    // The versions of aws/amazon-network-policy-controller-k8s#41's report: VPC CNI v1.15.0, agent v1.0.2.
    const facts = healthy({
      awsNode: [
        { name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.15.0-eksbuild.2`, args: [] },
        { name: 'aws-eks-nodeagent', image: `${ECR}/aws-network-policy-agent:v1.0.2-eksbuild.1`, args: ['--enable-network-policy=true'] },
      ],
    });
    const r = runChecks(facts);
    const bug = r.checks.find((c) => c.id === 'known-bug-except-on-catch-all')!;
    expect(bug.status).toBe('fail');
    expect(bug.evidence).toContain('v1.0.2');
    expect(bug.evidence).toContain('#92');
    expect(bug.fix).toContain('v1.15.1');
    expect(status(facts, 'known-bug-egress-only-intermittent')).toBe('warn');
    expect(status(facts, 'known-bug-long-connections-dropped')).toBe('warn');
    // v1.0.6 only has the conntrack cleanup bug of aws/aws-network-policy-agent#204 (fixed in v1.0.7).
    expect(status(facts, 'known-bug-conntrack-cleanup')).toBe('pass');
    const v106 = healthy({ awsNode: [{ name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.16.2`, args: [] }, { name: 'aws-eks-nodeagent', image: `${ECR}/aws-network-policy-agent:v1.0.6`, args: ['--enable-network-policy=true'] }] });
    expect(status(v106, 'known-bug-conntrack-cleanup')).toBe('warn');
    expect(status(v106, 'known-bug-except-on-catch-all')).toBe('pass');
  });

  it('without the agent container, the except bug is judged by the VPC CNI version', () => {
    const facts = healthy({ awsNode: [{ name: 'aws-node', image: `${ECR}/amazon-k8s-cni:v1.15.0`, args: [] }] });
    expect(runChecks(facts).checks.find((c) => c.id === 'known-bug-except-on-catch-all')).toMatchObject({ status: 'fail', evidence: expect.stringContaining('VPC CNI v1.15.0') });
  });

  it('a node kernel below 5.10 fails and names the node; no kernel reported warns', () => {
    const r = runChecks(healthy({ nodes: [{ name: 'old-node', kernelVersion: '4.14.336-257.562.amzn2.x86_64' }, { name: 'new-node', kernelVersion: '6.1.0' }] }));
    expect(r.checks.find((c) => c.id === 'node-kernel')).toMatchObject({ status: 'fail', evidence: 'kernel older than 5.10 on old-node (4.14.336-257.562.amzn2.x86_64)' });
    expect(status(healthy({ nodes: [{ name: 'n' }] }), 'node-kernel')).toBe('warn');
  });

  it('flow logs: off warns (nothing for audit flowlogs), on passes with the file and CloudWatch', () => {
    const facts = healthy();
    const withFlags = (args: string[]) => ({ ...facts, awsNode: facts.awsNode!.map((c) => (c.name === 'aws-eks-nodeagent' ? { ...c, args } : c)) });
    expect(status(withFlags(['--enable-network-policy=true', '--enable-policy-event-logs=false']), 'flow-logs')).toBe('warn');
    const on = runChecks(withFlags(['--enable-network-policy=true', '--enable-policy-event-logs=true', '--enable-cloudwatch-logs=true'])).checks.find((c) => c.id === 'flow-logs')!;
    expect(on).toMatchObject({ status: 'pass', evidence: 'enabled: /var/log/aws-routed-eni/network-policy-agent.log on each node, and CloudWatch Logs' });
  });

  it("Palisade's deployment: a stale lease and agents not ready fail", () => {
    const now = new Date('2026-12-01T12:00:00Z');
    const ok = runChecks(healthy({ now, crds: ['policyendpoints.networking.k8s.aws', 'clusterpolicyendpoints.networking.k8s.aws'], palisade: { agent: { desired: 2, ready: 2 }, lease: { holder: 'palisade-controller-abc', renewTime: '2026-12-01T11:59:55Z', durationSeconds: 15 } } }));
    expect(ok.checks.filter((c) => c.id.startsWith('palisade')).map((c) => [c.id, c.status])).toEqual([
      ['palisade-crds', 'pass'],
      ['palisade-controller-leader', 'pass'],
      ['palisade-agents', 'pass'],
    ]);
    const bad = runChecks(healthy({ now, palisade: { agent: { desired: 2, ready: 1 }, lease: { holder: 'x', renewTime: '2026-12-01T11:00:00Z', durationSeconds: 15 } } }));
    expect(bad.checks.filter((c) => c.id.startsWith('palisade')).map((c) => [c.id, c.status])).toEqual([
      ['palisade-crds', 'fail'],
      ['palisade-controller-leader', 'fail'],
      ['palisade-agents', 'fail'],
    ]);
  });
});

describe('doctor on a cluster that does not answer', () => {
  it('is one input error naming the server (exit 1), not a list of failed checks', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { run } = await import('../../src/cli/main.js');
    const file = join(mkdtempSync(join(tmpdir(), 'palisade-doctor-')), 'kubeconfig');
    writeFileSync(
      file,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    const out: string[] = [];
    const err: string[] = [];
    const code = await run(['doctor', '--kubeconfig', file], { out: (t) => out.push(t), err: (t) => err.push(t), interactive: false, readStdin: () => '' });
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err.join('\n')).toContain('cannot reach the API server https://127.0.0.1:1');
  });
});
