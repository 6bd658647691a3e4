/**
 * IP and CIDR checks as the apiserver makes them. Parsing here is for validation only (the engine has its own address
 * arithmetic); it keeps what the checks need: the family, the bits, and whether the text was in a non-standard form.
 */
import { isIPv6 } from 'node:net';
import { invalid, warning, type FieldError, type Path } from './validate-fields.js';
import { formatIP } from './ip.js';

/** An address as written: family, bits (IPv4-mapped IPv6 is IPv4 here, as Go treats it), and how it was spelled. */
export interface ParsedAddress {
  readonly family: 4 | 6;
  readonly bits: bigint;
  /** An IPv4 octet (or the prefix length) had a leading 0: accepted by the legacy parser, rejected by strict ones. */
  readonly leadingZeros: boolean;
  /** Written as IPv4-mapped IPv6 (`::ffff:1.2.3.4`). */
  readonly mapped: boolean;
}

export interface ParsedCIDR extends ParsedAddress {
  readonly prefix: number;
  /** The address with the bits beyond the prefix cleared. */
  readonly network: bigint;
}

function width(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function parseIPv4Bits(text: string): { bits: bigint; leadingZeros: boolean } | undefined {
  let value = 0;
  let leadingZeros = false;
  let octets = 0;
  let digits = 0;
  let octet = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || digits > 3 || octet > 255) return undefined;
      if (digits > 1 && text.charCodeAt(i - digits) === 48) leadingZeros = true;
      value = value * 256 + octet;
      octets++;
      digits = 0;
      octet = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else return undefined;
  }
  if (octets !== 4) return undefined;
  return { bits: BigInt(value), leadingZeros };
}

function parseIPv6Bits(text: string): { bits: bigint; leadingZeros: boolean } | undefined {
  if (text.includes('%')) return undefined; // zones are not addresses in the API
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): string[] => (half === '' ? [] : half.split(':'));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  const all = [...head, ...tail];
  let leadingZeros = false;
  const words: bigint[] = [];
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (i === all.length - 1 && g.includes('.')) {
      const v4 = parseIPv4Bits(g);
      if (!v4) return undefined;
      leadingZeros = v4.leadingZeros;
      words.push(v4.bits >> 16n, v4.bits & 0xffffn);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
      words.push(BigInt(parseInt(g, 16)));
    } else {
      return undefined;
    }
  }
  if (halves.length === 2) {
    if (words.length >= 8) return undefined; // '::' stands for at least one zero group
    const headCount = words.length - tailWordCount(tail);
    const zeros = new Array<bigint>(8 - words.length).fill(0n);
    words.splice(headCount, 0, ...zeros);
  } else if (words.length !== 8) {
    return undefined;
  }
  let bits = 0n;
  for (const w of words) bits = (bits << 16n) | w;
  return { bits, leadingZeros };
}

function tailWordCount(tail: readonly string[]): number {
  return tail.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
}

/** Parses an IP address as the legacy (sloppy) parser does: leading zeros in IPv4 octets and IPv4-mapped IPv6 accepted. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (!text.includes(':')) {
    const v4 = parseIPv4Bits(text);
    return v4 && { family: 4, bits: v4.bits, leadingZeros: v4.leadingZeros, mapped: false };
  }
  const v6 = parseIPv6Bits(text);
  if (!v6) return undefined;
  if (v6.bits >> 32n === 0xffffn) {
    return { family: 4, bits: v6.bits & 0xffffffffn, leadingZeros: v6.leadingZeros, mapped: true };
  }
  return { family: 6, bits: v6.bits, leadingZeros: v6.leadingZeros, mapped: false };
}

/** Parses `address/prefix` as the legacy parser does (see `parseAddress`; the prefix length may have leading zeros). */
export function parseCIDRText(text: string): ParsedCIDR | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddress(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!addr || !/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  let prefix = Number(prefixText);
  // An IPv4-mapped address carries a 128-bit prefix; its last 32 bits are the IPv4 prefix.
  const written = addr.mapped ? 128 : width(addr.family);
  if (prefix > written) return undefined;
  if (addr.mapped) {
    if (prefix < 96) return undefined;
    prefix -= 96;
  }
  const w = BigInt(width(addr.family));
  const hostBits = w - BigInt(prefix);
  const network = (addr.bits >> hostBits) << hostBits;
  const leadingZeros = addr.leadingZeros || (prefixText.length > 1 && prefixText.startsWith('0'));
  return { ...addr, leadingZeros, prefix, network };
}

