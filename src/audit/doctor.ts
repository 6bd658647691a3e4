/**
 * `palisade doctor`: the prerequisites of NetworkPolicy on EKS, checked on a live cluster, each with pass/warn/fail,
 * the evidence read and the fix. Names come from AWS's sources:
 * - the `aws-node` DaemonSet (kube-system): container `aws-node` runs the VPC CNI image (`amazon-k8s-cni:vX.Y.Z…`),
 *   container `aws-eks-nodeagent` the network policy agent (`aws-network-policy-agent:vX.Y.Z…`) with its flags
 *   `--enable-network-policy`, `--enable-policy-event-logs`, `--enable-cloudwatch-logs`, `--log-file`
 *   (`pkg/config/controller_config.go` of aws/aws-network-policy-agent);
 * - the `amazon-vpc-cni` ConfigMap (kube-system) and its key `enable-network-policy-controller`
 *   (`pkg/utils/configmap/configmap.go` of aws/amazon-network-policy-controller-k8s);
 * - the CRD `policyendpoints.networking.k8s.aws`.
 */
import { InputError } from '../api/diagnostics.js';
import { AppsV1Api, ApiextensionsV1Api, CoordinationV1Api, CoreV1Api, VersionApi, type KubeConfig, type V1Container } from '@kubernetes/client-node';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface Check {
  readonly id: string;
  readonly title: string;
  readonly status: CheckStatus;
  /** What was read, so the user can check it. */
  readonly evidence: string;
  /** What to do; absent on a pass. */
  readonly fix?: string;
}

/** `-o json` of `palisade doctor`. */
export interface DoctorReport {
  readonly checks: readonly Check[];
  readonly summary: Readonly<Record<CheckStatus, number>>;
}

export interface ContainerFacts {
  readonly name: string;
  readonly image: string;
  readonly args: readonly string[];
}

/** What doctor reads from the cluster; gathered once, then checked without the network (so checks unit-test). */
export interface ClusterFacts {
  readonly serverVersion?: string;
  /** The containers of kube-system/aws-node; undefined when the DaemonSet does not exist. */
  readonly awsNode?: readonly ContainerFacts[];
  /** kube-system/amazon-vpc-cni's data; undefined when the ConfigMap does not exist. */
  readonly vpcCniConfig?: Readonly<Record<string, string>>;
  readonly nodes: readonly { readonly name: string; readonly kernelVersion?: string }[];
  readonly crds: readonly string[];
  /** Palisade's own deployment, when its namespace exists. */
  readonly palisade?: {
    readonly agent?: { readonly desired: number; readonly ready: number };
    readonly controller?: { readonly replicas: number; readonly ready: number };
    readonly lease?: { readonly holder?: string; readonly renewTime?: string; readonly durationSeconds?: number };
  };
  /** Facts that could not be read, by what (e.g. permission denied). */
  readonly errors: Readonly<Record<string, string>>;
  /** For the lease's age. @default now */
  readonly now?: Date;
}

// ---------------------------------------------------------------- versions

/**
 * The numeric part of a version as Kubernetes, EKS and AWS images write it: `v1.25.12-eks-2d98532`, `1.29+`,
 * `v1.15.1-eksbuild.1`, `5.10.192-183.736.amzn2.x86_64`.
 * @returns [major, minor, patch], missing parts 0; undefined when it does not start with a number.
 */
export function parseVersion(text: string): [number, number, number] | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/** -1, 0, 1 as a is below, equal to, above b. */
export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The tag of an image reference (`…/amazon-k8s-cni:v1.15.1-eksbuild.1` → `v1.15.1-eksbuild.1`), digest removed. */
export function imageTag(image: string): string | undefined {
  const noDigest = image.split('@')[0];
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(colon + 1) : undefined;
}

/** A pflag boolean flag's value among container args: `--x`, `--x=true` → true; `--x=false` → false; absent → undefined. */
export function boolFlag(args: readonly string[], flag: string): boolean | undefined {
  let value: boolean | undefined;
  for (const a of args) {
    if (a === `--${flag}`) value = true;
    else if (a.startsWith(`--${flag}=`)) value = /^(true|1|t|T|TRUE|True)$/.test(a.slice(flag.length + 3));
  }
  return value;
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  let value: string | undefined;
  for (const a of args) if (a.startsWith(`--${flag}=`)) value = a.slice(flag.length + 3);
  return value;
}

