/**
 * An interpreter of the agent's nftables table: dispatch maps, stage chains, interval sets and concatenated
 * `address . protocol . port` sets, evaluated for one packet the way the kernel evaluates them. It reads a
 * {@link Ruleset}, which comes either from the compiler's {@link DesiredState} ({@link rulesetFromState}) or from what
 * the kernel holds (`nft -j list table inet palisade`, see kernel.ts), so the compiler's output and the kernel's table
 * are checked by one piece of code. Only the forms the compiler writes are understood; anything else is an error,
 * never a guess.
 */
import type { Family } from '../api/ip.js';
import { parseIP } from '../api/ip.js';
import type { DesiredState } from './compile.js';

export type L4 = 'tcp' | 'udp' | 'sctp';

/** A verdict statement. */
export type NftVerdict =
  | { readonly kind: 'accept' }
  | { readonly kind: 'drop' }
  | { readonly kind: 'goto'; readonly chain: string }
  | { readonly kind: 'jump'; readonly chain: string }
  /** Back to the chain that jumped here (from a base chain: its policy). */
  | { readonly kind: 'return' };

/** One match of a rule. */
export type NftMatch =
  | { readonly kind: 'ct'; readonly states: readonly string[] }
  /** `meta l4proto { tcp, udp, sctp }`: the transport protocol is one of these. */
  | { readonly kind: 'l4proto'; readonly protos: readonly L4[] }
  /** Interface name equality; a trailing `*` matches any suffix. */
  | { readonly kind: 'ifname'; readonly field: 'iifname' | 'oifname'; readonly pattern: string }
  /** `ip saddr @set`, or with `anyProto` `ip saddr . meta l4proto @set` (a set of address . every protocol). */
  | { readonly kind: 'addr'; readonly family: Family; readonly field: 'saddr' | 'daddr'; readonly set: string; readonly anyProto?: true }
  | { readonly kind: 'addrPort'; readonly family: Family; readonly field: 'saddr' | 'daddr'; readonly set: string };

export interface NftRule {
  readonly matches: readonly NftMatch[];
  /** A verdict map lookup by interface name: a hit applies the element's verdict, a miss goes on with the next rule. */
  readonly vmap?: { readonly field: 'iifname' | 'oifname'; readonly map: string };
  readonly verdict?: NftVerdict;
  /** The NFLOG prefix, when the rule logs. */
  readonly log?: string;
}

export interface AddressInterval {
  readonly first: bigint;
  readonly last: bigint;
}

export type NftSetContent =
  /** Addresses; with `anyProto`, keyed `address . inet_proto` where every element holds every protocol (0-255). */
  | { readonly kind: 'addr'; readonly family: Family; readonly intervals: readonly AddressInterval[]; readonly anyProto?: true }
  | {
      readonly kind: 'addrPort';
      readonly family: Family;
      readonly cells: readonly { readonly addr: AddressInterval; readonly proto: L4; readonly from: number; readonly to: number }[];
    }
  | { readonly kind: 'vmap'; readonly entries: ReadonlyMap<string, NftVerdict> };

export interface NftChainIR {
  readonly name: string;
  readonly rules: readonly NftRule[];
  /** For base chains: the hook and the policy. */
  readonly hook?: { readonly hook: 'forward' | 'input' | 'output' | 'prerouting' | 'postrouting'; readonly policy: 'accept' | 'drop' };
}

/** A table as the interpreter reads it. */
export interface Ruleset {
  readonly sets: ReadonlyMap<string, NftSetContent>;
  readonly chains: ReadonlyMap<string, NftChainIR>;
}

/** A packet as the table sees it. `ct` is `new` for the first packet of a connection. */
export interface NftPacket {
  readonly hook: 'forward' | 'input';
  readonly iif: string;
  /** Empty on the input hook. */
  readonly oif: string;
  readonly family: Family;
  readonly saddr: bigint;
  readonly daddr: bigint;
  readonly proto: L4;
  readonly dport: number;
  readonly ct: 'new' | 'established';
}

export interface NftOutcome {
  readonly verdict: 'accept' | 'drop';
  /** The chains walked, in order. */
  readonly chains: readonly string[];
  /** The NFLOG prefix of the deciding rule, when it logged. */
  readonly log?: string;
}

/** Raised for a table the interpreter does not understand. */
export class RulesetError extends Error {}

