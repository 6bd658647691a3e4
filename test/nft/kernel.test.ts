/**
 * rulesetFromKernel reads what nft 1.0.6 printed for tables the compiler wrote (test/fixtures/nft, machine output of
 * scripts/nft-fixtures.ts), and the result decides every cell of every local pod as the compiler's own model does.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileNode, type CompileOptions, type NodeInput } from '../../src/nft/compile.js';
import { RulesetError, rulesetFromState, type Ruleset } from '../../src/nft/interpret.js';
import { rulesetFromKernel } from '../../src/nft/kernel.js';
import { proveNode } from '../../src/verify/prove.js';
import { proofPods, rulesetExpectation } from './support.js';

interface Fixture {
  readonly input: NodeInput;
  readonly options: CompileOptions;
  readonly nft: { nftables: Record<string, unknown>[] };
}

const FIXTURES = ['tiers-standard', 'tiers-strict-logs', 'networkpolicy-logs'];
const load = (name: string): Fixture => JSON.parse(readFileSync(new URL(`../fixtures/nft/${name}.json`, import.meta.url), 'utf8')) as Fixture;

function prove(f: Fixture, kernel: Ruleset) {
  const reference = rulesetFromState(compileNode(f.input, f.options));
  return proveNode(kernel, proofPods(f.input.pods), f.input.nodeAddresses, rulesetExpectation(reference, f.input.pods, f.input.nodeAddresses));
}

/** A deep copy of the fixture's nft output, changed by `edit`. */
function edited(f: Fixture, edit: (nftables: Record<string, unknown>[]) => void): unknown {
  const copy = structuredClone(f.nft);
  edit(copy.nftables);
  return copy;
}

