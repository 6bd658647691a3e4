/**
 * What a matrix cell shows, from the ports the engine allowed for the pair: the view (a protocol, a port) only picks
 * which of those ports to look at — whether they are allowed was decided on the server.
 */
import type { PortText } from '../../src/web/protocol.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type CellState = 'allowed' | 'partial' | 'blocked' | 'self';

/** What the matrix looks at: every port, one protocol, one port, or a port of one protocol. */
export interface View {
  readonly protocol?: Protocol;
  readonly port?: number;
}

const ALL = '1-65535';
const FIELDS: Record<Protocol, keyof PortText> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

/** Whether a port list in `matrix -o json` form (`80,443,8000-8080`) holds `port`. */
export function holdsPort(list: string, port: number): boolean {
  if (list === '') return false;
  for (const part of list.split(',')) {
    const dash = part.indexOf('-');
    const from = Number(dash < 0 ? part : part.slice(0, dash));
    const to = dash < 0 ? from : Number(part.slice(dash + 1));
    if (port >= from && port <= to) return true;
  }
  return false;
}

/**
 * The state of a cell, as `palisade matrix` prints it: with a port, allowed or blocked; otherwise allowed when every
 * port of the protocols looked at is, partial when some are.
 */
export function cellState(p: PortText, view: View): CellState {
  const protocols: Protocol[] = view.protocol ? [view.protocol] : ['TCP', 'UDP', 'SCTP'];
  const lists = protocols.map((proto) => p[FIELDS[proto]]);
  if (view.port !== undefined) return lists.some((l) => holdsPort(l, view.port!)) ? 'allowed' : 'blocked';
  if (lists.every((l) => l === ALL)) return 'allowed';
  return lists.some((l) => l !== '') ? 'partial' : 'blocked';
}

/** Ports in words: `TCP 80, 443; UDP 53`, `all ports`, or `nothing`. */
export function describePorts(p: PortText | null | undefined): string {
  if (!p) return 'did not exist';
  if (p.tcp === ALL && p.udp === ALL && p.sctp === ALL) return 'all ports';
  const parts = (['TCP', 'UDP', 'SCTP'] as const).filter((proto) => p[FIELDS[proto]] !== '').map((proto) => `${proto} ${p[FIELDS[proto]] === ALL ? 'all' : p[FIELDS[proto]].replace(/,/g, ', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'nothing';
}
