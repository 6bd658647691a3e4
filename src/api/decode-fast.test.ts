import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFast } from './decode-fast.js';
import { decodeYaml, splitYamlStream } from './decode.js';

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...yamlFiles(path));
    else if (/\.ya?ml$/.test(name)) out.push(path);
  }
  return out;
}

/** The fast reader either answers exactly what the full reader answers, or leaves the document to it. */
function agrees(text: string): boolean | undefined {
  const fast = decodeFast(text);
  if (!fast) return undefined;
  const full = decodeYaml(text, { fast: false });
  expect(full.problems.filter((p) => p.severity === 'error'), text).toEqual([]);
  expect(fast.value, text).toEqual(full.value);
  return true;
}

describe('the fast block-YAML reader agrees with the full go-yaml-rules reader', () => {
  it('on every document of the examples, conformance cases and test fixtures, and reads most of them itself', () => {
    let fast = 0;
    let total = 0;
    for (const file of [...yamlFiles('examples'), ...yamlFiles('conformance'), ...yamlFiles('test/fixtures')]) {
      for (const chunk of splitYamlStream(readFileSync(file, 'utf8')).chunks) {
        const full = decodeYaml(chunk.text, { fast: false });
        if (full.problems.some((p) => p.severity === 'error')) {
          // Broken input: the fast reader must not accept it.
          expect(decodeFast(chunk.text), `${file}: ${chunk.text}`).toBeUndefined();
          continue;
        }
        total++;
        if (agrees(chunk.text)) fast++;
      }
    }
    expect(total).toBeGreaterThan(100);
    expect(fast / total).toBeGreaterThan(0.8);
  });

  const scalar = fc.oneof(
    fc.constantFrom('yes', 'no', 'on', 'off', 'y', '~', 'null', '010', '0x1F', '1_000', '1.5', '.5', '08', '2001-12-14', 'v1', '-1', '+1', '1:20', 'a b', 'a:b', 'http://x', "it's", 'x #y'),
    fc.constantFrom('"yes"', "'010'", '"a\\"b"', "'it''s'", '"\\u00e9"', '"tab\\tx"', '""', "''"),
    fc.stringMatching(/^[a-z][a-z0-9.\-/]{0,8}$/),
  );
  const key = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9.\-/]{0,6}$/), fc.constantFrom('yes', '010', '"q k"', "'s'", 'on', '1'));
  const flow: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
    f: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar.filter((s) => !/[,:#{}[\]]/.test(s)),
      fc.array(tie('f'), { maxLength: 3 }).map((xs) => `[${xs.join(', ')}]`),
      fc.array(fc.tuple(key, tie('f')), { maxLength: 3 }).map((kv) => `{${kv.map(([k, v]) => `${k}: ${v}`).join(', ')}}`),
    ),
  })).f;
  const block = (depth: number): fc.Arbitrary<string[]> => {
    const leaf = fc.oneof(scalar, flow).map((s) => [s]);
    if (depth === 0) return leaf;
    const map = fc.array(fc.tuple(key, block(depth - 1), fc.boolean()), { minLength: 1, maxLength: 3 }).map((entries) =>
      entries.flatMap(([k, v, comment]) => (v.length === 1 && !/^[-a-z"'{[]*:/.test(v[0]!) ? [`${k}: ${v[0]}${comment ? ' # c' : ''}`] : [`${k}:`, ...v.map((l) => `  ${l}`)])),
    );
    const seq = fc.array(block(depth - 1), { minLength: 1, maxLength: 3 }).map((items) =>
      items.flatMap((v) => [`- ${v[0]}`, ...v.slice(1).map((l) => `  ${l}`)]),
    );
    return fc.oneof(leaf, map, seq);
  };

  it('on random block documents (fast-check): whatever it reads equals the full reader', () => {
    fc.assert(
      fc.property(block(3), (lines) => {
        const text = `${lines.join('\n')}\n`;
        const full = decodeYaml(text, { fast: false });
        const fast = decodeFast(text);
        if (full.problems.some((p) => p.severity === 'error')) return fast === undefined;
        if (fast) expect(fast.value, text).toEqual(full.value);
        return true;
      }),
      { numRuns: 400 },
    );
  });
});
