import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatDiagnostic } from './diagnostics.js';
import { describeObject, loadManifests, parseManifests, STDIN_NAME } from './load.js';
import type { LoadedDocument } from './load.js';
import type { FieldError } from './validate.js';

const F = fileURLToPath(new URL('../../test/fixtures/load/', import.meta.url));

const validation = vi.hoisted(() => ({ errors: (_obj: unknown): FieldError[] => [] }));
vi.mock('./validate.js', () => ({ validateObject: (obj: unknown) => validation.errors(obj) }));

afterEach(() => {
  validation.errors = () => [];
});

const at = (file: string, line: number, column: number) => ({ file, line, column });
const summary = (docs: readonly LoadedDocument[]) => docs.map((d) => `${d.kind} ${d.name ?? '-'}`);

describe('loadManifests: multi-document YAML', () => {
  const { documents, diagnostics } = loadManifests([`${F}shop.yaml`]);

  it('reads every document in order and skips the empty one', () => {
    expect(diagnostics).toEqual([]);
    expect(summary(documents)).toEqual([
      'Namespace shop',
      'Deployment web',
      'Pod web',
      'Service web',
      'NetworkPolicy web-ingress',
      'ConfigMap web-config',
      'ConfigMap web-extra',
    ]);
  });

  it('keeps apiVersion, namespace as written, and the decoded value', () => {
    const deploy = documents[1];
    expect(deploy.apiVersion).toBe('apps/v1');
    expect(deploy.namespace).toBe('shop');
    expect(documents[0].namespace).toBeUndefined();
    expect(deploy.value).toMatchObject({ spec: { replicas: 3, selector: { matchLabels: { app: 'web' } } } });
  });

  it('gives each document its first line and column', () => {
    expect(documents.map((d) => [d.pos.line, d.pos.column])).toEqual([
      [2, 1],
      [10, 1],
      [41, 1],
      [66, 1],
      [80, 1],
      [97, 1],
      [105, 1],
    ]);
    expect(documents[0].pos.file).toBe(`${F}shop.yaml`);
  });

  it('points a field path at its key, and an index at the list item', () => {
    const deploy = documents[1];
    const ports = ['spec', 'template', 'spec', 'containers', 0, 'ports'];
    expect(deploy.position([...ports, 1, 'containerPort'])).toEqual(at(`${F}shop.yaml`, 33, 15));
    expect(deploy.position([...ports, 1])).toEqual(at(`${F}shop.yaml`, 32, 15));
    expect(deploy.position(['spec', 'template', 'spec', 'containers', 1, 'ports', 0, 'protocol'])).toEqual(
      at(`${F}shop.yaml`, 39, 15),
    );
  });

  it('falls back to the deepest existing node when the path goes further than the document', () => {
    const pod = documents[2];
    expect(pod.position(['spec', 'containers', 0, 'ports', 0, 'hostPort'])).toEqual(at(`${F}shop.yaml`, 55, 11));
    expect(pod.position(['spec', 'containers', 7, 'name'])).toEqual(at(`${F}shop.yaml`, 51, 3));
    expect(pod.position(['nothing', 'here'])).toEqual(pod.pos);
    expect(pod.position([])).toEqual(pod.pos);
  });
});

