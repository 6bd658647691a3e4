import { describe, expect, it } from 'vitest';
import { formatPath } from './diagnostics.js';
import {
  validateCIDR,
  validateLabels,
  validateLabelSelector,
  validateObject,
  type FieldError,
} from './validate.js';

/** An expected finding: the rendered path, a fragment of the message, and `warning` when it is one. */
type Expect = readonly [path: string, fragment: string, severity?: 'warning' | 'note'];

interface Case {
  readonly name: string;
  readonly manifest: unknown;
  readonly expect: readonly Expect[];
}

/** Every expected finding is reported, and nothing else. */
function check(errors: readonly FieldError[], expected: readonly Expect[]): void {
  const actual = errors.map((e) => ({ path: formatPath(e.path), message: e.message, severity: e.severity ?? 'error' }));
  const unmatched = [...actual];
  for (const [path, fragment, severity = 'error'] of expected) {
    const i = unmatched.findIndex((a) => a.path === path && a.message.includes(fragment) && a.severity === severity);
    expect(i, `expected ${severity} at ${path} containing ${JSON.stringify(fragment)}; got ${JSON.stringify(actual, null, 1)}`).toBeGreaterThanOrEqual(0);
    unmatched.splice(i, 1);
  }
  expect(unmatched, 'unexpected findings').toEqual([]);
}

function runCases(cases: readonly Case[]): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    check(validateObject(c.manifest), c.expect);
  });
}

// ---------------------------------------------------------------- fixtures

type Obj = Record<string, unknown>;

function np(spec: Obj, metadata: Obj = { name: 'web', namespace: 'prod' }): Obj {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata, spec: { podSelector: {}, ...spec } };
}
function ingressFrom(peer: unknown): Obj {
  return np({ ingress: [{ from: [peer] }] });
}
function ingressPort(port: unknown): Obj {
  return np({ ingress: [{ ports: [port] }] });
}
function ipBlock(cidr: unknown, except?: unknown): Obj {
  return ingressFrom({ ipBlock: except === undefined ? { cidr } : { cidr, except } });
}
function pod(spec: Obj = {}, extra: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-0', namespace: 'prod', labels: { app: 'web' } },
    spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }], ...spec },
    ...extra,
  };
}
function service(spec: Obj, name = 'web'): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'prod' }, spec };
}
const template = (labels: Obj, ports: unknown[] = [{ name: 'http', containerPort: 80 }]): Obj => ({
  metadata: { labels },
  spec: { containers: [{ name: 'app', ports }] },
});
function anp(spec: Obj, name = 'deny-all'): Obj {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'AdminNetworkPolicy',
    metadata: { name },
    spec: { priority: 10, subject: { namespaces: {} }, ...spec },
  };
}
function banp(spec: Obj, name = 'default'): Obj {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha1',
    kind: 'BaselineAdminNetworkPolicy',
    metadata: { name },
    spec: { subject: { namespaces: {} }, ...spec },
  };
}
function cnp(spec: Obj): Obj {
  return {
    apiVersion: 'policy.networking.k8s.io/v1alpha2',
    kind: 'ClusterNetworkPolicy',
    metadata: { name: 'guard' },
    spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ...spec },
  };
}
const allNs = { namespaces: {} };
const many = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

// ---------------------------------------------------------------- NetworkPolicy

