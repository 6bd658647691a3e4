/** Shared by the root-only tests: the skip condition and PolicyEndpoint builders. */
import type { EndpointInfo, PolicyEndpoint, TrafficDirection } from '../../src/api/policyendpoint.js';
import type { LabPod } from '../../src/lab/lab.js';
import { labRequirements } from '../../src/lab/requirements.js';
import { gate } from '../support/gate.js';

/** Why the netns tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  return labRequirements();
}

/** Skip condition for `describe.skipIf`, printing the reason so a skip is never silent. */
export function skipNetns(suite: string): boolean {
  return gate(suite, skipReason());
}

/** A PolicyEndpoint selecting `pods`, as the AWS controller would write it. */
export function policyEndpoint(
  name: string,
  pods: readonly LabPod[],
  spec: { isolation: TrafficDirection[]; ingress?: EndpointInfo[]; egress?: EndpointInfo[] },
): PolicyEndpoint {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name: `${name}-x7k2p`, namespace: 'default' },
    spec: {
      policyRef: { name, namespace: 'default' },
      podSelector: {},
      podIsolation: spec.isolation,
      podSelectorEndpoints: pods.map((p) => ({ podIP: p.ip, hostIP: p.hostIP, name: p.name, namespace: p.namespace })),
      ingress: spec.ingress,
      egress: spec.egress,
    },
  };
}

export function podByName(pods: readonly LabPod[], name: string): LabPod {
  const p = pods.find((x) => x.name === name);
  if (!p) throw new Error(`no pod ${name}`);
  return p;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