const v = (x: readonly number[]) => `v${x.join('.')}`;

// ---------------------------------------------------------------- known bugs

/** A released AWS version with a NetworkPolicy bug, and where it was reported and fixed. */
export interface KnownBug {
  readonly id: string;
  /** The node agent versions affected: below `fixedAgent`. */
  readonly fixedAgent: readonly [number, number, number];
  /** The VPC CNI release that ships the fix (used when the agent's own version cannot be read). */
  readonly fixedCni?: readonly [number, number, number];
  /** Only agent versions at or above this one. */
  readonly sinceAgent?: readonly [number, number, number];
  readonly status: CheckStatus;
  readonly what: string;
  readonly refs: string;
}

/** Issue numbers are of aws/aws-network-policy-agent unless named otherwise. */
export const KNOWN_BUGS: readonly KnownBug[] = [
  {
    // aws/aws-network-policy-agent#92 and #105, aws/amazon-vpc-cni-k8s#2609: the log shows ACCEPT to 169.254.169.254;
    // "fixed with v1.0.4 ... VPC CNI v1.15.1 ... contains the agent v1.0.4 image tag" (the maintainers in #120).
    id: 'except-on-catch-all',
    fixedAgent: [1, 0, 4],
    fixedCni: [1, 15, 1],
    status: 'fail',
    what: 'ipBlock `except` is ignored when the cidr is 0.0.0.0/0 (or ::/0): excepted addresses such as 169.254.169.254 stay reachable',
    refs: 'aws/aws-network-policy-agent#92, #105, #120; aws/amazon-vpc-cni-k8s#2609',
  },
  {
    // aws/aws-network-policy-agent#77: intermittent connectivity with egress-only policies; the maintainers answered
    // there that #106 (PolicyEndpoints split across objects, their pods and rules paired wrongly) fixes it in agent
    // v1.0.5, part of VPC CNI v1.15.3.
    id: 'egress-only-intermittent',
    fixedAgent: [1, 0, 5],
    fixedCni: [1, 15, 3],
    status: 'warn',
    what: 'connections under egress-only policies fail intermittently (a policy split across PolicyEndpoints is paired wrongly)',
    refs: 'aws/aws-network-policy-agent#77, PR #106',
  },
  {
    // aws/aws-network-policy-agent#204: agent v1.0.6 cleaned conntrack entries wrongly (random read timeouts); fixed in v1.0.7.
    id: 'conntrack-cleanup',
    fixedAgent: [1, 0, 7],
    sinceAgent: [1, 0, 6],
    status: 'warn',
    what: 'conntrack entries are cleaned up wrongly: established connections time out at random',
    refs: 'aws/aws-network-policy-agent#204',
  },
  {
    // aws/aws-network-policy-agent#144: long-lived connections dropped; fixed in agent v1.0.8 (VPC CNI v1.16.3).
    id: 'long-connections-dropped',
    fixedAgent: [1, 0, 8],
    fixedCni: [1, 16, 3],
    status: 'warn',
    what: 'long-lived connections are dropped when their conntrack entry expires',
    refs: 'aws/aws-network-policy-agent#144',
  },
];

// ---------------------------------------------------------------- the checks

const MIN_KUBERNETES: readonly [number, number, number] = [1, 25, 0];
const MIN_CNI: readonly [number, number, number] = [1, 14, 0];
const MIN_KERNEL: readonly [number, number, number] = [5, 10, 0];
const AGENT_CONTAINER = 'aws-eks-nodeagent';
const CNI_CONTAINER = 'aws-node';

function versionCheck(facts: ClusterFacts): Check {
  const title = 'Kubernetes ≥ 1.25 (EKS network policy support)';
  const text = facts.serverVersion;
  const ver = text !== undefined ? parseVersion(text) : undefined;
  if (!ver) return { id: 'kubernetes-version', title, status: 'fail', evidence: facts.errors.version ?? `server version ${text ?? 'unknown'}`, fix: 'check the kubeconfig and that the API server answers /version' };
  if (compareVersions(ver, MIN_KUBERNETES) >= 0) return { id: 'kubernetes-version', title, status: 'pass', evidence: `API server ${text}` };
  return { id: 'kubernetes-version', title, status: 'fail', evidence: `API server ${text} is older than 1.25`, fix: 'upgrade the cluster to Kubernetes 1.25 or later' };
}

