import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CaseFormatError,
  type CaseStep,
  cellKey,
  checkAgainstTopology,
  expectedMatrix,
  loadCase,
  loadSuite,
  matchesPattern,
} from './cases.js';

const root = fileURLToPath(new URL('../../conformance/', import.meta.url));
const suites = readdirSync(root)
  .map((d) => join(root, d))
  .filter((d) => statSync(d).isDirectory());

describe('conformance files', () => {
  it('finds the suites', () => {
    expect(suites.map((s) => s.slice(root.length))).toEqual(expect.arrayContaining(['k8s', 'tiers']));
  });

  for (const dir of suites) {
    describe(dir.slice(root.length), () => {
      const { topology, cases } = loadSuite(dir);

      it('loads every case, consistent with its topology', () => {
        expect(cases.length).toBeGreaterThan(0);
        expect(cases.flatMap((c) => checkAgainstTopology(c, topology))).toEqual([]);
      });

      it('names each case after its file', () => {
        for (const c of cases) expect(c.file.endsWith(`/${c.name}.yaml`), c.file).toBe(true);
      });
    });
  }

  it('holds the 48 Kubernetes e2e cases: 42 TCP, 3 UDP, 3 SCTP', () => {
    const { cases } = loadSuite(join(root, 'k8s'));
    const byPrefix = (p: string) => cases.filter((c) => c.name.startsWith(`${p}-`)).length;
    expect([cases.length, byPrefix('tcp'), byPrefix('udp'), byPrefix('sctp')]).toEqual([48, 42, 3, 3]);
  });

  it('gives every k8s matrix over the nine pods the same cells', () => {
    const { topology, cases } = loadSuite(join(root, 'k8s'));
    const pods = topology.pods.map((p) => `${p.namespace}/${p.name}`);
    const c = cases.find((x) => x.name === 'tcp-default-deny-ingress');
    const m = expectedMatrix(c!.steps[0], pods);
    expect(m.size).toBe(9 * 8);
    expect(m.get(cellKey('y/a', 'x/b', 'TCP', 80))).toBe(false);
    expect(m.get(cellKey('x/a', 'y/b', 'TCP', 80))).toBe(true);
  });
});

describe('matchesPattern', () => {
  it.each([
    ['*', 'x/a', true],
    ['x/*', 'x/a', true],
    ['x/*', 'y/a', false],
    ['*/a', 'z/a', true],
    ['*/a', 'z/b', false],
    ['x/a', 'x/a', true],
    ['x/a', 'x/b', false],
    ['*/*', 'y/c', true],
  ])('%s matches %s: %s', (pattern, pod, want) => {
    expect(matchesPattern(pattern, pod)).toBe(want);
  });
});

