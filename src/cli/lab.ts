/**
 * `palisade lab up|probe|verify|down`: the cluster of some manifests built from network namespaces on this machine, its
 * policies enforced by Palisade's agent (one per node) from the PolicyEndpoints the controller's resolver writes, and
 * probed with real TCP and UDP connections. `verify` compares every connection with the engine.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { InputError } from '../api/diagnostics.js';
import type { Protocol } from '../api/types.js';
import { compile } from '../engine/engine.js';
import { labDown, labLeftovers } from '../lab/lab.js';
import { labProbe } from '../lab/probe.js';
import { labRequirements } from '../lab/requirements.js';
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, readState } from '../lab/state.js';
import { asBuilt, formatMismatches, labPlan, labUpCluster, proveLab, verifyLab } from '../lab/verify.js';
import { formatVerification, verified } from '../agent/verify.js';
import type { EnforcingMode } from '../nft/compile.js';
import { inputOptions, readInput } from './input.js';
import { EXIT_FINDINGS, action, parsePort, parseProtocol, type Io, type Register } from './program.js';

interface CommonFlags {
  readonly prefix: string;
}

interface UpFlags extends CommonFlags {
  readonly mode: EnforcingMode;
  readonly defaultNamespace?: string;
  readonly quiet?: boolean;
}

interface ProbeFlags extends CommonFlags {
  readonly port?: number;
  readonly protocol?: Protocol;
  readonly timeout: number;
}

interface VerifyFlags extends UpFlags, ProbeFlags {
  readonly table?: boolean;
  readonly keep?: boolean;
}

const PREFIX_HELP = 'prefix of every namespace and interface the lab creates (1-6 of [a-z0-9-])';

/** Checks root and the tools; prints why not and how to fix it. */
function ready(io: Io, setExit: (code: number) => void): boolean {
  const why = labRequirements();
  if (!why) return true;
  io.err(`error: the lab cannot run here: ${why}`);
  setExit(EXIT_FINDINGS);
  return false;
}

function progress(io: Io, text: string): void {
  if (io.interactive) io.err(`lab: ${text}`);
}

function parseTimeout(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 50 || n > 60_000) throw new InvalidArgumentError('a number of milliseconds from 50 to 60000');
  return n;
}

/**
 * Like `action`, and a failure of the machine (a command that failed, a namespace that could not be created) becomes
 * `error: ...` and exit 1 instead of an internal error: the lab runs system commands whose failures users must read.
 */
function labAction<A extends unknown[]>(io: Io, setExit: (code: number) => void, fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return action(io, setExit, async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof InputError) throw e;
      io.err(`error: ${e instanceof Error ? e.message : String(e)}`);
      io.err('(run `palisade lab down` to remove whatever the lab left behind)');
      setExit(EXIT_FINDINGS);
    }
  });
}

/** Builds the lab of `paths`; returns it running with its agents, and the engine. */
async function up(paths: readonly string[], flags: UpFlags, io: Io) {
  const { cluster } = readInput(paths, io, { defaultNamespace: flags.defaultNamespace ?? 'default', quiet: flags.quiet ?? false });
  const engine = compile(cluster);
  const plan = labPlan(cluster);
  if (!flags.quiet) for (const l of plan.leftOut) io.err(`note: not in the lab: ${l}`);
  if (plan.spec.pods.length === 0) throw new InputError('no pod with an IPv4 address in the input: nothing to build');
  progress(io, `building ${plan.spec.pods.length} pods on ${plan.spec.nodes.length} nodes (prefix ${flags.prefix}) ...`);
  const t0 = performance.now();
  const lab = await labUpCluster(engine, { plan, prefix: flags.prefix, enforcingMode: flags.mode });
  progress(io, `up in ${Math.round(performance.now() - t0)} ms: ${lab.policies().length} PolicyEndpoints enforced by ${lab.agents.size} agents`);
  return { lab, engine, plan };
}

function addProbeOptions(cmd: Command): Command {
  return cmd
    .option('--port <port>', 'probe only this port', parsePort)
    .option('--protocol <protocol>', 'probe only this protocol (TCP or UDP)', parseProtocol)
    .addOption(new Option('--timeout <ms>', 'a connection with no answer within this time counts as denied').argParser(parseTimeout).default(1000));
}

