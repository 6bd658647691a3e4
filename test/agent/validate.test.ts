/**
 * The agent's input boundary (issue 14 point 2, issue 15 point 2): every (Cluster)PolicyEndpoint is validated where
 * it is read, with file:line, object and field path in the error; entries the agent cannot enforce are left out and
 * named instead of failing the sync; and whatever passes validation compiles to an nft script in which every set
 * element is an address, a port, a protocol or a quoted interface name — hostile strings never reach the script.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/api/diagnostics.js';
import { checkEndpointObjects, validateClusterPolicyEndpoint, validatePolicyEndpoint } from '../../src/api/validate-policyendpoint.js';
import { FilePolicyEndpointSource } from '../../src/agent/source.js';
import { compileNode, type LocalPod } from '../../src/nft/compile.js';
import { interfacePatternProblem, isInterfaceName } from '../../src/nft/names.js';
import { renderFull } from '../../src/nft/script.js';

const PODS: LocalPod[] = [
  { ips: ['10.0.1.1'], ifname: 'eni1' },
  { ips: ['10.0.1.2', 'fd00::2'], ifname: 'eni2' },
];

function pe(spec: Record<string, unknown>, name = 'web-abcde'): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'PolicyEndpoint',
    metadata: { name, namespace: 'default' },
    spec: { policyRef: { name: 'web', namespace: 'default' }, podIsolation: ['Ingress', 'Egress'], podSelectorEndpoints: [{ podIP: '10.0.1.1', hostIP: '10.99.0.1', name: 'a', namespace: 'default' }], ...spec },
  };
}

function cpe(spec: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.aws/v1alpha1',
    kind: 'ClusterPolicyEndpoint',
    metadata: { name: 'guard-000' },
    spec: { policyRef: { name: 'guard' }, tier: 'Admin', priority: 10, subject: { namespaces: {} }, podSelectorEndpoints: [{ podIP: '10.0.1.2', hostIP: '10.99.0.1', name: 'b', namespace: 'default' }], ...spec },
  };
}

const paths = (errors: readonly { path: readonly (string | number)[] }[]) => errors.map((e) => e.path.join('.'));

describe('validatePolicyEndpoint: CRD rules (deploy/crds, AWS config/crd/bases + port bounds)', () => {
  it.each([
    ['the injection of the security review: a string port', { ingress: [{ cidr: '10.0.0.0/8', ports: [{ port: '80 } ; flush ruleset ; add rule x {' }] }] }, 'spec.ingress.0.ports.0.port', /must be an integer/],
    ['CRD maximum 65535', { ingress: [{ cidr: '10.0.0.0/8', ports: [{ port: 65536 }] }] }, 'spec.ingress.0.ports.0.port', /between 0 and 65535/],
    ['CRD minimum 0', { egress: [{ cidr: '10.0.0.0/8', ports: [{ port: 80, endPort: -1 }] }] }, 'spec.egress.0.ports.0.endPort', /between 0 and 65535/],
    ['int32: no fractions', { ingress: [{ cidr: '10.0.0.0/8', ports: [{ port: 80.5 }] }] }, 'spec.ingress.0.ports.0.port', /must be an integer/],
    ['cidr must parse', { ingress: [{ cidr: '10.0.0.0/8 } ; flush ruleset' }] }, 'spec.ingress.0.cidr', /valid IP address or CIDR/],
    ['except must parse', { ingress: [{ cidr: '10.0.0.0/8', except: ['nope'] }] }, 'spec.ingress.0.except.0', /valid IP address or CIDR/],
    ['except of the other family', { ingress: [{ cidr: '10.0.0.0/8', except: ['fd00::/64'] }] }, 'spec.ingress.0.except.0', /same IP family/],
    ['domainName pattern (AWS DomainName)', { egress: [{ domainName: 'a b.example' }] }, 'spec.egress.0.domainName', /should match/],
    ['podIsolation enum (NetworkPolicy PolicyType)', { podIsolation: ['Sideways'] }, 'spec.podIsolation.0', /Unsupported value/],
    ['podIP must be an address', { podSelectorEndpoints: [{ podIP: '10.0.1.1"', hostIP: '10.99.0.1', name: 'a', namespace: 'default' }] }, 'spec.podSelectorEndpoints.0.podIP', /valid IP address/],
    ['pod endpoint required fields (AWS CRD)', { podSelectorEndpoints: [{ podIP: '10.0.1.1' }] }, 'spec.podSelectorEndpoints.0.hostIP', /Required value/],
    ['pod names are DNS-1123 subdomains', { podSelectorEndpoints: [{ podIP: '10.0.1.1', hostIP: '10.99.0.1', name: 'a";drop', namespace: 'default' }] }, 'spec.podSelectorEndpoints.0.name', /Invalid value/],
    ['policyRef.namespace required (AWS CRD)', { policyRef: { name: 'web' } }, 'spec.policyRef.namespace', /Required value/],
  ])('%s', (_name, spec, path, message) => {
    const { errors } = validatePolicyEndpoint(pe(spec));
    expect(paths(errors)).toContain(path);
    expect(errors.find((e) => e.path.join('.') === path)!.message).toMatch(message);
  });

  it('accepts what AWS accepts: an entry with only a domainName, an entry with neither field', () => {
    expect(validatePolicyEndpoint(pe({ egress: [{ domainName: '*.example.com' }, { ports: [{ port: 53, protocol: 'UDP' }] }] })).errors).toEqual([]);
  });

  it('keeps only the fields the schema knows (pruning), so nothing else reaches the compiler', () => {
    const { object } = validatePolicyEndpoint(pe({ ingress: [{ cidr: '10.0.0.0/8', extra: '"; flush ruleset', ports: [{ port: 80, more: 1 }] }], isGlobal: true }));
    expect(object!.spec.ingress).toEqual([{ cidr: '10.0.0.0/8', ports: [{ port: 80 }] }]);
    expect(object!.spec).not.toHaveProperty('isGlobal');
  });
});

describe('validateClusterPolicyEndpoint: AWS config/crd/bases/networking.k8s.aws_clusterpolicyendpoints.yaml', () => {
  it.each([
    ['subject is required', { subject: undefined }, 'spec.subject', /Required value/],
    ['subject has exactly one field (minProperties/maxProperties 1)', { subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } } }, 'spec.subject', /exactly one/],
    ['subject.pods needs both selectors', { subject: { pods: { namespaceSelector: {} } } }, 'spec.subject.pods.podSelector', /Required value/],
    ['tier enum Admin|Baseline', { tier: 'Developer' }, 'spec.tier', /Unsupported value/],
    ['priority required', { priority: undefined }, 'spec.priority', /Required value/],
    ['priority int32', { priority: '1; flush ruleset' }, 'spec.priority', /must be an integer/],
    ['action enum Accept|Deny|Pass', { ingress: [{ cidr: '10.0.0.1', action: 'Allow' }] }, 'spec.ingress.0.action', /Unsupported value/],
    ['action required', { ingress: [{ cidr: '10.0.0.1' }] }, 'spec.ingress.0.action', /Required value/],
    ['port bounds', { ingress: [{ cidr: '10.0.0.1', action: 'Deny', ports: [{ port: 70000 }] }] }, 'spec.ingress.0.ports.0.port', /between 0 and 65535/],
  ])('%s', (_name, spec, path, message) => {
    const { errors } = validateClusterPolicyEndpoint(cpe(spec));
    expect(paths(errors)).toContain(path);
    expect(errors.find((e) => e.path.join('.') === path)!.message).toMatch(message);
  });
});

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'palisade-pe-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

describe('FilePolicyEndpointSource: the source boundary', () => {
  it('refuses an invalid file with file:line, the object and the field path', async () => {
    const d = dir({
      'web.yaml': `apiVersion: networking.k8s.aws/v1alpha1
kind: PolicyEndpoint
metadata: {name: web-abcde, namespace: default}
spec:
  policyRef: {name: web, namespace: default}
  ingress:
    - cidr: 10.0.0.0/8
      ports:
        - port: "80 } ; flush ruleset ; add rule inet x y {"
`,
    });
    const err = await new FilePolicyEndpointSource(d).list().then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain(`${join(d, 'web.yaml')}:9:1: error: PolicyEndpoint default/web-abcde: spec.ingress[0].ports[0].port: must be an integer (got a string)`);
  });

  it('points JSON files at their line too', async () => {
    const d = dir({ 'c.json': JSON.stringify(cpe({ tier: 'Nope' }), null, 2) });
    const err = await new FilePolicyEndpointSource(d).listCluster().then(() => undefined, (e: Error) => e);
    const line = JSON.stringify(cpe({ tier: 'Nope' }), null, 2).split('\n').findIndex((l) => l.includes('"Nope"')) + 1;
    expect(err?.message).toMatch(new RegExp(`c\\.json:${line}:1: error: ClusterPolicyEndpoint guard-000: spec\\.tier: Unsupported value`));
  });

  it('drops what it cannot enforce, names it, and the rest compiles (was: TypeError for a domainName entry)', async () => {
    const d = dir({
      'pe.json': JSON.stringify(pe({ egress: [{ domainName: 'api.example.com' }, { cidr: '10.0.3.0/24', ports: [{ port: 443 }] }, { ports: [{ port: 53 }] }] })),
      'cpe.json': JSON.stringify(cpe({ egress: [{ domainName: '*.example.com', action: 'Deny' }, { cidr: '10.0.4.0/24', action: 'Accept', ports: [{ protocol: 'ICMP' }] }, { cidr: '10.0.5.0/24', action: 'Deny' }] })),
    });
    const source = new FilePolicyEndpointSource(d);
    const [pes, cpes] = [await source.list(), await source.listCluster()];
    expect(pes[0].spec.egress).toEqual([{ cidr: '10.0.3.0/24', ports: [{ port: 443 }] }]);
    expect(cpes[0].spec.egress).toEqual([{ cidr: '10.0.5.0/24', action: 'Deny' }]);
    expect(source.unenforceable()).toEqual([
      { object: 'ClusterPolicyEndpoint guard-000', path: 'spec.egress[0]', reason: 'domainName "*.example.com": the agent does not resolve DNS names' },
      { object: 'ClusterPolicyEndpoint guard-000', path: 'spec.egress[1]', reason: 'ports[0].protocol "ICMP": only TCP, UDP and SCTP are enforced' },
      { object: 'PolicyEndpoint default/web-abcde', path: 'spec.egress[0]', reason: 'domainName "api.example.com": the agent does not resolve DNS names' },
      { object: 'PolicyEndpoint default/web-abcde', path: 'spec.egress[2]', reason: 'has no cidr' },
    ]);
    const script = renderFull(compileNode({ policyEndpoints: pes, clusterPolicyEndpoints: cpes, pods: PODS, nodeAddresses: ['10.99.0.1'], mode: 'standard' }));
    expect(script).toContain('10.0.3.0-10.0.3.255 . tcp . 443');
    // The raw objects are what used to reach the compiler: a PolicyEndpoint entry without cidr throws there.
    const raw = JSON.parse(JSON.stringify(pe({ egress: [{ domainName: 'api.example.com' }] })));
    expect(() => compileNode({ policyEndpoints: [raw], pods: PODS, nodeAddresses: [], mode: 'standard' })).toThrow(TypeError);
  });
});

describe('interface names (src/nft/names.ts)', () => {
  it.each([
    ['eni1a2b3c4d5e6', true],
    ['veth_a.b@c-d', true],
    ['abcdefghijklmno', true],
    ['abcdefghijklmnop', false],
    ['', false],
    ['eni" ; flush ruleset ; "', false],
    ['eth 0', false],
  ])('Linux IFNAMSIZ 16 and nft quoting: %j → %s', (name, ok) => {
    expect(isInterfaceName(name)).toBe(ok);
  });

  it.each([['eni*', true], ['*', true], ['lxc', true], ['en*i', false], ['eni"*', false], ['abcdefghijklmno*', false]])('--pod-interfaces %j → %s', (p, ok) => {
    expect(interfacePatternProblem(p) === undefined).toBe(ok);
  });
});

// ---------------------------------------------------------------- fuzz

const hostileString = fc.oneof(
  fc.constantFrom('80 } ; flush ruleset', '"; drop', '10.0.0.0/8 }', '\n', 'eni*', '0x50', '1e3', '', '::', '10.0.0.1%eth0', 'TCP; accept', '*.x', '../../etc'),
  fc.string({ maxLength: 12 }),
);
const junk: fc.Arbitrary<unknown> = fc.oneof(hostileString, fc.integer({ min: -70000, max: 70000 }), fc.double(), fc.constant(null), fc.boolean(), fc.constant([]), fc.constant({}));
/** Mostly the valid value, sometimes junk: enough objects pass to exercise the compiler, enough fail to test refusal. */
const or = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 12 }, { arbitrary: junk, weight: 1 });
const cidr = or(
  fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 32 })).map(([a, b, p]) => `10.${a}.${b}.0/${p}`),
    fc.integer({ min: 0, max: 65535 }).map((h) => `fd00::${h.toString(16)}/112`),
    fc.integer({ min: 1, max: 254 }).map((h) => `10.0.1.${h}`),
  ),
);
const port = fc.record({ protocol: or(fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMP')), port: or(fc.integer({ min: 0, max: 65535 })), endPort: or(fc.integer({ min: 0, max: 65535 })) }, { requiredKeys: [] });
const entry = fc.record(
  { cidr, except: fc.array(cidr, { maxLength: 1 }), domainName: or(fc.constantFrom('a.example', '*.b.example')), ports: fc.array(port, { maxLength: 3 }), action: or(fc.constantFrom('Accept', 'Deny', 'Pass')) },
  { requiredKeys: ['action'] },
);
const podEndpoint = fc.record({ podIP: or(fc.constantFrom('10.0.1.1', '10.0.1.2', 'fd00::2')), hostIP: or(fc.constant('10.99.0.1')), name: or(fc.constant('a')), namespace: or(fc.constant('default')) });
const hostile = fc.record({
  kind: fc.constantFrom('PolicyEndpoint', 'ClusterPolicyEndpoint'),
  name: or(fc.constant('p-1')),
  isolation: fc.array(or(fc.constantFrom('Ingress', 'Egress')), { maxLength: 2 }),
  pods: fc.array(podEndpoint, { maxLength: 2 }),
  ingress: fc.array(entry, { maxLength: 3 }),
  egress: fc.array(entry, { maxLength: 3 }),
  tier: or(fc.constantFrom('Admin', 'Baseline')),
  priority: or(fc.integer({ min: 0, max: 1000 })),
});

type Hostile = typeof hostile extends fc.Arbitrary<infer T> ? T : never;

function build(h: Hostile): unknown {
  const common = { podSelectorEndpoints: h.pods, ingress: h.ingress, egress: h.egress };
  return h.kind === 'PolicyEndpoint'
    ? { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'PolicyEndpoint', metadata: { name: h.name, namespace: 'default' }, spec: { policyRef: { name: 'p', namespace: 'default' }, podIsolation: h.isolation, ...common } }
    : { apiVersion: 'networking.k8s.aws/v1alpha1', kind: 'ClusterPolicyEndpoint', metadata: { name: h.name }, spec: { policyRef: { name: 'p' }, tier: h.tier, priority: h.priority, subject: { namespaces: {} }, ...common } };
}

const IPV4 = '(?:\\d{1,3}\\.){3}\\d{1,3}';
const IPV6 = '[0-9a-f:]*:[0-9a-f:.]*';
const ADDR = `(?:${IPV4}|${IPV6})`;
const TOKEN = new RegExp(
  [
    `${ADDR}(?:/\\d{1,3})?`, // address or CIDR
    `${ADDR}-${ADDR}`, // address interval
    '\\d{1,5}(?:-\\d{1,5})?', // port or port range
    'tcp|udp|sctp',
    '"[A-Za-z0-9_.@-]{1,15}"', // interface name
  ]
    .map((t) => `^(?:${t})$`)
    .join('|'),
);

/** Every element of every `add element` line, split into its key tokens; the value must be a verdict. */
function elementTokens(script: string): { keys: string[]; values: string[] } {
  const keys: string[] = [];
  const values: string[] = [];
  for (const line of script.split('\n')) {
    const m = /^add element inet palisade [a-z0-9_]+ \{ (.*) \}$/.exec(line);
    if (!m) continue;
    for (const element of m[1].split(', ')) {
      const [key, value] = element.split(' : ');
      keys.push(...key.split(' . '));
      if (value !== undefined) values.push(value);
    }
  }
  return { keys, values };
}

describe('fuzz: hostile (Cluster)PolicyEndpoints against compileNode', () => {
  it('what passes validation compiles to a script of address, port, protocol and interface tokens only; the rest never reaches it', () => {
    let compiled = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 3 }), fc.constantFrom('standard' as const, 'strict' as const), (hs, mode) => {
        const checked = checkEndpointObjects(hs.map((h, i) => ({ value: build(h), source: `fuzz-${i}.yaml` })));
        refused += checked.errors.length > 0 ? 1 : 0;
        for (const e of checked.errors) expect(formatDiagnostic(e)).toMatch(/^fuzz-\d\.yaml: error: (PolicyEndpoint|ClusterPolicyEndpoint) [^\n]+: (spec|metadata)[.\w[\]]*: [^\n]+$/);
        if (checked.policyEndpoints.length + checked.clusterPolicyEndpoints.length === 0) return;
        const state = compileNode({ policyEndpoints: checked.policyEndpoints, clusterPolicyEndpoints: checked.clusterPolicyEndpoints, pods: PODS, nodeAddresses: ['10.99.0.1'], mode }, { podInterfaces: 'eni*', logGroup: 7 });
        const script = renderFull(state);
        compiled++;
        for (const line of script.trimEnd().split('\n')) {
          expect(line).toMatch(/^(add|delete) (table|counter|set|map|chain|element|rule) inet palisade\b/);
          // A set's declaration is the only place a ";" may stand, and it is the compiler's own text.
          if (/^add (set|map) /.test(line)) expect(line).toMatch(/^add (set|map) inet palisade [a-z0-9_]+ \{ type [a-z0-9_ .:]+;( flags interval;)? \}$/);
          else if (/^add chain .* \{/.test(line)) expect(line).toMatch(/^add chain inet palisade [a-z0-9_]+ \{ type filter hook (forward|input|output) priority [a-z0-9 +-]+; policy (accept|drop); \}$/);
          else expect(line).not.toMatch(/[;#\n]|flush ruleset/);
        }
        const { keys, values } = elementTokens(script);
        for (const k of keys) expect(k, script).toMatch(TOKEN);
        for (const v of values) expect(v).toMatch(/^(accept|drop|(goto|jump) [a-z0-9_]+)$/);
        for (const q of script.match(/"[^"]*"/g) ?? []) expect(q).toMatch(/^"[A-Za-z0-9_.@*: /-]*"$/);
      }),
      { numRuns: 400, seed: 14 },
    );
    // Both sides of the boundary were exercised.
    expect(compiled).toBeGreaterThan(20);
    expect(refused).toBeGreaterThan(20);
  });
});

describe('palisade agent --pod-interfaces', () => {
  it('refuses a pattern that is not an interface name, before anything runs', async () => {
    const { run } = await import('../../src/cli/main.js');
    const { agentCommand } = await import('../../src/cli/agent.js');
    const err: string[] = [];
    const io = { out: () => undefined, err: (t: string) => err.push(t), interactive: false, readStdin: () => '' };
    expect(await run(['agent', '--node', 'n1', '--policy-endpoints', '/nonexistent', '--pod-interfaces', 'eni" ; flush ruleset ; "'], io, [agentCommand()])).toBe(2);
    expect(err.join('\n')).toMatch(/--pod-interfaces: "eni\\" ; flush ruleset ; \\"" is not an interface name or prefix/);
  });
});