describe('NetworkPolicy', () => {
  runCases([
    {
      name: 'a full valid policy',
      manifest: np({
        podSelector: { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a', 'b'] }] },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { role: 'client' } }, namespaceSelector: { matchLabels: { env: 'prod' } } },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
              { ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } },
            ],
            ports: [{ protocol: 'TCP', port: 80 }, { port: 'http' }, { protocol: 'UDP', port: 1000, endPort: 2000 }, { protocol: 'SCTP' }],
          },
        ],
        egress: [{ to: [{ namespaceSelector: {} }] }, {}],
      }),
      expect: [],
    },
    { name: 'empty spec rules are valid', manifest: np({ ingress: [{}], egress: [] }), expect: [] },
    {
      name: 'spec: {} is valid, podSelector defaults to empty (k8s.io/api networking/v1 types.go: PodSelector is a non-pointer LabelSelector; validation.go ValidateNetworkPolicySpec has no Required check)',
      manifest: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: {} },
      expect: [],
    },
    {
      name: 'podSelector: null is valid (networking/v1 types.go: non-pointer, null decodes as the zero value)',
      manifest: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { podSelector: null } },
      expect: [],
    },
    { name: 'no spec is valid (networking/v1 types.go: Spec is a non-pointer NetworkPolicySpec)', manifest: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' } }, expect: [] },
    {
      name: 'status is accepted with a note (NetworkPolicyStatus: added in 1.24 by kubernetes#107963, removed in 1.28 by kubernetes#115843)',
      manifest: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: {}, status: { conditions: [] } },
      expect: [['status', '1.28 and later', 'note']],
    },
    { name: 'a Calico projectcalico.org/v3 NetworkPolicy is another kind: no errors (kinds are matched by API group)', manifest: { apiVersion: 'projectcalico.org/v3', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { selector: "app == 'x'" } }, expect: [] },
    { name: 'an Antrea crd.antrea.io/v1beta1 NetworkPolicy is another kind: no errors (kinds are matched by API group)', manifest: { apiVersion: 'crd.antrea.io/v1beta1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: { appliedTo: [] } }, expect: [] },
    { name: 'networking.k8s.io/v1beta1 NetworkPolicy is not served by 1.30 (the group is right, the version is not)', manifest: { apiVersion: 'networking.k8s.io/v1beta1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: {} }, expect: [['apiVersion', 'Unsupported value']] },
    { name: 'podSelector must be an object', manifest: np({ podSelector: 'app=web' }), expect: [['spec.podSelector', 'must be an object']] },
    { name: 'ingress must be a list', manifest: np({ ingress: { from: [] } }), expect: [['spec.ingress', 'must be a list']] },
    {
      name: 'unknown fields at every level',
      manifest: {
        ...np({ ingress: [{ fromm: [], from: [{ podSelectr: {} }] }], extra: 1 }),
        status: {},
        metadata: { name: 'a', lables: {} },
      },
      expect: [
        ['status', 'status is ignored', 'note'],
        ['metadata.lables', 'unknown field'],
        ['spec.extra', 'unknown field'],
        ['spec.ingress[0].fromm', 'unknown field'],
        ['spec.ingress[0].from[0].podSelectr', 'unknown field'],
        ['spec.ingress[0].from[0]', 'must specify a peer'],
      ],
    },
    { name: 'egress rule does not take from', manifest: np({ egress: [{ from: [] }] }), expect: [['spec.egress[0].from', 'unknown field']] },
    // policyTypes
    { name: 'policyTypes: unknown value', manifest: np({ policyTypes: ['Ingress', 'Both'] }), expect: [['spec.policyTypes[1]', 'Unsupported value: "Both"']] },
    {
      name: 'policyTypes: more than two',
      manifest: np({ policyTypes: ['Ingress', 'Egress', 'Ingress'] }),
      expect: [['spec.policyTypes', 'may not specify more than two policyTypes']],
    },
    {
      name: 'policyTypes: a repeat is accepted upstream, so only a warning',
      manifest: np({ policyTypes: ['Egress', 'Egress'] }),
      expect: [['spec.policyTypes[1]', 'Duplicate value: "Egress"', 'warning']],
    },
    { name: 'policyTypes: must be strings', manifest: np({ policyTypes: [1] }), expect: [['spec.policyTypes[0]', 'must be a string']] },
    // ports
    { name: 'port: protocol', manifest: ingressPort({ protocol: 'ICMP' }), expect: [['spec.ingress[0].ports[0].protocol', 'supported values: "TCP", "UDP", "SCTP"']] },
    { name: 'port: lower-case protocol', manifest: ingressPort({ protocol: 'tcp' }), expect: [['spec.ingress[0].ports[0].protocol', 'Unsupported value: "tcp"']] },
    { name: 'port: zero', manifest: ingressPort({ port: 0 }), expect: [['spec.ingress[0].ports[0].port', 'must be between 1 and 65535, inclusive']] },
    { name: 'port: too big', manifest: ingressPort({ port: 65536 }), expect: [['spec.ingress[0].ports[0].port', 'must be between 1 and 65535']] },
    { name: 'port: given as a list', manifest: ingressPort({ port: [80] }), expect: [['spec.ingress[0].ports[0].port', 'must be an integer or a string']] },
    { name: 'port: fractional', manifest: ingressPort({ port: 80.5 }), expect: [['spec.ingress[0].ports[0].port', 'must be an integer or a string']] },
    { name: 'ports: a null entry decodes as an empty port (every port)', manifest: ingressPort(null), expect: [] },
    { name: 'ports: an object instead of a list', manifest: np({ ingress: [{ ports: { port: 80 } }] }), expect: [['spec.ingress[0].ports', 'must be a list']] },
    {
      name: 'port: a quoted number is a (bad) name',
      manifest: ingressPort({ port: '80' }),
      expect: [['spec.ingress[0].ports[0].port', 'must contain at least one letter (a-z)']],
    },
    {
      name: 'port: named port too long and upper case',
      manifest: ingressPort({ port: 'Very-Long-Port-Name' }),
      expect: [
        ['spec.ingress[0].ports[0].port', 'must be no more than 15 characters'],
        ['spec.ingress[0].ports[0].port', 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'],
      ],
    },
    { name: 'port: named port double hyphen', manifest: ingressPort({ port: 'a--b' }), expect: [['spec.ingress[0].ports[0].port', 'must not contain consecutive hyphens']] },
    { name: 'port: named port edge hyphen', manifest: ingressPort({ port: '-http' }), expect: [['spec.ingress[0].ports[0].port', 'must not begin or end with a hyphen']] },
    { name: 'endPort: below port', manifest: ingressPort({ port: 100, endPort: 99 }), expect: [['spec.ingress[0].ports[0].endPort', 'must be greater than or equal to `port`']] },
    { name: 'endPort: equal to port', manifest: ingressPort({ port: 100, endPort: 100 }), expect: [] },
    { name: 'endPort: too big', manifest: ingressPort({ port: 100, endPort: 70000 }), expect: [['spec.ingress[0].ports[0].endPort', 'must be between 1 and 65535']] },
    { name: 'endPort: with a named port', manifest: ingressPort({ port: 'http', endPort: 90 }), expect: [['spec.ingress[0].ports[0].endPort', 'may not be specified when `port` is non-numeric']] },
    { name: 'endPort: without a port', manifest: ingressPort({ endPort: 90 }), expect: [['spec.ingress[0].ports[0].endPort', 'may not be specified when `port` is not specified']] },
    { name: 'endPort: must be an integer', manifest: ingressPort({ port: 1, endPort: '9' }), expect: [['spec.ingress[0].ports[0].endPort', 'must be an integer']] },
    { name: 'ports: a port given as a number instead of an object', manifest: ingressPort(80), expect: [['spec.ingress[0].ports[0]', 'must be an object']] },
    // peers
    { name: 'peer: empty', manifest: ingressFrom({}), expect: [['spec.ingress[0].from[0]', 'must specify a peer']] },
    {
      name: 'peer: ipBlock with a selector',
      manifest: ingressFrom({ ipBlock: { cidr: '10.0.0.0/8' }, namespaceSelector: {} }),
      expect: [['spec.ingress[0].from[0]', 'may not specify both ipBlock and another peer']],
    },
    { name: 'peer: pod and namespace selectors together are fine', manifest: ingressFrom({ podSelector: {}, namespaceSelector: {} }), expect: [] },
    { name: 'peer: egress peer errors use `to`', manifest: np({ egress: [{ to: [{}] }] }), expect: [['spec.egress[0].to[0]', 'must specify a peer']] },
    // ipBlock
    { name: 'ipBlock: cidr required', manifest: ingressFrom({ ipBlock: {} }), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'Required value']] },
    { name: 'ipBlock: not a CIDR', manifest: ipBlock('10.0.0.0'), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'must be a valid CIDR value']] },
    { name: 'ipBlock: bad octet', manifest: ipBlock('10.0.0.256/8'), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'must be a valid CIDR value']] },
    { name: 'ipBlock: prefix too long', manifest: ipBlock('10.0.0.0/33'), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'must be a valid CIDR value']] },
    { name: 'ipBlock: IPv6 prefix too long', manifest: ipBlock('2001:db8::/129'), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'must be a valid CIDR value']] },
    { name: 'ipBlock: IPv6 zone', manifest: ipBlock('fe80::1%eth0/64'), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'must be a valid CIDR value']] },
    {
      name: 'ipBlock: host bits set are accepted (legacy parsing) with a warning',
      manifest: ipBlock('10.0.0.1/8'),
      expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'is ambiguous in this context (should be "10.0.0.0/8" or "10.0.0.1/32"?)', 'warning']],
    },
    {
      name: 'ipBlock: leading zeros are accepted with a warning',
      manifest: ipBlock('010.0.0.0/8'),
      expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'non-standard CIDR value "010.0.0.0/8" will be considered invalid', 'warning']],
    },
    {
      name: 'ipBlock: non-canonical IPv6 is a warning',
      manifest: ipBlock('2001:DB8:0:0::/64'),
      expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'should be in RFC 5952 canonical format ("2001:db8::/64")', 'warning']],
    },
    { name: 'ipBlock: 0.0.0.0/0 and ::/0', manifest: np({ egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }] }] }), expect: [] },
    { name: 'except: outside cidr', manifest: ipBlock('10.0.0.0/16', ['10.1.0.0/24']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'must be a strict subset of `cidr`']] },
    { name: 'except: equal to cidr', manifest: ipBlock('10.0.0.0/16', ['10.0.0.0/16']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'must be a strict subset of `cidr`']] },
    { name: 'except: larger than cidr', manifest: ipBlock('10.0.0.0/16', ['10.0.0.0/8']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'must be a strict subset']] },
    { name: 'except: other family', manifest: ipBlock('10.0.0.0/8', ['2001:db8::/64']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'another IP family']] },
    {
      name: 'except: second entry invalid, first fine',
      manifest: ipBlock('10.0.0.0/8', ['10.0.0.0/24', 'nope']),
      expect: [['spec.ingress[0].from[0].ipBlock.except[1]', 'must be a valid CIDR value']],
    },
    { name: 'except: a non-string keeps its index', manifest: ipBlock('10.0.0.0/8', [7, '11.0.0.0/24']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'must be a string'], ['spec.ingress[0].from[0].ipBlock.except[1]', 'strict subset']] },
    { name: 'except: host bits in except are judged by its network', manifest: ipBlock('10.0.0.0/8', ['10.0.0.5/24']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'ambiguous', 'warning']] },
    { name: 'except: IPv6 strict subset', manifest: ipBlock('2001:db8::/32', ['2001:db9::/48']), expect: [['spec.ingress[0].from[0].ipBlock.except[0]', 'strict subset']] },
    { name: 'ipBlock: cidr given as a number', manifest: ipBlock(10), expect: [['spec.ingress[0].from[0].ipBlock.cidr', 'must be a string']] },
    // metadata
    { name: 'name required', manifest: np({}, { namespace: 'prod' }), expect: [['metadata.name', 'name or generateName is required']] },
    { name: 'generateName instead of name', manifest: np({}, { generateName: 'web-' }), expect: [] },
    { name: 'name: upper case', manifest: np({}, { name: 'Web' }), expect: [['metadata.name', 'a lowercase RFC 1123 subdomain must consist of']] },
    { name: 'name: dots allowed (subdomain)', manifest: np({}, { name: 'allow.web' }), expect: [] },
    { name: 'name: too long', manifest: np({}, { name: 'a'.repeat(254) }), expect: [['metadata.name', 'must be no more than 253 characters']] },
    { name: 'namespace: must be a label', manifest: np({}, { name: 'a', namespace: 'prod.eu' }), expect: [['metadata.namespace', 'must not contain dots']] },
    { name: 'metadata must be an object', manifest: np({}, 'web' as unknown as Obj), expect: [['metadata', 'must be an object']] },
  ]);
});

