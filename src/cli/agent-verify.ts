/**
 * `palisade agent verify`: reads back this node's `inet palisade` table from the kernel and proves it equal — for every
 * local pod, direction, address range, protocol and port range — to what the (Cluster)PolicyEndpoints the agent reads
 * mean and, with --manifests, to the engine. It shares the agent's flags (--node, --netns, --policy-endpoints,
 * --kubeconfig, --context, --enforcing-mode, --pod-interfaces, --manifests), which belong to `palisade agent`.
 */
import { Option, type Command } from 'commander';
import { discoverNodeAddresses, discoverPods } from '../agent/discover.js';
import { FilePolicyEndpointSource } from '../agent/source.js';
import { formatVerification, namePods, verified, verifyNode, type NodeObjects, type NodeVerification } from '../agent/verify.js';
import { formatIP } from '../api/ip.js';
import { compile } from '../engine/engine.js';
import { labRequirements } from '../lab/requirements.js';
import type { EnforcingMode } from '../nft/compile.js';
import { RulesetError } from '../nft/interpret.js';
import type { ProofResult } from '../verify/prove.js';
import { projectFamily } from '../verify/expect.js';
import { readInput } from './input.js';
import { EXIT_FINDINGS, EXIT_USAGE, action, type Io } from './program.js';

/** The flags of `palisade agent` that `verify` reads. */
interface SharedFlags {
  readonly node?: string;
  readonly policyEndpoints?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly enforcingMode: EnforcingMode;
  readonly manifests?: string[];
  readonly netns?: string;
  readonly podInterfaces: string;
}

function proofJson(r: ProofResult) {
  if (r.proved) return { proved: true, cells: r.cells };
  const p = r.counterexample.packet;
  return {
    proved: false,
    cells: r.cells,
    counterexample: {
      text: r.counterexample.text,
      hook: p.hook, iif: p.iif, oif: p.oif, family: p.family, saddr: formatIP(p.family, p.saddr), daddr: formatIP(p.family, p.daddr), protocol: p.proto.toUpperCase(), port: p.dport,
      expected: r.counterexample.expected ? 'accept' : 'drop',
      actual: r.counterexample.actual ? 'accept' : 'drop',
    },
  };
}

function verificationJson(node: string, v: NodeVerification) {
  return {
    node,
    pods: v.pods,
    proved: verified(v),
    objects: proofJson(v.objects),
    ...(v.engine ? { engine: { ...proofJson(v.engine.result), notInManifests: v.engine.notInEngine } } : {}),
    unenforceable: v.unenforceable,
    ms: Math.round(v.ms),
  };
}

/** Adds `verify` under the `palisade agent` command. */
export function addAgentVerify(agent: Command, io: Io, setExit: (code: number) => void): void {
  agent
    .command('verify')
    .description("Prove this node's nftables table equal to its PolicyEndpoints (and, with --manifests, to the engine), for every local pod, address, protocol and port (root).")
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Reads the table back with \`nft -j list table inet palisade\` (in --netns when given), interprets it, and proves it
decides every new connection of every local pod (found as the agent finds them: host routes on --pod-interfaces) as
the objects the agent reads mean: symbolically, on every cell of addresses x protocols x ports where either side can
change its answer, not by sampling. With --manifests it also proves it equal to the engine's verdicts (standard mode
only: the engine has no strict mode). Prints a line with "proved" and the cell count per proof, or the first
counterexample packet and exits 1. Entries the agent cannot enforce (a domainName, no cidr) are named.
The options of \`palisade agent\` (--node, --netns, --policy-endpoints, --kubeconfig, --enforcing-mode, ...) apply.

Examples:
  $ sudo palisade agent verify --node node-1 --policy-endpoints /etc/palisade/pe
  node-1: table = PolicyEndpoints: proved on 51840 cells (12 local pods)
  $ sudo palisade agent verify --node n1 --netns pl-n1 --pod-interfaces 'pl-v*' --policy-endpoints pe/ --manifests examples/eks-multi-team/ -o json`,
    )
    .action(
      action(io, setExit, async (_own: { output: 'text' | 'json' }, cmd: Command) => {
        const flags = cmd.optsWithGlobals<SharedFlags & { output: 'text' | 'json' }>();
        if (flags.node === undefined) {
          io.err("error: required option '--node <name>' not specified");
          setExit(EXIT_USAGE);
          return;
        }
        const why = labRequirements();
        if (why && !why.startsWith('missing tcpdump')) {
          io.err(`error: cannot read the table here: ${why.replace(/^the lab/, 'the agent')}`);
          setExit(EXIT_FINDINGS);
          return;
        }
        if (flags.policyEndpoints !== undefined && (flags.kubeconfig !== undefined || flags.context !== undefined)) {
          io.err('error: --policy-endpoints reads files; it cannot be combined with --kubeconfig or --context');
          setExit(EXIT_FINDINGS);
          return;
        }
        // The engine of each address family, from the manifests (an error in them stops here, as InputError).
        const byFamily = flags.manifests !== undefined ? (() => {
          const { cluster } = readInput(flags.manifests, io, { defaultNamespace: 'default' });
          return { 4: compile(projectFamily(cluster, 4)), 6: compile(projectFamily(cluster, 6)) } as const;
        })() : undefined;
        if (byFamily && flags.enforcingMode === 'strict') io.err('note: strict mode: the table is proved against the PolicyEndpoints only (the engine has no strict mode)');

        const where = flags.netns !== undefined ? { netns: flags.netns } : {};
        let node: NodeObjects;
        try {
          let pes;
          let cpes;
          if (flags.policyEndpoints !== undefined) {
            const src = new FilePolicyEndpointSource(flags.policyEndpoints);
            [pes, cpes] = await Promise.all([src.list(), src.listCluster()]);
          } else {
            const { KubePolicyEndpointSource, loadKubeConfig } = await import('../agent/kube-source.js');
            const kube = new KubePolicyEndpointSource({ kubeConfig: await loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context }), log: (level, msg) => io.err(`${level}: ${msg}`) });
            await kube.start();
            try {
              [pes, cpes] = await Promise.all([kube.list(), kube.listCluster()]);
            } finally {
              kube.stop();
            }
          }
          const [pods, nodeAddresses] = await Promise.all([discoverPods(flags.podInterfaces, where), discoverNodeAddresses(where)]);
          node = { policyEndpoints: pes, clusterPolicyEndpoints: cpes, pods: namePods(pods, [...pes, ...cpes]), nodeAddresses, mode: flags.enforcingMode };
        } catch (e) {
          io.err(`error: could not read what the agent enforces: ${e instanceof Error ? e.message : String(e)}`);
          setExit(EXIT_FINDINGS);
          return;
        }
        let v: NodeVerification;
        try {
          v = await verifyNode(node, where, byFamily);
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          io.err(e instanceof RulesetError ? `error: the kernel's table is not one the agent writes: ${msg}` : `error: could not read the kernel's table: ${msg}`);
          setExit(EXIT_FINDINGS);
          return;
        }
        if (flags.output === 'json') io.out(JSON.stringify(verificationJson(flags.node, v), null, 2));
        else for (const l of formatVerification(flags.node, v)) io.out(l);
        if (!verified(v)) setExit(EXIT_FINDINGS);
      }),
    );
}
