/**
 * `--lenient`: a NetworkPolicy read as a Go client decodes it without validation (netpol-analyzer, the
 * kube-network-policies tables), so inputs an API server would reject can still be analysed. Missing selectors are
 * empty, numbers are kept as written (a port out of range or an `endPort` below `port` simply matches no port).
 * What cannot be read at all fails closed: a peer with an unparseable CIDR or an unknown selector operator matches
 * nothing, a port entry with an unknown protocol or a wrong type matches no port, a rule that is not a mapping allows
 * nothing, and a policy whose own pod selector cannot be read isolates every pod of its namespace and allows nothing.
 * Each such place comes back with what was done, for a warning.
 */
import type { JsonObject, JsonValue } from '../api/load.js';
import { isJsonObject } from '../api/load.js';
import { parseCIDR } from '../api/ip.js';
import type { PathSegment } from '../api/diagnostics.js';

/** A place the lenient reading could not read, and how it was read instead. */
export interface Unreadable {
  readonly path: readonly PathSegment[];
  readonly message: string;
}

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP']);

/** A selector no labels satisfy (shown as such by explain). */
const MATCHES_NOTHING: JsonObject = { matchExpressions: [{ key: 'palisade.dev/unreadable-selector', operator: 'In', values: [] }] };
/** A peer no pod and no address matches. */
const NO_PEER: JsonObject = { podSelector: MATCHES_NOTHING };
/** A port entry matching no port (an empty range). */
const NO_PORT: JsonObject = { protocol: 'TCP', port: 2, endPort: 1 };

/**
 * The NetworkPolicy as the Go types decode it, with unreadable parts replaced by their fail-closed reading.
 * @example lenientNetworkPolicy({ ..., spec: { ingress: [{ from: [{ ipBlock: { cidr: 'nope' } }] }] } })
 *   // the peer becomes one that matches nothing; unreadable: [{ path: ['spec','ingress',0,'from',0], ... }]
 */
export function lenientNetworkPolicy(value: JsonObject): { value: JsonObject; unreadable: Unreadable[] } {
  const unreadable: Unreadable[] = [];
  const spec = isJsonObject(value.spec) ? value.spec : {};
  const rawTypes = Array.isArray(spec.policyTypes) ? spec.policyTypes.filter((t): t is string => t === 'Ingress' || t === 'Egress') : undefined;
  const hasEgress = Array.isArray(spec.egress) && spec.egress.length > 0;
  // The effective types as written, kept explicit so that dropping an unreadable rule never lifts an isolation.
  const policyTypes = rawTypes && rawTypes.length > 0 ? [...new Set(rawTypes)] : hasEgress ? ['Ingress', 'Egress'] : ['Ingress'];
  const subject = selector(spec.podSelector, ['spec', 'podSelector'], unreadable);
  const out: Record<string, JsonValue> = { policyTypes };
  if (subject === 'unreadable') {
    unreadable.push({ path: ['spec', 'podSelector'], message: 'the policy applies to every pod of its namespace and allows nothing (fails closed)' });
    out.podSelector = {};
    return { value: { ...value, spec: out }, unreadable };
  }
  out.podSelector = subject ?? {};
  for (const [direction, peersField] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    const rules = spec[direction];
    if (rules === undefined || rules === null) continue;
    if (!Array.isArray(rules)) {
      unreadable.push({ path: ['spec', direction], message: `not a list: no ${direction} rule is read, the isolation stays (fails closed)` });
      out[direction] = [];
      continue;
    }
    const read: JsonValue[] = [];
    rules.forEach((rule, i) => {
      const path = ['spec', direction, i];
      if (rule === null) return read.push({});
      if (!isJsonObject(rule)) return unreadable.push({ path, message: 'not a mapping: the rule allows nothing (fails closed)' });
      const r: Record<string, JsonValue> = {};
      const ports = rule.ports;
      if (ports !== undefined && ports !== null) {
        if (!Array.isArray(ports)) {
          unreadable.push({ path: [...path, 'ports'], message: 'not a list: the rule matches no port (fails closed)' });
          r.ports = [NO_PORT];
        } else r.ports = ports.map((p, j) => port(p, [...path, 'ports', j], unreadable));
      }
      const peers = rule[peersField];
      if (peers !== undefined && peers !== null) {
        if (!Array.isArray(peers)) {
          unreadable.push({ path: [...path, peersField], message: 'not a list: the rule matches no peer (fails closed)' });
          r[peersField] = [NO_PEER];
        } else r[peersField] = peers.map((p, j) => peer(p, [...path, peersField, j], unreadable));
      }
      read.push(r);
    });
    out[direction] = read;
  }
  return { value: { ...value, spec: out }, unreadable };
}

