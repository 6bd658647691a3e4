/**
 * IP addresses and CIDRs as numbers, so that blocks, excepts and ranges are interval arithmetic.
 * Both families use bigint: one code path, and IPv6 needs 128 bits.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

/** An inclusive interval of addresses of one family. */
export interface AddressRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

const V4_MAX = (1n << 32n) - 1n;
const V6_MAX = (1n << 128n) - 1n;

export function familyMax(family: Family): bigint {
  return family === 4 ? V4_MAX : V6_MAX;
}

function parseV4(text: string): bigint {
  let v = 0n;
  for (const part of text.split('.')) v = (v << 8n) | BigInt(Number(part));
  return v;
}

function parseV6(text: string): bigint {
  let head = text;
  let tail = '';
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const groups = (s: string): bigint[] => {
    if (s === '') return [];
    const out: bigint[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const v4 = parseV4(g);
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else out.push(BigInt(parseInt(g, 16)));
    }
    return out;
  };
  const h = groups(head);
  const t = groups(tail);
  const all = dbl >= 0 ? [...h, ...new Array<bigint>(8 - h.length - t.length).fill(0n), ...t] : h;
  let v = 0n;
  for (const g of all) v = (v << 16n) | g;
  return v;
}

/** Parses an IPv4 or IPv6 address; undefined when it is not one. */
export function parseIP(text: string): Address | undefined {
  if (isIPv4(text)) return { family: 4, value: parseV4(text) };
  const bare = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (isIPv6(bare)) return { family: 6, value: parseV6(bare) };
  return undefined;
}

/** Formats an address: dotted quad, or RFC 5952 compressed IPv6. */
export function formatIP(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 0xffn).toString()).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // The longest run of two or more zero groups becomes '::' (first such run on ties).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Canonical text of an address (IPv6 compressed, lowercase); the input when it is not an address. */
export function canonicalIP(text: string): string {
  // Dotted quads without leading zeros are canonical already: no bigint round trip (the agent checks every pod often).
  if (CANONICAL_V4.test(text)) return text;
  const a = parseIP(text);
  return a ? formatIP(a.family, a.value) : text;
}

/**
 * Parses `addr/prefix` into the range it covers. Host bits are ignored, as the apiserver's sloppy CIDR parsing does;
 * undefined when the text is not a CIDR.
 */
export function parseCIDR(text: string): AddressRange | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIP(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bits = addr.family === 4 ? 32 : 128;
  if (prefix > bits) return undefined;
  const hostBits = BigInt(bits - prefix);
  const hostMask = (1n << hostBits) - 1n;
  const first = addr.value & ~hostMask & familyMax(addr.family);
  return { family: addr.family, first, last: first | hostMask };
}

/** Sorts and merges overlapping or adjacent ranges (either family) into a minimal disjoint list. */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.family === r.family && r.first <= prev.last + 1n) {
      if (r.last > prev.last) out[out.length - 1] = { ...prev, last: r.last };
    } else out.push(r);
  }
  return out;
}

/** Subtracts `cut` ranges from `base`; result sorted and disjoint. */
export function subtractRanges(base: AddressRange, cuts: readonly AddressRange[]): AddressRange[] {
  const sorted = cuts.filter((c) => c.family === base.family).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressRange[] = [];
  let cursor = base.first;
  for (const c of sorted) {
    if (c.last < cursor || c.first > base.last) continue;
    if (c.first > cursor) out.push({ family: base.family, first: cursor, last: c.first - 1n });
    if (c.last >= base.last) return out;
    cursor = c.last + 1n > cursor ? c.last + 1n : cursor;
  }
  if (cursor <= base.last) out.push({ family: base.family, first: cursor, last: base.last });
  return out;
}

/** The addresses an ipBlock admits: `cidr` minus every `except`, as disjoint ranges. */
export function ipBlockRanges(cidr: string, except: readonly string[] = []): AddressRange[] {
  const base = parseCIDR(cidr);
  if (!base) return [];
  const cuts: AddressRange[] = [];
  for (const e of except) {
    const r = parseCIDR(e);
    if (r) cuts.push(r);
  }
  return subtractRanges(base, cuts);
}

export function rangeContains(r: AddressRange, a: Address): boolean {
  return r.family === a.family && a.value >= r.first && a.value <= r.last;
}
