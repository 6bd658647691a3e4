import { describe, expect, it } from 'vitest';
import { decodeYaml, isJsonStream, resolvePlain, splitYamlStream } from './decode.js';
import { parseManifests } from './load.js';
import { formatDiagnostic } from './diagnostics.js';

const GO_YAML_RESOLVE = 'go-yaml v2 resolve.go';

describe('plain scalars are resolved as go-yaml v2 resolves them', () => {
  const cases: [string, unknown][] = [
    ['yes', true],
    ['Yes', true],
    ['on', true],
    ['ON', true],
    ['y', true],
    ['no', false],
    ['off', false],
    ['n', false],
    ['true', true],
    ['tRUE', 'tRUE'],
    ['~', null],
    ['', null],
    ['Null', null],
    ['010', 8],
    ['-010', -8],
    ['0x1F', 31],
    ['0o17', 15],
    ['0b101', 5],
    ['1_000', 1000],
    ['08', 8],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['1e3', 1000],
    ['1:20', '1:20'],
    ['2001-12-14', '2001-12-14T00:00:00Z'],
    ['2001-12-14t21:59:43.10Z', '2001-12-14T21:59:43.1Z'],
    ['2001-12-14 21:59:43', '2001-12-14T21:59:43Z'],
    ['2001-13-14', '2001-13-14'],
    ['v1', 'v1'],
    ['+', '+'],
    ['-', '-'],
  ];
  for (const [text, want] of cases) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(want)} (${GO_YAML_RESOLVE})`, () => {
      expect(resolvePlain(text, true)).toEqual(want);
    });
  }
});

describe('documents decode as kubectl 1.30 decodes them (apimachinery util/yaml + sigs.k8s.io/yaml + go-yaml v2)', () => {
  const value = (text: string) => {
    const d = decodeYaml(text);
    expect(d.problems.filter((p) => p.severity === 'error')).toEqual([]);
    return d.value;
  };
  const errors = (text: string) => decodeYaml(text).problems.filter((p) => p.severity === 'error').map((p) => p.message);

  it('a label value yes is the boolean true (go-yaml v2 resolve.go), so the server sees a bool', () => {
    expect(value('metadata:\n  labels:\n    enabled: yes\n')).toEqual({ metadata: { labels: { enabled: true } } });
  });
  it('quoted and block scalars stay strings (go-yaml v2 decode.go scalar: no implicit tag)', () => {
    expect(value('a: "yes"\nb: \'010\'\nc: |\n  on\n')).toEqual({ a: 'yes', b: '010', c: 'on\n' });
  });
  it('duplicate keys keep the last value, with a warning (go-yaml v2 decode.go mapping; sigs.k8s.io/yaml Unmarshal)', () => {
    const d = decodeYaml('a: 1\na: 2\n');
    expect(d.value).toEqual({ a: 2 });
    expect(d.problems.map((p) => p.severity)).toEqual(['warning']);
  });
  it('a tab inside a flow sequence is accepted (libyaml scanner: tabs are blanks in flow context)', () => {
    expect(value('ports: [80,\t443]\n')).toEqual({ ports: [80, 443] });
  });
  it('under-indented continuation lines of quoted scalars are accepted (libyaml scan_flow_scalar has no indentation check)', () => {
    expect(value('metadata:\n  annotations:\n    a: "foo\n  bar"\n    b: \'x\n y\'\n')).toEqual({ metadata: { annotations: { a: 'foo bar', b: 'x y' } } });
  });
  it('booleans and numbers as keys become their text (sigs.k8s.io/yaml convertToJSONableObject)', () => {
    expect(value('yes: 1\n010: 2\n1.5: 3\n')).toEqual({ true: 1, '8': 2, '1.5': 3 });
  });
  it('a null key is refused (sigs.k8s.io/yaml: unsupported map key of type nil)', () => {
    expect(errors('~: 1\n')[0]).toMatch(/mapping key is null/);
  });
  it('a collection key is refused (go-yaml v2 decode.go: invalid map key)', () => {
    expect(errors('? [a]\n: 1\n')[0]).toMatch(/mapping key is a list or a mapping/);
  });
  it('an unrendered Helm template is named as such, not as a collection key', () => {
    expect(errors('metadata:\n  labels:\n    {{ .Values.key }}: b\n')[0]).toMatch(/unrendered Helm\/Go template/);
    expect(errors('metadata:\n  name: {{ .Values.name }}\n')[0]).toMatch(/unrendered Helm\/Go template/);
  });
  it('merge keys apply in order, earlier maps of a merged list taking precedence (go-yaml v2 decode.go merge)', () => {
    expect(value('base: &b {x: 1, w: 1}\nother: &o {x: 2, z: 2}\nm:\n  <<: [*b, *o]\n  w: 3\n')).toEqual({
      base: { x: 1, w: 1 },
      other: { x: 2, z: 2 },
      m: { x: 1, w: 3, z: 2 },
    });
    // The YAML 1.1 trap: a key `y` is the boolean true, so its JSON key is "true".
    expect(value('y: 1\n')).toEqual({ true: 1 });
  });
  it('an anchor used 500 times is fine (go-yaml v2 decode.go allowedAliasRatio: 99% below 400k decodes)', () => {
    const text = `a: &a x\nlist:\n${Array.from({ length: 500 }, () => '- *a').join('\n')}\n`;
    expect((value(text) as { list: unknown[] }).list).toHaveLength(500);
  });
  it('a billion-laughs alias bomb is refused (go-yaml v2 decode.go: document contains excessive aliasing)', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    expect(errors(lines.join('\n'))[0]).toMatch(/excessive aliasing/);
  });
  it('an explicit !!int tag on a quoted scalar resolves it, a wrong one is refused (go-yaml v2 resolve.go)', () => {
    expect(value('a: !!int "12"\nb: !!str 12\n')).toEqual({ a: 12, b: '12' });
    expect(errors('a: !!int abc\n')[0]).toMatch(/cannot decode !!str `abc` as a !!int/);
  });
  it('nesting deeper than the parser can read is a clear error, not a stack overflow', () => {
    const text = `a: ${'['.repeat(5000)}${']'.repeat(5000)}\n`;
    const msgs = errors(text);
    expect(msgs.length).toBeGreaterThan(0);
    expect(msgs[0]).toMatch(/^nesting too deep/);
  });
});

describe('streams split as apimachinery YAMLReader and GuessJSONStream do', () => {
  it('--- lines with a comment separate documents; other text after --- is an error (util/yaml decoder.go Read)', () => {
    const ok = splitYamlStream('a: 1\n--- # next\nb: 2\n');
    expect(ok.chunks.map((c) => c.text)).toEqual(['a: 1\n', 'b: 2\n']);
    expect(ok.problems).toEqual([]);
    expect(splitYamlStream('a: 1\n--- b: 2\n').problems[0]?.message).toMatch(/invalid YAML document separator/);
  });
  it('a stream starting with { is JSON (util/yaml decoder.go GuessJSONStream)', () => {
    expect(isJsonStream('  \n{"a": 1}')).toBe(true);
    expect(isJsonStream('a: {b: 1}')).toBe(false);
  });
  it('JSON with a trailing comma or an unquoted key is refused (encoding/json), YAML flow style is not JSON', () => {
    const trailing = parseManifests('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},}', 'x.json').diagnostics;
    expect(trailing.map((d) => d.severity)).toEqual(['error']);
    expect(trailing[0]?.message).toMatch(/^invalid JSON: /);
    const unquoted = parseManifests('{apiVersion: "v1", "kind": "Pod"}', 'x.json').diagnostics;
    expect(unquoted[0]?.message).toMatch(/^invalid JSON: /);
  });
  it('JSON nested deeper than 10000 levels is refused (encoding/json maxNestingDepth), YAML deeper than the reader can go is a clear error', () => {
    let deep = '1';
    for (let i = 0; i < 10001; i++) deep = `{"a":${deep}}`;
    const json = parseManifests(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": ${deep}}`, 'd.json');
    expect(json.documents).toEqual([]);
    expect(json.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^exceeded max depth of 10000/)]);
    let block = '';
    for (let i = 0; i < 2000; i++) block += `${' '.repeat(i + 2)}k:\n`;
    const yaml = parseManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n${block}`, 'd.yaml');
    expect(yaml.documents).toEqual([]);
    expect(yaml.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^nesting too deep/)]);
  });
  it('several JSON objects one after another are read in order (json.Decoder stream)', () => {
    const { documents, diagnostics } = parseManifests('{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}\n{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}', 'x.json');
    expect(diagnostics).toEqual([]);
    expect(documents.map((d) => d.name)).toEqual(['a', 'b']);
    expect(formatDiagnostic({ severity: 'error', message: 'm', pos: documents[1]!.position(['metadata', 'name']) })).toBe('x.json:2:56: error: m');
  });
});
