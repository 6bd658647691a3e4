/**
 * The netns lab: a VPC-CNI-like cluster on one machine, entirely inside network namespaces it creates.
 *
 *   <prefix>lab    the underlay: a bridge joining every node, the internet host and the metadata host (10.99.0.0/24)
 *   <prefix>n<i>   one per node: forwards for its pods, runs the nft table the agent programs
 *   <prefix>p<j>   one per pod: eth0 with the pod IP /32, default via 169.254.1.1 (static neighbour = host veth MAC),
 *                  host side `<prefix>v<j>` in the node with a /32 route — the layout the agent discovers pods from
 *   <prefix>inet   an "internet" host (10.250.0.1); <prefix>meta: a host answering on 169.254.169.254
 *
 * Dual-stack when a pod has an IPv6 address (or `ipv6` asks for them): pod eth0 also holds its IPv6 address as /128
 * (nodad), default via fe80::1 (static neighbour = host veth MAC), a /128 host route on the node, IPv6 forwarding on
 * the nodes, fd00:99::/64 on the underlay, the internet host also at fd00:250::1 and the metadata host also at
 * fd00:ec2::254 (EC2's IPv6 metadata address). An IPv4-only lab has no IPv6 address anywhere.
 *
 * No address is ever put on a host interface and nothing links to a real interface. Everything created is recorded
 * first in /run/palisade-lab/<prefix>state.json; `labDown` (also run by `labUp` first) removes it after a crash too.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile, mkdir, readlink } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { parseAllDocuments } from 'yaml';
import type { Pod, Protocol } from '../api/types.js';
import { isPolicyEndpoint, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';
import { runAgent, type Agent } from '../agent/agent.js';
import type { FlowExplainer, FlowRecord } from '../agent/flowlog.js';
import { StaticPolicyEndpointSource } from '../agent/source.js';
import { canonicalAddress } from '../nft/address.js';
import { run } from '../nft/apply.js';
import type { EnforcingMode } from '../nft/compile.js';
import { HelperClient } from './helper-client.js';
import { POD_HELPER_SOURCE } from './pod-helper.js';
import { labProbe, type ProbeReport, type ProbeOptions } from './probe.js';
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, readState, removeState, writeState, type LabEndpoint, type LabPort, type LabState } from './state.js';

/** A pod to create. */
export interface LabPodSpec {
  readonly name: string;
  /** @default "default" */
  readonly namespace?: string;
  /** Node name; @default round-robin over the nodes */
  readonly node?: string;
  /** IPv4 address; @default allocated from 10.244.<node>.0/24 */
  readonly ip?: string;
  /** IPv6 address; makes the lab dual-stack. @default none, or allocated from fd00:10::/64 when the cluster's `ipv6` is set */
  readonly ip6?: string;
  /** Served on TCP and UDP as listed. @default [{ port: 80, protocol: 'TCP' }] */
  readonly ports?: readonly LabPort[];
  readonly labels?: Readonly<Record<string, string>>;
}

export interface LabClusterSpec {
  readonly nodes: readonly string[];
  readonly pods: readonly LabPodSpec[];
  /** Give every pod without `ip6` an IPv6 address (fd00:10::<node>:<n>). @default false (dual-stack only if a pod has `ip6`) */
  readonly ipv6?: boolean;
}

