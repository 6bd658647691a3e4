/**
 * Every command of the program, in the order `--help` lists them. Each is loaded only when it runs (or when its own
 * help is asked for), so `palisade --version` and a single command start without loading the others and their
 * dependencies. To add a command: one row here, with the description its module gives `.description()`.
 */
import type { Register } from './program.js';

/** One command: its name, the one-line description `palisade --help` lists, and how to load its module. */
export interface CommandEntry {
  readonly name: string;
  readonly description: string;
  readonly load: () => Promise<Register>;
}

export const commandTable: readonly CommandEntry[] = [
  { name: 'check', description: 'validate manifests as the Kubernetes API server would (NetworkPolicy, admin tiers, pods, workloads, ...)', load: async () => (await import('./check.js')).registerCheck },
  { name: 'matrix', description: 'who can reach whom: every pod, workload and external range, with the allowed ports', load: async () => (await import('./matrix.js')).registerMatrix },
  { name: 'why', description: 'explain one flow: the verdict, and which tier, policy and rule decided each direction', load: async () => (await import('./why.js')).registerWhy },
  { name: 'explain', description: 'every policy in plain words: what it applies to, and each rule with its peers as the API groups them', load: async () => (await import('./explain.js')).registerExplain },
  { name: 'lint', description: 'find policy mistakes validation cannot see: DNS blocked, selectors matching nothing, AND/OR slips, shadowed rules, ...', load: async () => (await import('./lint.js')).registerLint },
  { name: 'diff', description: 'connections opened and closed between two versions of the manifests, with the policy responsible for each', load: async () => (await import('./diff.js')).registerDiff },
  { name: 'generate', description: 'generate policies from a higher-level description', load: async () => (await import('./generate.js')).registerGenerate },
  { name: 'endpoints', description: 'the PolicyEndpoints (AWS VPC CNI format) the controller writes: which IPs each policy applies to and allows', load: async () => (await import('./endpoints.js')).registerEndpoints },
  { name: 'audit', description: "check AWS's own artefacts against the engine: the PolicyEndpoints its controller wrote, its node agent's flow log", load: async () => (await import('./audit.js')).registerAudit },
  { name: 'doctor', description: 'check a cluster for NetworkPolicy on EKS: Kubernetes ≥ 1.25, VPC CNI ≥ v1.14 with network policy on, known agent bugs, kernels ≥ 5.10, CRDs, flow logs, Palisade', load: async () => (await import('./doctor.js')).registerDoctor },
  { name: 'controller', description: 'resolve policies into PolicyEndpoints (AWS VPC CNI format) in a live cluster, continuously', load: async () => (await import('./controller.js')).registerController },
  { name: 'agent', description: "Run the node agent: enforce this node's PolicyEndpoints with nftables, until SIGTERM or SIGINT (root).", load: async () => (await import('./agent.js')).registerAgent },
  { name: 'lab', description: 'Build the cluster of some manifests from network namespaces on this machine and probe it with real connections (root).', load: async () => (await import('./lab.js')).registerLab },
  { name: 'conformance', description: 'Check Palisade against the Kubernetes and admin-tier network policy conformance cases.', load: async () => (await import('./conformance.js')).registerConformance },
  { name: 'serve', description: 'a local web UI: matrix, graph, why, policies in plain words, and a live policy editor', load: async () => (await import('./serve.js')).registerServe },
];

/** Every command, loaded (for tests that register a chosen set). */
export async function loadAllCommands(): Promise<Register[]> {
  return Promise.all(commandTable.map((c) => c.load()));
}