// ---------------------------------------------------------------- labels and selectors

describe('labels', () => {
  const cases: readonly (readonly [string, unknown, readonly Expect[]])[] = [
    ['valid keys and values', { app: 'web', 'app.kubernetes.io/name': 'x', 'k8s.io/a_b.c-d': 'A_b.c-9', empty: '' }, []],
    ['key with bad prefix', { 'Example.com/a': 'x' }, [['metadata.labels', 'prefix part a lowercase RFC 1123 subdomain']]],
    ['key with empty prefix', { '/a': 'x' }, [['metadata.labels', 'prefix part must be non-empty']]],
    ['key with two slashes', { 'a/b/c': 'x' }, [['metadata.labels', 'a qualified name must consist of']]],
    ['key name too long', { ['a'.repeat(64)]: 'x' }, [['metadata.labels', 'name part must be no more than 63 characters']]],
    ['key name bad characters', { 'a b': 'x' }, [['metadata.labels', 'name part must consist of alphanumeric characters']]],
    ['key name empty', { 'example.com/': 'x' }, [['metadata.labels', 'name part must be non-empty'], ['metadata.labels', 'name part must consist']]],
    ['prefix too long', { [`${'a'.repeat(254)}/b`]: 'x' }, [['metadata.labels', 'prefix part must be no more than 253 characters']]],
    ['value too long', { a: 'v'.repeat(64) }, [['metadata.labels', 'must be no more than 63 characters']]],
    ['value starts with a dash', { a: '-v' }, [['metadata.labels', 'a valid label must be an empty string or consist of']]],
    ['value not a string', { version: 1.0 }, [['metadata.labels.version', 'must be a string']]],
    ['labels not a map', ['app=web'], [['metadata.labels', 'must be an object']]],
  ];
  it.each(cases)('%s', (_name, labels, expected) => {
    check(validateLabels(labels, ['metadata', 'labels']), expected);
  });
});

