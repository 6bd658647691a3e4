/**
 * What the web UI works on: the loaded cluster, split into the policies (the text the editor holds) and everything
 * else, and any edited policy text evaluated against the same everything-else. Every answer comes from the engine;
 * this module only picks what to ask it and shapes the replies.
 */
import { formatDiagnostic, InputError, type Diagnostic } from '../api/diagnostics.js';
import { parseManifests, type LoadedDocument } from '../api/load.js';
import { sortDiagnostics, validateDocuments, type ReadResult } from '../model/read.js';
import { ownerAwsGroup, type ClusterPolicyEndpoint, type PolicyEndpoint } from '../api/policyendpoint.js';
import { policyKindLabel } from '../model/types.js';
import { PROTOCOLS, type Protocol } from '../api/types.js';
import { lint } from '../analyze/lint.js';
import { explainPolicies } from '../analyze/explain.js';
import { resolveClusterPolicyEndpoints, resolvePolicyEndpoints } from '../controller/resolve.js';
import { compile, type Engine } from '../engine/engine.js';
import { containsPort, formatPorts } from '../engine/ports.js';
import type { PortsByProtocol } from '../engine/types.js';
import { buildCluster } from '../model/cluster.js';
import { denseGrid, diffGrids, encodeGrid, type DenseGrid } from './grid.js';
import type {
  DiagnosticView,
  DirectionDetail,
  EndDetail,
  EvaluateRequest,
  EvaluateResponse,
  ExplainLine,
  FindingView,
  FlowExplanation,
  Grid,
  PoliciesResponse,
  PolicySource,
  PolicyView,
  PortText,
  FlowLogResponse,
  SourceResponse,
  WhyResponse,
} from './protocol.js';
import { auditFlowLogs } from '../audit/flowlog.js';
import { locatePolicies, policyKey, splitPolicies, type PolicyLocation } from './sources.js';

/** The file name the edited policy text has in diagnostics and explanations. */
export const EDITED_FILE = 'policies.yaml';

/** One evaluated policy text. */
interface State {
  readonly engine: Engine;
  /** The documents the cluster was built from, for lint. */
  readonly documents: readonly LoadedDocument[];
  findings?: { readonly list: readonly FindingView[] } | { readonly error: string };
  readonly dense: DenseGrid;
  grid?: Grid;
  readonly lines: readonly string[];
  readonly locations: ReadonlyMap<string, PolicyLocation>;
  readonly diagnostics: readonly DiagnosticView[];
}

interface Failure {
  readonly diagnostics: readonly DiagnosticView[];
}

/** How many edited texts stay compiled. */
const CACHE_SIZE = 4;
/** At most this many bytes of edited text stay compiled (a compiled state's memory grows with its text). */
export const CACHE_BYTES = 8 * 1024 * 1024;
/** The largest edit evaluated, in bytes of YAML. */
export const MAX_EDIT_BYTES = 4 * 1024 * 1024;
/** The most documents an edit may hold. */
export const MAX_EDIT_DOCUMENTS = 5000;

/** A question about a flow. */
export interface WhyQuery {
  readonly from: string;
  readonly to: string;
  /** Absent: a port is chosen (a container port of the destination, else the first allowed port). */
  readonly port?: number;
  readonly protocol?: Protocol;
  /** Edited policies; absent: the loaded ones. */
  readonly yaml?: string;
}

function portText(p: PortsByProtocol): PortText {
  return { tcp: formatPorts(p.TCP), udp: formatPorts(p.UDP), sctp: formatPorts(p.SCTP) };
}

function view(d: Diagnostic): DiagnosticView {
  const at = d.pos?.file === EDITED_FILE ? { line: d.pos.line, column: d.pos.column } : {};
  return { severity: d.severity, message: d.message, text: formatDiagnostic(d), ...at };
}


/** The loaded cluster and the policy texts evaluated against it. */
export class Workspace {
  /** The policies as loaded, the editor's starting text. */
  readonly yaml: string;
  private readonly base: readonly LoadedDocument[];
  private readonly loaded: State;
  private readonly cache = new Map<string, State | Failure>();

  /**
   * @param read the result of `readCluster` over `inputs` (without errors)
   * @param texts the text of each file read, by the name positions use (for cutting the policies out with comments)
   */
  constructor(
    readonly inputs: readonly string[],
    read: ReadResult,
    texts: ReadonlyMap<string, string>,
    readonly defaultNamespace = 'default',
    private readonly limits: { readonly cacheBytes?: number } = {},
  ) {
    const split = splitPolicies(read.documents, texts);
    this.yaml = split.yaml;
    this.base = split.base;
    const engine = compile(read.cluster);
    this.loaded = {
      engine,
      documents: read.documents,
      dense: denseGrid(engine),
      lines: this.yaml.split('\n'),
      locations: locatePolicies(this.yaml, defaultNamespace),
      diagnostics: [],
    };
  }

