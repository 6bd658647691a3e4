/**
 * PolicyEndpoints as the AWS controller writes them (aws/amazon-network-policy-controller-k8s,
 * `pkg/policyendpoints/manager.go` `newPolicyEndpoint`): `generateName: <policy>-` (the API server appends 5 random
 * characters), owner reference with `blockOwnerDeletion` and `controller`, the annotation
 * `networking.k8s.aws/last-change-trigger-time`, entries taken from a Go map (random order), each entry's ports in the
 * order the policy's rule lists them (never sorted), and chunks of at most `endpointChunkSize` entries per list.
 */
import type { EndpointInfo, PolicyEndpoint } from '../../src/api/policyendpoint.js';

/** A small deterministic PRNG, so fixtures are random-looking but reproducible. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function shuffle<T>(list: readonly T[], rand: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** The suffix the API server's name generator appends (5 characters of its alphabet). */
export function generatedSuffix(rand: () => number): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return s;
}

export interface AwsStyleOptions {
  readonly seed: number;
  /** Entries per list per object. @default 200 */
  readonly chunkSize?: number;
  /** Write `metadata.name` as the API server would have generated it (for files); otherwise only `generateName`. */
  readonly named?: boolean;
  /** The value of the last-change-trigger-time annotation. @default a fixed time */
  readonly time?: string;
}

/**
 * Reorders an entry's ports away from Palisade's sorted order. AWS keeps the rule's order; the example's rules list
 * UDP 53 before TCP 53, which is Palisade's order reversed, so reversing gives AWS's order there.
 */
function awsPorts(e: EndpointInfo): EndpointInfo {
  if (!e.ports || e.ports.length < 2) return e;
  return { ...e, ports: [...e.ports].reverse() };
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/**
 * Rewrites Palisade's objects (one per policy) into the objects the AWS controller would have written for the same
 * policies: same meaning, different names, order, chunking and metadata.
 */
export function awsWritten(pes: readonly PolicyEndpoint[], opts: AwsStyleOptions): Record<string, unknown>[] {
  const rand = prng(opts.seed);
  const size = opts.chunkSize ?? 200;
  const out: Record<string, unknown>[] = [];
  for (const pe of pes) {
    const { namespace, name } = pe.spec.policyRef;
    const ingress = shuffle((pe.spec.ingress ?? []).map(awsPorts), rand);
    const egress = shuffle((pe.spec.egress ?? []).map(awsPorts), rand);
    const pods = shuffle(pe.spec.podSelectorEndpoints ?? [], rand);
    // Like the manager: the first object carries the pods and as many entries as fit; the rest go to new objects.
    const parts = Math.max(1, Math.ceil(ingress.length / size), Math.ceil(egress.length / size), Math.ceil(pods.length / size));
    const ic = chunks(ingress, size);
    const ec = chunks(egress, size);
    const pc = chunks(pods, size);
    for (let i = 0; i < parts; i++) {
      const spec: Record<string, unknown> = {
        podSelector: pe.spec.podSelector ?? {},
        policyRef: { namespace, name },
        ...(pe.spec.podIsolation ? { podIsolation: pe.spec.podIsolation } : {}),
        ...(pc[i] ? { podSelectorEndpoints: pc[i] } : {}),
        ...(ic[i] ? { ingress: ic[i] } : {}),
        ...(ec[i] ? { egress: ec[i] } : {}),
      };
      const uid = `${Math.floor(rand() * 1e8).toString(16).padStart(8, '0')}-4c1e-4d7a-9b2f-${Math.floor(rand() * 1e12).toString(16).padStart(12, '0')}`;
      out.push({
        apiVersion: 'networking.k8s.aws/v1alpha1',
        kind: 'PolicyEndpoint',
        metadata: {
          ...(opts.named ? { name: `${name}-${generatedSuffix(rand)}` } : {}),
          generateName: `${name}-`,
          namespace,
          annotations: { 'networking.k8s.aws/last-change-trigger-time': opts.time ?? '2026-11-30T09:12:44.318204Z' },
          ownerReferences: [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', name, uid, blockOwnerDeletion: true, controller: true }],
        },
        spec,
      });
    }
  }
  return shuffle(out, rand);
}