describe('label selectors', () => {
  const at = (i: number, field?: string): string => `spec.podSelector.matchExpressions[${i}]${field ? `.${field}` : ''}`;
  const cases: readonly (readonly [string, unknown, readonly Expect[]])[] = [
    ['empty selector', {}, []],
    ['absent selector', undefined, []],
    ['all operators', { matchExpressions: [{ key: 'a', operator: 'In', values: ['x'] }, { key: 'b', operator: 'NotIn', values: ['y', ''] }, { key: 'c', operator: 'Exists' }, { key: 'd', operator: 'DoesNotExist', values: [] }] }, []],
    ['In without values', { matchExpressions: [{ key: 'a', operator: 'In' }] }, [[at(0, 'values'), "must be specified when `operator` is 'In' or 'NotIn'"]]],
    ['NotIn with empty values', { matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] }, [[at(0, 'values'), 'Required value']]],
    ['Exists with values', { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, [[at(0, 'values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"]]],
    ['DoesNotExist with values', { matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] }, [[at(0, 'values'), 'Forbidden']]],
    ['unknown operator', { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, [[at(0, 'operator'), 'not a valid selector operator']]],
    ['operator missing', { matchExpressions: [{ key: 'a' }] }, [[at(0, 'operator'), 'Required value']]],
    ['key missing', { matchExpressions: [{ operator: 'Exists' }] }, [[at(0, 'key'), 'Required value']]],
    ['bad key', { matchExpressions: [{ key: 'a b', operator: 'Exists' }] }, [[at(0, 'key'), 'name part must consist']]],
    ['bad value', { matchExpressions: [{ key: 'a', operator: 'In', values: ['ok', 'not ok'] }] }, [[at(0, 'values[1]'), 'a valid label must be']]],
    ['values not a list', { matchExpressions: [{ key: 'a', operator: 'In', values: 'x' }] }, [[at(0, 'values'), 'must be a list'], [at(0, 'values'), 'Required value']]],
    ['matchLabels validated as labels', { matchLabels: { 'a/b/c': 'x' } }, [['spec.podSelector.matchLabels', 'a qualified name']]],
    ['unknown selector field', { matchLabel: { a: 'b' } }, [['spec.podSelector.matchLabel', 'unknown field']]],
    ['unknown requirement field', { matchExpressions: [{ key: 'a', operator: 'Exists', value: 'x' }] }, [[at(0, 'value'), 'unknown field']]],
    ['matchExpressions not a list', { matchExpressions: { key: 'a' } }, [['spec.podSelector.matchExpressions', 'must be a list']]],
  ];
  it.each(cases)('%s', (_name, selector, expected) => {
    check(validateLabelSelector(selector, ['spec', 'podSelector']), expected);
  });
});

describe('validateCIDR', () => {
  const cases: readonly (readonly [string, string, 'legacy' | 'cel', readonly Expect[]])[] = [
    ['IPv4', '192.168.0.0/16', 'legacy', []],
    ['IPv6', 'fd00::/8', 'legacy', []],
    ['IPv6 with embedded dotted IPv4', '64:ff9b::192.0.2.0/120', 'legacy', [['x', 'RFC 5952 canonical format ("64:ff9b::c000:200/120")', 'warning']]],
    ['the IPv4-mapped block itself is non-standard', '::ffff:0:0/96', 'legacy', [['x', 'use "0.0.0.0/0"', 'warning']]],
    ['IPv4-mapped IPv6 is non-standard', '::ffff:10.0.0.0/104', 'legacy', [['x', 'non-standard CIDR value', 'warning']]],
    ['prefix with leading zero', '10.0.0.0/08', 'legacy', [['x', 'non-standard CIDR value', 'warning']]],
    ['missing prefix', '10.0.0.0', 'legacy', [['x', 'must be a valid CIDR value']]],
    ['empty', '', 'legacy', [['x', 'must be a valid CIDR value']]],
    ['double ::', '1::2::/64', 'legacy', [['x', 'must be a valid CIDR value']]],
    ['cel: host bits accepted with a warning', '10.0.0.1/8', 'cel', [['x', 'ambiguous', 'warning']]],
    ['cel: leading zeros rejected', '010.0.0.0/8', 'cel', [['x', 'Invalid CIDR format provided']]],
    ['cel: IPv4-mapped rejected', '::ffff:10.0.0.0/104', 'cel', [['x', 'Invalid CIDR format provided']]],
    ['cel: plain address rejected', '10.0.0.1', 'cel', [['x', 'Invalid CIDR format provided']]],
    ['cel: IPv6 fine', '2001:db8::/32', 'cel', []],
  ];
  it.each(cases)('%s', (_name, text, rules, expected) => {
    check(validateCIDR(text, ['x'], rules), expected);
  });
});

// ---------------------------------------------------------------- core kinds

describe('Pod', () => {
  runCases([
    { name: 'valid pod', manifest: pod({}, { status: { phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }, { ip: 'fd00::5' }] } }), expect: [] },
    {
      name: 'other pod fields are ignored',
      manifest: pod({ volumes: [{ bogus: true }], hostNetwork: false, nodeName: 'n1' }, { status: { conditions: 'x' } }),
      expect: [],
    },
    { name: 'hostNetwork must be a boolean', manifest: pod({ hostNetwork: 'true' }), expect: [['spec.hostNetwork', 'must be a boolean']] },
    { name: 'containers required', manifest: pod({ containers: [] }), expect: [['spec.containers', 'Required value']] },
    { name: 'containers null is absent', manifest: pod({ containers: null }), expect: [['spec.containers', 'Required value']] },
    { name: 'containers must be a list', manifest: pod({ containers: { name: 'a' } }), expect: [['spec.containers', 'must be a list']] },
    {
      name: 'containerPort out of range and zero',
      manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 70000 }, { containerPort: 0 }, {}] }] }),
      expect: [
        ['spec.containers[0].ports[0].containerPort', 'must be between 1 and 65535, inclusive'],
        ['spec.containers[0].ports[1].containerPort', 'Required value'],
        ['spec.containers[0].ports[2].containerPort', 'Required value'],
      ],
    },
    {
      name: 'container port protocol',
      manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 53, protocol: 'ICMP' }] }] }),
      expect: [['spec.containers[0].ports[0].protocol', 'Unsupported value: "ICMP"']],
    },
    {
      name: 'container port name is an IANA_SVC_NAME',
      manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'HTTP' }, { containerPort: 81, name: '8080' }] }] }),
      expect: [
        ['spec.containers[0].ports[0].name', 'must contain only alpha-numeric characters'],
        ['spec.containers[0].ports[0].name', 'must contain at least one letter'],
        ['spec.containers[0].ports[1].name', 'must contain at least one letter'],
      ],
    },
    {
      name: 'duplicate port name within a container',
      manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'web' }, { containerPort: 81, name: 'web' }] }] }),
      expect: [['spec.containers[0].ports[1].name', 'Duplicate value: "web"']],
    },
    {
      name: 'duplicate port name across containers is a warning (the apiserver accepts it)',
      manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 80, name: 'web' }] }, { name: 'b', ports: [{ containerPort: 81, name: 'web' }] }] }),
      expect: [['spec.containers[1].ports[0].name', 'also used by spec.containers[0].ports[0]', 'warning']],
    },
    {
      name: 'duplicate containerPort/protocol within a container',
      manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 80 }, { containerPort: 80, protocol: 'TCP' }, { containerPort: 80, protocol: 'UDP' }] }] }),
      expect: [['spec.containers[0].ports[1]', 'Duplicate value: "80/TCP"']],
    },
    {
      name: 'container names: required, label, unique',
      manifest: pod({ containers: [{ ports: [] }, { name: 'A' }, { name: 'b' }], initContainers: [{ name: 'b' }] }),
      expect: [
        ['spec.containers[0].name', 'Required value'],
        ['spec.containers[1].name', 'a lowercase RFC 1123 label'],
        ['spec.initContainers[0].name', 'Duplicate value: "b"'],
      ],
    },
    {
      name: 'init container ports are checked too',
      manifest: pod({ initContainers: [{ name: 'init', ports: [{ containerPort: -1 }] }] }),
      expect: [['spec.initContainers[0].ports[0].containerPort', 'must be between 1 and 65535']],
    },
    { name: 'ports given as an object', manifest: pod({ containers: [{ name: 'a', ports: { containerPort: 80 } }] }), expect: [['spec.containers[0].ports', 'must be a list']] },
    { name: 'containerPort given as a string', manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: '80' }] }] }), expect: [['spec.containers[0].ports[0].containerPort', 'must be an integer']] },
    { name: 'hostPort range', manifest: pod({ containers: [{ name: 'a', ports: [{ containerPort: 80, hostPort: 99999 }] }] }), expect: [['spec.containers[0].ports[0].hostPort', 'must be between 1 and 65535']] },
    { name: 'podIP invalid', manifest: pod({}, { status: { podIP: '10.0.0.300' } }), expect: [['status.podIP', 'must be a valid IP address']] },
    {
      name: 'podIPs: invalid, duplicate, same family',
      manifest: pod({}, { status: { podIPs: [{ ip: '10.0.0.1' }, { ip: 'bogus' }, { ip: '10.0.0.1' }] } }),
      expect: [
        ['status.podIPs[1].ip', 'must be a valid IP address'],
        ['status.podIPs[2]', 'Duplicate value: "10.0.0.1"'],
        ['status.podIPs', 'may specify no more than one IP for each IP family'],
      ],
    },
    { name: 'podIPs: two of one family', manifest: pod({}, { status: { podIPs: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }] } }), expect: [['status.podIPs', 'no more than one IP for each IP family']] },
    { name: 'podIPs: ip required', manifest: pod({}, { status: { podIPs: [{}] } }), expect: [['status.podIPs[0].ip', 'Required value']] },
    { name: 'podIP must lead podIPs', manifest: pod({}, { status: { podIP: '10.0.0.2', podIPs: [{ ip: '10.0.0.1' }] } }), expect: [['status.podIP', 'first of podIPs', 'warning']] },
    { name: 'podIP non-canonical IPv6', manifest: pod({}, { status: { podIP: 'FD00::1' } }), expect: [['status.podIP', 'RFC 5952 canonical format ("fd00::1")', 'warning']] },
    { name: 'phase enum', manifest: pod({}, { status: { phase: 'Done' } }), expect: [['status.phase', 'Unsupported value: "Done"']] },
    { name: 'pod name is a subdomain', manifest: { ...pod(), metadata: { name: 'web_0' } }, expect: [['metadata.name', 'RFC 1123 subdomain']] },
    { name: 'pod label value not a string', manifest: { ...pod(), metadata: { name: 'a', labels: { v: 2 } } }, expect: [['metadata.labels.v', 'must be a string']] },
    { name: 'pod metadata unknown fields ignored', manifest: { ...pod(), metadata: { name: 'a', bogus: 1 } }, expect: [] },
  ]);
});

