/**
 * AWS's `networking.k8s.aws/v1alpha1` ClusterNetworkPolicy and ApplicationNetworkPolicy, checked as their CRDs check
 * them (aws/amazon-network-policy-controller-k8s `config/crd/bases/networking.k8s.aws_clusternetworkpolicies.yaml` and
 * `…_applicationnetworkpolicies.yaml`: OpenAPI schema, `x-kubernetes-validations` CEL rules, strict field decoding).
 *
 * A CRD checks less than the apiserver's Go validation of NetworkPolicy: CIDRs, label keys, selector operators, port
 * numbers of ApplicationNetworkPolicy and protocols are plain strings or integers to it. What the CRD accepts stays
 * valid here; where Palisade (and AWS's controller, which parses them in Go) cannot use such a value, it is a warning
 * saying what happens to it.
 */
import {
  AWS_ACTIONS,
  AWS_DOMAIN_NAME_PATTERN,
  AWS_LIMITS,
  AWS_TIERS,
  type AwsPolicyKind,
} from './aws-types.js';
import { PROTOCOLS } from './types.js';
import {
  checkKnownFields,
  duplicate,
  invalid,
  readInteger,
  readIntOrString,
  readList,
  readObject,
  readString,
  readStringList,
  required,
  setFields,
  tooFew,
  tooMany,
  warning,
  type FieldError,
  type JsonObject,
  type Path,
} from './validate-fields.js';
import { isStrictSubset, parseCIDRText, validateCIDR } from './validate-ip.js';
import { checkEnum, validateLabelSelector, validateObjectMeta } from './validate-meta.js';
import { isDNS1123Subdomain, isValidPortName } from './validate-names.js';

/** The CRDs' DomainName pattern exactly as the apiserver applies it. */
const DOMAIN_NAME_RE = new RegExp(AWS_DOMAIN_NAME_PATTERN);

/** Validates one AWS policy object (apiVersion and kind already matched). */
export function validateAwsPolicy(obj: JsonObject, kind: AwsPolicyKind): FieldError[] {
  const out: FieldError[] = [];
  checkKnownFields(obj, ['apiVersion', 'kind', 'metadata', 'spec', 'status'], [], out);
  const namespaced = kind === 'ApplicationNetworkPolicy';
  out.push(...validateObjectMeta(obj.metadata, { nameFormat: isDNS1123Subdomain, namespaced, strict: true }));
  const spec = readObject(obj.spec, ['spec'], out);
  if (!spec) {
    // The CRDs do not require `spec`; an object without one is stored and does nothing.
    if (obj.spec === undefined || obj.spec === null) out.push(warning(['spec'], 'no spec: the CRD accepts it, and the policy has no effect'));
    return out;
  }
  if (kind === 'ClusterNetworkPolicy') validateCNPSpec(spec, ['spec'], out);
  else validateANPSpec(spec, ['spec'], out);
  return out;
}

// ---------------------------------------------------------------- helpers

/** Findings of a Go-side check the CRD does not make, as warnings with what follows from them. */
function goOnly(findings: readonly FieldError[], consequence: string, out: FieldError[]): void {
  for (const f of findings) {
    out.push(f.severity === 'warning' ? f : warning(f.path, `${f.message} (the CRD accepts it; ${consequence})`));
  }
}

/** A label selector: the CRD checks only its shape; keys, values and operators are checked in Go by AWS's controller. */
function selector(value: unknown, path: Path, out: FieldError[]): void {
  const shape: FieldError[] = [];
  const sel = readObject(value, path, shape);
  out.push(...shape);
  if (!sel) return;
  goOnly(validateLabelSelector(sel, path), "AWS's controller cannot parse this selector and fails to resolve the policy", out);
}

function characters(text: string): number {
  return [...text].length;
}

function maxLength(text: string, max: number, path: Path, out: FieldError[]): boolean {
  if (characters(text) <= max) return true;
  out.push({ path, message: `Too long: may not be longer than ${max}` });
  return false;
}

