import { describe, expect, it } from 'vitest';
import { isTierKind, isTierObject, normalizeTierPolicy } from './tiers.js';
import type { TierPeer, TierPort } from './types.js';

const V1 = 'policy.networking.k8s.io/v1alpha1';
const V2 = 'policy.networking.k8s.io/v1alpha2';

const anp = (spec: Record<string, unknown>): unknown => ({
  apiVersion: V1,
  kind: 'AdminNetworkPolicy',
  metadata: { name: 'a' },
  spec: { priority: 10, subject: { namespaces: {} }, ...spec },
});
const banp = (spec: Record<string, unknown>): unknown => ({
  apiVersion: V1,
  kind: 'BaselineAdminNetworkPolicy',
  metadata: { name: 'default' },
  spec: { subject: { namespaces: {} }, ...spec },
});
const cnp = (spec: Record<string, unknown>): unknown => ({
  apiVersion: V2,
  kind: 'ClusterNetworkPolicy',
  metadata: { name: 'c' },
  spec: { tier: 'Admin', priority: 5, subject: { namespaces: {} }, ...spec },
});

/** Narrows a fixture and normalises it; fails the test when the fixture is not a tier object. */
function normalize(raw: unknown) {
  if (!isTierObject(raw)) throw new Error('fixture is not a tier object');
  return normalizeTierPolicy(raw, { file: 'f.yaml', line: 1, column: 1 });
}

describe('tier and priority', () => {
  it.each([
    { name: 'ANP is Admin with its priority', raw: anp({}), tier: 'Admin', priority: 10, kind: 'AdminNetworkPolicy' },
    { name: 'BANP is Baseline with priority 0', raw: banp({}), tier: 'Baseline', priority: 0, kind: 'BaselineAdminNetworkPolicy' },
    { name: 'CNP Admin', raw: cnp({}), tier: 'Admin', priority: 5, kind: 'ClusterNetworkPolicy' },
    { name: 'CNP Baseline', raw: cnp({ tier: 'Baseline', priority: 7 }), tier: 'Baseline', priority: 7, kind: 'ClusterNetworkPolicy' },
  ])('$name', ({ raw, tier, priority, kind }) => {
    const { policy, problems } = normalize(raw);
    expect(problems).toEqual([]);
    expect(policy).toMatchObject({ tier, priority, kind, ingress: [], egress: [] });
    expect(policy?.source).toEqual({ file: 'f.yaml', line: 1, column: 1 });
  });

  it('rejects an unknown CNP tier with its path', () => {
    const { policy, problems } = normalize(cnp({ tier: 'Developer' }));
    expect(policy).toBeUndefined();
    expect(problems).toEqual([
      { path: ['spec', 'tier'], message: 'Unsupported value: "Developer": supported values: "Admin", "Baseline"', severity: 'error' },
    ]);
  });
});

describe('subject', () => {
  it('maps namespaces to a namespace selector only', () => {
    const { policy } = normalize(anp({ subject: { namespaces: { matchLabels: { team: 'a' } } } }));
    expect(policy?.subject).toEqual({ namespaceSelector: { matchLabels: { team: 'a' } } });
    expect(policy?.subject.podSelector).toBeUndefined();
  });

  it('maps pods to namespace and pod selectors', () => {
    const subject = { pods: { namespaceSelector: { matchLabels: { a: 'b' } }, podSelector: { matchLabels: { app: 'x' } } } };
    const { policy } = normalize(cnp({ subject }));
    expect(policy?.subject).toEqual({ namespaceSelector: { matchLabels: { a: 'b' } }, podSelector: { matchLabels: { app: 'x' } } });
  });

  it('defaults an absent v1alpha2 namespaceSelector to every namespace', () => {
    const { policy } = normalize(cnp({ subject: { pods: { podSelector: { matchLabels: { app: 'x' } } } } }));
    expect(policy?.subject).toEqual({ namespaceSelector: {}, podSelector: { matchLabels: { app: 'x' } } });
  });

  it('refuses a subject with two fields', () => {
    const { policy, problems } = normalize(anp({ subject: { namespaces: {}, pods: { namespaceSelector: {}, podSelector: {} } } }));
    expect(policy).toBeUndefined();
    expect(problems[0]).toMatchObject({ path: ['spec', 'subject'], severity: 'error' });
    expect(problems[0].message).toContain('exactly one of "namespaces", "pods"');
  });
});