/** True when `inner` is a strict subset of `outer`: same family, longer prefix, inside it. */
export function isStrictSubset(outer: ParsedCIDR, inner: ParsedCIDR): boolean {
  if (outer.family !== inner.family || inner.prefix <= outer.prefix) return false;
  const shift = BigInt(width(outer.family) - outer.prefix);
  return inner.network >> shift === outer.network >> shift;
}

// ---------------------------------------------------------------- canonical text

/** Canonical text (RFC 5952 for IPv6), shared with the rest of Palisade. */
export const formatAddress = formatIP;

// ---------------------------------------------------------------- validators

/** How a CIDR field is checked. */
export type CIDRRules =
  /**
   * Built-in fields that predate strict IP validation (NetworkPolicy ipBlock, Node podCIDRs). With the
   * StrictIPCIDRValidation feature gate off (its default through Kubernetes 1.34, alpha), the apiserver parses them
   * with ParseCIDRSloppy: host bits set, leading zeros and IPv4-mapped IPv6 are all accepted, and it warns about each.
   */
  | 'legacy'
  /**
   * The admin-tier CRDs' CEL `isCIDR(self)`: Go's netip.ParsePrefix, so no leading zeros, no zones, no IPv4-mapped
   * IPv6; host bits set are accepted (Palisade warns, since the bits are ignored).
   */
  | 'cel';

/**
 * Validates a CIDR string, returning errors and warnings.
 *
 * @param text the CIDR as written, e.g. `10.0.0.0/8` or `2001:db8::/32`
 * @param path where it is, for the errors
 * @param rules `legacy` (default) for NetworkPolicy `ipBlock`, `cel` for the admin-tier CRDs
 * @example validateCIDR('10.0.0.1/8', ['spec', 'ingress', 0, 'from', 0, 'ipBlock', 'cidr']) // one warning
 */
export function validateCIDR(text: string, path: Path, rules: CIDRRules = 'legacy'): FieldError[] {
  const cidr = parseCIDRText(text);
  if (rules === 'cel') {
    if (!cidr || cidr.leadingZeros || cidr.mapped || (cidr.family === 6 && !isIPv6(text.slice(0, text.indexOf('/'))))) {
      return [invalid(path, text, 'Invalid CIDR format provided')];
    }
    return hostBitsWarning(text, cidr, path);
  }
  if (!cidr) return [invalid(path, text, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')];
  const out = hostBitsWarning(text, cidr, path);
  const canonical = `${formatAddress(cidr.family, cidr.network)}/${cidr.prefix}`;
  if (cidr.leadingZeros || cidr.mapped) {
    out.push(
      warning(
        path,
        `non-standard CIDR value ${JSON.stringify(text)} will be considered invalid in a future Kubernetes release: use ${JSON.stringify(canonical)}`,
      ),
    );
  } else if (out.length === 0 && cidr.family === 6 && canonical !== text) {
    out.push(
      warning(path, `IPv6 CIDR value ${JSON.stringify(text)} should be in RFC 5952 canonical format (${JSON.stringify(canonical)})`),
    );
  }
  return out;
}

function hostBitsWarning(text: string, cidr: ParsedCIDR, path: Path): FieldError[] {
  if (cidr.bits === cidr.network) return [];
  const net = `${formatAddress(cidr.family, cidr.network)}/${cidr.prefix}`;
  const host = `${formatAddress(cidr.family, cidr.bits)}/${width(cidr.family)}`;
  return [
    warning(
      path,
      `CIDR value ${JSON.stringify(text)} is ambiguous in this context (should be ${JSON.stringify(net)} or ${JSON.stringify(host)}?)`,
    ),
  ];
}

/**
 * Validates an IP address of a legacy field (Pod status IPs, Service clusterIPs, hostIP): errors for what is not an
 * address, warnings for leading zeros, IPv4-mapped IPv6 and non-canonical IPv6, as the apiserver does.
 */
export function validateIP(text: string, path: Path): FieldError[] {
  const addr = parseAddress(text);
  if (!addr) return [invalid(path, text, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)')];
  const canonical = formatAddress(addr.family, addr.bits);
  if (addr.leadingZeros || addr.mapped) {
    return [
      warning(
        path,
        `non-standard IP address ${JSON.stringify(text)} will be considered invalid in a future Kubernetes release: use ${JSON.stringify(canonical)}`,
      ),
    ];
  }
  if (addr.family === 6 && canonical !== text) {
    return [warning(path, `IPv6 address ${JSON.stringify(text)} should be in RFC 5952 canonical format (${JSON.stringify(canonical)})`)];
  }
  return [];
}