function checkRange(value: number, min: number, max: number, path: Path, out: FieldError[]): void {
  if (value < min) out.push(invalid(path, value, `should be greater than or equal to ${min}`));
  if (value > max) out.push(invalid(path, value, `should be less than or equal to ${max}`));
}

function requiredField(obj: JsonObject, field: string, path: Path, out: FieldError[]): void {
  if (obj[field] === undefined || obj[field] === null) out.push(required([...path, field]));
}

/** MinProperties=1 and MaxProperties=1 over `fields` (unknown fields reported first). Returns the one field set. */
function exactlyOne(obj: JsonObject, fields: readonly string[], path: Path, out: FieldError[]): string | undefined {
  checkKnownFields(obj, fields, path, out);
  const set = setFields(obj, fields);
  if (set.length === 1) return set[0];
  if (set.length === 0) out.push(invalid(path, 0, `should have at least 1 properties: exactly one of ${fields.join(', ')} must be set`));
  else out.push(invalid(path, set.length, `should have at most 1 properties: only one of ${fields.join(', ')} may be set (found ${set.join(', ')})`));
  return undefined;
}

/** A `listType=set` list of strings with MinItems=1 and an optional MaxItems; duplicates are rejected. */
function stringSet(value: unknown, max: number | undefined, path: Path, out: FieldError[], each: (text: string, path: Path) => void): void {
  const items = readStringList(value, path, out);
  if (!items) return;
  const count = Array.isArray(value) ? value.length : 0;
  if (count === 0) out.push(tooFew(path, 1));
  if (max !== undefined && count > max) out.push(tooMany(path, count, max));
  const seen = new Set<string>();
  for (const [i, text] of items) {
    if (seen.has(text)) out.push(duplicate([...path, i], text));
    seen.add(text);
    each(text, [...path, i]);
  }
}

function domainName(text: string, path: Path, out: FieldError[]): void {
  if (!DOMAIN_NAME_RE.test(text)) out.push(invalid(path, text, `should match '${AWS_DOMAIN_NAME_PATTERN}'`));
}

/** A protocol string: the CRD takes any string; Palisade (and the data plane) knows TCP, UDP and SCTP. */
function protocol(value: unknown, path: Path, out: FieldError[]): void {
  const p = readString(value, path, out);
  if (p !== undefined && !(PROTOCOLS as readonly string[]).includes(p)) {
    out.push(warning(path, `${JSON.stringify(p)} is not TCP, UDP or SCTP: the CRD accepts it, and it matches no traffic`));
  }
}

/** A CIDR the CRD does not parse: not a CIDR is a warning (the peer matches nothing). */
function cidrText(text: string, path: Path, out: FieldError[]): void {
  goOnly(validateCIDR(text, path, 'legacy'), 'it is not a CIDR, so it matches no address', out);
}

// ---------------------------------------------------------------- ClusterNetworkPolicy

function validateCNPSpec(spec: JsonObject, path: Path, out: FieldError[]): void {
  checkKnownFields(spec, ['tier', 'priority', 'subject', 'ingress', 'egress'], path, out);
  const tier = readString(spec.tier, [...path, 'tier'], out);
  if (tier === undefined) requiredField(spec, 'tier', path, out);
  else checkEnum(tier, AWS_TIERS, [...path, 'tier'], out);
  const priority = readInteger(spec.priority, [...path, 'priority'], out);
  if (priority === undefined) requiredField(spec, 'priority', path, out);
  else checkRange(priority, AWS_LIMITS.minPriority, AWS_LIMITS.maxPriority, [...path, 'priority'], out);

  const subjectPath = [...path, 'subject'];
  const subject = readObject(spec.subject, subjectPath, out);
  if (!subject) requiredField(spec, 'subject', path, out);
  else {
    const which = exactlyOne(subject, ['namespaces', 'pods'], subjectPath, out);
    if (which === 'namespaces') selector(subject.namespaces, [...subjectPath, 'namespaces'], out);
    if (which === 'pods') namespacedPod(subject.pods, [...subjectPath, 'pods'], out);
  }
  for (const direction of ['ingress', 'egress'] as const) {
    const rules = readList(spec[direction], [...path, direction], out);
    if (!rules) continue;
    if (rules.length > AWS_LIMITS.maxRules) out.push(tooMany([...path, direction], rules.length, AWS_LIMITS.maxRules));
    rules.forEach((rule, i) => cnpRule(rule, direction, [...path, direction, i], out));
  }
}