function container(facts: ClusterFacts, name: string): ContainerFacts | undefined {
  return facts.awsNode?.find((c) => c.name === name);
}

function cniVersion(facts: ClusterFacts): [number, number, number] | undefined {
  const c = container(facts, CNI_CONTAINER);
  const tag = c ? imageTag(c.image) : undefined;
  return tag ? parseVersion(tag) : undefined;
}

function agentVersion(facts: ClusterFacts): [number, number, number] | undefined {
  const c = container(facts, AGENT_CONTAINER);
  const tag = c ? imageTag(c.image) : undefined;
  return tag ? parseVersion(tag) : undefined;
}

function cniCheck(facts: ClusterFacts): Check {
  const id = 'vpc-cni-version';
  const title = 'VPC CNI ≥ v1.14 (aws-node DaemonSet)';
  if (!facts.awsNode) return { id, title, status: 'fail', evidence: facts.errors.awsNode ?? 'no DaemonSet kube-system/aws-node', fix: 'install the Amazon VPC CNI (EKS add-on vpc-cni) v1.14 or later' };
  const c = container(facts, CNI_CONTAINER);
  const ver = cniVersion(facts);
  if (!c || !ver) return { id, title, status: 'fail', evidence: c ? `image ${c.image} has no version tag` : 'aws-node has no container "aws-node"', fix: 'run the VPC CNI image with a version tag, v1.14 or later' };
  if (compareVersions(ver, MIN_CNI) >= 0) return { id, title, status: 'pass', evidence: `image ${c.image}` };
  return { id, title, status: 'fail', evidence: `image ${c.image} is older than v1.14`, fix: 'upgrade the vpc-cni add-on to v1.14 or later' };
}

function controllerCheck(facts: ClusterFacts): Check {
  const id = 'network-policy-controller';
  const title = 'network policy controller enabled (ConfigMap amazon-vpc-cni, enable-network-policy-controller)';
  if (!facts.vpcCniConfig) return { id, title, status: 'fail', evidence: facts.errors.configMap ?? 'no ConfigMap kube-system/amazon-vpc-cni', fix: 'set enableNetworkPolicy: "true" in the vpc-cni add-on configuration (it writes the ConfigMap)' };
  const value = facts.vpcCniConfig['enable-network-policy-controller'];
  if (value === 'true') return { id, title, status: 'pass', evidence: 'enable-network-policy-controller: "true"' };
  return {
    id,
    title,
    status: 'fail',
    evidence: value === undefined ? 'amazon-vpc-cni has no key enable-network-policy-controller' : `enable-network-policy-controller: "${value}"`,
    fix: 'kubectl -n kube-system patch configmap amazon-vpc-cni --type merge -p \'{"data":{"enable-network-policy-controller":"true"}}\'',
  };
}

function agentCheck(facts: ClusterFacts): Check {
  const id = 'node-agent';
  const title = 'node agent enforces policies (aws-eks-nodeagent --enable-network-policy=true)';
  const c = container(facts, AGENT_CONTAINER);
  if (!c) return { id, title, status: 'fail', evidence: facts.awsNode ? 'aws-node has no container "aws-eks-nodeagent"' : 'no DaemonSet kube-system/aws-node', fix: 'use VPC CNI v1.14 or later, which runs the node agent in aws-node' };
  const on = boolFlag(c.args, 'enable-network-policy');
  if (on) return { id, title, status: 'pass', evidence: `${c.image} with --enable-network-policy=true` };
  return {
    id,
    title,
    status: 'fail',
    evidence: on === false ? `${AGENT_CONTAINER} runs with --enable-network-policy=false` : `${AGENT_CONTAINER} runs without --enable-network-policy (default false)`,
    fix: 'set enableNetworkPolicy: "true" in the vpc-cni add-on configuration',
  };
}