describe('Service', () => {
  runCases([
    {
      name: 'valid service',
      manifest: service({ selector: { app: 'web' }, clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'dns', port: 53, protocol: 'UDP', targetPort: 5353 }] }),
      expect: [],
    },
    { name: 'headless without ports', manifest: service({ clusterIP: 'None', selector: { app: 'x' } }), expect: [] },
    { name: 'ExternalName without ports', manifest: service({ type: 'ExternalName' }), expect: [] },
    { name: 'ports required', manifest: service({ selector: { app: 'x' } }), expect: [['spec.ports', 'Required value']] },
    { name: 'service name is a DNS-1035 label', manifest: service({ ports: [{ port: 80 }] }, '1web'), expect: [['metadata.name', 'a DNS-1035 label must consist of']] },
    { name: 'port range', manifest: service({ ports: [{ port: 0 }] }), expect: [['spec.ports[0].port', 'must be between 1 and 65535']] },
    { name: 'port required', manifest: service({ ports: [{ targetPort: 80 }] }), expect: [['spec.ports[0].port', 'Required value']] },
    { name: 'protocol', manifest: service({ ports: [{ port: 80, protocol: 'HTTP' }] }), expect: [['spec.ports[0].protocol', 'Unsupported value: "HTTP"']] },
    { name: 'targetPort number range', manifest: service({ ports: [{ port: 80, targetPort: 65536 }] }), expect: [['spec.ports[0].targetPort', 'must be between 1 and 65535']] },
    { name: 'targetPort name', manifest: service({ ports: [{ port: 80, targetPort: 'web--port' }] }), expect: [['spec.ports[0].targetPort', 'must not contain consecutive hyphens']] },
    { name: 'targetPort a list', manifest: service({ ports: [{ port: 80, targetPort: [80] }] }), expect: [['spec.ports[0].targetPort', 'must be an integer or a string']] },
    {
      name: 'names required with several ports, unique',
      manifest: service({ ports: [{ port: 80 }, { name: 'a', port: 81 }, { name: 'a', port: 82 }] }),
      expect: [['spec.ports[0].name', 'Required value'], ['spec.ports[2].name', 'Duplicate value: "a"']],
    },
    { name: 'duplicate port/protocol', manifest: service({ ports: [{ name: 'a', port: 80 }, { name: 'b', port: 80 }] }), expect: [['spec.ports[1]', 'Duplicate value: "80/TCP"']] },
    { name: 'type enum', manifest: service({ type: 'Internal', ports: [{ port: 80 }] }), expect: [['spec.type', 'Unsupported value: "Internal"']] },
    { name: 'selector validated as labels', manifest: service({ selector: { app: 'a b' }, ports: [{ port: 80 }] }), expect: [['spec.selector', 'a valid label must be']] },
    { name: 'clusterIP', manifest: service({ clusterIP: '10.96.0.x', ports: [{ port: 80 }] }), expect: [['spec.clusterIP', "must be empty, 'None', or a valid IP address"]] },
  ]);
});

describe('Namespace and Node', () => {
  runCases([
    { name: 'valid namespace', manifest: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod', labels: { env: 'prod' } } }, expect: [] },
    { name: 'namespace name is a label', manifest: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'prod.eu' } }, expect: [['metadata.name', 'must not contain dots']] },
    { name: 'namespace is cluster-scoped', manifest: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', namespace: 'b' } }, expect: [['metadata.namespace', 'not allowed on this type']] },
    { name: 'namespace name required', manifest: { apiVersion: 'v1', kind: 'Namespace', metadata: {} }, expect: [['metadata.name', 'Required value']] },
    { name: 'namespace metadata required', manifest: { apiVersion: 'v1', kind: 'Namespace' }, expect: [['metadata.name', 'Required value']] },
    { name: 'valid node', manifest: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1.example.com' }, spec: { podCIDRs: ['10.244.1.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.1.10' }] } }, expect: [] },
    { name: 'node name', manifest: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'Node_1' } }, expect: [['metadata.name', 'RFC 1123 subdomain']] },
    { name: 'node podCIDR', manifest: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, spec: { podCIDRs: ['10.244.1.0'] } }, expect: [['spec.podCIDRs[0]', 'must be a valid CIDR value']] },
    { name: 'node addresses must be a list', manifest: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' }, status: { addresses: 'x' } }, expect: [['status.addresses', 'must be a list']] },
  ]);
});

describe('workloads', () => {
  const deploy = (spec: Obj, kind = 'Deployment', apiVersion = 'apps/v1'): Obj => ({ apiVersion, kind, metadata: { name: 'web', namespace: 'prod' }, spec });
  runCases([
    { name: 'valid Deployment', manifest: deploy({ replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) }), expect: [] },
    { name: 'valid StatefulSet', manifest: deploy({ selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) }, 'StatefulSet'), expect: [] },
    { name: 'valid DaemonSet', manifest: deploy({ selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) }, 'DaemonSet'), expect: [] },
    { name: 'valid ReplicaSet', manifest: deploy({ selector: { matchLabels: { app: 'web' } }, template: template({ app: 'web' }) }, 'ReplicaSet'), expect: [] },
    { name: 'valid ReplicationController', manifest: deploy({ selector: { app: 'web' }, template: template({ app: 'web' }) }, 'ReplicationController', 'v1'), expect: [] },
    { name: 'valid Job', manifest: deploy({ template: template({ app: 'web' }) }, 'Job', 'batch/v1'), expect: [] },
    { name: 'valid CronJob', manifest: deploy({ schedule: '* * * * *', jobTemplate: { spec: { template: template({ app: 'web' }) } } }, 'CronJob', 'batch/v1'), expect: [] },
    {
      name: 'template labels and container ports',
      manifest: deploy({ selector: { matchLabels: { app: 'web' } }, template: template({ 'app/x/y': 'web' }, [{ containerPort: 80 }, { containerPort: 81, name: 'Http' }]) }),
      expect: [
        ['spec.template.metadata.labels', 'a qualified name'],
        ['spec.template.spec.containers[0].ports[1].name', 'must contain only alpha-numeric characters'],
      ],
    },
    { name: 'selector required', manifest: deploy({ template: template({ app: 'web' }) }), expect: [['spec.selector', 'Required value']] },
    { name: 'template required', manifest: deploy({ selector: {} }, 'DaemonSet'), expect: [['spec.template', 'Required value']] },
    {
      name: 'selector validated',
      manifest: deploy({ selector: { matchExpressions: [{ key: 'app', operator: 'In' }] }, template: template({ app: 'web' }) }, 'StatefulSet'),
      expect: [['spec.selector.matchExpressions[0].values', 'Required value']],
    },
    {
      name: 'CronJob paths go through jobTemplate',
      manifest: deploy({ jobTemplate: { spec: { template: template({ app: 'web' }, [{ containerPort: 0 }]) } } }, 'CronJob', 'batch/v1'),
      expect: [['spec.jobTemplate.spec.template.spec.containers[0].ports[0].containerPort', 'Required value']],
    },
    { name: 'CronJob jobTemplate required', manifest: deploy({}, 'CronJob', 'batch/v1'), expect: [['spec.jobTemplate', 'Required value']] },
    { name: 'ReplicationController selector is a map', manifest: deploy({ selector: { app: 'a b' }, template: template({ app: 'web' }) }, 'ReplicationController', 'v1'), expect: [['spec.selector', 'a valid label must be']] },
    { name: 'template hostNetwork type', manifest: deploy({ selector: {}, template: { spec: { hostNetwork: 1, containers: [{ name: 'a' }] } } }), expect: [['spec.template.spec.hostNetwork', 'must be a boolean']] },
    { name: 'other workload fields are ignored', manifest: deploy({ selector: {}, strategy: 'x', template: { metadata: { bogus: 1 }, spec: { containers: [{ name: 'a', image: 3 }] } } }), expect: [] },
  ]);
});

