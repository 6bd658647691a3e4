import { describe, expect, it } from 'vitest';
import { formatPath } from './diagnostics.js';
import { parseManifests } from './load.js';
import { validateObject, type FieldError } from './validate.js';
import { domainMatches } from './aws-types.js';

/**
 * Expected answers come from aws/amazon-network-policy-controller-k8s: the kubebuilder markers of
 * `api/v1alpha1/clusternetworkpolicy_types.go` (CNP) and `applicationnetworkpolicy_types.go` (ANP), the generated CRDs
 * `config/crd/bases/networking.k8s.aws_*.yaml`, and the manifests of `tests/cnp` and `tests/anp`. Each case names its
 * source.
 */
type Expect = readonly [path: string, fragment: string, severity?: 'warning'];

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

type Obj = Record<string, unknown>;

const ALL_PODS = { pods: { namespaceSelector: {}, podSelector: {} } };

function cnp(spec: Obj, metadata: Obj = { name: 'tenants' }): Obj {
  return { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterNetworkPolicy', metadata, spec: { tier: 'Admin', priority: 10, subject: { namespaces: {} }, ...spec } };
}
function egress(rule: Obj): Obj {
  return cnp({ egress: [{ action: 'Accept', to: [{ networks: ['10.0.0.0/8'] }], ...rule }] });
}
function ingress(rule: Obj): Obj {
  return cnp({ ingress: [{ action: 'Accept', from: [{ namespaces: {} }], ...rule }] });
}
function anp(spec: Obj, metadata: Obj = { name: 'app', namespace: 'shop' }): Obj {
  return { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ApplicationNetworkPolicy', metadata, spec: { podSelector: {}, ...spec } };
}
function anpEgressPeer(peer: unknown): Obj {
  return anp({ egress: [{ to: [peer] }] });
}
const many = (n: number, f: (i: number) => unknown): unknown[] => Array.from({ length: n }, (_, i) => f(i));

interface Case {
  readonly name: string;
  readonly manifest: unknown;
  readonly expect: readonly Expect[];
}

function runCases(cases: readonly Case[]): void {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    check(validateObject(c.manifest), c.expect);
  });
}