function namespacedPod(value: unknown, path: Path, out: FieldError[]): void {
  const pods = readObject(value, path, out);
  if (!pods) return;
  checkKnownFields(pods, ['namespaceSelector', 'podSelector'], path, out);
  for (const field of ['namespaceSelector', 'podSelector'] as const) {
    if (pods[field] === undefined || pods[field] === null) out.push(required([...path, field]));
    else selector(pods[field], [...path, field], out);
  }
}

function cnpRule(value: unknown, direction: 'ingress' | 'egress', path: Path, out: FieldError[]): void {
  const rule = readObject(value, path, out);
  if (!rule) return;
  const peersField = direction === 'ingress' ? 'from' : 'to';
  checkKnownFields(rule, ['name', 'action', peersField, 'ports'], path, out);
  const name = readString(rule.name, [...path, 'name'], out);
  if (name !== undefined) maxLength(name, AWS_LIMITS.maxRuleName, [...path, 'name'], out);
  const action = readString(rule.action, [...path, 'action'], out);
  if (action === undefined) requiredField(rule, 'action', path, out);
  else checkEnum(action, AWS_ACTIONS, [...path, 'action'], out);

  const peers = readList(rule[peersField], [...path, peersField], out);
  let hasDomainNames = false;
  if (!peers) requiredField(rule, peersField, path, out);
  else {
    if (peers.length === 0) out.push(tooFew([...path, peersField], 1));
    if (peers.length > AWS_LIMITS.maxPeers) out.push(tooMany([...path, peersField], peers.length, AWS_LIMITS.maxPeers));
    peers.forEach((peer, i) => {
      if (cnpPeer(peer, direction, [...path, peersField, i], out) === 'domainNames') hasDomainNames = true;
    });
  }
  // CEL on ClusterNetworkPolicyEgressRule: !(self.action != 'Accept' && self.to.exists(peer, has(peer.domainNames)))
  if (direction === 'egress' && hasDomainNames && action !== undefined && action !== 'Accept') {
    out.push(invalid(path, rule, 'domainNames peer can only be used with Accept action'));
  }

  const ports = readList(rule.ports, [...path, 'ports'], out);
  if (ports) {
    if (ports.length === 0) out.push(tooFew([...path, 'ports'], 1));
    if (ports.length > AWS_LIMITS.maxPorts) out.push(tooMany([...path, 'ports'], ports.length, AWS_LIMITS.maxPorts));
    ports.forEach((port, i) => cnpPort(port, [...path, 'ports', i], out));
  }
}

function cnpPeer(value: unknown, direction: 'ingress' | 'egress', path: Path, out: FieldError[]): string | undefined {
  const peer = readObject(value, path, out);
  if (!peer) {
    if (value === null) out.push(invalid(path, 0, 'should have at least 1 properties'));
    return undefined;
  }
  const fields = direction === 'ingress' ? ['namespaces', 'pods'] : ['namespaces', 'pods', 'networks', 'domainNames'];
  const which = exactlyOne(peer, fields, path, out);
  const p = [...path, which ?? ''];
  switch (which) {
    case 'namespaces':
      selector(peer.namespaces, p, out);
      break;
    case 'pods':
      namespacedPod(peer.pods, p, out);
      break;
    case 'networks':
      stringSet(peer.networks, AWS_LIMITS.maxNetworks, p, out, (text, at) => {
        if (maxLength(text, AWS_LIMITS.maxCIDRLength, at, out)) cidrText(text, at, out);
      });
      break;
    case 'domainNames':
      stringSet(peer.domainNames, AWS_LIMITS.maxDomainNames, p, out, (text, at) => domainName(text, at, out));
      break;
  }
  return which;
}

