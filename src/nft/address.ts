/**
 * IP addresses as numbers, CIDRs as inclusive ranges, and `cidr minus except` resolved into disjoint ranges — what the
 * nftables interval sets hold. Pure functions; nothing here touches the kernel.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

/** An inclusive address range of one family. */
export interface AddressRange {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

const MAX: Record<Family, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };
const BITS: Record<Family, number> = { 4: 32, 6: 128 };

/** Parses an IPv4 or IPv6 address. Throws on anything else. */
export function parseAddress(text: string): { family: Family; value: bigint } {
  if (isIPv4(text)) {
    const v = text.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
    return { family: 4, value: v };
  }
  if (isIPv6(text)) {
    let s = text;
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (v4) {
      const n = parseAddress(v4[1]).value;
      s = s.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
    }
    const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
    const v = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
    return { family: 6, value: v };
  }
  throw new Error(`not an IP address: ${JSON.stringify(text)}`);
}

/** Formats an address; IPv6 in the canonical RFC 5952 form. */
export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // Longest run (≥ 2) of zero groups becomes `::`.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** Parses `addr/len` (or a bare address, a host route) into a range. Host bits set are ignored, as Kubernetes does. */
export function parseCidr(text: string): AddressRange {
  const [addr, len] = text.split('/');
  const { family, value } = parseAddress(addr);
  const bits = len === undefined ? BITS[family] : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > BITS[family] || (len !== undefined && !/^\d+$/.test(len))) {
    throw new Error(`bad prefix length in ${JSON.stringify(text)}`);
  }
  const host = (1n << BigInt(BITS[family] - bits)) - 1n;
  const first = value & (MAX[family] ^ host);
  return { family, first, last: first | host };
}

/** Sorts and merges overlapping or adjacent ranges of one family into a minimal disjoint list. */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const prev = out[out.length - 1];
    if (prev && prev.family === r.family && r.first <= prev.last + 1n) {
      if (r.last > prev.last) out[out.length - 1] = { ...prev, last: r.last };
    } else {
      out.push(r);
    }
  }
  return out;
}

/** `ranges` minus `holes`, both of one family or mixed; result disjoint and sorted. */
export function subtractRanges(ranges: readonly AddressRange[], holes: readonly AddressRange[]): AddressRange[] {
  let current = mergeRanges(ranges);
  for (const hole of mergeRanges(holes)) {
    const next: AddressRange[] = [];
    for (const r of current) {
      if (r.family !== hole.family || hole.last < r.first || hole.first > r.last) {
        next.push(r);
        continue;
      }
      if (hole.first > r.first) next.push({ ...r, last: hole.first - 1n });
      if (hole.last < r.last) next.push({ ...r, first: hole.last + 1n });
    }
    current = next;
  }
  return current;
}

/**
 * A CIDR minus its exceptions as disjoint ranges: `0.0.0.0/0` except `169.254.169.254/32` gives
 * `0.0.0.0-169.254.169.253` and `169.254.169.255-255.255.255.255`. Exceptions of the other family are ignored.
 */
export function cidrExcept(cidr: string, except: readonly string[] = []): AddressRange[] {
  return subtractRanges([parseCidr(cidr)], except.map(parseCidr));
}

/** True when `ip` lies in the range. */
export function rangeContains(r: AddressRange, ip: string): boolean {
  const a = parseAddress(ip);
  return a.family === r.family && a.value >= r.first && a.value <= r.last;
}

/** The nft text of a range: one address, or `first-last`. */
export function formatRange(r: AddressRange): string {
  return r.first === r.last
    ? formatAddress(r.family, r.first)
    : `${formatAddress(r.family, r.first)}-${formatAddress(r.family, r.last)}`;
}

/** The canonical text of an address (IPv6 compressed), for comparing addresses from different sources. */
export function canonicalAddress(ip: string): string {
  // Fast path: dotted-quad IPv4 without leading zeros is already canonical (the agent checks every selected pod's
  // address on every sync; a BigInt round trip per address cost ~1 µs × 10k pods).
  if (CANONICAL_V4.test(ip)) return ip;
  const a = parseAddress(ip);
  return formatAddress(a.family, a.value);
}

const CANONICAL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