describe('actions', () => {
  it.each([
    { name: 'v1alpha1 Allow', raw: anp({ ingress: [{ action: 'Allow', from: [{ namespaces: {} }] }] }), action: 'Allow' },
    { name: 'v1alpha1 Pass', raw: anp({ ingress: [{ action: 'Pass', from: [{ namespaces: {} }] }] }), action: 'Pass' },
    { name: 'BANP Deny', raw: banp({ ingress: [{ action: 'Deny', from: [{ namespaces: {} }] }] }), action: 'Deny' },
    { name: 'v1alpha2 Accept is Allow', raw: cnp({ ingress: [{ action: 'Accept', from: [{ namespaces: {} }] }] }), action: 'Allow' },
    { name: 'v1alpha2 Pass', raw: cnp({ ingress: [{ action: 'Pass', from: [{ namespaces: {} }] }] }), action: 'Pass' },
  ])('$name', ({ raw, action }) => {
    expect(normalize(raw).policy?.ingress[0].action).toBe(action);
  });

  it.each([
    { name: 'Pass in a BANP', raw: banp({ egress: [{ action: 'Pass', to: [{ namespaces: {} }] }] }), allowed: '"Allow", "Deny"' },
    { name: 'Allow in a CNP', raw: cnp({ egress: [{ action: 'Allow', to: [{ namespaces: {} }] }] }), allowed: '"Accept", "Deny", "Pass"' },
  ])('rejects $name', ({ raw, allowed }) => {
    const { policy, problems } = normalize(raw);
    expect(policy).toBeUndefined();
    expect(problems).toHaveLength(1);
    expect(problems[0].path).toEqual(['spec', 'egress', 0, 'action']);
    expect(problems[0].message).toContain(allowed);
  });

  it('keeps rule names and order', () => {
    const { policy } = normalize(
      anp({
        egress: [
          { name: 'first', action: 'Deny', to: [{ namespaces: {} }] },
          { action: 'Allow', to: [{ namespaces: {} }] },
        ],
      }),
    );
    expect(policy?.egress.map((r) => r.name)).toEqual(['first', undefined]);
    expect(policy?.egress.map((r) => r.action)).toEqual(['Deny', 'Allow']);
  });
});

describe('peers', () => {
  const sel = { matchLabels: { k: 'v' } };
  const cases: { name: string; peer: unknown; direction?: 'ingress' | 'egress'; want: TierPeer }[] = [
    { name: 'namespaces → pods peer without podSelector', peer: { namespaces: sel }, want: { kind: 'pods', selector: { namespaceSelector: sel } } },
    {
      name: 'pods → pods peer with both selectors',
      peer: { pods: { namespaceSelector: {}, podSelector: sel } },
      want: { kind: 'pods', selector: { namespaceSelector: {}, podSelector: sel } },
    },
    { name: 'networks → cidrs', peer: { networks: ['10.0.0.0/8', 'fd00::/8'] }, want: { kind: 'networks', cidrs: ['10.0.0.0/8', 'fd00::/8'] } },
    { name: 'nodes → node selector', peer: { nodes: sel }, want: { kind: 'nodes', nodeSelector: sel } },
    { name: 'domainNames → unsupported, keeping its names for DNS answers', peer: { domainNames: ['example.com'] }, want: { kind: 'unsupported', what: 'domainNames', domainNames: ['example.com'] } },
    { name: 'domainNames in an ingress peer → unsupported, without names', peer: { domainNames: ['example.com'] }, direction: 'ingress', want: { kind: 'unsupported', what: 'domainNames' } },
    { name: 'an unknown field → unsupported', peer: { services: {} }, want: { kind: 'unsupported', what: 'services' } },
    { name: 'no field → unsupported', peer: {}, want: { kind: 'unsupported', what: 'a peer with no field set' } },
    {
      name: 'two fields → unsupported',
      peer: { namespaces: {}, networks: ['10.0.0.0/8'] },
      want: { kind: 'unsupported', what: 'a peer with "namespaces" and "networks"' },
    },
    {
      name: 'old v1alpha1 namespaces.sameLabels → unsupported',
      peer: { namespaces: { sameLabels: ['tenant'] } },
      want: { kind: 'unsupported', what: 'namespaces (not understood)' },
    },
    { name: 'networks in an ingress peer → unsupported', peer: { networks: ['10.0.0.0/8'] }, direction: 'ingress', want: { kind: 'unsupported', what: 'networks' } },
  ];
  it.each(cases)('$name', ({ peer, direction, want }) => {
    const raw =
      direction === 'ingress'
        ? anp({ ingress: [{ action: 'Deny', from: [peer] }] })
        : anp({ egress: [{ action: 'Deny', to: [peer] }] });
    const { policy, problems } = normalize(raw);
    const rule = direction === 'ingress' ? policy?.ingress[0] : policy?.egress[0];
    expect(rule?.peers).toEqual([want]);
    if (want.kind === 'unsupported') {
      const peerField = direction === 'ingress' ? 'from' : 'to';
      expect(problems).toEqual([
        {
          path: ['spec', direction ?? 'egress', 0, peerField, 0],
          message: `peer not evaluated by Palisade (${want.what}): it fails closed${'domainNames' in want ? ' unless a DNS answer (why --resolve NAME=IP) gives one of its names addresses' : ''}, so for Deny it matches all traffic`,
          severity: 'warning',
        },
      ]);
    } else {
      expect(problems).toEqual([]);
    }
  });

  it('says an unsupported peer of an Allow rule matches nothing', () => {
    const { policy, problems } = normalize(anp({ egress: [{ action: 'Allow', to: [{ domainNames: ['example.com'] }] }] }));
    expect(policy).toBeDefined();
    expect(problems.map((p) => p.message)).toEqual([
      'peer not evaluated by Palisade (domainNames): it fails closed unless a DNS answer (why --resolve NAME=IP) gives one of its names addresses, so for Allow it matches no traffic',
    ]);
  });

  it('keeps several peers in order', () => {
    const { policy } = normalize(cnp({ egress: [{ action: 'Accept', to: [{ networks: ['1.2.3.0/24'] }, { nodes: {} }] }] }));
    expect(policy?.egress[0].peers.map((p) => p.kind)).toEqual(['networks', 'nodes']);
  });
});