describe('loadManifests: lists and JSON', () => {
  it('expands a List, each item keeping its own position', () => {
    const { documents, diagnostics } = loadManifests([`${F}list.yaml`]);
    expect(diagnostics).toEqual([]);
    expect(summary(documents)).toEqual(['Pod api-0', 'Pod api-1']);
    expect(documents.map((d) => d.pos)).toEqual([at(`${F}list.yaml`, 6, 5), at(`${F}list.yaml`, 18, 5)]);
    expect(documents[1].position(['metadata', 'name'])).toEqual(at(`${F}list.yaml`, 21, 7));
    expect(documents[1].namespace).toBe('backend');
  });

  it('places List items read by the fast reader where the full parser would (comments, nested lists, indentation 0)', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n# a comment\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n  spec:\n    finalizers:\n    - kubernetes\n-   apiVersion: v1\n    kind: Namespace\n    metadata: {name: b}\nmetadata: {}\n';
    const { documents, diagnostics } = parseManifests(text, 'l.yaml');
    expect(diagnostics).toEqual([]);
    expect(documents.map((d) => `${d.name} ${d.pos.line}:${d.pos.column}`)).toEqual(['a 5:3', 'b 11:5']);
    expect(documents[1]!.position(['metadata', 'name'])).toEqual(at('l.yaml', 13, 16));
  });

  it('reads a JSON PodList whose items omit apiVersion and kind, as API list responses do', () => {
    const { documents, diagnostics } = loadManifests([`${F}pods.json`]);
    expect(diagnostics).toEqual([]);
    expect(documents).toHaveLength(1);
    const [pod] = documents;
    expect([pod.apiVersion, pod.kind, pod.name, pod.namespace]).toEqual(['v1', 'Pod', 'db-0', 'data']);
    expect(pod.value).toMatchObject({ apiVersion: 'v1', kind: 'Pod' });
    expect(pod.pos).toEqual(at(`${F}pods.json`, 5, 5));
    expect(pod.position(['spec', 'containers', 0, 'ports', 0, 'containerPort'])).toEqual(at(`${F}pods.json`, 14, 80));
  });

  it('expands an empty List to nothing', () => {
    const { documents, diagnostics } = parseManifests('apiVersion: v1\nkind: List\nitems: []\n', 'empty.yaml');
    expect(documents).toEqual([]);
    expect(diagnostics).toEqual([]);
  });

  it('reports a list item that is not a mapping at the item', () => {
    const text = 'apiVersion: v1\nkind: List\nitems:\n  - 42\n  - apiVersion: v1\n    kind: Namespace\n    metadata: {name: x}\n';
    const { documents, diagnostics } = parseManifests(text, 'l.yaml');
    expect(summary(documents)).toEqual(['Namespace x']);
    expect(diagnostics.map(formatDiagnostic)).toEqual(['l.yaml:4:5: error: List item 0 must be a mapping with apiVersion and kind']);
  });

  it('follows anchors and merge keys for values and positions', () => {
    const text = [
      'apiVersion: v1',
      'kind: Pod',
      'metadata:',
      '  name: p',
      '  labels: &common',
      '    app: web',
      'spec:',
      '  containers: []',
      '  nodeSelector:',
      '    <<: *common',
      '    zone: a',
    ].join('\n');
    const [pod] = parseManifests(text, 'a.yaml').documents;
    expect(pod.value).toMatchObject({ spec: { nodeSelector: { app: 'web', zone: 'a' } } });
    expect(pod.position(['spec', 'nodeSelector', 'zone'])).toEqual(at('a.yaml', 11, 5));
    expect(pod.position(['spec', 'nodeSelector', 'app'])).toEqual(at('a.yaml', 6, 5));
  });
});

