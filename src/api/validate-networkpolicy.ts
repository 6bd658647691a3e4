/**
 * networking.k8s.io/v1 NetworkPolicy, checked as the apiserver checks it (ValidateNetworkPolicy and its strict decoding),
 * plus its CIDR warnings.
 */
import { PROTOCOLS } from './types.js';
import {
  checkKnownFields,
  duplicate,
  forbidden,
  invalid,
  readInteger,
  readIntOrString,
  readList,
  readObject,
  readString,
  readStringList,
  required,
  setFields,
  type FieldError,
  type JsonObject,
  type Path,
} from './validate-fields.js';
import { isStrictSubset, parseCIDRText, validateCIDR } from './validate-ip.js';
import { checkEnum, validateLabelSelector, validateObjectMeta } from './validate-meta.js';
import { isDNS1123Subdomain, isValidPortName, isValidPortNum } from './validate-names.js';

const POLICY_TYPES = ['Ingress', 'Egress'] as const;

/**
 * Validates a whole NetworkPolicy object (apiVersion and kind already matched). `spec` and `spec.podSelector` are
 * non-pointer structs in the API types, so leaving them out (or null) decodes as empty: every pod of the namespace.
 */
export function validateNetworkPolicy(obj: JsonObject): FieldError[] {
  const out: FieldError[] = [];
  checkKnownFields(obj, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], [], out);
  out.push(...validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Subdomain, namespaced: true, strict: true }));
  if (obj.status !== undefined) {
    // NetworkPolicyStatus existed from 1.24 (kubernetes#107963, alpha) until its removal in 1.28 (kubernetes#115843).
    out.push({
      path: ['status'],
      severity: 'note',
      message: 'status is ignored (exported from a 1.24–1.27 cluster?): API servers 1.24 to 1.27 accept it, 1.23 and earlier and 1.28 and later reject it as an unknown field',
    });
  }
  const spec = readObject(obj.spec, ['spec'], out);
  if (spec) validateSpec(spec, ['spec'], out);
  return out;
}

function validateSpec(spec: JsonObject, path: Path, out: FieldError[]): void {
  checkKnownFields(spec, ['podSelector', 'ingress', 'egress', 'policyTypes'], path, out);
  if (spec.podSelector !== undefined && spec.podSelector !== null) {
    out.push(...validateLabelSelector(spec.podSelector, [...path, 'podSelector']));
  }
  for (const [direction, peersField] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    const rules = readList(spec[direction], [...path, direction], out);
    rules?.forEach((rule, i) => validateRule(rule, peersField, [...path, direction, i], out));
  }
  validatePolicyTypes(spec.policyTypes, [...path, 'policyTypes'], out);
}

function validateRule(value: unknown, peersField: 'from' | 'to', path: Path, out: FieldError[]): void {
  const rule = readObject(value, path, out);
  if (!rule) return;
  checkKnownFields(rule, ['ports', peersField], path, out);
  const ports = readList(rule.ports, [...path, 'ports'], out);
  ports?.forEach((port, i) => validatePort(port, [...path, 'ports', i], out));
  const peers = readList(rule[peersField], [...path, peersField], out);
  peers?.forEach((peer, i) => validatePeer(peer, [...path, peersField, i], out));
}

/**
 * The apiserver rejects more than two policyTypes and any value but Ingress/Egress. A repeated value is accepted
 * upstream (so only a warning here): it changes nothing.
 */
function validatePolicyTypes(value: unknown, path: Path, out: FieldError[]): void {
  const count = Array.isArray(value) ? value.length : 0;
  const types = readStringList(value, path, out);
  if (!types) return;
  if (count > POLICY_TYPES.length) {
    out.push(invalid(path, types.map(([, t]) => t).join(','), 'may not specify more than two policyTypes'));
    return;
  }
  const seen = new Set<string>();
  for (const [i, t] of types) {
    checkEnum(t, POLICY_TYPES, [...path, i], out);
    if (seen.has(t)) out.push({ ...duplicate([...path, i], t), severity: 'warning' });
    seen.add(t);
  }
}