describe('expectedMatrix', () => {
  const pods = ['x/a', 'x/b', 'y/a'];
  const step = (expect: CaseStep['expect']): Pick<CaseStep, 'expect'> => ({ expect });
  const tcp80 = (from: string, to: string) => cellKey(from, to, 'TCP', 80);

  it('leaves out loopback and covers every other ordered pair', () => {
    const m = expectedMatrix(step([{ protocol: 'TCP', port: 80, default: 'allow', overrides: [] }]), pods);
    expect([...m.keys()].sort()).toEqual(
      [tcp80('x/a', 'x/b'), tcp80('x/a', 'y/a'), tcp80('x/b', 'x/a'), tcp80('x/b', 'y/a'), tcp80('y/a', 'x/a'), tcp80('y/a', 'x/b')].sort(),
    );
    expect([...m.values()].every((v) => v)).toBe(true);
  });

  it('starts from deny when the default is deny', () => {
    const m = expectedMatrix(step([{ protocol: 'TCP', port: 80, default: 'deny', overrides: [] }]), pods);
    expect([...m.values()].some((v) => v)).toBe(false);
  });

  it('sets a column, a row and a single cell', () => {
    const m = expectedMatrix(
      step([
        {
          protocol: 'TCP',
          port: 80,
          default: 'allow',
          overrides: [
            { from: '*', to: 'x/a', allowed: false },
            { from: 'y/a', to: '*', allowed: false },
          ],
        },
      ]),
      pods,
    );
    expect(m.get(tcp80('x/b', 'x/a'))).toBe(false);
    expect(m.get(tcp80('y/a', 'x/a'))).toBe(false);
    expect(m.get(tcp80('y/a', 'x/b'))).toBe(false);
    expect(m.get(tcp80('x/a', 'x/b'))).toBe(true);
    expect(m.get(tcp80('x/b', 'y/a'))).toBe(true);
  });

  it('applies overrides in order, the last match winning', () => {
    const overrides = [
      { from: '*', to: 'x/a', allowed: false },
      { from: 'x/b', to: 'x/a', allowed: true },
    ];
    const m = expectedMatrix(step([{ protocol: 'TCP', port: 80, default: 'allow', overrides }]), pods);
    expect(m.get(tcp80('x/b', 'x/a'))).toBe(true);
    expect(m.get(tcp80('y/a', 'x/a'))).toBe(false);
    const reversed = expectedMatrix(step([{ protocol: 'TCP', port: 80, default: 'allow', overrides: [...overrides].reverse() }]), pods);
    expect(reversed.get(tcp80('x/b', 'x/a'))).toBe(false);
  });

  it('matches namespace wildcards and pod-name wildcards', () => {
    const m = expectedMatrix(
      step([
        {
          protocol: 'UDP',
          port: 81,
          default: 'allow',
          overrides: [
            { from: 'x/*', to: '*', allowed: false },
            { from: '*', to: '*/a', allowed: true },
          ],
        },
      ]),
      pods,
    );
    expect(m.get(cellKey('x/a', 'x/b', 'UDP', 81))).toBe(false);
    expect(m.get(cellKey('x/b', 'x/a', 'UDP', 81))).toBe(true);
    expect(m.get(cellKey('x/b', 'y/a', 'UDP', 81))).toBe(true);
  });

  it('keeps protocols and ports apart', () => {
    const m = expectedMatrix(
      step([
        { protocol: 'TCP', port: 80, default: 'allow', overrides: [] },
        { protocol: 'TCP', port: 81, default: 'deny', overrides: [] },
        { protocol: 'SCTP', port: 80, default: 'deny', overrides: [] },
      ]),
      pods,
    );
    expect(m.size).toBe(18);
    expect(m.get(cellKey('x/a', 'x/b', 'TCP', 80))).toBe(true);
    expect(m.get(cellKey('x/a', 'x/b', 'TCP', 81))).toBe(false);
    expect(m.get(cellKey('x/a', 'x/b', 'SCTP', 80))).toBe(false);
  });
});

describe('loadCase errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-cases-'));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const valid = `name: c
description: d
protocols: [TCP]
upstream: { repository: r, file: f, test: t }
steps:
  - expect:
      - { protocol: TCP, port: 80, default: allow, overrides: [{ from: "*", to: x/a, allowed: false }] }
`;

  it('accepts a minimal case', () => {
    const c = loadCase(write('ok.yaml', valid));
    expect(c.steps[0].expect[0].overrides[0]).toEqual({ from: '*', to: 'x/a', allowed: false });
    expect(c.steps[0].apply).toEqual([]);
  });

  it.each([
    ['bad port', valid.replace('port: 80', 'port: eighty'), /steps\[0\]\.expect\[0\]\.port: expected a port number/],
    ['bad default', valid.replace('default: allow', 'default: maybe'), /steps\[0\]\.expect\[0\]\.default: expected allow or deny/],
    ['bad protocol', valid.replace('protocols: [TCP]', 'protocols: [ICMP]'), /protocols\[0\]: expected one of TCP, UDP, SCTP/],
    ['bad pattern', valid.replace('to: x/a', 'to: xa'), /overrides\[0\]\.to: expected "\*" or namespace\/pod/],
    ['misspelt field', valid.replace('expect:', 'expects:'), /steps\[0\]\.expects: unknown field/],
    ['missing upstream', valid.replace('upstream: { repository: r, file: f, test: t }\n', ''), /upstream: expected a mapping/],
    ['no expectation', valid.replace(/ {2}- expect:[\s\S]*$/, '  - labelPod: [{ pod: x/a, labels: { k: v } }]\n'), /steps: no step has an expectation/],
    ['not YAML', 'name: [unclosed', /not valid YAML/],
  ])('rejects %s, naming the file and place', (_, text, message) => {
    const file = write('bad.yaml', text);
    let err: unknown;
    try {
      loadCase(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CaseFormatError);
    expect((err as CaseFormatError).message).toContain(file);
    expect((err as CaseFormatError).message).toMatch(message);
  });
});