/** Port 1–65535 (required). */
function portNumber(value: unknown, path: Path, out: FieldError[]): number | undefined {
  const n = readInteger(value, path, out);
  if (n === undefined) {
    if (value === undefined || value === null) out.push(required(path));
    return undefined;
  }
  checkRange(n, 1, 65535, path, out);
  return n;
}

/** `ClusterNetworkPolicyPort`: every field optional, none exclusive (the CRD sets no Min/MaxProperties). */
function cnpPort(value: unknown, path: Path, out: FieldError[]): void {
  const port = readObject(value, path, out);
  if (!port) return;
  checkKnownFields(port, ['portNumber', 'portRange', 'namedPort'], path, out);
  const set = setFields(port, ['portNumber', 'portRange', 'namedPort']);
  if (set.length === 0) out.push(warning(path, 'no portNumber, portRange or namedPort: the CRD accepts it, and it matches no port'));
  if (set.length > 1) out.push(warning(path, `${set.join(' and ')} in one entry: the CRD accepts it; each of them applies`));
  const number = readObject(port.portNumber, [...path, 'portNumber'], out);
  if (number) {
    const p = [...path, 'portNumber'];
    checkKnownFields(number, ['protocol', 'port'], p, out);
    protocol(number.protocol, [...p, 'protocol'], out);
    portNumber(number.port, [...p, 'port'], out);
  }
  const range = readObject(port.portRange, [...path, 'portRange'], out);
  if (range) {
    const p = [...path, 'portRange'];
    checkKnownFields(range, ['protocol', 'start', 'end'], p, out);
    protocol(range.protocol, [...p, 'protocol'], out);
    const start = portNumber(range.start, [...p, 'start'], out);
    const end = portNumber(range.end, [...p, 'end'], out);
    // CEL on CNPPortRange: self.start < self.end
    if (start !== undefined && end !== undefined && !(start < end)) out.push(invalid(p, range, 'Start port must be less than End port'));
  }
  const named = readString(port.namedPort, [...path, 'namedPort'], out);
  if (named !== undefined) {
    const msgs = isValidPortName(named);
    if (msgs.length > 0) out.push(warning([...path, 'namedPort'], `can never match a container port name: ${msgs.join('; ')}`));
  }
}

// ---------------------------------------------------------------- ApplicationNetworkPolicy

function validateANPSpec(spec: JsonObject, path: Path, out: FieldError[]): void {
  checkKnownFields(spec, ['podSelector', 'policyTypes', 'ingress', 'egress'], path, out);
  if (spec.podSelector === undefined || spec.podSelector === null) out.push(required([...path, 'podSelector']));
  else selector(spec.podSelector, [...path, 'podSelector'], out);
  const types = readStringList(spec.policyTypes, [...path, 'policyTypes'], out);
  for (const [i, t] of types ?? []) {
    if (t !== 'Ingress' && t !== 'Egress') {
      out.push(warning([...path, 'policyTypes', i], `${JSON.stringify(t)} is neither Ingress nor Egress: the CRD accepts it, and it is ignored`));
    }
  }
  for (const [direction, peersField] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    const rules = readList(spec[direction], [...path, direction], out);
    rules?.forEach((value, i) => {
      const at = [...path, direction, i];
      const rule = readObject(value, at, out);
      if (!rule) return;
      checkKnownFields(rule, ['ports', peersField], at, out);
      readList(rule.ports, [...at, 'ports'], out)?.forEach((port, j) => anpPort(port, [...at, 'ports', j], out));
      readList(rule[peersField], [...at, peersField], out)?.forEach((peer, j) => anpPeer(peer, direction, [...at, peersField, j], out));
    });
  }
}