function bugChecks(facts: ClusterFacts): Check[] {
  if (!facts.awsNode) return [];
  const agent = agentVersion(facts);
  const cni = cniVersion(facts);
  return KNOWN_BUGS.map((bug): Check => {
    const id = `known-bug-${bug.id}`;
    const title = `known bug: ${bug.what}`;
    let affected: boolean | undefined;
    let evidence: string;
    if (agent) {
      affected = compareVersions(agent, bug.fixedAgent) < 0 && (!bug.sinceAgent || compareVersions(agent, bug.sinceAgent) >= 0);
      const span = bug.sinceAgent ? `affects ${v(bug.sinceAgent)} up to ${v(bug.fixedAgent)}` : `fixed in ${v(bug.fixedAgent)}`;
      evidence = `node agent ${v(agent)}; ${span} (${bug.refs})`;
    } else if (cni && bug.fixedCni && !bug.sinceAgent) {
      affected = compareVersions(cni, bug.fixedCni) < 0;
      evidence = `VPC CNI ${v(cni)}; fixed in ${v(bug.fixedCni)} (${bug.refs})`;
    } else {
      evidence = `the node agent's version cannot be read (${bug.refs})`;
    }
    if (affected === false) return { id, title, status: 'pass', evidence };
    if (affected === undefined) return { id, title, status: 'warn', evidence, fix: 'run a node agent image with a version tag' };
    return { id, title, status: bug.status, evidence, fix: `upgrade the vpc-cni add-on to${bug.fixedCni ? ` ${v(bug.fixedCni)} or later` : ' a release with node agent ' + v(bug.fixedAgent) + ' or later'}` };
  });
}

function kernelCheck(facts: ClusterFacts): Check {
  const id = 'node-kernel';
  const title = 'node kernels ≥ 5.10 (the agent\'s eBPF programs)';
  if (facts.nodes.length === 0) return { id, title, status: 'warn', evidence: facts.errors.nodes ?? 'no Node objects', fix: 'check again once nodes have joined' };
  const old: string[] = [];
  const unknown: string[] = [];
  for (const n of facts.nodes) {
    const ver = n.kernelVersion ? parseVersion(n.kernelVersion) : undefined;
    if (!ver) unknown.push(n.name);
    else if (compareVersions(ver, MIN_KERNEL) < 0) old.push(`${n.name} (${n.kernelVersion})`);
  }
  const listed = facts.nodes.map((n) => `${n.name} ${n.kernelVersion ?? '?'}`).join(', ');
  if (old.length > 0) return { id, title, status: 'fail', evidence: `kernel older than 5.10 on ${old.join(', ')}`, fix: 'move those nodes to an AMI with kernel 5.10 or later (Amazon Linux 2023, Bottlerocket, AL2 5.10)' };
  if (unknown.length > 0) return { id, title, status: 'warn', evidence: `no status.nodeInfo.kernelVersion on ${unknown.join(', ')}`, fix: 'check that those nodes\' kubelets report status' };
  return { id, title, status: 'pass', evidence: listed };
}

function crdCheck(facts: ClusterFacts): Check {
  const id = 'policyendpoint-crd';
  const title = 'PolicyEndpoint CRD installed (policyendpoints.networking.k8s.aws)';
  if (facts.crds.includes('policyendpoints.networking.k8s.aws')) return { id, title, status: 'pass', evidence: 'CustomResourceDefinition policyendpoints.networking.k8s.aws exists' };
  return { id, title, status: 'fail', evidence: facts.errors.crds ?? 'no CustomResourceDefinition policyendpoints.networking.k8s.aws', fix: 'enable network policy in the vpc-cni add-on (it installs the CRD), or kubectl apply -f deploy/crds/' };
}