// ---------------------------------------------------------------- evaluation

function ifMatches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** Sorted, merged address intervals, for binary search. */
interface AddrIndex {
  readonly first: bigint[];
  readonly last: bigint[];
}

/** Per protocol: elementary address segments (sorted starts) and the port ranges allowed on each. */
type AddrPortIndex = Record<L4, { readonly starts: bigint[]; readonly ports: (readonly { from: number; to: number }[])[] }>;

const addrIndexes = new WeakMap<object, AddrIndex>();
const addrPortIndexes = new WeakMap<object, AddrPortIndex>();

function addrIndex(set: NftSetContent & { kind: 'addr' }): AddrIndex {
  let idx = addrIndexes.get(set);
  if (!idx) {
    const sorted = [...set.intervals].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const first: bigint[] = [];
    const last: bigint[] = [];
    for (const i of sorted) {
      const n = last.length;
      if (n > 0 && i.first <= last[n - 1] + 1n) {
        if (i.last > last[n - 1]) last[n - 1] = i.last;
      } else {
        first.push(i.first);
        last.push(i.last);
      }
    }
    idx = { first, last };
    addrIndexes.set(set, idx);
  }
  return idx;
}

/** The index of the last start ≤ v, or -1. */
function floorIndex(starts: readonly bigint[], v: bigint): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (starts[mid] <= v) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function inAddrSet(set: NftSetContent & { kind: 'addr' }, v: bigint): boolean {
  const idx = addrIndex(set);
  const i = floorIndex(idx.first, v);
  return i >= 0 && v <= idx.last[i];
}