  /**
   * An AWS node agent log against the engine of the loaded (or edited) policies: each flow's cell, marked where AWS's
   * verdict contradicts the engine's (`palisade audit flowlogs`).
   */
  flowLog(text: string, file: string, yaml?: string): FlowLogResponse {
    const a = auditFlowLogs(this.engine(yaml), [{ file, text }]);
    return {
      flows: a.flows,
      unparsed: a.unparsed,
      notCompared: a.notCompared,
      mismatches: a.mismatches.length,
      mismatchLines: a.mismatches.slice(0, 50).map((m) => `${m.file}:${m.line}: ${m.src} -> ${m.dst} ${m.protocol}/${m.port} AWS ${m.aws.verdict}; engine ${m.engine.map((e) => `${e.direction} ${e.allowed ? 'allowed' : 'denied'}`).join(', ')}`),
      cells: a.cells,
    };
  }

  /** The engine of the loaded policies, or of an edited text (an InputError when the text has errors). */
  engine(yaml?: string): Engine {
    return this.ok(yaml).engine;
  }

  private state(yaml?: string): State | Failure {
    if (yaml === undefined) return this.loaded;
    const hit = this.cache.get(yaml);
    if (hit) {
      this.cache.delete(yaml);
      this.cache.set(yaml, hit);
      return hit;
    }
    const made = this.evaluateText(yaml);
    this.cache.set(yaml, made);
    let bytes = [...this.cache.keys()].reduce((n, k) => n + Buffer.byteLength(k), 0);
    while (this.cache.size > 1 && (this.cache.size > CACHE_SIZE || bytes > (this.limits.cacheBytes ?? CACHE_BYTES))) {
      const oldest = this.cache.keys().next().value as string;
      bytes -= Buffer.byteLength(oldest);
      this.cache.delete(oldest);
    }
    return made;
  }

  /** Edits over the size limits are refused before they are parsed or compiled. */
  private tooBig(yaml: string): Failure | undefined {
    const bytes = Buffer.byteLength(yaml);
    const limit = (message: string): Failure => ({ diagnostics: [{ severity: 'error', message, text: `${EDITED_FILE}: error: ${message}` }] });
    if (bytes > MAX_EDIT_BYTES) return limit(`the edit is ${(bytes / 1048576).toFixed(1)} MiB; the limit is ${MAX_EDIT_BYTES / 1048576} MiB: edit fewer policies at a time`);
    // Every document after the first starts with a "---" line.
    const documents = 1 + (yaml.match(/^---/gm)?.length ?? 0);
    if (documents > MAX_EDIT_DOCUMENTS) return limit(`the edit has ${documents} documents; the limit is ${MAX_EDIT_DOCUMENTS}`);
    return undefined;
  }

  private evaluateText(yaml: string): State | Failure {
    const big = this.tooBig(yaml);
    if (big) return big;
    const parsed = parseManifests(yaml, EDITED_FILE);
    const checked = validateDocuments(parsed.documents, this.defaultNamespace);
    const built = buildCluster([...this.base, ...checked.valid], { defaultNamespace: this.defaultNamespace });
    const mine = built.diagnostics.filter((d) => d.pos?.file === EDITED_FILE || (d.severity === 'error' && !d.pos));
    const diagnostics = sortDiagnostics([...parsed.diagnostics, ...checked.diagnostics, ...mine]).map(view);
    if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
    const engine = compile(built.cluster);
    return { engine, documents: [...this.base, ...checked.valid], dense: denseGrid(engine), lines: yaml.split('\n'), locations: locatePolicies(yaml, this.defaultNamespace), diagnostics };
  }

  private ok(yaml?: string): State {
    const s = this.state(yaml);
    if (!('engine' in s)) throw new InputError(`the edited policies have errors: ${s.diagnostics.filter((d) => d.severity === 'error').map((d) => d.text).join('; ')}`);
    return s;
  }

