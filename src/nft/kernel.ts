/**
 * Reads the kernel's table — what `nft -j list table inet palisade` prints (libnftables JSON, schema version 1, as
 * nft 1.0.x writes it) — into the {@link Ruleset} the interpreter evaluates, so the compiler's model
 * ({@link rulesetFromState}) and the kernel's table are checked by one piece of code.
 *
 * Only the forms the compiler writes are understood: address sets (single addresses, prefixes, ranges), concatenated
 * `ipv4_addr|ipv6_addr . inet_proto` (every protocol: 0-255) and `… . inet_proto . inet_service` interval sets,
 * `ifname : verdict` maps, base chains with hook and policy, and rules made of `ct state`, `iifname`/`oifname ==`,
 * `ip|ip6 saddr|daddr @set`, `ip|ip6 saddr|daddr . meta l4proto @set`, `… . meta l4proto . th dport @set`, `vmap`, `counter`, `log` and a verdict. Anything else is a
 * {@link RulesetError} naming the object, chain and rule: a table we cannot read is never guessed at.
 */
import { parseIP, type Family } from '../api/ip.js';
import { RulesetError, type AddressInterval, type L4, type NftChainIR, type NftMatch, type NftRule, type NftSetContent, type NftVerdict, type Ruleset } from './interpret.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { readonly [k: string]: Json };

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The single key of `{ key: value }` objects (how libnftables names every statement and expression). */
function only(v: unknown, at: string): [string, Json] {
  if (!isObj(v)) throw new RulesetError(`${at}: expected an object, got ${show(v)}`);
  const keys = Object.keys(v);
  if (keys.length !== 1) throw new RulesetError(`${at}: expected one key, got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
  return [keys[0], v[keys[0]]];
}

function show(v: unknown): string {
  const t = JSON.stringify(v);
  return t === undefined ? String(v) : t.length > 120 ? `${t.slice(0, 117)}...` : t;
}

function str(o: Obj, key: string, at: string): string {
  const v = o[key];
  if (typeof v !== 'string') throw new RulesetError(`${at}.${key}: expected a string, got ${show(v)}`);
  return v;
}

const PROTO_BY_NUMBER: Readonly<Record<number, L4>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const L4S: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp']);
const HOOKS: ReadonlySet<string> = new Set(['forward', 'input', 'output', 'prerouting', 'postrouting']);

// ---------------------------------------------------------------- sets and maps

function address(v: Json, family: Family, at: string): bigint {
  if (typeof v !== 'string') throw new RulesetError(`${at}: expected an IPv${family} address, got ${show(v)}`);
  const a = parseIP(v);
  if (!a || a.family !== family) throw new RulesetError(`${at}: not an IPv${family} address: ${v}`);
  return a.value;
}

/** An address element: `"a"`, `{ prefix: { addr, len } }` or `{ range: [a, b] }` (optionally wrapped in `{ elem: { val } }`). */
function addressInterval(v: Json, family: Family, at: string): AddressInterval {
  v = unwrapElem(v, at);
  if (typeof v === 'string') {
    const a = address(v, family, at);
    return { first: a, last: a };
  }
  const [k, body] = only(v, at);
  if (k === 'prefix' && isObj(body)) {
    const base = address(body.addr ?? null, family, `${at}.prefix.addr`);
    const len = body.len;
    const bits = family === 4 ? 32 : 128;
    if (typeof len !== 'number' || !Number.isInteger(len) || len < 0 || len > bits) throw new RulesetError(`${at}.prefix.len: bad prefix length ${show(len)}`);
    const host = (1n << BigInt(bits - len)) - 1n;
    return { first: base & ~host, last: (base & ~host) | host };
  }
  if (k === 'range' && Array.isArray(body) && body.length === 2) {
    const first = address(body[0], family, `${at}.range[0]`);
    const last = address(body[1], family, `${at}.range[1]`);
    if (first > last) throw new RulesetError(`${at}: empty range ${show(body)}`);
    return { first, last };
  }
  throw new RulesetError(`${at}: address element not understood: ${show(v)}`);
}

/** `{ elem: { val, comment? } }` → val; anything else (timeouts, counters on elements) is not a form we write. */
function unwrapElem(v: Json, at: string): Json {
  if (!isObj(v) || !('elem' in v)) return v;
  const e = v.elem;
  if (!isObj(e) || !('val' in e)) throw new RulesetError(`${at}: element not understood: ${show(v)}`);
  const extra = Object.keys(e).filter((k) => k !== 'val' && k !== 'comment');
  if (extra.length > 0) throw new RulesetError(`${at}: element with ${extra.join(', ')} not understood`);
  return e.val;
}

function protocol(v: Json, at: string): L4 {
  if (typeof v === 'string' && L4S.has(v)) return v as L4;
  if (typeof v === 'number' && PROTO_BY_NUMBER[v]) return PROTO_BY_NUMBER[v];
  throw new RulesetError(`${at}: protocol not understood (tcp, udp or sctp): ${show(v)}`);
}

function port(v: Json, at: string): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 65535) throw new RulesetError(`${at}: not a port number: ${show(v)}`);
  return n;
}

function portRange(v: Json, at: string): { from: number; to: number } {
  if (typeof v === 'number' || typeof v === 'string') {
    const p = port(v, at);
    return { from: p, to: p };
  }
  const [k, body] = only(v, at);
  if (k === 'range' && Array.isArray(body) && body.length === 2) {
    const from = port(body[0], `${at}.range[0]`);
    const to = port(body[1], `${at}.range[1]`);
    if (from > to) throw new RulesetError(`${at}: empty port range ${show(body)}`);
    return { from, to };
  }
  throw new RulesetError(`${at}: port element not understood: ${show(v)}`);
}

function verdict(v: Json, at: string): NftVerdict {
  const [k, body] = only(v, at);
  if ((k === 'accept' || k === 'drop' || k === 'return') && body === null) return { kind: k };
  if ((k === 'goto' || k === 'jump') && isObj(body) && typeof body.target === 'string') return { kind: k, chain: body.target };
  throw new RulesetError(`${at}: verdict not understood: ${show(v)}`);
}

function familyOfType(t: Json): Family | undefined {
  return t === 'ipv4_addr' ? 4 : t === 'ipv6_addr' ? 6 : undefined;
}

function readSet(o: Obj, at: string): NftSetContent {
  const type = o.type;
  const elems = o.elem ?? [];
  if (!Array.isArray(elems)) throw new RulesetError(`${at}.elem: expected a list, got ${show(elems)}`);
  const single = familyOfType(type);
  if (single !== undefined) return { kind: 'addr', family: single, intervals: elems.map((e, i) => addressInterval(e, single, `${at}.elem[${i}]`)) };
  if (Array.isArray(type) && type.length === 2 && familyOfType(type[0]) !== undefined && type[1] === 'inet_proto') {
    const family = familyOfType(type[0])!;
    return {
      kind: 'addr',
      family,
      anyProto: true,
      intervals: elems.map((raw, i) => {
        const e = unwrapElem(raw, `${at}.elem[${i}]`);
        const [k, parts] = only(e, `${at}.elem[${i}]`);
        if (k !== 'concat' || !Array.isArray(parts) || parts.length !== 2) throw new RulesetError(`${at}.elem[${i}]: expected an address . protocol element, got ${show(e)}`);
        const proto = parts[1];
        const every = isObj(proto) && Array.isArray(proto.range) && proto.range.length === 2 && proto.range[0] === 0 && proto.range[1] === 255 && Object.keys(proto).length === 1;
        if (!every) throw new RulesetError(`${at}.elem[${i}].concat[1]: expected every protocol (range 0-255), got ${show(proto)}`);
        return addressInterval(parts[0], family, `${at}.elem[${i}].concat[0]`);
      }),
    };
  }
  if (Array.isArray(type) && type.length === 3 && familyOfType(type[0]) !== undefined && type[1] === 'inet_proto' && type[2] === 'inet_service') {
    const family = familyOfType(type[0])!;
    return {
      kind: 'addrPort',
      family,
      cells: elems.map((raw, i) => {
        const e = unwrapElem(raw, `${at}.elem[${i}]`);
        const [k, parts] = only(e, `${at}.elem[${i}]`);
        if (k !== 'concat' || !Array.isArray(parts) || parts.length !== 3) throw new RulesetError(`${at}.elem[${i}]: expected an address . protocol . port element, got ${show(e)}`);
        return {
          addr: addressInterval(parts[0], family, `${at}.elem[${i}].concat[0]`),
          proto: protocol(parts[1], `${at}.elem[${i}].concat[1]`),
          ...portRange(parts[2], `${at}.elem[${i}].concat[2]`),
        };
      }),
    };
  }
  throw new RulesetError(`${at}: set type not understood: ${show(type)}`);
}

function readMap(o: Obj, at: string): NftSetContent {
  if (o.type !== 'ifname' || o.map !== 'verdict') throw new RulesetError(`${at}: map type not understood: ${show(o.type)} : ${show(o.map)} (expected ifname : verdict)`);
  const elems = o.elem ?? [];
  if (!Array.isArray(elems)) throw new RulesetError(`${at}.elem: expected a list, got ${show(elems)}`);
  const entries = new Map<string, NftVerdict>();
  elems.forEach((e, i) => {
    if (!Array.isArray(e) || e.length !== 2) throw new RulesetError(`${at}.elem[${i}]: expected [key, verdict], got ${show(e)}`);
    const key = unwrapElem(e[0], `${at}.elem[${i}][0]`);
    if (typeof key !== 'string') throw new RulesetError(`${at}.elem[${i}][0]: expected an interface name, got ${show(key)}`);
    entries.set(key, verdict(e[1], `${at}.elem[${i}][1]`));
  });
  return { kind: 'vmap', entries };
}

// ---------------------------------------------------------------- rules

function payload(v: Json): { family: Family; field: 'saddr' | 'daddr' } | undefined {
  if (!isObj(v) || !isObj(v.payload)) return undefined;
  const p = v.payload;
  const family: Family | undefined = p.protocol === 'ip' ? 4 : p.protocol === 'ip6' ? 6 : undefined;
  if (family === undefined || (p.field !== 'saddr' && p.field !== 'daddr') || Object.keys(p).length !== 2) return undefined;
  return { family, field: p.field };
}

function metaKey(v: Json): string | undefined {
  return isObj(v) && isObj(v.meta) && Object.keys(v.meta).length === 1 && typeof v.meta.key === 'string' ? v.meta.key : undefined;
}

function setRef(v: Json, at: string): string {
  if (typeof v !== 'string' || !v.startsWith('@')) throw new RulesetError(`${at}: expected a set reference (@name), got ${show(v)}`);
  return v.slice(1);
}

function readMatch(m: Json, at: string): NftMatch {
  if (!isObj(m)) throw new RulesetError(`${at}: expected a match object, got ${show(m)}`);
  const { op, left, right } = m;
  if (Object.keys(m).some((k) => k !== 'op' && k !== 'left' && k !== 'right')) throw new RulesetError(`${at}: match not understood: ${show(m)}`);
  // ct state: `in` (a flag test, as nft prints it) or `==`; one packet has exactly one state, so both mean membership.
  if (isObj(left) && isObj(left.ct) && left.ct.key === 'state' && Object.keys(left.ct).length === 1) {
    if (op !== 'in' && op !== '==') throw new RulesetError(`${at}: ct state with operator ${show(op)} not understood`);
    const states = typeof right === 'string' ? [right] : Array.isArray(right) && right.every((s) => typeof s === 'string') ? (right as string[]) : undefined;
    if (!states) throw new RulesetError(`${at}: ct state values not understood: ${show(right)}`);
    return { kind: 'ct', states };
  }
  if (op !== '==') throw new RulesetError(`${at}: operator ${show(op)} not understood (only ==)`);
  const key = metaKey(left ?? null);
  if (key === 'iifname' || key === 'oifname') {
    if (typeof right !== 'string') throw new RulesetError(`${at}: ${key} compared with ${show(right)}, not a name`);
    // nft writes a literal `*` as `\*`; we never write one, so it is not understood rather than half-read.
    if (right.includes('\\')) throw new RulesetError(`${at}: escaped interface name ${show(right)} not understood`);
    if (right.slice(0, -1).includes('*')) throw new RulesetError(`${at}: interface wildcard not at the end: ${show(right)}`);
    return { kind: 'ifname', field: key, pattern: right };
  }
  if (key === 'l4proto') {
    const words = typeof right === 'string' ? [right] : isObj(right) && Array.isArray(right.set) && right.set.every((w) => typeof w === 'string') ? (right.set as string[]) : undefined;
    if (!words || words.some((w) => w !== 'tcp' && w !== 'udp' && w !== 'sctp')) throw new RulesetError(`${at}: l4proto values not understood: ${show(right)}`);
    return { kind: 'l4proto', protos: words as ('tcp' | 'udp' | 'sctp')[] };
  }
  const addr = payload(left ?? null);
  if (addr) return { kind: 'addr', family: addr.family, field: addr.field, set: setRef(right ?? null, `${at}.right`) };
  if (isObj(left) && Array.isArray(left.concat) && left.concat.length === 2) {
    const [a, p] = left.concat;
    const first = payload(a);
    if (first && metaKey(p) === 'l4proto') return { kind: 'addr', family: first.family, field: first.field, set: setRef(right ?? null, `${at}.right`), anyProto: true };
  }
  if (isObj(left) && Array.isArray(left.concat) && left.concat.length === 3) {
    const [a, p, d] = left.concat;
    const first = payload(a);
    const dport = isObj(d) && isObj(d.payload) && d.payload.protocol === 'th' && d.payload.field === 'dport' && Object.keys(d.payload).length === 2;
    if (first && metaKey(p) === 'l4proto' && dport) return { kind: 'addrPort', family: first.family, field: first.field, set: setRef(right ?? null, `${at}.right`) };
  }
  throw new RulesetError(`${at}: match not understood: ${show(m)}`);
}

function readRule(exprs: Json, at: string): NftRule {
  if (!Array.isArray(exprs)) throw new RulesetError(`${at}.expr: expected a list, got ${show(exprs)}`);
  const matches: NftMatch[] = [];
  let vmap: NftRule['vmap'];
  let out: NftVerdict | undefined;
  let log: string | undefined;
  exprs.forEach((x, i) => {
    const here = `${at}.expr[${i}]`;
    if (out || vmap) throw new RulesetError(`${here}: a statement after the rule's verdict: ${show(x)}`);
    const [k, body] = only(x, here);
    switch (k) {
      case 'match':
        matches.push(readMatch(body, here));
        return;
      case 'counter':
        // `counter name "x"` is a string; an anonymous counter is an object or null. Either way: no effect on verdicts.
        if (body !== null && typeof body !== 'string' && !isObj(body)) throw new RulesetError(`${here}: counter not understood: ${show(body)}`);
        return;
      case 'log':
        if (!isObj(body)) throw new RulesetError(`${here}: log not understood: ${show(body)}`);
        if (body.prefix !== undefined) log = str(body, 'prefix', `${here}.log`);
        return;
      case 'vmap': {
        if (!isObj(body)) throw new RulesetError(`${here}: vmap not understood: ${show(body)}`);
        const key = metaKey(body.key ?? null);
        if (key !== 'iifname' && key !== 'oifname') throw new RulesetError(`${here}: vmap keyed by ${show(body.key)} not understood (iifname or oifname)`);
        vmap = { field: key, map: setRef(body.data ?? null, `${here}.vmap.data`) };
        return;
      }
      case 'accept':
      case 'drop':
      case 'goto':
      case 'jump':
      case 'return':
        out = verdict(x, here);
        return;
      default:
        throw new RulesetError(`${here}: statement ${k} not understood: ${show(x)}`);
    }
  });
  return { matches, ...(vmap ? { vmap } : {}), ...(out ? { verdict: out } : {}), ...(log !== undefined ? { log } : {}) };
}

