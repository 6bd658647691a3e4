/**
 * Addresses as the nftables sets need them: the address arithmetic is the api layer's (`api/ip.ts`); this module adds
 * what the data plane wants on top — throwing parsers (a bad address in a PolicyEndpoint is a bug to surface), host
 * routes as CIDRs, and the nft text of a range.
 */
import { canonicalIP, formatIP, mergeRanges, parseCIDR, parseIP, subtractRanges as subtractFrom, type Address, type AddressRange, type Family } from '../api/ip.js';

export type { AddressRange, Family };
export { mergeRanges };

/** Parses an IPv4 or IPv6 address. Throws on anything else. */
export function parseAddress(text: string): Address {
  const a = parseIP(text);
  if (!a) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return a;
}

/** Formats an address; IPv6 in the canonical RFC 5952 form. */
export const formatAddress = formatIP;

/** Parses `addr/len`, or a bare address (a host route), into a range. Host bits set are ignored, as Kubernetes does. */
export function parseCidr(text: string): AddressRange {
  const cidr = text.includes('/') ? text : `${text}/${parseAddress(text).family === 4 ? 32 : 128}`;
  const r = parseCIDR(cidr);
  if (!r) throw new Error(`not a CIDR (bad address or prefix length): ${JSON.stringify(text)}`);
  return r;
}

/** `ranges` minus `holes`, both of one family or mixed; result disjoint and sorted. */
export function subtractRanges(ranges: readonly AddressRange[], holes: readonly AddressRange[]): AddressRange[] {
  return mergeRanges(ranges).flatMap((r) => subtractFrom(r, holes));
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
  return r.first === r.last ? formatIP(r.family, r.first) : `${formatIP(r.family, r.first)}-${formatIP(r.family, r.last)}`;
}

/** The canonical text of an address (IPv6 compressed), for comparing addresses from different sources. */
export function canonicalAddress(ip: string): string {
  return canonicalIP(ip);
}