function validatePort(value: unknown, path: Path, out: FieldError[]): void {
  const port = readObject(value, path, out);
  if (!port) return;
  checkKnownFields(port, ['protocol', 'port', 'endPort'], path, out);
  const protocol = readString(port.protocol, [...path, 'protocol'], out);
  if (protocol !== undefined) checkEnum(protocol, PROTOCOLS, [...path, 'protocol'], out);
  const number = readIntOrString(port.port, [...path, 'port'], out);
  const endPort = readInteger(port.endPort, [...path, 'endPort'], out);
  if (typeof number === 'number') {
    for (const msg of isValidPortNum(number)) out.push(invalid([...path, 'port'], number, msg));
    if (endPort !== undefined) {
      if (endPort < number) out.push(invalid([...path, 'endPort'], endPort, 'must be greater than or equal to `port`'));
      for (const msg of isValidPortNum(endPort)) out.push(invalid([...path, 'endPort'], endPort, msg));
    }
  } else if (typeof number === 'string') {
    if (endPort !== undefined) {
      out.push(invalid([...path, 'endPort'], endPort, 'may not be specified when `port` is non-numeric'));
    }
    for (const msg of isValidPortName(number)) out.push(invalid([...path, 'port'], number, msg));
  } else if (endPort !== undefined && (port.port === undefined || port.port === null)) {
    out.push(invalid([...path, 'endPort'], endPort, 'may not be specified when `port` is not specified'));
  }
}

function validatePeer(value: unknown, path: Path, out: FieldError[]): void {
  const peer = readObject(value, path, out);
  if (!peer) {
    if (value === null) out.push(required(path, 'must specify a peer'));
    return;
  }
  checkKnownFields(peer, ['podSelector', 'namespaceSelector', 'ipBlock'], path, out);
  const kinds = setFields(peer, ['podSelector', 'namespaceSelector', 'ipBlock']);
  for (const selector of ['podSelector', 'namespaceSelector'] as const) {
    if (kinds.includes(selector)) out.push(...validateLabelSelector(peer[selector], [...path, selector]));
  }
  if (kinds.includes('ipBlock')) validateIPBlock(peer.ipBlock, [...path, 'ipBlock'], out);
  if (kinds.length === 0) out.push(required(path, 'must specify a peer'));
  else if (kinds.length > 1 && kinds.includes('ipBlock')) {
    out.push(forbidden(path, 'may not specify both ipBlock and another peer'));
  }
}

/**
 * `cidr` is required and a CIDR; each `except` a CIDR strictly inside it (same family, longer prefix). Parsing follows
 * the apiserver's legacy rules (see `CIDRRules`): host bits set are accepted with a warning.
 */
function validateIPBlock(value: unknown, path: Path, out: FieldError[]): void {
  const block = readObject(value, path, out);
  if (!block) return;
  checkKnownFields(block, ['cidr', 'except'], path, out);
  const cidrText = readString(block.cidr, [...path, 'cidr'], out);
  const excepts = readStringList(block.except, [...path, 'except'], out);
  if (cidrText === undefined && typeof block.cidr !== 'undefined' && block.cidr !== null) return;
  if (!cidrText) {
    out.push(required([...path, 'cidr']));
    return;
  }
  out.push(...validateCIDR(cidrText, [...path, 'cidr']));
  const cidr = parseCIDRText(cidrText);
  if (!cidr) return;
  for (const [i, text] of excepts ?? []) {
    const exceptPath = [...path, 'except', i];
    out.push(...validateCIDR(text, exceptPath));
    const except = parseCIDRText(text);
    if (!except) continue;
    if (!isStrictSubset(cidr, except)) {
      const why = except.family !== cidr.family ? ' (it is of another IP family)' : '';
      out.push(invalid(exceptPath, text, `must be a strict subset of \`cidr\`${why}`));
    }
  }
}