describe('AWS ClusterNetworkPolicy: every rule of its CRD', () => {
  runCases([
    { name: 'types.go ClusterNetworkPolicySpec: a complete policy is valid', manifest: cnp({ subject: ALL_PODS, ingress: [{ name: 'a', action: 'Accept', from: [{ namespaces: {} }] }] }), expect: [] },
    { name: 'CRD spec.required: tier', manifest: cnp({ tier: undefined }), expect: [['spec.tier', 'Required value']] },
    { name: 'types.go Tier Enum={"Admin","Baseline"}', manifest: cnp({ tier: 'Developer' }), expect: [['spec.tier', 'Unsupported value: "Developer"']] },
    { name: 'CRD spec.required: priority', manifest: cnp({ priority: undefined }), expect: [['spec.priority', 'Required value']] },
    { name: 'types.go Priority Minimum=0', manifest: cnp({ priority: -1 }), expect: [['spec.priority', 'greater than or equal to 0']] },
    { name: 'types.go Priority Maximum=1000', manifest: cnp({ priority: 1001 }), expect: [['spec.priority', 'less than or equal to 1000']] },
    { name: 'types.go Priority Maximum=1000: 1000 itself is valid', manifest: cnp({ priority: 1000 }), expect: [] },
    { name: 'CRD spec.required: subject', manifest: cnp({ subject: undefined }), expect: [['spec.subject', 'Required value']] },
    { name: 'types.go ClusterNetworkPolicySubject MinProperties=1', manifest: cnp({ subject: {} }), expect: [['spec.subject', 'at least 1 properties']] },
    { name: 'types.go ClusterNetworkPolicySubject MaxProperties=1', manifest: cnp({ subject: { namespaces: {}, ...ALL_PODS } }), expect: [['spec.subject', 'at most 1 properties']] },
    { name: 'types.go NamespacedPod: namespaceSelector required', manifest: cnp({ subject: { pods: { podSelector: {} } } }), expect: [['spec.subject.pods.namespaceSelector', 'Required value']] },
    { name: 'types.go NamespacedPod: podSelector required', manifest: cnp({ subject: { pods: { namespaceSelector: {} } } }), expect: [['spec.subject.pods.podSelector', 'Required value']] },
    { name: 'types.go Ingress MaxItems=100', manifest: cnp({ ingress: many(101, () => ({ action: 'Deny', from: [{ namespaces: {} }] })) }), expect: [['spec.ingress', 'Too many: 101']] },
    { name: 'types.go Egress MaxItems=100', manifest: cnp({ egress: many(101, () => ({ action: 'Deny', to: [{ namespaces: {} }] })) }), expect: [['spec.egress', 'Too many: 101']] },
    { name: 'types.go rule Name MaxLength=100', manifest: ingress({ name: 'x'.repeat(101) }), expect: [['spec.ingress[0].name', 'Too long']] },
    { name: 'types.go rule Name MaxLength=100: 100 characters are valid', manifest: ingress({ name: 'x'.repeat(100) }), expect: [] },
    { name: 'CRD rule required: action', manifest: ingress({ action: undefined }), expect: [['spec.ingress[0].action', 'Required value']] },
    { name: 'types.go ClusterNetworkPolicyRuleAction Enum={"Accept","Deny","Pass"}', manifest: ingress({ action: 'Allow' }), expect: [['spec.ingress[0].action', 'Unsupported value: "Allow"']] },
    { name: 'CRD ingress rule required: from', manifest: ingress({ from: undefined }), expect: [['spec.ingress[0].from', 'Required value']] },
    { name: 'types.go From MinItems=1', manifest: ingress({ from: [] }), expect: [['spec.ingress[0].from', 'at least 1 item']] },
    { name: 'types.go From MaxItems=100', manifest: ingress({ from: many(101, () => ({ namespaces: {} })) }), expect: [['spec.ingress[0].from', 'Too many: 101']] },
    { name: 'CRD egress rule required: to', manifest: egress({ to: undefined }), expect: [['spec.egress[0].to', 'Required value']] },
    { name: 'types.go To MinItems=1', manifest: egress({ to: [] }), expect: [['spec.egress[0].to', 'at least 1 item']] },
    { name: 'types.go To MaxItems=100', manifest: egress({ to: many(101, () => ({ namespaces: {} })) }), expect: [['spec.egress[0].to', 'Too many: 101']] },
    { name: 'types.go Ports MinItems=1', manifest: ingress({ ports: [] }), expect: [['spec.ingress[0].ports', 'at least 1 item']] },
    { name: 'types.go Ports MaxItems=100', manifest: ingress({ ports: many(101, (i) => ({ portNumber: { port: i + 1 } })) }), expect: [['spec.ingress[0].ports', 'Too many: 101']] },
    { name: 'types.go ClusterNetworkPolicyIngressPeer MinProperties=1', manifest: ingress({ from: [{}] }), expect: [['spec.ingress[0].from[0]', 'at least 1 properties']] },
    { name: 'types.go ClusterNetworkPolicyIngressPeer MaxProperties=1', manifest: ingress({ from: [{ namespaces: {}, ...ALL_PODS }] }), expect: [['spec.ingress[0].from[0]', 'at most 1 properties']] },
    { name: 'tests/cnp/10-cnp-invalid-ingress-dns.yaml: no domainNames on ingress peers', manifest: ingress({ from: [{ domainNames: ['api.github.com'] }] }), expect: [['spec.ingress[0].from[0].domainNames', 'unknown field'], ['spec.ingress[0].from[0]', 'at least 1 properties']] },
    { name: 'types.go ClusterNetworkPolicyEgressPeer MaxProperties=1', manifest: egress({ to: [{ networks: ['10.0.0.0/8'], namespaces: {} }] }), expect: [['spec.egress[0].to[0]', 'at most 1 properties']] },
    { name: 'types.go Networks MinItems=1', manifest: egress({ to: [{ networks: [] }] }), expect: [['spec.egress[0].to[0].networks', 'at least 1 item']] },
    { name: 'types.go Networks MaxItems=25', manifest: egress({ to: [{ networks: many(26, (i) => `10.${i}.0.0/16`) }] }), expect: [['spec.egress[0].to[0].networks', 'Too many: 26']] },
    { name: 'types.go Networks listType=set: no repeats', manifest: egress({ to: [{ networks: ['10.0.0.0/8', '10.0.0.0/8'] }] }), expect: [['spec.egress[0].to[0].networks[1]', 'Duplicate value']] },
    { name: 'types.go CIDR MaxLength=43', manifest: egress({ to: [{ networks: [`${'1'.repeat(40)}/128`] }] }), expect: [['spec.egress[0].to[0].networks[0]', 'Too long']] },
    { name: 'CRD networks items: a plain string, so a non-CIDR passes the CRD (warning)', manifest: egress({ to: [{ networks: ['not-a-cidr'] }] }), expect: [['spec.egress[0].to[0].networks[0]', 'the CRD accepts it', 'warning']] },
    { name: 'tests/cnp/06-cnp-egress-mixed.yaml: networks and domainNames peers in one Accept rule', manifest: egress({ to: [{ networks: ['10.0.0.0/8', '172.16.0.0/12'] }, { domainNames: ['api.github.com', 'registry-1.docker.io'] }] }), expect: [] },
    { name: 'types.go DomainNames MinItems=1', manifest: egress({ to: [{ domainNames: [] }] }), expect: [['spec.egress[0].to[0].domainNames', 'at least 1 item']] },
    { name: 'types.go DomainNames MaxItems=25', manifest: egress({ to: [{ domainNames: many(26, (i) => `h${i}.example.com`) }] }), expect: [['spec.egress[0].to[0].domainNames', 'Too many: 26']] },
    { name: 'types.go DomainNames listType=set: no repeats', manifest: egress({ to: [{ domainNames: ['a.example.com', 'a.example.com'] }] }), expect: [['spec.egress[0].to[0].domainNames[1]', 'Duplicate value']] },
    { name: 'types.go DomainName Pattern: a single label does not match', manifest: egress({ to: [{ domainNames: ['localhost'] }] }), expect: [['spec.egress[0].to[0].domainNames[0]', 'should match']] },
    { name: 'types.go DomainName Pattern: * only as a whole first label', manifest: egress({ to: [{ domainNames: ['api*.example.com'] }] }), expect: [['spec.egress[0].to[0].domainNames[0]', 'should match']] },
    { name: 'types.go DomainName Pattern: *.example.com and a trailing dot are valid', manifest: egress({ to: [{ domainNames: ['*.example.com', 'example.com.'] }] }), expect: [] },
    { name: 'types.go egress XValidation: domainNames peer can only be used with Accept action (Pass)', manifest: egress({ action: 'Pass', to: [{ domainNames: ['example.com'] }] }), expect: [['spec.egress[0]', 'domainNames peer can only be used with Accept action']] },
    { name: 'tests/cnp/09-cnp-invalid-egress-dns.yaml: Deny with domainNames is rejected', manifest: egress({ action: 'Deny', to: [{ domainNames: ['blocked.com'] }] }), expect: [['spec.egress[0]', 'domainNames peer can only be used with Accept action']] },
    { name: 'CRD portNumber required: port', manifest: ingress({ ports: [{ portNumber: { protocol: 'TCP' } }] }), expect: [['spec.ingress[0].ports[0].portNumber.port', 'Required value']] },
    { name: 'types.go CNPPort protocol default=TCP: may be omitted', manifest: ingress({ ports: [{ portNumber: { port: 53 } }] }), expect: [] },
    { name: 'types.go CNPPort Port Minimum=1', manifest: ingress({ ports: [{ portNumber: { port: 0 } }] }), expect: [['spec.ingress[0].ports[0].portNumber.port', 'greater than or equal to 1']] },
    { name: 'types.go CNPPort Port Maximum=65535', manifest: ingress({ ports: [{ portNumber: { port: 65536 } }] }), expect: [['spec.ingress[0].ports[0].portNumber.port', 'less than or equal to 65535']] },
    { name: 'types.go CNPPort Protocol: corev1.Protocol is a plain string to the CRD (warning)', manifest: ingress({ ports: [{ portNumber: { protocol: 'ICMP', port: 1 } }] }), expect: [['spec.ingress[0].ports[0].portNumber.protocol', 'the CRD accepts it', 'warning']] },
    { name: 'CRD portRange required: start', manifest: ingress({ ports: [{ portRange: { end: 90 } }] }), expect: [['spec.ingress[0].ports[0].portRange.start', 'Required value']] },
    { name: 'CRD portRange required: end', manifest: ingress({ ports: [{ portRange: { start: 80 } }] }), expect: [['spec.ingress[0].ports[0].portRange.end', 'Required value']] },
    { name: 'types.go CNPPortRange Start Minimum=1', manifest: ingress({ ports: [{ portRange: { start: 0, end: 90 } }] }), expect: [['spec.ingress[0].ports[0].portRange.start', 'greater than or equal to 1']] },
    { name: 'types.go CNPPortRange End Maximum=65535', manifest: ingress({ ports: [{ portRange: { start: 80, end: 70000 } }] }), expect: [['spec.ingress[0].ports[0].portRange.end', 'less than or equal to 65535']] },
    { name: 'types.go CNPPortRange XValidation self.start < self.end: equal is rejected', manifest: ingress({ ports: [{ portRange: { start: 80, end: 80 } }] }), expect: [['spec.ingress[0].ports[0].portRange', 'Start port must be less than End port']] },
    { name: 'tests/cnp/05-cnp-ingress-port-range.yaml: 8000-8999 is valid', manifest: ingress({ ports: [{ portRange: { protocol: 'TCP', start: 8000, end: 8999 } }] }), expect: [] },
    { name: 'types.go ClusterNetworkPolicyPort: no Min/MaxProperties, so an empty entry passes the CRD (warning)', manifest: ingress({ ports: [{}] }), expect: [['spec.ingress[0].ports[0]', 'matches no port', 'warning']] },
    { name: 'types.go ClusterNetworkPolicyPort: portNumber and portRange together pass the CRD (warning)', manifest: ingress({ ports: [{ portNumber: { port: 53 }, portRange: { start: 80, end: 90 } }] }), expect: [['spec.ingress[0].ports[0]', 'each of them applies', 'warning']] },
    { name: 'types.go NamedPort: a name no container port can have (warning)', manifest: ingress({ ports: [{ namedPort: 'Not_A_Name' }] }), expect: [['spec.ingress[0].ports[0].namedPort', 'can never match', 'warning']] },
    { name: 'CRD: no CEL rule forbids namedPort with networks peers', manifest: egress({ ports: [{ namedPort: 'dns' }] }), expect: [] },
    { name: 'CRD strict decoding: an unknown spec field', manifest: cnp({ protocols: [] }), expect: [['spec.protocols', 'unknown field']] },
    { name: 'scope=Cluster: no namespace', manifest: cnp({}, { name: 'x', namespace: 'a' }), expect: [['metadata.namespace', 'not allowed on this type']] },
    { name: 'CRD: matchExpressions operator is a plain string (warning, the controller cannot parse it)', manifest: cnp({ subject: { namespaces: { matchExpressions: [{ key: 'a', operator: 'Has' }] } } }), expect: [['spec.subject.namespaces.matchExpressions[0].operator', 'the CRD accepts it', 'warning']] },
    { name: 'CRD: spec is not required (warning: no effect)', manifest: { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterNetworkPolicy', metadata: { name: 'x' } }, expect: [['spec', 'no effect', 'warning']] },
    { name: 'groupversion_info.go: only v1alpha1 is served', manifest: { ...cnp({}), apiVersion: 'networking.k8s.aws/v1beta1' }, expect: [['apiVersion', 'Unsupported value']] },
  ]);
});

describe('AWS ApplicationNetworkPolicy: every rule of its CRD', () => {
  runCases([
    { name: 'CRD spec.required: podSelector', manifest: anp({ podSelector: undefined }), expect: [['spec.podSelector', 'Required value']] },
    { name: 'types.go ApplicationNetworkPolicyPeer XValidation: ipBlock and domainNames are mutually exclusive (tests/anp/05)', manifest: anpEgressPeer({ ipBlock: { cidr: '10.0.0.0/8' }, domainNames: ['api.example.com'] }), expect: [['spec.egress[0].to[0]', 'ipBlock and domainNames are mutually exclusive']] },
    { name: 'types.go ApplicationNetworkPolicyPeer XValidation: podSelector and domainNames are mutually exclusive', manifest: anpEgressPeer({ podSelector: {}, domainNames: ['api.example.com'] }), expect: [['spec.egress[0].to[0]', 'podSelector and domainNames are mutually exclusive']] },
    { name: 'types.go ApplicationNetworkPolicyPeer XValidation: namespaceSelector and domainNames are mutually exclusive', manifest: anpEgressPeer({ namespaceSelector: {}, domainNames: ['api.example.com'] }), expect: [['spec.egress[0].to[0]', 'namespaceSelector and domainNames are mutually exclusive']] },
    { name: 'types.go DomainNames MinItems=1', manifest: anpEgressPeer({ domainNames: [] }), expect: [['spec.egress[0].to[0].domainNames', 'at least 1 item']] },
    { name: 'types.go DomainNames listType=set', manifest: anpEgressPeer({ domainNames: ['a.example.com', 'a.example.com'] }), expect: [['spec.egress[0].to[0].domainNames[1]', 'Duplicate value']] },
    { name: 'types.go DomainName Pattern', manifest: anpEgressPeer({ domainNames: ['-bad.example.com'] }), expect: [['spec.egress[0].to[0].domainNames[0]', 'should match']] },
    { name: 'tests/anp/06-anp-invalid-ingress-domain.yaml: ingress peers have no domainNames', manifest: anp({ ingress: [{ from: [{ domainNames: ['api.example.com'] }] }] }), expect: [['spec.ingress[0].from[0].domainNames', 'unknown field'], ['spec.ingress[0].from[0]', 'no field set', 'warning']] },
    { name: 'CRD ipBlock required: cidr', manifest: anpEgressPeer({ ipBlock: { except: ['10.0.0.0/16'] } }), expect: [['spec.egress[0].to[0].ipBlock.cidr', 'Required value']] },
    { name: 'CRD ipBlock.cidr: a plain string, so a non-CIDR passes the CRD (warning)', manifest: anpEgressPeer({ ipBlock: { cidr: '10.0.0.0/33' } }), expect: [['spec.egress[0].to[0].ipBlock.cidr', 'the CRD accepts it', 'warning']] },
    { name: 'CRD port: an integer without Minimum/Maximum passes the CRD (warning)', manifest: anp({ egress: [{ ports: [{ port: 70000 }] }] }), expect: [['spec.egress[0].ports[0].port', 'matches no port', 'warning']] },
    { name: 'CRD policyTypes: strings without an enum (warning)', manifest: anp({ policyTypes: ['Both'] }), expect: [['spec.policyTypes[0]', 'neither Ingress nor Egress', 'warning']] },
    { name: 'tests/anp/03-anp-egress-variants.yaml: podSelector, namespaceSelector, ipBlock with except and domainNames rules', manifest: anp({ policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { component: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 80 }] }, { to: [{ ipBlock: { cidr: '172.16.0.0/12', except: ['172.16.1.0/24'] } }] }, { to: [{ domainNames: ['api.example.com', '*.googleapis.com'] }], ports: [{ protocol: 'TCP', port: 443 }] }] }), expect: [] },
    { name: 'types_test.go MutualExclusivity: ipBlock with podSelector passes the CRD (warning: selectors ignored)', manifest: anpEgressPeer({ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: { matchLabels: { app: 'db' } } }), expect: [['spec.egress[0].to[0]', 'selectors are ignored', 'warning']] },
    { name: 'scope=Namespaced: metadata.name required', manifest: anp({}, { namespace: 'shop' }), expect: [['metadata.name', 'Required value']] },
  ]);
});