/** Registers `palisade lab` and its sub-commands. */
export const registerLab: Register = (program, io, setExit) => {
  const lab = program
    .command('lab')
    .description('Build the cluster of some manifests from network namespaces on this machine and probe it with real connections (root).')
    .addHelpText(
      'after',
      `
Needs Linux, root and the ip, nft and tcpdump commands (Debian/Ubuntu: apt-get install -y nftables iproute2 tcpdump).
Every pod is a network namespace with the pod's IP, behind a node namespace running Palisade's agent, which enforces
the PolicyEndpoints Palisade's controller resolves from the manifests. Nothing touches the host's own interfaces.

Examples:
  $ sudo palisade lab verify examples/eks-multi-team/     # up, probe, compare with the engine, down; exit 1 on a difference
  $ sudo palisade lab up examples/eks-multi-team/         # build and leave running
  $ sudo palisade lab probe --port 80 --protocol TCP      # the truth table of real connections
  $ sudo palisade lab down                                # remove everything (also after a crash)`,
    );

  inputOptions(
    lab
      .command('up')
      .description('Build the lab of the manifests and leave it running; the nft tables stay until `lab down`.')
      .argument('<paths...>', 'manifest files or directories (Namespaces, Pods, NetworkPolicies, ...)')
      .addOption(new Option('--mode <mode>', 'agent enforcing mode').choices(['standard', 'strict']).default('standard'))
      .addOption(new Option('--prefix <prefix>', PREFIX_HELP).default(DEFAULT_PREFIX)),
  )
    .addHelpText('after', '\nExample:\n  $ sudo palisade lab up examples/eks-multi-team/')
    .action(
      labAction(io, setExit, async (paths: string[], flags: UpFlags) => {
        if (!ready(io, setExit)) return;
        const { lab: running } = await up(paths, flags, io);
        await running.detach();
        io.out(`lab ${flags.prefix} is up: ${running.nodes.length} nodes, ${running.pods.length} pods`);
        for (const p of running.pods) io.out(`  ${p.id.padEnd(32)} ${p.ip.padEnd(15)} ${p.node}`);
        io.out(`  ${'internet'.padEnd(32)} ${running.internet.ip}`);
        io.out(`  ${'metadata'.padEnd(32)} ${running.metadata.ip}`);
        io.out(`probe it with \`palisade lab probe${flags.prefix !== DEFAULT_PREFIX ? ` --prefix ${flags.prefix}` : ''}\`, remove it with \`palisade lab down\``);
      }),
    );

  addProbeOptions(
    lab
      .command('probe')
      .description('Probe the running lab: every pod to every pod, the internet and the metadata host, with real connections.')
      .addOption(new Option('--prefix <prefix>', PREFIX_HELP).default(DEFAULT_PREFIX)),
  )
    .addHelpText('after', '\nRows are sources, columns destinations, one character per port (Y allowed, . denied).\n\nExample:\n  $ sudo palisade lab probe --port 80 --protocol TCP')
    .action(
      labAction(io, setExit, async (flags: ProbeFlags) => {
        if (!ready(io, setExit)) return;
        if (!(await readState(DEFAULT_STATE_DIR, flags.prefix))) {
          io.err(`error: no lab with prefix ${flags.prefix} is running; start one with \`palisade lab up PATH\``);
          setExit(EXIT_FINDINGS);
          return;
        }
        progress(io, 'probing ...');
        const report = await labProbe({ prefix: flags.prefix, timeoutMs: flags.timeout, ...(flags.port !== undefined ? { port: flags.port } : {}), ...(flags.protocol ? { protocol: flags.protocol } : {}) });
        io.out(report.table);
        progress(io, `${report.cells.length} connections in ${Math.round(report.ms)} ms`);
      }),
    );

  addProbeOptions(
    inputOptions(
      lab
        .command('verify')
        .description('Build the lab of the manifests, probe every pair and port, compare each connection with the engine, remove the lab.')
        .argument('<paths...>', 'manifest files or directories')
        .addOption(new Option('--mode <mode>', 'agent enforcing mode').choices(['standard', 'strict']).default('standard'))
        .addOption(new Option('--prefix <prefix>', PREFIX_HELP).default('plv-'))
        .option('--table', 'also print the truth table of the probe')
        .option('--keep', 'leave the lab running afterwards (remove it with `palisade lab down --prefix PREFIX`)'),
    ),
  )
    .addHelpText(
      'after',
      `
Prints every connection where the lab and the engine differ and exits 1 when there is any. Then every node's
kernel table is read back (nft -j) and proved equal — for every local pod, direction, address range, protocol and port
range, not by sampling — to the node's PolicyEndpoints and (standard mode) to the engine; a failed proof prints its
counterexample packet and exits 1. Node addresses are the lab's: the engine is that of the cluster as built.

Example:
  $ sudo palisade lab verify examples/eks-multi-team/
  1170 connections probed: all agree with the engine
  node-1: table = PolicyEndpoints: proved on 33912 cells (5 local pods)
  node-1: table = engine: proved on 33912 cells (5 local pods)
  ...
  kernel tables of 2 nodes: proved equal to their PolicyEndpoints and to the engine on 135648 cells`,
    )
    .action(
      labAction(io, setExit, async (paths: string[], flags: VerifyFlags) => {
        if (!ready(io, setExit)) return;
        const { lab: running, engine } = await up(paths, flags, io);
        try {
          progress(io, 'probing ...');
          const r = await verifyLab(engine, { prefix: flags.prefix, timeoutMs: flags.timeout, ...(flags.port !== undefined ? { port: flags.port } : {}), ...(flags.protocol ? { protocol: flags.protocol } : {}) });
          if (flags.table) io.out(r.report.table);
          for (const l of formatMismatches(r.mismatches)) io.out(l);
          if (r.mismatches.length > 0) {
            io.out(`${r.checked} connections probed: ${r.mismatches.length} differ from the engine`);
            setExit(EXIT_FINDINGS);
          } else {
            io.out(`${r.checked} connections probed: all agree with the engine`);
          }
          // Beyond the probes: every node's kernel table read back and proved equal, on every cell, to its
          // PolicyEndpoints and to the engine.
          progress(io, 'proving the kernel tables ...');
          const proofs = await proveLab(running, asBuilt(engine.cluster, running.nodes, running.pods));
          for (const p of proofs) for (const l of formatVerification(p.node, p.verification)) io.out(l);
          const failed = proofs.filter((p) => !verified(p.verification));
          const cells = proofs.reduce((n, p) => n + p.verification.objects.cells + (p.verification.engine?.result.cells ?? 0), 0);
          if (failed.length > 0) {
            io.out(`kernel tables: ${failed.length} of ${proofs.length} nodes differ (${failed.map((p) => p.node).join(', ')})`);
            setExit(EXIT_FINDINGS);
          } else {
            io.out(`kernel tables of ${proofs.length} nodes: proved equal to their PolicyEndpoints${flags.mode === 'standard' ? ' and to the engine' : ''} on ${cells} cells`);
          }
        } finally {
          if (flags.keep) await running.detach();
          else await running.down();
        }
      }),
    );

  lab
    .command('down')
    .description('Remove the lab: its processes, namespaces (with their interfaces, routes and nft tables) and state; safe after a crash.')
    .addOption(new Option('--prefix <prefix>', PREFIX_HELP).default(DEFAULT_PREFIX))
    .addHelpText('after', '\nExample:\n  $ sudo palisade lab down')
    .action(
      labAction(io, setExit, async (flags: CommonFlags) => {
        if (!ready(io, setExit)) return;
        const before = await labLeftovers(flags.prefix);
        await labDown({ prefix: flags.prefix });
        const after = await labLeftovers(flags.prefix);
        if (after.length > 0) {
          io.err(`error: could not remove ${after.join(', ')}`);
          setExit(EXIT_FINDINGS);
          return;
        }
        io.out(before.length === 0 ? `no lab with prefix ${flags.prefix}: nothing to remove` : `removed lab ${flags.prefix}: ${before.length} network namespaces`);
      }),
    );
};