/** A created pod. */
export interface LabPod extends LabEndpoint {
  readonly name: string;
  readonly namespace: string;
  readonly node: string;
  readonly hostIf: string;
  readonly hostIP: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LabNode {
  readonly name: string;
  readonly netns: string;
  readonly ip: string;
  /** Its underlay IPv6 address, in a dual-stack lab. */
  readonly ip6?: string;
}

/** PolicyEndpoints as a list, or computed from the lab's pods (their IPs are known only after `up`). */
export type PolicySource =
  | readonly PolicyEndpoint[]
  | ((pods: readonly LabPod[]) => readonly PolicyEndpoint[] | Promise<readonly PolicyEndpoint[]>);

export interface LabOptions {
  /** Prefix of every namespace and interface name. @default "pl-" */
  readonly prefix?: string;
  /** @default "/run/palisade-lab" */
  readonly stateDir?: string;
  /** @default the PolicyEndpoints found in the manifests, else none */
  readonly policies?: PolicySource;
  /** @default "standard" */
  readonly enforcingMode?: EnforcingMode;
  /** Start one in-process agent per node. @default true */
  readonly agents?: boolean;
  /** Flow logs of the agents, collected in `lab.flowLogs`. @default false */
  readonly flowLogs?: boolean | { readonly accept?: boolean };
  /** Explains each flow-log record (rule, engine verdict, mismatch). @default none; `labUpCluster` passes the engine's */
  readonly explain?: FlowExplainer;
  /** The agents' logger. @default errors only, on stderr */
  readonly logger?: Logger;
  /** Ports of the internet host. @default TCP 80 and UDP 53 */
  readonly internetPorts?: readonly LabPort[];
  /** Ports of the metadata host. @default TCP 80 */
  readonly metadataPorts?: readonly LabPort[];
  /**
   * The agents' own periodic self-check (see AgentOptions.selfCheckIntervalMs). Off by default in the lab, which proves
   * the tables when asked (`proveLab`), so no proof competes with the probes for the CPU. @default 0 (off)
   */
  readonly selfCheckIntervalMs?: number;
}

export interface Lab {
  readonly prefix: string;
  readonly stateDir: string;
  readonly nodes: readonly LabNode[];
  readonly pods: readonly LabPod[];
  readonly internet: LabEndpoint;
  readonly metadata: LabEndpoint;
  readonly agents: ReadonlyMap<string, Agent>;
  /** Flow-log records of all agents, in arrival order. */
  readonly flowLogs: FlowRecord[];
  /**
   * Replaces the PolicyEndpoints (and, when given, the ClusterPolicyEndpoints of the admin tiers) and waits until every
   * agent has synced them.
   */
  setPolicies(source: PolicySource, clusterPolicyEndpoints?: readonly ClusterPolicyEndpoint[]): Promise<void>;
  /** The PolicyEndpoints currently given to the agents. */
  policies(): readonly PolicyEndpoint[];
  /** Creates one more pod (its helper running) without syncing the agents. */
  addPod(spec: LabPodSpec): Promise<LabPod>;
  /** A connection to an endpoint's probe helper (cached). */
  helper(id: string): Promise<HelperClient>;
  probe(opts?: Omit<ProbeOptions, 'prefix' | 'stateDir'>): Promise<ProbeReport>;
  /**
   * Stops the agents and lets go of the lab without removing it: the nft tables stay programmed, the pods and their
   * helpers keep running, and `labProbe`/`labDown` find everything from the state file (the CLI's `lab up`).
   */
  detach(): Promise<void>;
  down(): Promise<void>;
}

const UNDERLAY = '10.99.0';
const INTERNET_IP = '10.250.0.1';
const METADATA_IP = '169.254.169.254';
const GATEWAY = '169.254.1.1';
const UNDERLAY6 = 'fd00:99::';
const INTERNET_IP6 = 'fd00:250::1';
const METADATA_IP6 = 'fd00:ec2::254';
const GATEWAY6 = 'fe80::1';

async function ip(args: string[], netns?: string): Promise<string> {
  return (await run('ip', netns ? ['-n', netns, ...args] : args)).stdout;
}

async function sysctl(netns: string, key: string, value: string): Promise<void> {
  await run('sysctl', ['-qw', `${key}=${value}`], { netns });
}

/** The nodes a lab of `spec` gets: namespace and underlay addresses (IPv6 too in a dual-stack lab). */
export function labNodes(spec: LabClusterSpec, prefix = DEFAULT_PREFIX): LabNode[] {
  const dual = spec.ipv6 === true || spec.pods.some((p) => p.ip6 !== undefined);
  return spec.nodes.map((name, i) => ({
    name, netns: `${prefix}n${i + 1}`, ip: `${UNDERLAY}.${11 + i}`, ...(dual ? { ip6: `${UNDERLAY6}${(11 + i).toString(16)}` } : {}),
  }));
}

/** Reads Pod, Node and PolicyEndpoint objects from a directory of YAML/JSON manifests. */
export async function loadLabManifests(dir: string): Promise<{ cluster: LabClusterSpec; policyEndpoints: PolicyEndpoint[] }> {
  const objs: unknown[] = [];
  for (const f of (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort()) {
    const text = await readFile(join(dir, f), 'utf8');
    for (const d of parseAllDocuments(text)) {
      const o = d.toJS() as unknown;
      const items = (o as { items?: unknown[] } | null)?.items;
      objs.push(...(Array.isArray(items) ? items : [o]));
    }
  }
  const pods = objs.filter((o): o is Pod => (o as Pod | null)?.kind === 'Pod');
  const nodeNames = objs.filter((o) => (o as { kind?: string } | null)?.kind === 'Node').map((o) => (o as { metadata: { name: string } }).metadata.name);
  for (const p of pods) if (p.spec.nodeName && !nodeNames.includes(p.spec.nodeName)) nodeNames.push(p.spec.nodeName);
  if (nodeNames.length === 0) nodeNames.push('node-1', 'node-2');
  const cluster: LabClusterSpec = {
    nodes: nodeNames,
    pods: pods.map((p) => ({
      name: p.metadata.name ?? 'pod',
      namespace: p.metadata.namespace ?? 'default',
      node: p.spec.nodeName,
      ip: podIPs(p).find((a) => isIPv4(a)),
      ip6: podIPs(p).find((a) => isIPv6(a)),
      labels: p.metadata.labels,
      ports: p.spec.containers.flatMap((c) => (c.ports ?? []).map((cp) => ({ port: cp.containerPort, protocol: (cp.protocol ?? 'TCP') as Protocol }))),
    })),
  };
  return { cluster, policyEndpoints: objs.filter(isPolicyEndpoint) };
}

/** A Pod's addresses: `status.podIPs`, else `status.podIP`. */
function podIPs(p: Pod): string[] {
  const list = p.status?.podIPs?.map((x) => x.ip) ?? [];
  return list.length > 0 ? list : p.status?.podIP ? [p.status.podIP] : [];
}

/** Kills every process living in one of `names`' network namespaces (helpers, tcpdump), found by namespace inode. */
async function killProcessesIn(names: readonly string[]): Promise<void> {
  const inodes = new Set<string>();
  for (const n of names) {
    try { inodes.add(`net:[${(await stat(`/run/netns/${n}`)).ino}]`); } catch { /* gone */ }
  }
  if (inodes.size === 0) return;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (inodes.has(await readlink(`/proc/${pid}/ns/net`))) process.kill(Number(pid), 'SIGKILL');
    } catch { /* exited or not ours to read */ }
  }
}

