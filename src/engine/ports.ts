/**
 * Port sets: sorted, disjoint, non-adjacent inclusive ranges within 1–65535, one list per protocol.
 * Shared empty and full values keep the common cases allocation-free.
 */
import { PROTOCOLS, type Protocol } from '../api/types.js';
import type { PortRange, PortsByProtocol } from './types.js';

export type PortSet = readonly PortRange[];

export const MIN_PORT = 1;
export const MAX_PORT = 65535;

export const NO_PORTS: PortSet = Object.freeze([]);
export const ALL_PORTS: PortSet = Object.freeze([Object.freeze({ from: MIN_PORT, to: MAX_PORT })]);

export function isAll(s: PortSet): boolean {
  return s.length === 1 && s[0].from === MIN_PORT && s[0].to === MAX_PORT;
}

export function range(from: number, to: number): PortSet {
  return from > to ? NO_PORTS : [{ from, to }];
}

/** Union of any number of port sets. */
export function union(...sets: PortSet[]): PortSet {
  const nonEmpty = sets.filter((s) => s.length > 0);
  if (nonEmpty.length === 0) return NO_PORTS;
  if (nonEmpty.length === 1) return nonEmpty[0];
  for (const s of nonEmpty) if (isAll(s)) return ALL_PORTS;
  const all = nonEmpty.flat().sort((a, b) => a.from - b.from);
  const out: PortRange[] = [];
  let cur = { from: all[0].from, to: all[0].to };
  for (let i = 1; i < all.length; i++) {
    const r = all[i];
    if (r.from <= cur.to + 1) {
      if (r.to > cur.to) cur.to = r.to;
    } else {
      out.push(cur);
      cur = { from: r.from, to: r.to };
    }
  }
  out.push(cur);
  return out;
}

export function intersect(a: PortSet, b: PortSet): PortSet {
  if (a.length === 0 || b.length === 0) return NO_PORTS;
  if (isAll(a)) return b;
  if (isAll(b)) return a;
  const out: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const from = Math.max(a[i].from, b[j].from);
    const to = Math.min(a[i].to, b[j].to);
    if (from <= to) out.push({ from, to });
    if (a[i].to < b[j].to) i++;
    else j++;
  }
  return out.length === 0 ? NO_PORTS : out;
}

export function subtract(a: PortSet, b: PortSet): PortSet {
  if (a.length === 0 || b.length === 0) return a;
  if (isAll(b)) return NO_PORTS;
  const out: PortRange[] = [];
  let j = 0;
  for (const r of a) {
    let from = r.from;
    while (j < b.length && b[j].to < from) j++;
    let k = j;
    while (k < b.length && b[k].from <= r.to) {
      if (b[k].from > from) out.push({ from, to: b[k].from - 1 });
      from = Math.max(from, b[k].to + 1);
      k++;
    }
    if (from <= r.to) out.push({ from, to: r.to });
  }
  return out.length === 0 ? NO_PORTS : out;
}

export function contains(s: PortSet, port: number): boolean {
  let lo = 0;
  let hi = s.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (port < s[mid].from) hi = mid - 1;
    else if (port > s[mid].to) lo = mid + 1;
    else return true;
  }
  return false;
}

/** `80,8000-8100`; `1-65535` for all; `` for none. */
export function formatPorts(s: PortSet): string {
  return s.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}

/** Parses the format of `formatPorts`. */
export function parsePorts(text: string): PortSet {
  if (text.trim() === '') return NO_PORTS;
  return union(
    ...text.split(',').map((p) => {
      const [a, b] = p.split('-');
      return range(Number(a), Number(b ?? a));
    }),
  );
}

// ---------------------------------------------------------------- per protocol

export const NOTHING: PortsByProtocol = Object.freeze({ TCP: NO_PORTS, UDP: NO_PORTS, SCTP: NO_PORTS });
export const EVERYTHING: PortsByProtocol = Object.freeze({ TCP: ALL_PORTS, UDP: ALL_PORTS, SCTP: ALL_PORTS });

export function isNothing(p: PortsByProtocol): boolean {
  return p === NOTHING || (p.TCP.length === 0 && p.UDP.length === 0 && p.SCTP.length === 0);
}

export function isEverything(p: PortsByProtocol): boolean {
  return p === EVERYTHING || (isAll(p.TCP) && isAll(p.UDP) && isAll(p.SCTP));
}

export function only(protocol: Protocol, ports: PortSet): PortsByProtocol {
  if (ports.length === 0) return NOTHING;
  return { ...NOTHING, [protocol]: ports };
}

function combine(a: PortsByProtocol, b: PortsByProtocol, op: (x: PortSet, y: PortSet) => PortSet): PortsByProtocol {
  return { TCP: op(a.TCP, b.TCP), UDP: op(a.UDP, b.UDP), SCTP: op(a.SCTP, b.SCTP) };
}

export function unionAll(a: PortsByProtocol, b: PortsByProtocol): PortsByProtocol {
  if (isNothing(a) || isEverything(b)) return b;
  if (isNothing(b) || isEverything(a)) return a;
  return combine(a, b, (x, y) => union(x, y));
}

export function intersectAll(a: PortsByProtocol, b: PortsByProtocol): PortsByProtocol {
  if (isNothing(a) || isEverything(b)) return a;
  if (isNothing(b) || isEverything(a)) return b;
  const r = combine(a, b, intersect);
  return isNothing(r) ? NOTHING : r;
}

export function subtractAll(a: PortsByProtocol, b: PortsByProtocol): PortsByProtocol {
  if (isNothing(a) || isNothing(b)) return a;
  if (isEverything(b)) return NOTHING;
  const r = combine(a, b, subtract);
  return isNothing(r) ? NOTHING : r;
}

export function containsPort(p: PortsByProtocol, protocol: Protocol, port: number): boolean {
  return contains(p[protocol], port);
}

export function equalPorts(a: PortsByProtocol, b: PortsByProtocol): boolean {
  return PROTOCOLS.every((proto) => formatPorts(a[proto]) === formatPorts(b[proto]));
}