function anpPeer(value: unknown, direction: 'ingress' | 'egress', path: Path, out: FieldError[]): void {
  const peer = readObject(value, path, out);
  if (!peer) return;
  const fields = direction === 'ingress' ? ['podSelector', 'namespaceSelector', 'ipBlock'] : ['podSelector', 'namespaceSelector', 'ipBlock', 'domainNames'];
  checkKnownFields(peer, fields, path, out);
  for (const field of ['podSelector', 'namespaceSelector'] as const) {
    if (peer[field] !== undefined && peer[field] !== null) selector(peer[field], [...path, field], out);
  }
  const block = readObject(peer.ipBlock, [...path, 'ipBlock'], out);
  if (block) ipBlock(block, [...path, 'ipBlock'], out);
  if (direction === 'egress' && peer.domainNames !== undefined && peer.domainNames !== null) {
    stringSet(peer.domainNames, undefined, [...path, 'domainNames'], out, (text, at) => domainName(text, at, out));
    // CEL on ApplicationNetworkPolicyPeer: domainNames excludes each of the other three fields.
    for (const other of ['ipBlock', 'podSelector', 'namespaceSelector'] as const) {
      if (peer[other] !== undefined && peer[other] !== null) out.push(invalid(path, peer, `${other} and domainNames are mutually exclusive`));
    }
  }
  const set = setFields(peer, fields);
  if (set.length === 0) out.push(warning(path, 'no field set: the CRD accepts an empty peer; AWS reads it as a NetworkPolicy peer selecting nothing it can resolve'));
  else if (set.includes('ipBlock') && set.length > 1 && !set.includes('domainNames')) {
    out.push(warning(path, 'ipBlock with a selector: the CRD accepts it (NetworkPolicy does not); the selectors are ignored'));
  }
}

function ipBlock(block: JsonObject, path: Path, out: FieldError[]): void {
  checkKnownFields(block, ['cidr', 'except'], path, out);
  const cidr = readString(block.cidr, [...path, 'cidr'], out);
  if (cidr === undefined) {
    requiredField(block, 'cidr', path, out);
    return;
  }
  cidrText(cidr, [...path, 'cidr'], out);
  const outer = parseCIDRText(cidr);
  for (const [i, text] of readStringList(block.except, [...path, 'except'], out) ?? []) {
    const at = [...path, 'except', i];
    cidrText(text, at, out);
    const inner = parseCIDRText(text);
    if (outer && inner && !isStrictSubset(outer, inner)) {
      out.push(warning(at, 'not a strict subset of `cidr`: the CRD accepts it, and it excludes only what lies inside `cidr`'));
    }
  }
}

function anpPort(value: unknown, path: Path, out: FieldError[]): void {
  const port = readObject(value, path, out);
  if (!port) return;
  checkKnownFields(port, ['protocol', 'port', 'endPort'], path, out);
  protocol(port.protocol, [...path, 'protocol'], out);
  const number = readIntOrString(port.port, [...path, 'port'], out);
  const endPort = readInteger(port.endPort, [...path, 'endPort'], out);
  const unusable = (p: Path, v: unknown, what: string): void => {
    out.push(warning(p, `${JSON.stringify(v)} ${what}: the CRD accepts it, and it matches no port`));
  };
  if (typeof number === 'number') {
    if (number < 1 || number > 65535) unusable([...path, 'port'], number, 'is not a port number (1-65535)');
    if (endPort !== undefined && (endPort < number || endPort > 65535)) unusable([...path, 'endPort'], endPort, 'is below `port` or above 65535');
  } else if (typeof number === 'string') {
    const msgs = isValidPortName(number);
    if (msgs.length > 0) out.push(warning([...path, 'port'], `can never match a container port name: ${msgs.join('; ')}`));
    if (endPort !== undefined) out.push(warning([...path, 'endPort'], 'with a named `port`: the CRD accepts it, and it is ignored'));
  } else if (endPort !== undefined) {
    out.push(warning([...path, 'endPort'], 'without `port`: the CRD accepts it, and it is ignored'));
  }
}