describe('ports', () => {
  const v1cases: { name: string; ports: unknown[]; want: TierPort[] }[] = [
    {
      name: 'portNumber → single-port range, protocol as written',
      ports: [{ portNumber: { protocol: 'UDP', port: 53 } }],
      want: [{ kind: 'range', protocol: 'UDP', from: 53, to: 53 }],
    },
    {
      name: 'portNumber without protocol defaults to TCP',
      ports: [{ portNumber: { port: 80 } }],
      want: [{ kind: 'range', protocol: 'TCP', from: 80, to: 80 }],
    },
    {
      name: 'portRange → range',
      ports: [{ portRange: { protocol: 'SCTP', start: 1000, end: 2000 } }],
      want: [{ kind: 'range', protocol: 'SCTP', from: 1000, to: 2000 }],
    },
    { name: 'namedPort → named', ports: [{ namedPort: 'http' }], want: [{ kind: 'named', name: 'http' }] },
  ];
  it.each(v1cases)('v1alpha1 $name', ({ ports, want }) => {
    const { policy, problems } = normalize(anp({ ingress: [{ action: 'Allow', from: [{ namespaces: {} }], ports }] }));
    expect(problems).toEqual([]);
    expect(policy?.ingress[0].ports).toEqual(want);
  });

  const v2cases: { name: string; protocols: unknown[]; want: TierPort[] }[] = [
    {
      name: 'tcp destinationPort number',
      protocols: [{ tcp: { destinationPort: { number: 443 } } }],
      want: [{ kind: 'range', protocol: 'TCP', from: 443, to: 443 }],
    },
    {
      name: 'udp destinationPort range',
      protocols: [{ udp: { destinationPort: { range: { start: 5000, end: 5010 } } } }],
      want: [{ kind: 'range', protocol: 'UDP', from: 5000, to: 5010 }],
    },
    {
      name: 'sctp without destinationPort → every port',
      protocols: [{ sctp: {} }],
      want: [{ kind: 'range', protocol: 'SCTP', from: 1, to: 65535 }],
    },
    { name: 'destinationNamedPort → named', protocols: [{ destinationNamedPort: 'metrics' }], want: [{ kind: 'named', name: 'metrics' }] },
  ];
  it.each(v2cases)('v1alpha2 $name', ({ protocols, want }) => {
    const { policy, problems } = normalize(cnp({ ingress: [{ action: 'Accept', from: [{ namespaces: {} }], protocols }] }));
    expect(problems).toEqual([]);
    expect(policy?.ingress[0].ports).toEqual(want);
  });

  it('leaves ports absent when the rule has none (every port)', () => {
    const { policy } = normalize(anp({ ingress: [{ action: 'Allow', from: [{ namespaces: {} }] }] }));
    expect(policy?.ingress[0]).not.toHaveProperty('ports');
  });

  it('drops an unreadable port entry with a warning at its path', () => {
    const ports = [{ portNumber: { port: 80 } }, { portNumber: { port: 0 } }];
    const { policy, problems } = normalize(anp({ egress: [{ action: 'Deny', to: [{ namespaces: {} }], ports }] }));
    expect(policy?.egress[0].ports).toEqual([{ kind: 'range', protocol: 'TCP', from: 80, to: 80 }]);
    expect(problems).toEqual([{ path: ['spec', 'egress', 0, 'ports', 1], message: 'port not understood; it matches nothing', severity: 'warning' }]);
  });
});

describe('recognising tier objects', () => {
  it('knows the kinds by group', () => {
    expect(isTierKind(V1, 'AdminNetworkPolicy')).toBe(true);
    expect(isTierKind(V2, 'ClusterNetworkPolicy')).toBe(true);
    expect(isTierKind('crd.projectcalico.org/v1', 'GlobalNetworkPolicy')).toBe(false);
    expect(isTierKind('example.com/v1', 'AdminNetworkPolicy')).toBe(false);
  });

  it('accepts each kind only in the version that defines it', () => {
    expect(isTierObject(anp({}))).toBe(true);
    expect(isTierObject(cnp({}))).toBe(true);
    expect(isTierObject({ apiVersion: V2, kind: 'AdminNetworkPolicy', spec: {} })).toBe(false);
    expect(isTierObject({ apiVersion: V1, kind: 'ClusterNetworkPolicy', spec: {} })).toBe(false);
    expect(isTierObject({ apiVersion: V1, kind: 'AdminNetworkPolicy' })).toBe(false);
  });
});
