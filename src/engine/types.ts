/**
 * The engine's public vocabulary: flows, port sets, verdicts with their reasons, and the matrix.
 */
import type { Protocol } from '../api/types.js';
import type { Endpoint, TierAction, TierName } from '../model/types.js';

/** An inclusive port range. */
export interface PortRange {
  readonly from: number;
  readonly to: number;
}

/** Allowed ports per protocol: sorted, disjoint, non-adjacent ranges within 1–65535. */
export type PortsByProtocol = Readonly<Record<Protocol, readonly PortRange[]>>;

/** An address range outside every pod IP that all ipBlocks and networks peers treat alike. */
export interface ExternalRange {
  /** `first-last`, e.g. `0.0.0.0-9.255.255.255` or `::-fe7f:ffff:...`. */
  readonly id: string;
  readonly family: 4 | 6;
  readonly first: string;
  readonly last: string;
}

/** A source or destination: an endpoint id (`ns/name`) or an IP address. */
export type FlowEnd = string;

export interface Flow {
  readonly from: FlowEnd;
  readonly to: FlowEnd;
  readonly protocol: Protocol;
  readonly port: number;
}

/** Who decided one direction of a flow. */
export interface DirectionVerdict {
  readonly direction: 'ingress' | 'egress';
  readonly allowed: boolean;
  /** Which tier made the final decision; `Default` = no policy applies (allow). */
  readonly tier: TierName | 'NetworkPolicy' | 'Default';
  /** Whether a NetworkPolicy isolates the pod in this direction (false for external ends). */
  readonly isolated: boolean;
  /** The rules that matched, in evaluation order: Pass rules first, then the deciding one(s). */
  readonly rules: readonly RuleRef[];
  /** One sentence for people, e.g. `Admin tier, tenant-isolation rule 0 Deny`. */
  readonly summary: string;
}

export interface RuleRef {
  readonly tier: TierName | 'NetworkPolicy';
  /** `namespace/name` for NetworkPolicies, `name` for tier policies. */
  readonly policy: string;
  readonly kind: string;
  /** Index within the policy's ingress or egress list. */
  readonly index: number;
  readonly name?: string;
  readonly action: TierAction;
}

export interface Verdict {
  readonly flow: Flow;
  readonly allowed: boolean;
  readonly egress: DirectionVerdict;
  readonly ingress: DirectionVerdict;
}

export type MatrixEndpoint =
  | { readonly id: string; readonly kind: Endpoint['kind']; readonly namespace: string; readonly name: string }
  | { readonly id: string; readonly kind: 'External' };

export interface MatrixConnection {
  readonly from: string;
  readonly to: string;
  readonly tcp: string;
  readonly udp: string;
  readonly sctp: string;
}

/** The `matrix -o json` contract. */
export interface MatrixJson {
  readonly endpoints: readonly MatrixEndpoint[];
  readonly connections: readonly MatrixConnection[];
}