/**
 * Removes everything a lab with this prefix created: processes in its namespaces, the namespaces (and with them every
 * interface, route and nft table inside), sockets and the state file. Safe to call when nothing exists.
 */
export async function labDown(opts: { prefix?: string; stateDir?: string } = {}): Promise<void> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
  const state = await readState(stateDir, prefix);
  // Also namespaces named like ours but missing from the state file (a crash between create and record cannot
  // happen — we record first — but an older run may have used another state dir).
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(lab|inet|meta|n\\d+|p\\d+)$`);
  const listed = (await ip(['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]).filter((n) => pattern.test(n));
  const names = [...new Set([...(state?.netns ?? []), ...listed])];
  await killProcessesIn(names);
  for (const n of names.reverse()) {
    await run('ip', ['netns', 'del', n]).catch(() => undefined);
  }
  for (const e of state?.endpoints ?? []) await rm(e.sock, { force: true });
  await rm(join(stateDir, `${prefix}helper.mjs`), { force: true });
  await removeState(stateDir, prefix);
}

/** Names of namespaces with this prefix that exist now (empty after a clean `down`). */
export async function labLeftovers(prefix = DEFAULT_PREFIX): Promise<string[]> {
  const names = (await ip(['netns', 'list'])).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(prefix));
  return names;
}

/**
 * Builds the lab and (by default) starts one agent per node on the given PolicyEndpoints.
 *
 * @param cluster a directory of manifests (Pods, Nodes, PolicyEndpoints) or the nodes and pods to create
 * @example
 * const lab = await labUp({ nodes: ['n1', 'n2'], pods: [{ name: 'a', node: 'n1', ports: [{ port: 80, protocol: 'TCP' }] }] },
 *   { policies: (pods) => myPolicyEndpoints(pods) });
 * console.log((await lab.probe()).table);
 * await lab.down();
 */
export async function labUp(cluster: string | LabClusterSpec, opts: LabOptions = {}): Promise<Lab> {
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const stateDir = opts.stateDir ?? DEFAULT_STATE_DIR;
  if (!/^[a-z0-9-]{1,6}$/.test(prefix)) throw new Error('prefix: 1–6 characters of [a-z0-9-] (interface names are ≤ 15)');
  let policySource: PolicySource | undefined = opts.policies;
  let spec: LabClusterSpec;
  if (typeof cluster === 'string') {
    const loaded = await loadLabManifests(cluster);
    spec = loaded.cluster;
    policySource ??= loaded.policyEndpoints;
  } else {
    spec = cluster;
  }
  await labDown({ prefix, stateDir });
  await mkdir(stateDir, { recursive: true });
  const helperFile = join(stateDir, `${prefix}helper.mjs`);
  await writeFile(helperFile, POD_HELPER_SOURCE);

  const state: LabState = { prefix, netns: [], endpoints: [], helperPids: [] };
  const addNetns = async (name: string) => {
    state.netns.push(name);
    await writeState(stateDir, state);
    await run('ip', ['netns', 'add', name]);
    await ip(['link', 'set', 'lo', 'up'], name);
    // No duplicate address detection: link-local addresses (the NDP sources) are usable the moment a link is up.
    if (dual) for (const k of ['all', 'default']) await sysctl(name, `net.ipv6.conf.${k}.accept_dad`, '0');
  };

  const labNs = `${prefix}lab`;
  const bridge = `${prefix}br`;
  const dual = spec.ipv6 === true || spec.pods.some((p) => p.ip6 !== undefined);
  const nodes: LabNode[] = labNodes(spec, prefix);
  const pods: LabPod[] = [];
  const clients = new Map<string, HelperClient>();
  const agents = new Map<string, Agent>();
  const sources = new Map<string, StaticPolicyEndpointSource>();
  const flowLogs: FlowRecord[] = [];
  let currentPes: readonly PolicyEndpoint[] = [];

  const underlayPort = async (netns: string, bridgePort: string, addrs: string[]) => {
    await ip(['link', 'add', bridgePort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns], labNs);
    await ip(['link', 'set', bridgePort, 'master', bridge, 'up'], labNs);
    for (const a of addrs) await ip(['addr', 'add', a, 'dev', 'eth0', ...(a.includes(':') ? ['nodad'] : [])], netns);
    await ip(['link', 'set', 'eth0', 'up'], netns);
  };

  const startHelper = async (e: LabEndpoint) => {
    const child = spawn('ip', ['netns', 'exec', e.netns, process.execPath, helperFile, JSON.stringify({ name: e.id, ports: e.ports, sock: e.sock })], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid) state.helperPids.push(child.pid);
    await new Promise<void>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`helper of ${e.id} did not start: ${err}`)), 10_000);
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) { clearTimeout(timer); resolve(); } });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`helper of ${e.id} exited (${code}): ${err}`)); });
    });
    child.unref();
    child.stdout.destroy();
    child.stderr.destroy();
    state.endpoints.push(e);
    await writeState(stateDir, state);
  };

  let podCounter = 0;
  const used = new Set(spec.pods.map((p) => p.ip).filter((x): x is string => !!x));
  const allocate = (nodeIdx: number): string => {
    for (let h = 2; h < 255; h++) {
      const a = `10.244.${nodeIdx + 1}.${h}`;
      if (!used.has(a)) { used.add(a); return a; }
    }
    throw new Error('lab pod addresses exhausted');
  };
  const used6 = new Set(spec.pods.map((p) => p.ip6).filter((x): x is string => !!x).map(canonicalAddress));
  const allocate6 = (nodeIdx: number): string => {
    for (let h = 2; h < 255; h++) {
      const a = `fd00:10::${(nodeIdx + 1).toString(16)}:${h.toString(16)}`;
      if (!used6.has(a)) { used6.add(a); return a; }
    }
    throw new Error('lab pod IPv6 addresses exhausted');
  };

  const routeToPodEverywhere = async (podIp: string, podIp6: string | undefined, node: LabNode) => {
    await Promise.all([
      ...(podIp6 === undefined || node.ip6 === undefined
        ? []
        : [
            ...nodes.filter((n) => n !== node).map((n) => ip(['-6', 'route', 'add', `${podIp6}/128`, 'via', node.ip6!], n.netns)),
            ip(['-6', 'route', 'add', `${podIp6}/128`, 'via', node.ip6, 'src', INTERNET_IP6], `${prefix}inet`),
            ip(['-6', 'route', 'add', `${podIp6}/128`, 'via', node.ip6, 'src', METADATA_IP6], `${prefix}meta`),
          ]),
      ...nodes.filter((n) => n !== node).map((n) => ip(['route', 'add', `${podIp}/32`, 'via', node.ip], n.netns)),
      // `src`: UDP answers of the helpers (unconnected sockets) must leave from the address that was asked, or
      // conntrack sees a new flow instead of the reply.
      ip(['route', 'add', `${podIp}/32`, 'via', node.ip, 'src', INTERNET_IP], `${prefix}inet`),
      ip(['route', 'add', `${podIp}/32`, 'via', node.ip, 'src', METADATA_IP], `${prefix}meta`),
    ]);
  };

  const addPod = async (p: LabPodSpec): Promise<LabPod> => {
    const j = ++podCounter;
    const nodeIdx = p.node === undefined ? (j - 1) % nodes.length : nodes.findIndex((n) => n.name === p.node);
    if (nodeIdx < 0) throw new Error(`pod ${p.name}: unknown node ${p.node}`);
    const node = nodes[nodeIdx];
    const netns = `${prefix}p${j}`;
    const hostIf = `${prefix}v${j}`;
    const podIp = p.ip ?? allocate(nodeIdx);
    const podIp6 = p.ip6 !== undefined ? canonicalAddress(p.ip6) : spec.ipv6 ? allocate6(nodeIdx) : undefined;
    await addNetns(netns);
    await ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns], node.netns);
    await ip(['link', 'set', hostIf, 'up'], node.netns);
    const mac = (JSON.parse(await ip(['-j', 'link', 'show', hostIf], node.netns)) as { address: string }[])[0].address;
    await ip(['addr', 'add', `${podIp}/32`, 'dev', 'eth0'], netns);
    await ip(['link', 'set', 'eth0', 'up'], netns);
    await ip(['route', 'add', GATEWAY, 'dev', 'eth0'], netns);
    await ip(['route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0'], netns);
    await ip(['neigh', 'replace', GATEWAY, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent'], netns);
    await ip(['route', 'add', `${podIp}/32`, 'dev', hostIf], node.netns);
    if (podIp6 !== undefined) {
      await ip(['-6', 'addr', 'add', `${podIp6}/128`, 'dev', 'eth0', 'nodad'], netns);
      await ip(['-6', 'neigh', 'replace', GATEWAY6, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent'], netns);
      await ip(['-6', 'route', 'add', 'default', 'via', GATEWAY6, 'dev', 'eth0'], netns);
      await ip(['-6', 'route', 'add', `${podIp6}/128`, 'dev', hostIf], node.netns);
    }
    await routeToPodEverywhere(podIp, podIp6, node);
    const ns = p.namespace ?? 'default';
    const pod: LabPod = {
      id: `${ns}/${p.name}`, kind: 'pod', name: p.name, namespace: ns, node: node.name, netns, ip: podIp, ...(podIp6 !== undefined ? { ip6: podIp6 } : {}), hostIf, hostIP: node.ip,
      labels: p.labels ?? {}, ports: p.ports && p.ports.length > 0 ? p.ports : [{ port: 80, protocol: 'TCP' }], sock: join(stateDir, `${netns}.sock`),
    };
    await startHelper(pod);
    pods.push(pod);
    return pod;
  };

  try {
    await addNetns(labNs);
    // Without snooping the bridge floods IPv6 neighbour solicitations (multicast) whatever MLD it saw.
    await ip(['link', 'add', bridge, 'type', 'bridge', ...(dual ? ['mcast_snooping', '0'] : [])], labNs);
    await ip(['link', 'set', bridge, 'up'], labNs);
    for (const [i, n] of nodes.entries()) {
      await addNetns(n.netns);
      await sysctl(n.netns, 'net.ipv4.ip_forward', '1');
      if (dual) await sysctl(n.netns, 'net.ipv6.conf.all.forwarding', '1');
      await underlayPort(n.netns, `${prefix}b${i + 1}`, [`${n.ip}/24`, ...(n.ip6 ? [`${n.ip6}/64`] : [])]);
    }
    const internet: LabEndpoint = {
      id: 'internet', kind: 'external', netns: `${prefix}inet`, ip: INTERNET_IP, ...(dual ? { ip6: INTERNET_IP6 } : {}), sock: join(stateDir, `${prefix}inet.sock`),
      ports: opts.internetPorts ?? [{ port: 80, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }],
    };
    const metadata: LabEndpoint = {
      id: 'metadata', kind: 'external', netns: `${prefix}meta`, ip: METADATA_IP, ...(dual ? { ip6: METADATA_IP6 } : {}), sock: join(stateDir, `${prefix}meta.sock`),
      ports: opts.metadataPorts ?? [{ port: 80, protocol: 'TCP' }],
    };
    await addNetns(internet.netns);
    await underlayPort(internet.netns, `${prefix}bi`, [`${UNDERLAY}.2/24`, `${INTERNET_IP}/32`, ...(dual ? [`${UNDERLAY6}2/64`, `${INTERNET_IP6}/128`] : [])]);
    await addNetns(metadata.netns);
    await underlayPort(metadata.netns, `${prefix}bm`, [`${UNDERLAY}.3/24`, `${METADATA_IP}/32`, ...(dual ? [`${UNDERLAY6}3/64`, `${METADATA_IP6}/128`] : [])]);
    for (const n of nodes) {
      await ip(['route', 'add', `${INTERNET_IP}/32`, 'via', `${UNDERLAY}.2`], n.netns);
      await ip(['route', 'add', `${METADATA_IP}/32`, 'via', `${UNDERLAY}.3`], n.netns);
      if (dual) {
        await ip(['-6', 'route', 'add', `${INTERNET_IP6}/128`, 'via', `${UNDERLAY6}2`], n.netns);
        await ip(['-6', 'route', 'add', `${METADATA_IP6}/128`, 'via', `${UNDERLAY6}3`], n.netns);
      }
    }
    await Promise.all([startHelper(internet), startHelper(metadata)]);
    for (const p of spec.pods) await addPod(p);

    const resolvePes = async (src: PolicySource | undefined) => (typeof src === 'function' ? await src(pods) : src ?? []);
    currentPes = await resolvePes(policySource);

    if (opts.agents ?? true) {
      const flow = opts.flowLogs ? { accept: typeof opts.flowLogs === 'object' ? opts.flowLogs.accept ?? false : false, sink: (r: FlowRecord) => flowLogs.push(r) } : undefined;
      for (const n of nodes) {
        const source = new StaticPolicyEndpointSource(currentPes);
        sources.set(n.name, source);
        agents.set(n.name, await runAgent({
          node: n.name, input: source, enforcingMode: opts.enforcingMode ?? 'standard', netns: n.netns,
          podInterfaces: `${prefix}v*`, flowLogs: flow, pollIntervalMs: 500, logger: opts.logger ?? quietLogger(),
          selfCheckIntervalMs: opts.selfCheckIntervalMs ?? 0,
          ...(opts.explain ? { explain: opts.explain } : {}),
        }));
      }
    }

    const lab: Lab = {
      prefix, stateDir, nodes, pods, internet, metadata, agents, flowLogs,
      async setPolicies(src, cluster) {
        currentPes = await resolvePes(src);
        for (const [name, s] of sources) {
          s.set(currentPes, cluster);
          await agents.get(name)!.sync();
        }
      },
      policies: () => currentPes,
      addPod,
      async helper(id) {
        const have = clients.get(id);
        if (have) return have;
        const e = state.endpoints.find((x) => x.id === id);
        if (!e) throw new Error(`no endpoint ${id}`);
        const c = await HelperClient.connect(e.sock);
        clients.set(id, c);
        return c;
      },
      probe: (o = {}) => labProbe({ ...o, prefix, stateDir }),
      async detach() {
        for (const c of clients.values()) c.close();
        clients.clear();
        for (const a of agents.values()) await a.stop();
      },
      async down() {
        for (const c of clients.values()) c.close();
        for (const a of agents.values()) await a.stop().catch(() => undefined);
        await labDown({ prefix, stateDir });
      },
    };
    return lab;
  } catch (e) {
    for (const c of clients.values()) c.close();
    for (const a of agents.values()) await a.stop().catch(() => undefined);
    await labDown({ prefix, stateDir });
    throw e;
  }
}

/** Agents in the lab log errors only; the lab's user reads the probe table. */
function quietLogger() {
  return pino({ level: 'error' });
}
