/**
 * The web UI's wire format: what the server's JSON API returns. Types only, so the browser bundle can share them
 * without pulling in Node modules.
 */
import type { Severity } from '../api/diagnostics.js';
import type { Protocol } from '../api/types.js';
import type { ClusterPolicyEndpoint, PolicyEndpoint } from '../api/policyendpoint.js';
import type { MatrixEndpoint, MatrixJson, Verdict } from '../engine/types.js';

/** Allowed ports of one ordered pair, per protocol, in `matrix -o json` form (`""` = none, `1-65535` = all). */
export interface PortText {
  readonly tcp: string;
  readonly udp: string;
  readonly sctp: string;
}

/**
 * The matrix in a compact form for the browser: the endpoints in `matrixJson()` order, a dictionary of the distinct
 * port sets (index 0 is always "nothing allowed"), and one run-length encoded row per source endpoint:
 * `[portIndex, count, portIndex, count, ...]` over the destinations in endpoint order. A cell of an endpoint with
 * itself, or of two external ranges, holds 0 and is not a connection.
 */
export interface Grid {
  readonly endpoints: readonly MatrixEndpoint[];
  readonly ports: readonly PortText[];
  readonly rows: readonly (readonly number[])[];
}

/** A diagnostic as the UI shows it; `line`/`column` are set when it points into the edited text. */
export interface DiagnosticView {
  readonly severity: Severity;
  readonly message: string;
  /** `file:line:column: severity: object: path: message`, as the CLI prints it. */
  readonly text: string;
  readonly line?: number;
  readonly column?: number;
}

/** One matrix cell whose allowed ports changed between the loaded policies and the edited ones. */
export interface ChangedCell {
  readonly from: string;
  readonly to: string;
  /** Null when an end did not exist before the edit. */
  readonly before: PortText | null;
  readonly after: PortText;
}

/** `POST /api/evaluate` request body. */
export interface EvaluateRequest {
  /** The edited policies (multi-document YAML). */
  readonly yaml: string;
  /** Also return the `matrix -o json` contract. @default false */
  readonly matrix?: boolean;
}

/** `POST /api/evaluate` response. */
export interface EvaluateResponse {
  /** False when the text has errors: no grid, the last good matrix stays. */
  readonly ok: boolean;
  readonly diagnostics: readonly DiagnosticView[];
  readonly grid?: Grid;
  readonly matrix?: MatrixJson;
  /** Cells whose ports differ from the loaded policies, at most {@link CHANGED_LIMIT}. */
  readonly changed?: readonly ChangedCell[];
  readonly changedCount?: number;
  /** Lint findings of the edited set (absent when lint failed). */
  readonly findings?: readonly FindingView[];
}

/** At most this many changed cells are listed in one response. */
export const CHANGED_LIMIT = 20_000;

/** A line range of the policy text, 1-based, inclusive. */
export interface LineRange {
  readonly start: number;
  readonly end: number;
}

/** A policy's YAML with the lines of one rule to highlight. */
export interface PolicySource {
  /** `NetworkPolicy a/default-deny` or `AdminNetworkPolicy name`. */
  readonly key: string;
  readonly text: string;
  /** The line number of `text`'s first line in the policy text the editor shows. */
  readonly firstLine: number;
  /** Lines (in editor numbering) of the deciding rule; absent when no single rule decided. */
  readonly highlight?: LineRange;
}

/** One direction of one flow, with the policies involved. */
export interface DirectionDetail {
  /** Sources of the rules in `verdict.rules`, in the same order (undefined when a source is not in the text). */
  readonly ruleSources: readonly (PolicySource | null)[];
  /** For a pod isolated with no rule allowing the flow: the isolating policies (nothing highlighted). */
  readonly isolatedBy: readonly PolicySource[];
}

/** One flow explained. */
export interface FlowExplanation {
  readonly verdict: Verdict;
  readonly egress: DirectionDetail;
  readonly ingress: DirectionDetail;
  /** All ports allowed from `from` to `to`. */
  readonly allowed: PortText;
  /** Why this port was chosen when none was asked for. */
  readonly portReason?: string;
}

/** An end of a flow, described. */
export interface EndDetail {
  readonly id: string;
  readonly kind: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ips?: readonly string[];
  readonly ports?: readonly { readonly name?: string; readonly port: number; readonly protocol: Protocol }[];
}

/** `GET /api/why` response: the flow and its reverse. */
export interface WhyResponse {
  readonly from: EndDetail;
  readonly to: EndDetail;
  readonly forward: FlowExplanation;
  readonly reverse: FlowExplanation;
}

/** One line of a policy's plain-words explanation, classified so the UI can draw peers as units. */
export interface ExplainLine {
  readonly kind: 'applies' | 'isolates' | 'rule' | 'peer' | 'note';
  readonly text: string;
}

/** A `palisade lint` finding, placed in the policy text when it points there. */
export interface FindingView {
  readonly ruleId: string;
  readonly severity: Severity;
  readonly message: string;
  readonly fix: string;
  /** `Kind namespace/name`. */
  readonly object?: string;
  readonly path?: string;
  /** Line and column in the edited text, when the finding points into it. */
  readonly line?: number;
  readonly column?: number;
  /** `file:line:column`, wherever it points. */
  readonly where?: string;
}

/** `GET /api/policies` item. */
export interface PolicyView {
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
  readonly tier: 'Admin' | 'NetworkPolicy' | 'Baseline';
  /** The first line of `palisade explain` for this policy. */
  readonly header: string;
  readonly lines: readonly ExplainLine[];
  /** Every endpoint the policy applies to (not truncated). */
  readonly selects: readonly string[];
  readonly source?: PolicySource;
  /** The objects the controller would write: PolicyEndpoints for a NetworkPolicy, ClusterPolicyEndpoints for a tier policy. */
  readonly policyEndpoints?: readonly (PolicyEndpoint | ClusterPolicyEndpoint)[];
  /** Lint findings about this policy. */
  readonly findings: readonly FindingView[];
}

/** `GET /api/policies` response. */
export interface PoliciesResponse {
  readonly policies: readonly PolicyView[];
  /** Set when PolicyEndpoints could not be resolved. */
  readonly policyEndpointsError?: string;
  /** Lint findings about no single policy (e.g. a namespace without default deny). */
  readonly otherFindings: readonly FindingView[];
  /** Set when lint failed. */
  readonly lintError?: string;
}

/** `GET /api/source` response: the policies the editor starts from. */
export interface SourceResponse {
  /** The file name diagnostics use for the edited text. */
  readonly file: string;
  readonly yaml: string;
  /** The loaded inputs, for the title. */
  readonly inputs: readonly string[];
}

/** A matrix cell an AWS flow-log line fell on: endpoint or external range ids, as the grid names them. */
export interface FlowLogCell {
  readonly from: string;
  readonly to: string;
  /** AWS's verdict for the flow (the last mismatch, else the last line, of the cell). */
  readonly verdict: string;
  /** True when some flow of the cell contradicts the engine. */
  readonly mismatch: boolean;
}

/** `POST /api/flowlog` response: a loaded AWS agent log against the engine (`palisade audit flowlogs`). */
export interface FlowLogResponse {
  readonly flows: number;
  readonly unparsed: number;
  readonly notCompared: number;
  readonly mismatches: number;
  /** The first mismatches, as `file:line: from -> to PROTO/port AWS VERDICT; engine …`. */
  readonly mismatchLines: readonly string[];
  readonly cells: readonly FlowLogCell[];
}