function flowLogCheck(facts: ClusterFacts): Check {
  const id = 'flow-logs';
  const title = 'flow logs (--enable-policy-event-logs, --enable-cloudwatch-logs)';
  const c = container(facts, AGENT_CONTAINER);
  if (!c) return { id, title, status: 'warn', evidence: 'no node agent container to read the flags of', fix: 'see the node-agent check' };
  const events = boolFlag(c.args, 'enable-policy-event-logs') === true;
  const cloudwatch = boolFlag(c.args, 'enable-cloudwatch-logs') === true;
  const file = flagValue(c.args, 'log-file') ?? '/var/log/aws-routed-eni/network-policy-agent.log';
  if (!events) {
    return { id, title, status: 'warn', evidence: 'disabled: the agent logs no flows, so `palisade audit flowlogs` has nothing to read', fix: 'set nodeAgent.enablePolicyEventLogs: "true" in the vpc-cni add-on configuration (ACCEPT flows need log level debug)' };
  }
  return { id, title, status: 'pass', evidence: `enabled: ${file} on each node${cloudwatch ? ', and CloudWatch Logs' : ''}` };
}

function palisadeChecks(facts: ClusterFacts): Check[] {
  const p = facts.palisade;
  if (!p) return [{ id: 'palisade', title: 'Palisade deployment', status: 'pass', evidence: 'namespace palisade-system does not exist: Palisade is not deployed, nothing to check' }];
  const out: Check[] = [];
  const hasClusterCrd = facts.crds.includes('clusterpolicyendpoints.networking.k8s.aws');
  out.push(
    hasClusterCrd
      ? { id: 'palisade-crds', title: 'Palisade CRDs', status: 'pass', evidence: 'policyendpoints and clusterpolicyendpoints.networking.k8s.aws exist' }
      : { id: 'palisade-crds', title: 'Palisade CRDs', status: 'fail', evidence: 'no CustomResourceDefinition clusterpolicyendpoints.networking.k8s.aws', fix: 'kubectl apply -f deploy/crds/' },
  );
  const now = facts.now ?? new Date();
  const lease = p.lease;
  const renewed = lease?.renewTime ? new Date(lease.renewTime) : undefined;
  const fresh = renewed !== undefined && now.getTime() - renewed.getTime() <= (lease?.durationSeconds ?? 15) * 1000;
  if (!lease) out.push({ id: 'palisade-controller-leader', title: 'Palisade controller leader', status: 'fail', evidence: 'no Lease palisade-system/palisade-controller', fix: 'kubectl apply -f deploy/ and check the controller pods\' logs' });
  else if (!lease.holder || !fresh)
    out.push({ id: 'palisade-controller-leader', title: 'Palisade controller leader', status: 'fail', evidence: `Lease palisade-controller: holder ${lease.holder ?? '(none)'}, renewed ${lease.renewTime ?? 'never'}`, fix: 'check the controller pods: kubectl -n palisade-system logs deploy/palisade-controller' });
  else out.push({ id: 'palisade-controller-leader', title: 'Palisade controller leader', status: 'pass', evidence: `held by ${lease.holder}, renewed ${lease.renewTime}` });
  const a = p.agent;
  if (!a) out.push({ id: 'palisade-agents', title: 'Palisade agents ready', status: 'fail', evidence: 'no DaemonSet palisade-system/palisade-agent', fix: 'kubectl apply -f deploy/agent.yaml' });
  else if (a.ready < a.desired || a.desired === 0)
    out.push({ id: 'palisade-agents', title: 'Palisade agents ready', status: a.desired === 0 ? 'warn' : 'fail', evidence: `${a.ready} of ${a.desired} agents ready`, fix: 'kubectl -n palisade-system get pods -l app.kubernetes.io/name=palisade; the agent needs root and nftables' });
  else out.push({ id: 'palisade-agents', title: 'Palisade agents ready', status: 'pass', evidence: `${a.ready} of ${a.desired} agents ready` });
  return out;
}

/** Every check on facts already read. */
export function runChecks(facts: ClusterFacts): DoctorReport {
  const checks = [versionCheck(facts), cniCheck(facts), controllerCheck(facts), agentCheck(facts), ...bugChecks(facts), kernelCheck(facts), crdCheck(facts), flowLogCheck(facts), ...palisadeChecks(facts)];
  const summary = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks) summary[c.status]++;
  return { checks, summary };
}

// ---------------------------------------------------------------- reading the cluster

function statusOf(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const r = e as { code?: unknown };
  return typeof r.code === 'number' ? r.code : undefined;
}

function errText(e: unknown): string {
  const code = statusOf(e);
  const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return code !== undefined ? `HTTP ${code}: ${msg.slice(0, 200)}` : msg.slice(0, 200);
}