describe('objects and kinds', () => {
  runCases([
    { name: 'not an object', manifest: [1, 2], expect: [['', 'must be an object']] },
    { name: 'unknown kinds are not checked', manifest: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {}, data: 5 }, expect: [] },
    { name: 'apiVersion required', manifest: { kind: 'Pod' }, expect: [['apiVersion', 'Required value']] },
    { name: 'kind must be a string', manifest: { apiVersion: 'v1', kind: 3 }, expect: [['kind', 'must be a string']] },
    {
      name: 'known kind in a group that no longer serves it (extensions/v1beta1 NetworkPolicy removed in 1.16)',
      manifest: { apiVersion: 'extensions/v1beta1', kind: 'NetworkPolicy', metadata: { name: 'a' }, spec: {} },
      expect: [['apiVersion', 'supported values: "networking.k8s.io/v1"']],
    },
  ]);
});

// ---------------------------------------------------------------- admin tiers

describe('AdminNetworkPolicy (v1alpha1)', () => {
  const podsPeer = { pods: { namespaceSelector: { matchLabels: { env: 'prod' } }, podSelector: { matchLabels: { app: 'db' } } } };
  runCases([
    {
      name: 'a full valid ANP',
      manifest: anp({
        priority: 0,
        subject: { pods: { namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } } },
        ingress: [{ name: 'allow-monitoring', action: 'Allow', from: [allNs, podsPeer], ports: [{ portNumber: { protocol: 'TCP', port: 8080 } }, { namedPort: 'metrics' }, { portRange: { protocol: 'UDP', start: 1000, end: 2000 } }] }],
        egress: [
          { action: 'Pass', to: [{ networks: ['10.0.0.0/8', 'fd00::/8'] }, { nodes: { matchLabels: { role: 'infra' } } }], ports: [{ portNumber: { port: 53 } }] },
          { action: 'Allow', to: [{ domainNames: ['*.example.com', 'kubernetes.io'] }] },
          { action: 'Deny', to: [allNs] },
        ],
      }),
      expect: [],
    },
    {
      name: 'pods.namespaceSelector is required in v1alpha1',
      manifest: anp({ subject: { pods: { podSelector: {} } } }),
      expect: [['spec.subject.pods.namespaceSelector', 'Required value']],
    },
    { name: 'priority upper bound', manifest: anp({ priority: 1001 }), expect: [['spec.priority', 'should be less than or equal to 1000']] },
    { name: 'priority lower bound', manifest: anp({ priority: -1 }), expect: [['spec.priority', 'should be greater than or equal to 0']] },
    { name: 'priority 1000 is fine', manifest: anp({ priority: 1000 }), expect: [] },
    { name: 'priority required', manifest: anp({ priority: undefined }), expect: [['spec.priority', 'Required value']] },
    { name: 'priority must be an integer', manifest: anp({ priority: '5' }), expect: [['spec.priority', 'must be an integer']] },
    { name: 'subject required', manifest: anp({ subject: undefined }), expect: [['spec.subject', 'Required value']] },
    { name: 'subject: none set', manifest: anp({ subject: {} }), expect: [['spec.subject', 'exactly one of namespaces, pods must be set']] },
    { name: 'subject: both set', manifest: anp({ subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } } }), expect: [['spec.subject', 'only one of namespaces, pods may be set']] },
    {
      name: 'subject: the old namespaceSelector field is unknown',
      manifest: anp({ subject: { namespaceSelector: {} } }),
      expect: [['spec.subject.namespaceSelector', 'unknown field'], ['spec.subject', 'exactly one of']],
    },
    { name: 'subject pods: both selectors required', manifest: anp({ subject: { pods: { podSelector: {} } } }), expect: [['spec.subject.pods.namespaceSelector', 'Required value']] },
    {
      name: 'subject selectors validated',
      manifest: anp({ subject: { namespaces: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] } } }),
      expect: [['spec.subject.namespaces.matchExpressions[0].values', 'Forbidden']],
    },
    { name: 'action enum', manifest: anp({ ingress: [{ action: 'Accept', from: [allNs] }] }), expect: [['spec.ingress[0].action', 'supported values: "Allow", "Deny", "Pass"']] },
    { name: 'action required', manifest: anp({ ingress: [{ from: [allNs] }] }), expect: [['spec.ingress[0].action', 'Required value']] },
    { name: 'from required', manifest: anp({ ingress: [{ action: 'Deny' }] }), expect: [['spec.ingress[0].from', 'Required value']] },
    { name: 'from: at least one', manifest: anp({ ingress: [{ action: 'Deny', from: [] }] }), expect: [['spec.ingress[0].from', 'must have at least 1 item']] },
    { name: 'from: at most 100', manifest: anp({ ingress: [{ action: 'Deny', from: many(101, () => allNs) }] }), expect: [['spec.ingress[0].from', 'Too many: 101: must have at most 100 items']] },
    { name: 'rules: at most 100', manifest: anp({ egress: many(101, () => ({ action: 'Deny', to: [allNs] })) }), expect: [['spec.egress', 'Too many: 101: must have at most 100 items']] },
    { name: 'rules: 100 is fine', manifest: anp({ egress: many(100, () => ({ action: 'Deny', to: [allNs] })) }), expect: [] },
    { name: 'rule name at most 100', manifest: anp({ ingress: [{ name: 'n'.repeat(101), action: 'Deny', from: [allNs] }] }), expect: [['spec.ingress[0].name', 'Too long: may not be more than 100']] },
    { name: 'ingress peers: no networks', manifest: anp({ ingress: [{ action: 'Deny', from: [{ networks: ['10.0.0.0/8'] }] }] }), expect: [['spec.ingress[0].from[0].networks', 'unknown field'], ['spec.ingress[0].from[0]', 'exactly one of namespaces, pods']] },
    { name: 'peer: two kinds', manifest: anp({ egress: [{ action: 'Deny', to: [{ namespaces: {}, networks: ['10.0.0.0/8'] }] }] }), expect: [['spec.egress[0].to[0]', 'only one of namespaces, pods, nodes, networks, domainNames may be set (found namespaces, networks)']] },
    { name: 'peer: none', manifest: anp({ egress: [{ action: 'Deny', to: [{}] }] }), expect: [['spec.egress[0].to[0]', 'exactly one of']] },
    { name: 'peer: old namespacedPods field', manifest: anp({ ingress: [{ action: 'Deny', from: [{ namespacedPods: {} }] }] }), expect: [['spec.ingress[0].from[0].namespacedPods', 'unknown field'], ['spec.ingress[0].from[0]', 'exactly one of']] },
    { name: 'networks: CEL isCIDR', manifest: anp({ egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.0/8', '10.0.0.0', '010.0.0.0/8'] }] }] }), expect: [['spec.egress[0].to[0].networks[1]', 'Invalid CIDR format provided'], ['spec.egress[0].to[0].networks[2]', 'Invalid CIDR format provided']] },
    { name: 'networks: host bits warn', manifest: anp({ egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.1/8'] }] }] }), expect: [['spec.egress[0].to[0].networks[0]', 'ambiguous', 'warning']] },
    { name: 'networks: at most 25', manifest: anp({ egress: [{ action: 'Deny', to: [{ networks: many(26, (i) => `10.${i}.0.0/16`) }] }] }), expect: [['spec.egress[0].to[0].networks', 'Too many: 26: must have at most 25 items']] },
    { name: 'networks: at least one', manifest: anp({ egress: [{ action: 'Deny', to: [{ networks: [] }] }] }), expect: [['spec.egress[0].to[0].networks', 'must have at least 1 item']] },
    { name: 'networks: a set', manifest: anp({ egress: [{ action: 'Deny', to: [{ networks: ['10.0.0.0/8', '10.0.0.0/8'] }] }] }), expect: [['spec.egress[0].to[0].networks[1]', 'Duplicate value']] },
    { name: 'networks: max length 43', manifest: anp({ egress: [{ action: 'Deny', to: [{ networks: [`${'0:'.repeat(20)}0/64`] }] }] }), expect: [['spec.egress[0].to[0].networks[0]', 'Too long: may not be more than 43']] },
    { name: 'domainNames: pattern', manifest: anp({ egress: [{ action: 'Allow', to: [{ domainNames: ['example', 'a.*.com'] }] }] }), expect: [['spec.egress[0].to[0].domainNames[0]', 'should match'], ['spec.egress[0].to[0].domainNames[1]', 'should match']] },
    { name: 'domainNames: only for Allow rules (documented)', manifest: anp({ egress: [{ action: 'Deny', to: [{ domainNames: ['example.com'] }] }] }), expect: [['spec.egress[0].to[0].domainNames', 'only supported in Allow rules', 'warning']] },
    { name: 'nodes selector validated', manifest: anp({ egress: [{ action: 'Deny', to: [{ nodes: { matchLabels: { 'a b': 'x' } } }] }] }), expect: [['spec.egress[0].to[0].nodes.matchLabels', 'name part must consist']] },
    { name: 'ports: exactly one kind', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portNumber: { port: 80 }, namedPort: 'http' }] }] }), expect: [['spec.ingress[0].ports[0]', 'only one of portNumber, namedPort, portRange may be set']] },
    { name: 'ports: none set', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{}] }] }), expect: [['spec.ingress[0].ports[0]', 'exactly one of portNumber, namedPort, portRange must be set']] },
    { name: 'ports: at least one when present', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [] }] }), expect: [['spec.ingress[0].ports', 'must have at least 1 item']] },
    { name: 'ports: at most 100', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: many(101, (i) => ({ portNumber: { port: i + 1 } })) }] }), expect: [['spec.ingress[0].ports', 'Too many: 101']] },
    { name: 'portNumber: range and protocol', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portNumber: { protocol: 'ICMP', port: 0 } }] }] }), expect: [['spec.ingress[0].ports[0].portNumber.protocol', 'Unsupported value: "ICMP"'], ['spec.ingress[0].ports[0].portNumber.port', 'should be greater than or equal to 1']] },
    { name: 'portNumber: port required', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portNumber: { protocol: 'TCP' } }] }] }), expect: [['spec.ingress[0].ports[0].portNumber.port', 'Required value']] },
    { name: 'portNumber: old field name', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portNumber: { number: 80, port: 80 } }] }] }), expect: [['spec.ingress[0].ports[0].portNumber.number', 'unknown field']] },
    { name: 'portRange: start = end is valid in v1alpha1 (network-policy-api v0.1.x apis/v1alpha1 PortRange has no start < end rule)', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portRange: { start: 90, end: 90 } }] }] }), expect: [] },
    { name: 'portRange: start > end is accepted in v1alpha1 and matches no port: a warning (v1alpha1 PortRange: Minimum/Maximum only)', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portRange: { start: 100, end: 90 } }] }] }), expect: [['spec.ingress[0].ports[0].portRange', 'matches no port', 'warning']] },
    { name: 'portRange: bounds', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portRange: { start: 1, end: 65536 } }] }] }), expect: [['spec.ingress[0].ports[0].portRange.end', 'should be less than or equal to 65535']] },
    { name: 'portRange: end required', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ portRange: { start: 1 } }] }] }), expect: [['spec.ingress[0].ports[0].portRange.end', 'Required value']] },
    { name: 'namedPort: never matches a container port', manifest: anp({ ingress: [{ action: 'Deny', from: [allNs], ports: [{ namedPort: 'HTTP' }] }] }), expect: [['spec.ingress[0].ports[0].namedPort', 'can never match a container port name', 'warning']] },
    {
      name: 'CEL: namedPort with networks peer',
      manifest: anp({ egress: [{ action: 'Allow', to: [allNs, { networks: ['10.0.0.0/8'] }], ports: [{ namedPort: 'dns' }] }] }),
      expect: [['spec.egress[0]', 'networks/nodes/domainNames peer cannot be set with namedPorts']],
    },
    {
      name: 'CEL: namedPort with nodes peer',
      manifest: anp({ egress: [{ action: 'Allow', to: [{ nodes: {} }], ports: [{ namedPort: 'dns' }] }] }),
      expect: [['spec.egress[0]', 'cannot be set with namedPorts']],
    },
    { name: 'CEL: namedPort with pod peers is fine', manifest: anp({ egress: [{ action: 'Allow', to: [allNs], ports: [{ namedPort: 'dns' }] }] }), expect: [] },
    { name: 'unknown fields', manifest: { ...anp({ tier: 'Admin', ingress: [{ action: 'Deny', from: [allNs], protocols: [] }] }), extra: 1 }, expect: [['extra', 'unknown field'], ['spec.tier', 'unknown field'], ['spec.ingress[0].protocols', 'unknown field']] },
    { name: 'cluster-scoped', manifest: { ...anp({}), metadata: { name: 'a', namespace: 'prod' } }, expect: [['metadata.namespace', 'not allowed on this type']] },
    { name: 'name format', manifest: anp({}, 'Deny_All'), expect: [['metadata.name', 'RFC 1123 subdomain']] },
    { name: 'wrong version for the kind', manifest: { ...anp({}), apiVersion: 'policy.networking.k8s.io/v1alpha2' }, expect: [['apiVersion', 'Unsupported value']] },
  ]);
});