function addrPortIndex(set: NftSetContent & { kind: 'addrPort' }): AddrPortIndex {
  let idx = addrPortIndexes.get(set);
  if (!idx) {
    const out = {} as Record<L4, { starts: bigint[]; ports: { from: number; to: number }[][] }>;
    for (const proto of ['tcp', 'udp', 'sctp'] as const) {
      const cells = set.cells.filter((c) => c.proto === proto);
      // A sweep over the address axis: between two boundaries the covering cells are exactly the active ones.
      const events = new Map<bigint, { add: number[]; remove: number[] }>();
      const at = (x: bigint) => {
        let e = events.get(x);
        if (!e) events.set(x, (e = { add: [], remove: [] }));
        return e;
      };
      cells.forEach((c, k) => {
        at(c.addr.first).add.push(k);
        at(c.addr.last + 1n).remove.push(k);
      });
      const points = [...events.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const active = new Set<number>();
      const starts: bigint[] = [];
      const ports: { from: number; to: number }[][] = [];
      for (const x of points) {
        const e = events.get(x)!;
        for (const k of e.remove) active.delete(k);
        for (const k of e.add) active.add(k);
        starts.push(x);
        ports.push([...active].map((k) => ({ from: cells[k].from, to: cells[k].to })));
      }
      out[proto] = { starts, ports };
    }
    idx = out;
    addrPortIndexes.set(set, idx);
  }
  return idx;
}

function inAddrPortSet(set: NftSetContent & { kind: 'addrPort' }, proto: L4, a: bigint, port: number): boolean {
  const { starts, ports } = addrPortIndex(set)[proto];
  const i = floorIndex(starts, a);
  return i >= 0 && ports[i].some((r) => port >= r.from && port <= r.to);
}

function matchHolds(rs: Ruleset, m: NftMatch, p: NftPacket): boolean {
  switch (m.kind) {
    case 'ct':
      return m.states.includes(p.ct);
    case 'l4proto':
      return m.protos.includes(p.proto);
    case 'ifname':
      return ifMatches(m.pattern, m.field === 'iifname' ? p.iif : p.oif);
    case 'addr': {
      if (p.family !== m.family) return false;
      const set = rs.sets.get(m.set);
      if (!set || set.kind !== 'addr') throw new RulesetError(`rule looks up @${m.set}, which is not an address set`);
      if (!set.anyProto !== !m.anyProto) throw new RulesetError(`rule looks up @${m.set} by ${m.anyProto ? 'address . protocol' : 'address'}, but the set is keyed by ${set.anyProto ? 'address . protocol' : 'address'}`);
      return inAddrSet(set, m.field === 'saddr' ? p.saddr : p.daddr);
    }
    case 'addrPort': {
      if (p.family !== m.family) return false;
      const set = rs.sets.get(m.set);
      if (!set || set.kind !== 'addrPort') throw new RulesetError(`rule looks up @${m.set}, which is not an address . protocol . port set`);
      return inAddrPortSet(set, p.proto, m.field === 'saddr' ? p.saddr : p.daddr, p.dport);
    }
  }
}

/**
 * Evaluates one packet from the base chain of its hook.
 * @example evaluate(rulesetFromState(state), { hook: 'forward', iif: 'veth1', oif: 'eth0', family: 4, ... }).verdict
 */
export function evaluate(rs: Ruleset, p: NftPacket): NftOutcome {
  const base = [...rs.chains.values()].find((c) => c.hook?.hook === p.hook);
  if (!base) return { verdict: 'accept', chains: [] };
  const walked: string[] = [];
  const run = (chain: NftChainIR, depth: number): { verdict?: 'accept' | 'drop'; log?: string } => {
    if (depth > 64) throw new RulesetError(`chain ${chain.name}: more than 64 jumps (a loop?)`);
    walked.push(chain.name);
    for (const rule of chain.rules) {
      if (!rule.matches.every((m) => matchHolds(rs, m, p))) continue;
      let verdict = rule.verdict;
      if (rule.vmap) {
        const map = rs.sets.get(rule.vmap.map);
        if (!map || map.kind !== 'vmap') throw new RulesetError(`rule looks up vmap @${rule.vmap.map}, which is not a verdict map`);
        const hit = map.entries.get(rule.vmap.field === 'iifname' ? p.iif : p.oif);
        if (!hit) continue;
        verdict = hit;
      }
      if (!verdict) continue;
      if (verdict.kind === 'accept' || verdict.kind === 'drop') return { verdict: verdict.kind, ...(rule.log ? { log: rule.log } : {}) };
      // The chain ends here: a jump's caller goes on with its next rule.
      if (verdict.kind === 'return') return {};
      const next = rs.chains.get(verdict.chain);
      if (!next) throw new RulesetError(`chain ${chain.name}: ${verdict.kind} to missing chain ${verdict.chain}`);
      const r = run(next, depth + 1);
      // goto never comes back; jump comes back when the called chain ends without a verdict.
      if (r.verdict || verdict.kind === 'goto') return r;
    }
    return {};
  };
  const r = run(base, 0);
  return { verdict: r.verdict ?? base.hook!.policy, chains: walked, ...(r.log ? { log: r.log } : {}) };
}

// ---------------------------------------------------------------- reading the compiler's text

const PROTOS: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp']);

function parseVerdict(tokens: readonly string[], at: string): NftVerdict {
  if (tokens.length === 1 && (tokens[0] === 'accept' || tokens[0] === 'drop')) return { kind: tokens[0] };
  if (tokens.length === 1 && tokens[0] === 'return') return { kind: 'return' };
  if (tokens.length === 2 && (tokens[0] === 'goto' || tokens[0] === 'jump')) return { kind: tokens[0], chain: tokens[1] };
  throw new RulesetError(`${at}: verdict not understood: ${tokens.join(' ')}`);
}

/** Splits a rule into tokens; a double-quoted string is one token (quotes removed). */
function tokenize(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1] !== undefined ? m[1] : m[2]);
  return out;
}