describe('loadManifests: inputs', () => {
  it('walks a directory recursively in sorted order, reading only .yaml/.yml/.json and skipping dot entries', () => {
    const { documents, diagnostics } = loadManifests([`${F}tree`]);
    expect(diagnostics).toEqual([]);
    expect(documents.map((d) => [d.name, d.pos.file])).toEqual([
      ['tree-a', join(`${F}tree`, 'a.yaml')],
      ['tree-b', join(`${F}tree`, 'sub', 'b.yml')],
      ['tree-c', join(`${F}tree`, 'sub', 'c.json')],
    ]);
  });

  it('reads a file named explicitly whatever its extension', () => {
    const { documents } = loadManifests([`${F}tree/README.txt`]);
    expect(summary(documents)).toEqual(['Namespace not-a-manifest-extension']);
  });

  it('reads a file once even when two inputs name it', () => {
    const { documents } = loadManifests([`${F}tree/a.yaml`, `${F}tree`]);
    expect(documents.map((d) => d.name)).toEqual(['tree-a', 'tree-b', 'tree-c']);
  });

  it('reads `-` from stdin, once', () => {
    const readStdin = vi.fn(() => 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: piped\n---\n{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "json"}}\n');
    const { documents, diagnostics } = loadManifests(['-', '-'], { readStdin });
    expect(diagnostics).toEqual([]);
    expect(readStdin).toHaveBeenCalledTimes(1);
    expect(documents.map((d) => [d.name, d.pos])).toEqual([
      ['piped', at(STDIN_NAME, 1, 1)],
      ['json', at(STDIN_NAME, 6, 1)],
    ]);
  });

  it('skips the comment-only documents helm template emits, and ignores a byte-order mark', () => {
    const helm = '\uFEFF---\n# Source: shop/templates/empty.yaml\n---\n# Source: shop/templates/ns.yaml\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: helm\n';
    const { documents, diagnostics } = loadManifests(['-'], { readStdin: () => helm });
    expect(diagnostics).toEqual([]);
    expect(documents.map((d) => [d.name, d.pos])).toEqual([['helm', at(STDIN_NAME, 5, 1)]]);
    expect(parseManifests('\uFEFFapiVersion: v1\r\nkind: Namespace\r\n', 'crlf.yaml').documents[0].pos).toEqual(at('crlf.yaml', 1, 1));
  });

  it('names a missing path in an error and goes on with the others', () => {
    const { documents, diagnostics } = loadManifests([`${F}missing.yaml`, `${F}tree/a.yaml`]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([`error: no such file or directory: ${F}missing.yaml`]);
    expect(summary(documents)).toEqual(['Namespace tree-a']);
  });

  it('reports a stdin reader that fails instead of throwing', () => {
    const { diagnostics } = loadManifests(['-'], {
      readStdin: () => {
        throw new Error('EAGAIN');
      },
    });
    expect(diagnostics.map(formatDiagnostic)).toEqual(['error: cannot read standard input: EAGAIN']);
  });

  it('does not loop on a symlink cycle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'palisade-load-'));
    try {
      mkdirSync(join(dir, 'a'));
      writeFileSync(join(dir, 'a', 'ns.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: loop}\n');
      symlinkSync(dir, join(dir, 'a', 'back'));
      const { documents, diagnostics } = loadManifests([dir]);
      expect(diagnostics).toEqual([]);
      expect(documents.map((d) => d.name)).toEqual(['loop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loadManifests: bad input', () => {
  it('reports malformed YAML with file:line:column and warns of duplicate keys (go-yaml v2 decode.go: the last wins), keeping the good documents', () => {
    const { documents, diagnostics } = loadManifests([`${F}malformed.yaml`]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `${F}malformed.yaml:11:3: warning: duplicate key "name": the last value is used, as kubectl reads it`,
      `${F}malformed.yaml:16:1: error: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }`,
    ]);
    expect(summary(documents)).toEqual(['Pod ok-before', 'Pod again', 'Pod ok-after']);
  });

  it('reports documents that are not Kubernetes objects', () => {
    const { documents, diagnostics } = loadManifests([`${F}not-objects.yaml`]);
    expect(documents).toEqual([]);
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      `${F}not-objects.yaml:1:1: error: a manifest document must be a mapping with apiVersion and kind, found a list`,
      `${F}not-objects.yaml:4:1: error: a manifest document must be a mapping with apiVersion and kind, found a scalar ("plain scalar")`,
      `${F}not-objects.yaml:6:1: error: missing apiVersion: not a Kubernetes object`,
      `${F}not-objects.yaml:10:1: error: missing kind: not a Kubernetes object`,
    ]);
  });

  it('reads a JSON stream as encoding/json does (apimachinery GuessJSONStream: the last of duplicate keys wins) and says JSON for malformed JSON', () => {
    expect(parseManifests('{"kind": "Pod",\n "kind": "Pod"}', 'x.json').diagnostics.map(formatDiagnostic)).toEqual([
      'x.json:1:1: error: missing apiVersion: not a Kubernetes object',
    ]);
    const bad = parseManifests('{"kind": [1, }', 'y.json').diagnostics;
    expect(bad.length).toBeGreaterThan(0);
    expect(bad[0].message).toMatch(/^invalid JSON: /);
    expect(bad[0].pos?.line).toBe(1);
  });

  it('reports non-string apiVersion and kind', () => {
    const { diagnostics } = parseManifests('apiVersion: 1\nkind: [Pod]\n', 'n.yaml');
    expect(diagnostics.map(formatDiagnostic)).toEqual([
      'n.yaml:1:1: error: apiVersion must be a string, kind must be a string: not a Kubernetes object',
    ]);
  });

  it('refuses an alias bomb with a diagnostic', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    lines.push('apiVersion: v1', 'kind: ConfigMap');
    const { documents, diagnostics } = parseManifests(lines.join('\n'), 'bomb.yaml');
    expect(documents).toEqual([]);
    expect(diagnostics).toHaveLength(1);
    expect(diagnostics[0].message).toMatch(/^document contains excessive aliasing/);
  });
});

describe('describeObject', () => {
  it('names namespaced and cluster-scoped objects', () => {
    const { documents } = loadManifests([`${F}shop.yaml`, `${F}implicit.yaml`]);
    const byName = (name: string) => documents.find((d) => d.name === name);
    const shop = byName('shop');
    const web = byName('web-ingress');
    const bare = byName('no-namespace');
    if (!shop || !web || !bare) throw new Error('fixture changed');
    expect(describeObject(shop)).toBe('Namespace shop');
    expect(describeObject(web)).toBe('NetworkPolicy shop/web-ingress');
    expect(describeObject(bare)).toBe('Pod default/no-namespace');
    expect(describeObject(bare, 'team-a')).toBe('Pod team-a/no-namespace');
  });
});