describe('BaselineAdminNetworkPolicy (v1alpha1)', () => {
  runCases([
    {
      name: 'a valid BANP',
      manifest: banp({ ingress: [{ action: 'Deny', from: [allNs] }], egress: [{ action: 'Allow', to: [{ networks: ['0.0.0.0/0'] }], ports: [{ portNumber: { protocol: 'UDP', port: 53 } }] }] }),
      expect: [],
    },
    { name: 'name must be default', manifest: banp({}, 'baseline'), expect: [['metadata.name', 'Only one baseline admin network policy with metadata.name="default"']] },
    { name: 'no Pass action', manifest: banp({ ingress: [{ action: 'Pass', from: [allNs] }] }), expect: [['spec.ingress[0].action', 'supported values: "Allow", "Deny"']] },
    { name: 'no priority', manifest: banp({ priority: 5 }), expect: [['spec.priority', 'unknown field']] },
    { name: 'no domainNames peer', manifest: banp({ egress: [{ action: 'Allow', to: [{ domainNames: ['example.com'] }] }] }), expect: [['spec.egress[0].to[0].domainNames', 'unknown field'], ['spec.egress[0].to[0]', 'exactly one of namespaces, pods, nodes, networks must be set']] },
    { name: 'CEL: namedPort with nodes peer', manifest: banp({ egress: [{ action: 'Deny', to: [{ nodes: {} }], ports: [{ namedPort: 'ssh' }] }] }), expect: [['spec.egress[0]', 'networks/nodes peer cannot be set with namedPorts since there are no namedPorts for networks/nodes']] },
    { name: 'rules: at most 100', manifest: banp({ ingress: many(101, () => ({ action: 'Deny', from: [allNs] })) }), expect: [['spec.ingress', 'Too many: 101']] },
  ]);
});