// ---------------------------------------------------------------- the table

/** Options of {@link rulesetFromKernel}. */
export interface KernelReadOptions {
  /** The table to read. @default "palisade" (family inet) */
  readonly table?: string;
}

/**
 * Reads `nft -j list table inet palisade` output into a {@link Ruleset}. The input is parsed JSON of unknown shape
 * (it comes from another process): every object is checked, and what is not understood throws a RulesetError naming
 * where it is (`chain forward_filter rule 3 (handle 17).expr[0]: ...`).
 * @example
 * const { stdout } = await run('nft', ['-j', 'list', 'table', 'inet', 'palisade']);
 * const rs = rulesetFromKernel(JSON.parse(stdout));
 */
export function rulesetFromKernel(json: unknown, opts: KernelReadOptions = {}): Ruleset {
  const table = opts.table ?? 'palisade';
  if (!isObj(json) || !Array.isArray(json.nftables)) throw new RulesetError('nft JSON: expected an object with an "nftables" list');
  const sets = new Map<string, NftSetContent>();
  const chains = new Map<string, { name: string; hook?: NftChainIR['hook']; rules: NftRule[] }>();
  let sawTable = false;
  const ruleCount = new Map<string, number>();
  json.nftables.forEach((item, i) => {
    const [kind, o] = only(item, `nftables[${i}]`);
    if (kind === 'metainfo') {
      if (isObj(o) && o.json_schema_version !== undefined && o.json_schema_version !== 1) throw new RulesetError(`nftables[${i}].metainfo: JSON schema version ${show(o.json_schema_version)} not understood (1)`);
      return;
    }
    if (!isObj(o)) throw new RulesetError(`nftables[${i}].${kind}: expected an object, got ${show(o)}`);
    const mine = o.family === 'inet' && (kind === 'table' ? o.name === table : o.table === table);
    if (!mine) throw new RulesetError(`nftables[${i}].${kind}: belongs to ${show(o.family)} ${show(kind === 'table' ? o.name : o.table)}, not inet ${table}`);
    switch (kind) {
      case 'table':
        sawTable = true;
        return;
      case 'counter':
        return;
      case 'set':
      case 'map': {
        const name = str(o, 'name', `nftables[${i}].${kind}`);
        if (sets.has(name)) throw new RulesetError(`${kind} ${name}: declared twice`);
        sets.set(name, kind === 'set' ? readSet(o, `${kind} ${name}`) : readMap(o, `${kind} ${name}`));
        return;
      }
      case 'chain': {
        const name = str(o, 'name', `nftables[${i}].chain`);
        if (chains.has(name)) throw new RulesetError(`chain ${name}: declared twice`);
        let hook: NftChainIR['hook'];
        if (o.hook !== undefined) {
          const h = o.hook;
          if (typeof h !== 'string' || !HOOKS.has(h)) throw new RulesetError(`chain ${name}: hook ${show(h)} not understood`);
          if (o.type !== 'filter') throw new RulesetError(`chain ${name}: base chain of type ${show(o.type)} not understood (filter)`);
          const policy = o.policy ?? 'accept';
          if (policy !== 'accept' && policy !== 'drop') throw new RulesetError(`chain ${name}: policy ${show(policy)} not understood`);
          hook = { hook: h as NonNullable<NftChainIR['hook']>['hook'], policy };
          const other = [...chains.values()].find((c) => c.hook?.hook === h);
          // The interpreter runs one base chain per hook; two would need their priorities, which we never write.
          if (other) throw new RulesetError(`chain ${name}: a second base chain on hook ${h} (besides ${other.name}) not understood`);
        }
        chains.set(name, { name, rules: [], ...(hook ? { hook } : {}) });
        return;
      }
      case 'rule': {
        const chain = str(o, 'chain', `nftables[${i}].rule`);
        const c = chains.get(chain);
        if (!c) throw new RulesetError(`nftables[${i}].rule: in chain ${chain}, which is not declared before it`);
        const n = ruleCount.get(chain) ?? 0;
        ruleCount.set(chain, n + 1);
        const handle = typeof o.handle === 'number' ? ` (handle ${o.handle})` : '';
        c.rules.push(readRule(o.expr ?? null, `chain ${chain} rule ${n}${handle}`));
        return;
      }
      default:
        throw new RulesetError(`nftables[${i}]: object ${kind} not understood`);
    }
  });
  if (!sawTable) throw new RulesetError(`nft JSON: no table inet ${table}`);
  return { sets, chains };
}