describe('rulesetFromKernel: nft 1.0.6 JSON of compiled tables', () => {
  for (const name of FIXTURES) {
    it(`${name}: the kernel's table equals the compiler's model on every cell`, () => {
      const f = load(name);
      const kernel = rulesetFromKernel(f.nft);
      const reference = rulesetFromState(compileNode(f.input, f.options));
      expect([...kernel.chains.keys()].sort()).toEqual([...reference.chains.keys()].sort());
      expect([...kernel.sets.keys()].sort()).toEqual([...reference.sets.keys()].sort());
      const r = prove(f, kernel);
      expect(r.proved, r.proved ? '' : r.counterexample.text).toBe(true);
      expect(r.cells).toBeGreaterThan(300);
    });
  }

  it('the base chains keep their hooks and policies', () => {
    const kernel = rulesetFromKernel(load('tiers-standard').nft);
    expect(kernel.chains.get('forward_filter')?.hook).toEqual({ hook: 'forward', policy: 'accept' });
    expect(kernel.chains.get('input_filter')?.hook).toEqual({ hook: 'input', policy: 'accept' });
    expect(kernel.chains.get('ingress_check')?.hook).toBeUndefined();
  });

  it('the log prefixes of a logging table are read', () => {
    const kernel = rulesetFromKernel(load('tiers-strict-logs').nft);
    expect(kernel.chains.get('deny_egress')?.rules[0]).toMatchObject({ log: 'pl D e strict', verdict: { kind: 'drop' } });
  });

  it('a kernel table that lost a dispatch entry to a stage chain is caught, with a counterexample packet', () => {
    const f = load('networkpolicy-logs');
    let lost = '';
    const broken = edited(f, (objs) => {
      const map = objs.map((o) => o.map as { name: string; elem: [string, { goto?: { target: string } }][] } | undefined).find((m) => m?.name === 'ingress_dispatch')!;
      // An entry to `accept` means what a miss means; one to a NetworkPolicy chain (which ends in a drop) does not.
      const i = map.elem.findIndex((e) => e[1].goto?.target.startsWith('in_'));
      lost = map.elem[i][0];
      map.elem.splice(i, 1);
    });
    const r = prove(f, rulesetFromKernel(broken));
    expect(r.proved).toBe(false);
    if (!r.proved) expect(r.counterexample.packet.oif).toBe(lost);
  });

  it('a kernel set element narrowed is caught', () => {
    const f = load('networkpolicy-logs');
    const broken = edited(f, (objs) => {
      const set = objs.map((o) => o.set as { name: string; elem?: unknown[] } | undefined).find((s) => s?.name.startsWith('pe_') && (s.elem?.length ?? 0) > 0)!;
      set.elem = set.elem!.slice(1);
    });
    expect(prove(f, rulesetFromKernel(broken)).proved).toBe(false);
  });

  it('a statement it does not know is an error naming the chain and the rule, never a guess', () => {
    const f = load('tiers-standard');
    const broken = edited(f, (objs) => {
      const rule = objs.map((o) => o.rule as { chain: string; expr: unknown[] } | undefined).find((r) => r?.chain === 'forward_filter')!;
      rule.expr.unshift({ limit: { rate: 10, per: 'second' } });
    });
    expect(() => rulesetFromKernel(broken)).toThrow(RulesetError);
    expect(() => rulesetFromKernel(broken)).toThrow(/^chain forward_filter rule 0 \(handle \d+\)\.expr\[0\]: statement limit not understood/);
  });

  it('a negated match is not read as a match', () => {
    const f = load('tiers-standard');
    const broken = edited(f, (objs) => {
      const rule = objs.map((o) => o.rule as { chain: string; expr: { match?: { op: string } }[] } | undefined).find((r) => r?.chain === 'ingress_check')!;
      rule.expr[0].match!.op = '!=';
    });
    expect(() => rulesetFromKernel(broken)).toThrow(/chain ingress_check rule 0 .*operator "!=" not understood/);
  });

  it('a set of a type it does not know is an error naming the set', () => {
    const f = load('tiers-standard');
    const broken = edited(f, (objs) => {
      (objs.find((o) => (o.set as { name?: string } | undefined)?.name === 'node4')!.set as { type: string }).type = 'ether_addr';
    });
    expect(() => rulesetFromKernel(broken)).toThrow(/^set node4: set type not understood: "ether_addr"/);
  });

  it('an address . protocol element that does not hold every protocol is an error, never read as the whole address', () => {
    const f = load('networkpolicy-logs');
    const broken = edited(f, (objs) => {
      const set = objs.map((o) => o.set as { type?: unknown; elem?: { concat: unknown[] }[] } | undefined).find((x) => Array.isArray(x?.type) && (x!.type as unknown[]).length === 2 && (x!.elem?.length ?? 0) > 0)!;
      set.elem![0].concat[1] = { range: [6, 6] };
    });
    expect(() => rulesetFromKernel(broken)).toThrow(/expected every protocol \(range 0-255\)/);
  });

  it('element forms nft may print besides the fixtures\' (libnftables-json): wrapped elements, protocol numbers', () => {
    const t = { family: 'inet', table: 'palisade' };
    const rs = rulesetFromKernel({
      nftables: [
        { metainfo: { json_schema_version: 1 } },
        { table: { family: 'inet', name: 'palisade' } },
        { set: { ...t, name: 's', type: ['ipv4_addr', 'inet_proto', 'inet_service'], flags: ['interval'], elem: [{ elem: { val: { concat: [{ range: ['10.0.0.1', '10.0.0.3'] }, 6, { range: [80, 81] }] }, comment: 'x' } }] } },
        { set: { ...t, name: 'a', type: 'ipv6_addr', flags: ['interval'], elem: [{ prefix: { addr: 'fd00::', len: 64 } }, 'fd01::1'] } },
      ],
    });
    expect(rs.sets.get('s')).toEqual({ kind: 'addrPort', family: 4, cells: [{ addr: { first: 0x0a000001n, last: 0x0a000003n }, proto: 'tcp', from: 80, to: 81 }] });
    const a = rs.sets.get('a');
    expect(a?.kind === 'addr' ? a.intervals.length : 0).toBe(2);
    expect(() => rulesetFromKernel({ nftables: [{ table: { family: 'inet', name: 'palisade' } }, { set: { ...t, name: 's', type: ['ipv4_addr', 'inet_proto', 'inet_service'], elem: [{ concat: ['10.0.0.1', 1, 80] }] } }] })).toThrow(
      /^set s\.elem\[0\]\.concat\[1\]: protocol not understood \(tcp, udp or sctp\): 1/,
    );
    expect(() => rulesetFromKernel({ nftables: [{ table: { family: 'inet', name: 'palisade' } }, { set: { ...t, name: 'a', type: 'ipv4_addr', elem: ['fd00::1'] } }] })).toThrow(/^set a\.elem\[0\]: not an IPv4 address: fd00::1/);
  });

  it('JSON of another shape is refused at the boundary', () => {
    expect(() => rulesetFromKernel({})).toThrow(/expected an object with an "nftables" list/);
    expect(() => rulesetFromKernel({ nftables: [{ metainfo: { json_schema_version: 1 } }] })).toThrow(/no table inet palisade/);
    expect(() => rulesetFromKernel({ nftables: [{ table: { family: 'ip', name: 'filter' } }] })).toThrow(/belongs to "ip" "filter", not inet palisade/);
    expect(() => rulesetFromKernel({ nftables: [{ table: { family: 'inet', name: 'palisade' } }, { rule: { family: 'inet', table: 'palisade', chain: 'x', expr: [] } }] })).toThrow(/in chain x, which is not declared/);
  });
});
