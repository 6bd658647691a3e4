/**
 * The cluster one step of a conformance case runs against: the suite's topology as Namespace and Pod objects, with the
 * case's accumulated label changes, plus the policy objects the steps have applied and not deleted. Built through the
 * same load → validate → model path a user's manifests take, so the cases exercise it too.
 */
import type { Diagnostic } from '../api/diagnostics.js';
import { parseManifests } from '../api/load.js';
import { compile, type Engine } from '../engine/engine.js';
import { readDocuments } from '../model/read.js';
import type { Cluster } from '../model/types.js';
import type { CaseStep, ManifestObject, Topology } from './cases.js';

/** The mutable state of one case as its steps run: labels as changed so far, and the live objects. */
export interface CaseState {
  readonly namespaceLabels: Map<string, Record<string, string>>;
  readonly podLabels: Map<string, Record<string, string>>;
  /** Applied objects by {@link objectKey}, in first-applied order. */
  readonly objects: Map<string, ManifestObject>;
}

/** A problem that makes a step's cluster unusable: an object that does not validate, or one the model had to drop. */
export class StepError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'StepError';
  }
}

/** The state a case starts from: the topology's labels and no objects. */
export function initialState(topology: Topology): CaseState {
  return {
    namespaceLabels: new Map(topology.namespaces.map((n) => [n.name, { ...n.labels }])),
    podLabels: new Map(topology.pods.map((p) => [`${p.namespace}/${p.name}`, { ...p.labels }])),
    objects: new Map(),
  };
}

/** `Kind namespace/name`, the identity `apply` replaces by and `delete` names. */
export function objectKey(kind: string, name: string, namespace?: string): string {
  return `${kind} ${namespace ?? ''}/${name}`;
}

/**
 * Applies a step's changes to the state in the documented order: delete, apply, namespace labels, pod labels.
 * @throws StepError when a delete names an object that does not exist (a transcription mistake worth knowing about).
 */
export function applyStep(state: CaseState, step: CaseStep): void {
  const problems: string[] = [];
  for (const d of step.delete) {
    if (!state.objects.delete(objectKey(d.kind, d.name, d.namespace))) {
      problems.push(`delete: no ${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name} exists`);
    }
  }
  for (const m of step.apply) state.objects.set(objectKey(m.kind, m.metadata.name, m.metadata.namespace), m);
  const relabel = (labels: Record<string, string> | undefined, changes: Readonly<Record<string, string | null>>) => {
    if (!labels) return;
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete labels[k];
      else labels[k] = v;
    }
  };
  for (const l of step.labelNamespace) relabel(state.namespaceLabels.get(l.namespace), l.labels);
  for (const l of step.labelPod) relabel(state.podLabels.get(l.pod), l.labels);
  if (problems.length > 0) throw new StepError(problems);
}

/** The topology, with the state's labels, as the Namespace and Pod manifests a cluster would return. */
export function topologyManifests(topology: Topology, state: CaseState): Record<string, unknown>[] {
  const namespaces = topology.namespaces.map((n) => ({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: n.name, labels: state.namespaceLabels.get(n.name) ?? n.labels },
  }));
  const pods = topology.pods.map((p) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: p.namespace, name: p.name, labels: state.podLabels.get(`${p.namespace}/${p.name}`) ?? p.labels },
    spec: {
      containers: [
        {
          name: 'serve',
          image: 'registry.k8s.io/e2e-test-images/agnhost:2.47',
          ports: p.ports.map((q) => ({ ...(q.name ? { name: q.name } : {}), containerPort: q.port, protocol: q.protocol })),
        },
      ],
    },
    status: { phase: 'Running', podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) },
  }));
  return [...namespaces, ...pods];
}

/**
 * Builds the cluster of the current state: topology objects and live policy objects, each validated as the apiserver
 * would, then resolved by the model.
 * @throws StepError when an object fails validation or the model reports an error, naming the object and field.
 */
export function clusterOf(topology: Topology, state: CaseState): Cluster {
  const items = [...topologyManifests(topology, state), ...state.objects.values()];
  const { documents, diagnostics } = parseManifests(JSON.stringify({ apiVersion: 'v1', kind: 'List', items }), '<case>');
  const read = readDocuments(documents, diagnostics);
  const problems = read.diagnostics.filter(isError).map((d) => `${d.object ?? ''}${d.path ? `: ${d.path}` : ''}: ${d.message}`);
  if (problems.length > 0) throw new StepError(problems);
  return read.cluster;
}

/**
 * Applies a step to the state and compiles the cluster it leaves; a step whose objects are invalid gives the line to
 * report instead of an engine.
 */
export function compileStep(topology: Topology, state: CaseState, step: CaseStep, index: number): Engine | string {
  try {
    applyStep(state, step);
    return compile(clusterOf(topology, state));
  } catch (e) {
    if (!(e instanceof StepError)) throw e;
    return `step ${index + 1}: ${e.message}`;
  }
}

function isError(d: Diagnostic): boolean {
  return d.severity === 'error';
}
