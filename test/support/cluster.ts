/** Builds a cluster from YAML text through the real load → validate → model path; validation errors fail the test. */
import { formatPath } from '../../src/api/diagnostics.js';
import { parseManifests } from '../../src/api/load.js';
import { validateObject } from '../../src/api/validate.js';
import { buildCluster } from '../../src/model/cluster.js';
import type { Cluster } from '../../src/model/types.js';

export function clusterFromYaml(text: string): Cluster {
  const { documents, diagnostics } = parseManifests(text, 'test.yaml');
  const errors = diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
  for (const doc of documents) {
    for (const e of validateObject(doc.value)) if ((e.severity ?? 'error') === 'error') errors.push(`${doc.kind} ${doc.name}: ${formatPath(e.path)}: ${e.message}`);
  }
  if (errors.length > 0) throw new Error(`invalid test input:\n${errors.join('\n')}`);
  return buildCluster(documents).cluster;
}

/** A pod manifest with an IP and container ports `name:port/proto`. */
export function pod(ns: string, name: string, ip: string, labels: Record<string, string> = {}, ports: string[] = []): string {
  const portList = ports
    .map((p) => {
      const [named, rest] = p.includes(':') ? p.split(':') : [undefined, p];
      const [num, proto] = rest.split('/');
      return `{${named ? `name: ${named}, ` : ''}containerPort: ${num}, protocol: ${proto ?? 'TCP'}}`;
    })
    .join(', ');
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: ${JSON.stringify(labels)}}
spec: {containers: [{name: c, ports: [${portList}]}]}
status: {phase: Running, podIP: ${ip}}
---
`;
}

export function namespace(name: string, labels: Record<string, string> = {}): string {
  return `apiVersion: v1
kind: Namespace
metadata: {name: ${name}, labels: ${JSON.stringify(labels)}}
---
`;
}