  /** How many edited texts are compiled and kept, and their bytes. */
  cacheStats(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: [...this.cache.keys()].reduce((n, k) => n + Buffer.byteLength(k), 0) };
  }

  /** Lint findings of a state, computed once; lint failing is reported, not thrown. */
  private findings(s: State): { readonly list: readonly FindingView[] } | { readonly error: string } {
    if (!s.findings) {
      try {
        const list = lint({ cluster: s.engine.cluster, documents: s.documents }).map((f): FindingView => ({
          ruleId: f.ruleId,
          severity: f.severity,
          message: f.message,
          fix: f.fix,
          ...(f.object ? { object: f.object } : {}),
          ...(f.path ? { path: f.path } : {}),
          ...(f.pos ? { where: `${f.pos.file}:${f.pos.line}:${f.pos.column}` } : {}),
          ...(f.pos?.file === EDITED_FILE ? { line: f.pos.line, column: f.pos.column } : {}),
        }));
        s.findings = { list };
      } catch (e) {
        s.findings = { error: e instanceof Error ? e.message : String(e) };
      }
    }
    return s.findings;
  }

  /** `GET /api/source`. */
  source(): SourceResponse {
    return { file: EDITED_FILE, yaml: this.yaml, inputs: this.inputs };
  }

  /** The compact matrix of the loaded (or edited) policies. */
  grid(yaml?: string): Grid {
    const s = this.ok(yaml);
    s.grid ??= encodeGrid(s.dense);
    return s.grid;
  }

  /** `POST /api/evaluate`: the edited policies' matrix, diagnostics with lines, and the cells that changed. */
  evaluate(req: EvaluateRequest): EvaluateResponse {
    const s = this.state(req.yaml);
    if (!('engine' in s)) return { ok: false, diagnostics: s.diagnostics };
    const { changed, count } = diffGrids(this.loaded.dense, this.loaded.engine, s.dense);
    s.grid ??= encodeGrid(s.dense);
    const lintResult = this.findings(s);
    return {
      ok: true,
      diagnostics: s.diagnostics,
      grid: s.grid,
      ...(req.matrix ? { matrix: s.engine.matrixJson() } : {}),
      changed,
      changedCount: count,
      ...('list' in lintResult ? { findings: lintResult.list } : {}),
    };
  }

  private policySource(s: State, key: string, highlight?: { dir: 'ingress' | 'egress'; index: number }): PolicySource | null {
    const loc = s.locations.get(key);
    if (!loc) return null;
    const text = s.lines.slice(loc.lines.start - 1, loc.lines.end).join('\n');
    const rule = highlight ? loc.rules[highlight.dir][highlight.index] : undefined;
    return { key, text, firstLine: loc.lines.start, ...(rule ? { highlight: rule } : {}) };
  }

  private describeEnd(engine: Engine, id: string): EndDetail {
    const end = engine.resolve(id);
    if (end.kind === 'external') return { id: end.range.id, kind: 'External' };
    const ep = end.endpoint;
    return { id: ep.id, kind: ep.kind, labels: ep.labels, ips: ep.ips, ports: ep.ports };
  }

  /** A port worth asking about: a container port of the destination (an allowed one first), else the first allowed. */
  private choosePort(engine: Engine, from: string, to: string, protocol?: Protocol): { port: number; protocol: Protocol; reason: string } {
    const allowed = engine.allowedPorts(from, to);
    const end = engine.resolve(to);
    const declared = end.kind === 'endpoint' ? end.endpoint.ports.filter((p) => protocol === undefined || p.protocol === protocol) : [];
    const pick = declared.find((p) => containsPort(allowed, p.protocol, p.port)) ?? declared[0];
    if (pick) return { port: pick.port, protocol: pick.protocol, reason: `a container port of ${end.kind === 'endpoint' ? end.endpoint.id : to}${pick.name ? ` (${pick.name})` : ''}` };
    for (const proto of protocol ? [protocol] : PROTOCOLS) {
      const first = allowed[proto][0];
      if (first) return { port: first.from, protocol: proto, reason: 'the first allowed port' };
    }
    return { port: 80, protocol: protocol ?? 'TCP', reason: 'nothing is allowed and no container port is declared: port 80 as an example' };
  }

  private explainFlow(s: State, from: string, to: string, port: number | undefined, protocol: Protocol | undefined): FlowExplanation {
    const { engine } = s;
    const chosen = port === undefined ? this.choosePort(engine, from, to, protocol) : undefined;
    const flow = { from, to, port: chosen?.port ?? port ?? 80, protocol: chosen?.protocol ?? protocol ?? 'TCP' };
    const verdict = engine.verdict(flow);
    const detail = (dir: 'ingress' | 'egress'): DirectionDetail => {
      const d = verdict[dir];
      const ruleSources = d.rules.map((r) => this.policySource(s, `${r.kind} ${r.policy}`, { dir, index: r.index }));
      let isolatedBy: PolicySource[] = [];
      if (!d.allowed && d.tier === 'NetworkPolicy' && !d.rules.some((r) => r.tier === 'NetworkPolicy')) {
        const subject = engine.resolve(dir === 'egress' ? from : to);
        isolatedBy = subject.cls.networkPolicies[dir]
          .map((p) => this.policySource(s, policyKey(policyKindLabel(p.source), p.name, p.namespace)))
          .filter((x): x is PolicySource => x !== null);
      }
      return { ruleSources, isolatedBy };
    };
    return {
      verdict,
      egress: detail('egress'),
      ingress: detail('ingress'),
      allowed: portText(engine.allowedPorts(from, to)),
      ...(chosen ? { portReason: chosen.reason } : {}),
    };
  }

  /** `GET /api/why`: the flow in both directions, each with who decided, the policy YAML and the deciding rule. */
  why(q: WhyQuery): WhyResponse {
    const s = this.ok(q.yaml);
    const from = this.describeEnd(s.engine, q.from);
    const to = this.describeEnd(s.engine, q.to);
    return {
      from,
      to,
      forward: this.explainFlow(s, q.from, q.to, q.port, q.protocol),
      reverse: this.explainFlow(s, q.to, q.from, q.port, q.protocol),
    };
  }

  /** `GET /api/policies`: each policy in plain words, what it selects, its YAML and its PolicyEndpoints. */
  policies(yaml?: string): PoliciesResponse {
    const s = this.ok(yaml);
    const { engine } = s;
    let policyEndpointsError: string | undefined;
    const endpointsOf = new Map<string, (PolicyEndpoint | ClusterPolicyEndpoint)[]>();
    const add = (key: string, o: PolicyEndpoint | ClusterPolicyEndpoint) => {
      const list = endpointsOf.get(key);
      if (list) list.push(o);
      else endpointsOf.set(key, [o]);
    };
    try {
      // Each object under the policy that owns it: AWS's kinds (owner in networking.k8s.aws) apart from upstream's.
      const label = (o: PolicyEndpoint | ClusterPolicyEndpoint, upstream: string) => {
        const group = ownerAwsGroup(o);
        return policyKindLabel({ kind: group ? o.metadata.ownerReferences?.[0]?.kind ?? upstream : upstream, ...(group ? { group } : {}) });
      };
      for (const pe of resolvePolicyEndpoints(engine)) add(policyKey(label(pe, 'NetworkPolicy'), pe.spec.policyRef.name, pe.spec.policyRef.namespace), pe);
      for (const cpe of resolveClusterPolicyEndpoints(engine)) {
        const group = ownerAwsGroup(cpe);
        add(policyKey(policyKindLabel({ kind: cpe.metadata.ownerReferences?.[0]?.kind ?? 'ClusterNetworkPolicy', ...(group ? { group } : {}) }), cpe.spec.policyRef.name), cpe);
      }
    } catch (e) {
      policyEndpointsError = e instanceof Error ? e.message : String(e);
    }
    const lintResult = this.findings(s);
    const findings = 'list' in lintResult ? lintResult.list : [];
    const findingsOf = (key: string) => findings.filter((f) => f.object === key);
    const policies: PolicyView[] = [];
    for (const e of explainPolicies(engine)) {
      const lines = e.lines.map(({ kind, text }): ExplainLine => ({ kind, text }));
      if (e.tier === 'NetworkPolicy') {
        const key = policyKey(e.kind, e.name, e.namespace);
        const source = this.policySource(s, key);
        policies.push({
          key,
          kind: e.kind,
          name: e.name,
          namespace: e.namespace ?? 'default',
          tier: 'NetworkPolicy',
          header: e.header,
          lines,
          selects: e.selects,
          ...(source ? { source } : {}),
          ...(endpointsOf.has(key) ? { policyEndpoints: endpointsOf.get(key) } : {}),
          findings: findingsOf(key),
        });
      } else {
        const key = policyKey(e.kind, e.name);
        const source = this.policySource(s, key);
        policies.push({
          key,
          kind: e.kind,
          name: e.name,
          tier: e.tier,
          header: e.header,
          lines,
          selects: e.selects,
          ...(source ? { source } : {}),
          ...(endpointsOf.has(key) ? { policyEndpoints: endpointsOf.get(key) } : {}),
          findings: findingsOf(key),
        });
      }
    }
    const keys = new Set(policies.map((p) => p.key));
    return {
      policies,
      otherFindings: findings.filter((f) => f.object === undefined || !keys.has(f.object)),
      ...(policyEndpointsError ? { policyEndpointsError } : {}),
      ...('error' in lintResult ? { lintError: lintResult.error } : {}),
    };
  }
}