describe('ClusterNetworkPolicy (v1alpha2)', () => {
  runCases([
    {
      name: 'a full valid CNP',
      manifest: cnp({
        tier: 'Baseline',
        priority: 1000,
        subject: { pods: { namespaceSelector: { matchLabels: { env: 'prod' } }, podSelector: {} } },
        ingress: [{ name: 'from-monitoring', action: 'Accept', from: [allNs], protocols: [{ tcp: { destinationPort: { number: 8080 } } }, { destinationNamedPort: 'metrics' }] }],
        egress: [
          { action: 'Deny', to: [{ networks: ['192.168.0.0/16'] }], protocols: [{ udp: { destinationPort: { range: { start: 1, end: 1023 } } } }, { sctp: { destinationPort: { number: 9 } } }] },
          { action: 'Pass', to: [{ nodes: {} }] },
          { action: 'Accept', to: [{ domainNames: ['www.example.com'] }] },
        ],
      }),
      expect: [],
    },
    {
      name: 'pods.namespaceSelector is optional in v1alpha2 (every namespace); podSelector is not',
      manifest: cnp({ subject: { pods: { podSelector: { matchLabels: { app: 'db' } } } }, ingress: [{ action: 'Deny', from: [{ pods: {} }] }] }),
      expect: [['spec.ingress[0].from[0].pods.podSelector', 'Required value']],
    },
    { name: 'tier required', manifest: cnp({ tier: undefined }), expect: [['spec.tier', 'Required value']] },
    { name: 'tier enum', manifest: cnp({ tier: 'Developer' }), expect: [['spec.tier', 'supported values: "Admin", "Baseline"']] },
    { name: 'priority range', manifest: cnp({ priority: 1001 }), expect: [['spec.priority', 'should be less than or equal to 1000']] },
    { name: 'action enum uses Accept', manifest: cnp({ ingress: [{ action: 'Allow', from: [allNs] }] }), expect: [['spec.ingress[0].action', 'supported values: "Accept", "Deny", "Pass"']] },
    { name: 'rules: at most 25', manifest: cnp({ ingress: many(26, () => ({ action: 'Deny', from: [allNs] })) }), expect: [['spec.ingress', 'Too many: 26: must have at most 25 items']] },
    { name: 'rules: 25 is fine', manifest: cnp({ ingress: many(25, () => ({ action: 'Deny', from: [allNs] })) }), expect: [] },
    { name: 'peers: at most 25', manifest: cnp({ egress: [{ action: 'Deny', to: many(26, () => allNs) }] }), expect: [['spec.egress[0].to', 'Too many: 26: must have at most 25 items']] },
    { name: 'protocols: at most 25', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: many(26, (i) => ({ tcp: { destinationPort: { number: i + 1 } } })) }] }), expect: [['spec.egress[0].protocols', 'Too many: 26']] },
    { name: 'protocols: at least one when present', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [] }] }), expect: [['spec.egress[0].protocols', 'must have at least 1 item']] },
    { name: 'protocol: exactly one', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [{ tcp: { destinationPort: { number: 1 } }, udp: { destinationPort: { number: 1 } } }] }] }), expect: [['spec.egress[0].protocols[0]', 'only one of tcp, udp, sctp, destinationNamedPort may be set']] },
    { name: 'protocol: destinationPort required', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [{ tcp: {} }] }] }), expect: [['spec.egress[0].protocols[0].tcp.destinationPort', 'Required value']] },
    { name: 'destinationPort: number or range', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [{ tcp: { destinationPort: { number: 1, range: { start: 1, end: 2 } } } }] }] }), expect: [['spec.egress[0].protocols[0].tcp.destinationPort', 'only one of number, range may be set']] },
    { name: 'destinationPort: number range', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [{ udp: { destinationPort: { number: 0 } } }] }] }), expect: [['spec.egress[0].protocols[0].udp.destinationPort.number', 'should be greater than or equal to 1']] },
    { name: 'range: start < end in v1alpha2 (network-policy-api apis/v1alpha2 PortRange CEL rule self.start < self.end)', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [{ sctp: { destinationPort: { range: { start: 10, end: 5 } } } }] }] }), expect: [['spec.egress[0].protocols[0].sctp.destinationPort.range', 'Start port must be less than End port']] },
    { name: 'range: no protocol field (v1alpha2)', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], protocols: [{ tcp: { destinationPort: { range: { protocol: 'TCP', start: 1, end: 5 } } } }] }] }), expect: [['spec.egress[0].protocols[0].tcp.destinationPort.range.protocol', 'unknown field']] },
    { name: 'v1alpha1 ports are unknown in v1alpha2', manifest: cnp({ egress: [{ action: 'Deny', to: [allNs], ports: [{ portNumber: { port: 80 } }] }] }), expect: [['spec.egress[0].ports', 'unknown field']] },
    {
      name: 'CEL: destinationNamedPort with networks/nodes/domainNames',
      manifest: cnp({ egress: [{ action: 'Accept', to: [{ domainNames: ['example.com'] }], protocols: [{ destinationNamedPort: 'https' }] }] }),
      expect: [['spec.egress[0]', 'networks/nodes/domainNames peer cannot be set with namedPorts']],
    },
    { name: 'domainNames: documented for Accept only', manifest: cnp({ egress: [{ action: 'Pass', to: [{ domainNames: ['example.com'] }] }] }), expect: [['spec.egress[0].to[0].domainNames', 'only supported in Accept rules', 'warning']] },
    { name: 'networks: CEL isCIDR', manifest: cnp({ egress: [{ action: 'Deny', to: [{ networks: ['::ffff:1.2.3.0/120'] }] }] }), expect: [['spec.egress[0].to[0].networks[0]', 'Invalid CIDR format provided']] },
    { name: 'ingress peers: only namespaces and pods', manifest: cnp({ ingress: [{ action: 'Deny', from: [{ nodes: {} }] }] }), expect: [['spec.ingress[0].from[0].nodes', 'unknown field'], ['spec.ingress[0].from[0]', 'exactly one of namespaces, pods must be set']] },
    { name: 'subject pods selectors validated', manifest: cnp({ subject: { pods: { namespaceSelector: {}, podSelector: { matchExpressions: [{ key: 'a', operator: 'Bad' }] } } } }), expect: [['spec.subject.pods.podSelector.matchExpressions[0].operator', 'not a valid selector operator']] },
    { name: 'rule name at most 100', manifest: cnp({ egress: [{ name: 'x'.repeat(101), action: 'Deny', to: [allNs] }] }), expect: [['spec.egress[0].name', 'Too long']] },
    { name: 'spec wrong type', manifest: { ...cnp({}), spec: [] }, expect: [['spec', 'must be an object']] },
  ]);
});

describe('robustness', () => {
  const junk: unknown[] = [null, 0, 'x', [], {}, [null], { a: null }, true];
  const kinds = ['NetworkPolicy', 'Pod', 'Service', 'Namespace', 'Node', 'Deployment', 'CronJob', 'AdminNetworkPolicy', 'BaselineAdminNetworkPolicy', 'ClusterNetworkPolicy'];
  const versions: Record<string, string> = {
    NetworkPolicy: 'networking.k8s.io/v1',
    Deployment: 'apps/v1',
    CronJob: 'batch/v1',
    AdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
    BaselineAdminNetworkPolicy: 'policy.networking.k8s.io/v1alpha1',
    ClusterNetworkPolicy: 'policy.networking.k8s.io/v1alpha2',
  };
  it.each(kinds)('%s: junk in every field reports errors and never throws', (kind) => {
    for (const value of junk) {
      const obj = { apiVersion: versions[kind] ?? 'v1', kind, metadata: value, spec: value, status: value };
      const errors = validateObject(obj);
      expect(Array.isArray(errors)).toBe(true);
      for (const e of errors) expect(typeof e.message).toBe('string');
    }
  });
});