/** Parses one rule of the compiler's text form. */
export function parseRule(text: string, at = 'rule'): NftRule {
  let t = tokenize(text);
  let log: string | undefined;
  const matches: NftMatch[] = [];
  let vmap: NftRule['vmap'];
  while (t.length > 0) {
    const [a, b, c] = t;
    if (a === 'log' && b === 'prefix') {
      log = c;
      t = t.slice(3);
      if (t[0] === 'group') t = t.slice(2);
      continue;
    }
    if (a === 'counter') {
      t = t[1] === 'name' ? t.slice(3) : t.slice(1);
      continue;
    }
    if (a === 'meta' && b === 'l4proto') {
      // `meta l4proto tcp` or `meta l4proto { tcp, udp, sctp }`.
      let words: string[];
      if (c === '{') {
        const end = t.indexOf('}');
        if (end < 0) throw new RulesetError(`${at}: unclosed set in "${text}"`);
        words = t.slice(3, end).join(' ').split(/[\s,]+/).filter((w) => w !== '');
        t = t.slice(end + 1);
      } else {
        words = [c];
        t = t.slice(3);
      }
      if (words.length === 0 || words.some((w) => !PROTOS.has(w))) throw new RulesetError(`${at}: l4proto not understood in "${text}"`);
      matches.push({ kind: 'l4proto', protos: words as L4[] });
      continue;
    }
    if (a === 'ct' && b === 'state') {
      matches.push({ kind: 'ct', states: c.split(',') });
      t = t.slice(3);
      continue;
    }
    if ((a === 'iifname' || a === 'oifname') && b === 'vmap') {
      vmap = { field: a, map: c.replace(/^@/, '') };
      t = t.slice(3);
      continue;
    }
    if (a === 'iifname' || a === 'oifname') {
      matches.push({ kind: 'ifname', field: a, pattern: b });
      t = t.slice(2);
      continue;
    }
    if ((a === 'ip' || a === 'ip6') && (b === 'saddr' || b === 'daddr')) {
      const family: Family = a === 'ip' ? 4 : 6;
      if (c?.startsWith('@')) {
        matches.push({ kind: 'addr', family, field: b, set: c.slice(1) });
        t = t.slice(3);
        continue;
      }
      if (c === '.' && t[3] === 'meta' && t[4] === 'l4proto' && t[5]?.startsWith('@')) {
        matches.push({ kind: 'addr', family, field: b, set: t[5].slice(1), anyProto: true });
        t = t.slice(6);
        continue;
      }
      if (c === '.' && t[3] === 'meta' && t[4] === 'l4proto' && t[5] === '.' && t[6] === 'th' && t[7] === 'dport' && t[8]?.startsWith('@')) {
        matches.push({ kind: 'addrPort', family, field: b, set: t[8].slice(1) });
        t = t.slice(9);
        continue;
      }
    }
    break;
  }
  if (t.length === 0) return { matches, ...(vmap ? { vmap } : {}), ...(log ? { log } : {}) };
  return { matches, ...(vmap ? { vmap } : {}), verdict: parseVerdict(t, `${at}: "${text}"`), ...(log ? { log } : {}) };
}

function parseAddress(text: string, family: Family, at: string): bigint {
  const a = parseIP(text);
  if (!a || a.family !== family) throw new RulesetError(`${at}: not an IPv${family} address: ${text}`);
  return a.value;
}

/** `a`, `a-b` or `a/len`. */
export function parseInterval(text: string, family: Family, at: string): AddressInterval {
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const base = parseAddress(text.slice(0, slash), family, at);
    const len = Number(text.slice(slash + 1));
    const bits = family === 4 ? 32 : 128;
    if (!Number.isInteger(len) || len < 0 || len > bits) throw new RulesetError(`${at}: bad prefix length in ${text}`);
    const host = (1n << BigInt(bits - len)) - 1n;
    return { first: base & ~host, last: (base & ~host) | host };
  }
  // IPv6 addresses contain no '-', so the first '-' separates a range.
  const dash = text.indexOf('-');
  if (dash >= 0) return { first: parseAddress(text.slice(0, dash), family, at), last: parseAddress(text.slice(dash + 1), family, at) };
  const v = parseAddress(text, family, at);
  return { first: v, last: v };
}

function parsePortRange(text: string, at: string): { from: number; to: number } {
  const [a, b] = text.split('-');
  const from = Number(a);
  const to = b === undefined ? from : Number(b);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > 65535 || from > to) throw new RulesetError(`${at}: bad port range ${text}`);
  return { from, to };
}

function setContent(name: string, decl: string, elements: readonly { key: string; value?: string }[]): NftSetContent {
  const at = `set ${name}`;
  if (/type ifname : verdict/.test(decl)) {
    const entries = new Map<string, NftVerdict>();
    for (const e of elements) entries.set(e.key.replace(/^"|"$/g, ''), parseVerdict(tokenize(e.value ?? ''), `${at} element ${e.key}`));
    return { kind: 'vmap', entries };
  }
  const family: Family | undefined = /type ipv4_addr/.test(decl) ? 4 : /type ipv6_addr/.test(decl) ? 6 : undefined;
  if (family === undefined) throw new RulesetError(`${at}: set type not understood: ${decl}`);
  if (/inet_proto \. inet_service/.test(decl)) {
    return {
      kind: 'addrPort',
      family,
      cells: elements.map((e) => {
        const parts = e.key.split(' . ');
        if (parts.length !== 3 || !PROTOS.has(parts[1])) throw new RulesetError(`${at}: element not understood: ${e.key}`);
        return { addr: parseInterval(parts[0], family, at), proto: parts[1] as L4, ...parsePortRange(parts[2], at) };
      }),
    };
  }
  if (/inet_proto;/.test(decl)) {
    return {
      kind: 'addr',
      family,
      anyProto: true,
      intervals: elements.map((e) => {
        const parts = e.key.split(' . ');
        if (parts.length !== 2 || parts[1] !== '0-255') throw new RulesetError(`${at}: element not understood (expected address . 0-255): ${e.key}`);
        return parseInterval(parts[0], family, at);
      }),
    };
  }
  return { kind: 'addr', family, intervals: elements.map((e) => parseInterval(e.key, family, at)) };
}