/** Manifests equivalent to the AWS controller's `tests/cnp` and `tests/anp`, each validated as AWS's CRDs decide. */
describe("AWS's test manifests (written equivalents): valid ones pass, invalid ones fail at the located field", () => {
  const cases: readonly { name: string; yaml: string; errors: readonly [line: number, path: string, fragment: string][] }[] = [
    {
      name: 'tests/cnp/01-cnp-dns-all-pods.yaml (valid)',
      yaml: `apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: dns-for-everyone}
spec:
  priority: 80
  tier: Admin
  subject: {pods: {namespaceSelector: {}, podSelector: {}}}
  egress:
  - name: to-dns
    action: Accept
    to:
    - pods:
        namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
        podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{portNumber: {protocol: UDP, port: 53}}, {portNumber: {protocol: TCP, port: 53}}]
`,
      errors: [],
    },
    {
      name: 'tests/cnp/04-cnp-ingress-all-fields.yaml (valid: Accept, Pass with two namespace peers, Deny without ports)',
      yaml: `apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: ingress-fields}
spec:
  tier: Admin
  priority: 100
  subject: {namespaces: {matchLabels: {environment: production}}}
  ingress:
  - {name: from-frontend, action: Accept, from: [{pods: {namespaceSelector: {matchLabels: {environment: staging}}, podSelector: {matchLabels: {component: frontend}}}}], ports: [{portNumber: {protocol: TCP, port: 3000}}]}
  - {name: monitoring, action: Pass, from: [{namespaces: {matchLabels: {monitoring: enabled}}}, {namespaces: {matchLabels: {environment: staging}}}]}
  - {name: the-rest, action: Deny, from: [{namespaces: {matchLabels: {kubernetes.io/metadata.name: staging}}}]}
`,
      errors: [],
    },
    {
      name: 'tests/cnp/09-cnp-invalid-egress-dns.yaml (invalid: Deny with domainNames)',
      yaml: `apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: deny-a-domain}
spec:
  tier: Admin
  priority: 100
  subject: {namespaces: {}}
  egress:
  - name: deny-domain
    action: Deny
    to: [{domainNames: [blocked.example.com]}]
`,
      errors: [[9, 'spec.egress[0]', 'domainNames peer can only be used with Accept action']],
    },
    {
      name: 'tests/cnp/10-cnp-invalid-ingress-dns.yaml (invalid: domainNames on ingress)',
      yaml: `apiVersion: networking.k8s.aws/v1alpha1
kind: ClusterNetworkPolicy
metadata: {name: ingress-domain}
spec:
  tier: Admin
  priority: 200
  subject: {namespaces: {}}
  ingress:
  - name: from-a-domain
    action: Accept
    from:
    - domainNames: [api.github.com]
`,
      errors: [
        [12, 'spec.ingress[0].from[0].domainNames', 'unknown field'],
        [12, 'spec.ingress[0].from[0]', 'at least 1 properties'],
      ],
    },
    {
      name: 'tests/anp/05-anp-invalid-egress-mixed-peer.yaml (invalid: ipBlock with domainNames)',
      yaml: `apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata: {name: mixed-peer, namespace: staging}
spec:
  podSelector: {matchLabels: {component: backend}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.0.0/8}
      domainNames: [api.example.com]
    ports: [{protocol: TCP, port: 443}]
`,
      errors: [[9, 'spec.egress[0].to[0]', 'ipBlock and domainNames are mutually exclusive']],
    },
    {
      name: 'tests/anp/04-anp-mixed-ingress-egress.yaml (valid)',
      yaml: `apiVersion: networking.k8s.aws/v1alpha1
kind: ApplicationNetworkPolicy
metadata: {name: mixed, namespace: shared-services}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {environment: production}}}]
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
  egress:
  - to: [{ipBlock: {cidr: 8.8.8.0/24, except: [8.8.8.1/32]}}]
    ports: [{protocol: UDP, port: 53}]
  - to: [{domainNames: [root-servers.net, "*.root-servers.net"]}]
    ports: [{protocol: UDP, port: 53}]
`,
      errors: [],
    },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { documents, diagnostics } = parseManifests(c.yaml, 'aws.yaml');
    expect(diagnostics).toEqual([]);
    const doc = documents[0];
    const errors = validateObject(doc.value).filter((e) => (e.severity ?? 'error') === 'error');
    const located = errors.map((e) => ({ line: doc.position(e.path).line, path: formatPath(e.path), message: e.message }));
    expect(located.length).toBe(c.errors.length);
    for (const [line, path, fragment] of c.errors) {
      expect(located.some((l) => l.line === line && l.path === path && l.message.includes(fragment)), JSON.stringify(located)).toBe(true);
    }
  });
});

describe('domain name patterns (applicationnetworkpolicy_types.go DomainName doc)', () => {
  it.each([
    ['kubernetes.io', 'kubernetes.io', true],
    ['kubernetes.io', 'www.kubernetes.io', false],
    ['blog.kubernetes.io', 'kubernetes.io', false],
    ['*.kubernetes.io', 'www.kubernetes.io', true],
    ['*.kubernetes.io', 'latest.blog.kubernetes.io', true],
    ['*.kubernetes.io', 'kubernetes.io', false],
    ['*.kubernetes.io', 'my-kubernetes.io', false],
    ['Kubernetes.IO.', 'kubernetes.io', true],
  ] as const)('types.go DomainName: %s matches %s: %s', (pattern, name, expected) => {
    expect(domainMatches(pattern, name)).toBe(expected);
  });
});