/** Reads one fact; a 404 is "absent" (undefined), any other error is recorded and also gives undefined. */
async function read<T>(errors: Record<string, string>, key: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (statusOf(e) !== 404) errors[key] = `cannot read: ${errText(e)}`;
    return undefined;
  }
}

function containerFacts(c: V1Container): ContainerFacts {
  return { name: c.name, image: c.image ?? '', args: c.args ?? [] };
}

/** Reads everything the checks need from the cluster the kubeconfig names. */
export async function gatherFacts(kc: KubeConfig): Promise<ClusterFacts> {
  const errors: Record<string, string> = {};
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  let version;
  try {
    version = await kc.makeApiClient(VersionApi).getCode();
  } catch (e) {
    // No answer at all: every other check would only repeat it.
    if (statusOf(e) === undefined) throw new InputError(`cannot reach the API server ${kc.getCurrentCluster()?.server ?? ''}: ${errText(e)}`);
    errors.version = `cannot read /version: ${errText(e)}`;
  }
  const ds = await read(errors, 'awsNode', () => apps.readNamespacedDaemonSet({ name: 'aws-node', namespace: 'kube-system' }));
  const cm = await read(errors, 'configMap', () => core.readNamespacedConfigMap({ name: 'amazon-vpc-cni', namespace: 'kube-system' }));
  const nodes = await read(errors, 'nodes', () => core.listNode());
  const crds = await read(errors, 'crds', () => kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition());
  const ns = await read(errors, 'palisade', () => core.readNamespace({ name: 'palisade-system' }));
  let palisade: ClusterFacts['palisade'];
  if (ns) {
    const agent = await read(errors, 'palisadeAgent', () => apps.readNamespacedDaemonSet({ name: 'palisade-agent', namespace: 'palisade-system' }));
    const controller = await read(errors, 'palisadeController', () => apps.readNamespacedDeployment({ name: 'palisade-controller', namespace: 'palisade-system' }));
    const lease = await read(errors, 'palisadeLease', () => kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'palisade-controller', namespace: 'palisade-system' }));
    const renew = lease?.spec?.renewTime as unknown;
    palisade = {
      ...(agent ? { agent: { desired: agent.status?.desiredNumberScheduled ?? 0, ready: agent.status?.numberReady ?? 0 } } : {}),
      ...(controller ? { controller: { replicas: controller.spec?.replicas ?? 1, ready: controller.status?.readyReplicas ?? 0 } } : {}),
      ...(lease
        ? {
            lease: {
              ...(lease.spec?.holderIdentity ? { holder: lease.spec.holderIdentity } : {}),
              ...(renew !== undefined && renew !== null ? { renewTime: renew instanceof Date ? renew.toISOString() : String(renew) } : {}),
              ...(lease.spec?.leaseDurationSeconds !== undefined ? { durationSeconds: lease.spec.leaseDurationSeconds } : {}),
            },
          }
        : {}),
    };
  }
  const spec = ds?.spec?.template.spec;
  return {
    ...(version ? { serverVersion: version.gitVersion } : {}),
    ...(spec ? { awsNode: [...(spec.initContainers ?? []), ...spec.containers].map(containerFacts) } : {}),
    ...(cm ? { vpcCniConfig: cm.data ?? {} } : {}),
    nodes: (nodes?.items ?? []).map((n) => ({ name: n.metadata?.name ?? '', ...(n.status?.nodeInfo?.kernelVersion ? { kernelVersion: n.status.nodeInfo.kernelVersion } : {}) })),
    crds: (crds?.items ?? []).map((c) => c.metadata?.name ?? ''),
    ...(palisade ? { palisade } : {}),
    errors,
  };
}

/** The text report: one line per check, evidence and fix indented. */
export function renderDoctor(report: DoctorReport): string {
  const mark: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${mark[c.status]}  ${c.title}`);
    lines.push(`      ${c.evidence}`);
    if (c.fix) lines.push(`      fix: ${c.fix}`);
  }
  const s = report.summary;
  lines.push(`${s.pass} passed, ${s.warn} warnings, ${s.fail} failed`);
  return lines.join('\n');
}