/** The compiler's model of a table, read as the interpreter reads a kernel table. */
export function rulesetFromState(state: DesiredState): Ruleset {
  const sets = new Map<string, NftSetContent>();
  for (const s of state.sets.values()) sets.set(s.name, setContent(s.name, s.decl, s.elements));
  const chains = new Map<string, NftChainIR>();
  for (const c of state.chains.values()) {
    const m = c.hook ? /hook (\w+) .*policy (accept|drop)/.exec(c.hook) : null;
    if (c.hook && !m) throw new RulesetError(`chain ${c.name}: base chain declaration not understood: ${c.hook}`);
    const hook = m ? { hook: m[1] as NonNullable<NftChainIR['hook']>['hook'], policy: m[2] as 'accept' | 'drop' } : undefined;
    chains.set(c.name, { name: c.name, rules: c.rules.map((r, i) => parseRule(r, `chain ${c.name} rule ${i}`)), ...(hook ? { hook } : {}) });
  }
  return { sets, chains };
}

/**
 * Every address and port where some set or match of the table starts or stops applying: the table is constant on
 * each piece between two cuts, so checking one packet per piece checks them all.
 */
export function rulesetCuts(rs: Ruleset): { addresses: Record<Family, Set<bigint>>; ports: Set<number> } {
  const addresses: Record<Family, Set<bigint>> = { 4: new Set(), 6: new Set() };
  const ports = new Set<number>();
  for (const s of rs.sets.values()) {
    if (s.kind === 'addr') for (const i of s.intervals) cut(addresses[s.family], i);
    else if (s.kind === 'addrPort') {
      for (const c of s.cells) {
        cut(addresses[s.family], c.addr);
        ports.add(c.from);
        ports.add(c.to + 1);
      }
    }
  }
  return { addresses, ports };
}

function cut(set: Set<bigint>, i: AddressInterval): void {
  set.add(i.first);
  set.add(i.last + 1n);
}

/**
 * The address and port cuts of the sets a packet can meet starting in `chains`: their rules' sets, and the sets of
 * every chain they go to or jump to. Verdict maps are not followed (each pod's dispatch entry is a start of its own).
 */
export function reachableCuts(rs: Ruleset, chains: readonly string[]): { addresses: Record<Family, Set<bigint>>; ports: Set<number> } {
  const addresses: Record<Family, Set<bigint>> = { 4: new Set(), 6: new Set() };
  const ports = new Set<number>();
  const seenChains = new Set<string>();
  const seenSets = new Set<string>();
  const todo = [...chains];
  const visitSet = (name: string) => {
    if (seenSets.has(name)) return;
    seenSets.add(name);
    const s = rs.sets.get(name);
    if (!s) return;
    if (s.kind === 'addr') for (const i of s.intervals) cut(addresses[s.family], i);
    else if (s.kind === 'addrPort') {
      for (const c of s.cells) {
        cut(addresses[s.family], c.addr);
        ports.add(c.from);
        ports.add(c.to + 1);
      }
    }
  };
  while (todo.length > 0) {
    const name = todo.pop()!;
    if (seenChains.has(name)) continue;
    seenChains.add(name);
    for (const rule of rs.chains.get(name)?.rules ?? []) {
      for (const m of rule.matches) if (m.kind === 'addr' || m.kind === 'addrPort') visitSet(m.set);
      if (rule.verdict && (rule.verdict.kind === 'goto' || rule.verdict.kind === 'jump')) todo.push(rule.verdict.chain);
    }
  }
  return { addresses, ports };
}