function selector(v: unknown, path: readonly PathSegment[], unreadable: Unreadable[]): JsonObject | undefined | 'unreadable' {
  if (v === undefined || v === null) return undefined;
  if (!isJsonObject(v)) return 'unreadable';
  const out: Record<string, JsonValue> = {};
  if (v.matchLabels !== undefined && v.matchLabels !== null) {
    if (!isJsonObject(v.matchLabels) || !Object.values(v.matchLabels).every((x) => typeof x === 'string')) return 'unreadable';
    out.matchLabels = v.matchLabels;
  }
  if (v.matchExpressions !== undefined && v.matchExpressions !== null) {
    if (!Array.isArray(v.matchExpressions)) return 'unreadable';
    const exprs: JsonValue[] = [];
    for (const [i, e] of v.matchExpressions.entries()) {
      const values = isJsonObject(e) ? e.values : undefined;
      const okValues = values === undefined || values === null || (Array.isArray(values) && values.every((x) => typeof x === 'string'));
      if (!isJsonObject(e) || typeof e.key !== 'string' || typeof e.operator !== 'string' || !OPERATORS.has(e.operator) || !okValues) {
        unreadable.push({ path: [...path, 'matchExpressions', i], message: 'an unknown operator or a wrong type: the selector matches nothing' });
        return 'unreadable';
      }
      exprs.push({ key: e.key, operator: e.operator, ...(Array.isArray(values) ? { values } : {}) });
    }
    out.matchExpressions = exprs;
  }
  return out;
}

function peer(v: unknown, path: readonly PathSegment[], unreadable: Unreadable[]): JsonValue {
  const fail = (why: string): JsonValue => {
    unreadable.push({ path, message: `${why}: the peer matches nothing (fails closed)` });
    return NO_PEER;
  };
  if (!isJsonObject(v)) return fail('not a mapping');
  const out: Record<string, JsonValue> = {};
  for (const field of ['podSelector', 'namespaceSelector'] as const) {
    const s = selector(v[field], [...path, field], unreadable);
    if (s === 'unreadable') return fail(`${field} cannot be read`);
    if (s) out[field] = s;
  }
  const block = v.ipBlock;
  if (block !== undefined && block !== null) {
    if (!isJsonObject(block) || typeof block.cidr !== 'string' || !parseCIDR(block.cidr)) return fail('the ipBlock CIDR cannot be parsed');
    const except = block.except;
    if (except !== undefined && except !== null && (!Array.isArray(except) || !except.every((e) => typeof e === 'string' && parseCIDR(e)))) return fail('an ipBlock except cannot be parsed');
    // A Go client reads ipBlock next to selectors, but evaluators look at ipBlock alone: so do we.
    return { ipBlock: { cidr: block.cidr, ...(Array.isArray(except) ? { except } : {}) } };
  }
  // A peer with no field at all decodes as an empty peer; evaluators read it as matching nothing.
  if (Object.keys(out).length === 0) return fail('it sets no peer field');
  return out;
}

function port(v: unknown, path: readonly PathSegment[], unreadable: Unreadable[]): JsonValue {
  const fail = (why: string): JsonValue => {
    unreadable.push({ path, message: `${why}: the entry matches no port (fails closed)` });
    return NO_PORT;
  };
  if (v === null) return {};
  if (!isJsonObject(v)) return fail('not a mapping');
  const protocol = v.protocol ?? 'TCP';
  if (typeof protocol !== 'string' || !PROTOCOLS.has(protocol)) return fail(`protocol ${JSON.stringify(protocol)} is unknown`);
  const out: Record<string, JsonValue> = { protocol };
  if (v.port !== undefined && v.port !== null) {
    if (typeof v.port === 'number' && Number.isInteger(v.port)) out.port = v.port;
    else if (typeof v.port === 'string') out.port = v.port; // intstr: "80" is a name, as Go decodes it
    else return fail('port is neither a number nor a name');
  }
  if (v.endPort !== undefined && v.endPort !== null) {
    if (typeof v.endPort !== 'number' || !Number.isInteger(v.endPort)) return fail('endPort is not an integer');
    if (typeof out.port === 'number') out.endPort = v.endPort;
  }
  return out;
}
