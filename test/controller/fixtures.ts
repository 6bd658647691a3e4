/** Small clusters for the controller's tests, built through the same loader and model as manifests. */
import { parseManifests } from '../../src/api/load.js';
import { compile } from '../../src/engine/engine.js';
import type { Engine } from '../../src/engine/engine.js';
import { buildCluster } from '../../src/model/cluster.js';
import type { Cluster } from '../../src/model/types.js';

export type Obj = Record<string, unknown>;

export function ns(name: string, labels: Record<string, string> = {}): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export interface PodOpts {
  labels?: Record<string, string>;
  ip?: string;
  hostIP?: string;
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  phase?: string;
}

export function pod(namespace: string, name: string, o: PodOpts = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: o.labels ?? {} },
    spec: { containers: [{ name: 'c', image: 'x', ...(o.ports ? { ports: o.ports } : {}) }] },
    status: {
      phase: o.phase ?? 'Running',
      ...(o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {}),
      ...(o.hostIP ? { hostIP: o.hostIP } : {}),
    },
  };
}

export function np(namespace: string, name: string, spec: Obj, uid?: string): Obj {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace, ...(uid ? { uid } : {}) }, spec };
}

export function svc(namespace: string, name: string, spec: Obj): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec };
}

export function clusterOf(objects: readonly Obj[]): Cluster {
  const { documents, diagnostics } = parseManifests(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }), 'test.json');
  if (diagnostics.some((d) => d.severity === 'error')) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return buildCluster(documents).cluster;
}

export function engineOf(objects: readonly Obj[]): Engine {
  return compile(clusterOf(objects));
}
