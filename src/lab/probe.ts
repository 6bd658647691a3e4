/**
 * Probes a running lab with real connections: every pod to every pod's ports (and to the internet and metadata hosts),
 * all in parallel from the pods' helpers, bounded by one timeout. Works from the state file alone, so it can run in
 * another process than `labUp`.
 */
import { DEFAULT_PREFIX, DEFAULT_STATE_DIR, readState, type LabEndpoint, type LabPort } from './state.js';
import { HelperClient } from './helper-client.js';

export interface ProbeOptions {
  readonly prefix?: string;
  readonly stateDir?: string;
  /** Per-connection timeout; a dropped SYN or datagram counts as denied after it. @default 1000 */
  readonly timeoutMs?: number;
  /** Also probe the internet and metadata hosts. @default true */
  readonly external?: boolean;
  /** Only these sources (endpoint ids; the external hosts may be sources too). @default every pod */
  readonly from?: readonly string[];
  /** Only these targets (endpoint ids). @default every pod, and the external hosts unless `external` is false */
  readonly to?: readonly string[];
  /** Only this port. @default every port a target serves */
  readonly port?: number;
  /** Only this protocol. @default TCP and UDP (SCTP is never probed: Node.js has no SCTP sockets) */
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  /**
   * Connect over IPv4 or IPv6; with 6 only endpoints with an IPv6 address (`ip6`, in a dual-stack lab) take part.
   * @default 4
   */
  readonly family?: 4 | 6;
}

export interface ProbeCell {
  readonly from: string;
  readonly to: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly port: number;
  /** The address family the connection used. */
  readonly family: 4 | 6;
  readonly allowed: boolean;
}

export interface ProbeReport {
  readonly cells: readonly ProbeCell[];
  /** Rows = sources; one column per target, one character per target port (`Y` allowed, `.` denied, `-` self). */
  readonly table: string;
  readonly ms: number;
  /** Look-up: `allowed('default/a', 'default/b', 'TCP', 80)`. */
  allowed(from: string, to: string, protocol: string, port: number): boolean | undefined;
}

/** Probes the lab recorded under `prefix`. */
export async function labProbe(opts: ProbeOptions = {}): Promise<ProbeReport> {
  const t0 = performance.now();
  const state = await readState(opts.stateDir ?? DEFAULT_STATE_DIR, opts.prefix ?? DEFAULT_PREFIX);
  if (!state) throw new Error(`no lab with prefix ${opts.prefix ?? DEFAULT_PREFIX}`);
  const family = opts.family ?? 4;
  const address = (e: LabEndpoint) => (family === 4 ? e.ip : e.ip6);
  const endpoints = state.endpoints.filter((e) => address(e) !== undefined);
  const pods = endpoints.filter((e) => e.kind === 'pod');
  const externals = endpoints.filter((e) => e.kind === 'external');
  const targets: LabEndpoint[] = opts.to
    ? endpoints.filter((e) => opts.to!.includes(e.id))
    : [...pods, ...(opts.external ?? true ? externals : [])];
  const sources = opts.from ? endpoints.filter((p) => opts.from!.includes(p.id)) : pods;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const shown = (p: LabPort) =>
    p.protocol !== 'SCTP' && (opts.port === undefined || p.port === opts.port) && (opts.protocol === undefined || p.protocol === opts.protocol);
  const cells: ProbeCell[] = [];
  await Promise.all(
    sources.map(async (src) => {
      // External hosts do not probe each other: only pods are on both sides of a policy.
      const list = targets
        .filter((t) => t !== src && (src.kind === 'pod' || t.kind === 'pod'))
        .flatMap((t) => t.ports.filter(shown).map((p) => ({ t, p })));
      if (list.length === 0) return;
      const client = await HelperClient.connect(src.sock);
      try {
        const results = await client.probe(list.map(({ t, p }) => ({ host: address(t)!, port: p.port, protocol: p.protocol })), timeoutMs);
        list.forEach(({ t, p }, i) => cells.push({ from: src.id, to: t.id, protocol: p.protocol, port: p.port, family, allowed: results[i] }));
      } finally {
        client.close();
      }
    }),
  );
  const key = (f: string, t: string, proto: string, port: number) => `${f}|${t}|${proto}|${port}`;
  const index = new Map(cells.map((c) => [key(c.from, c.to, c.protocol, c.port), c.allowed]));
  const header = ['', ...targets.map((t) => t.id)];
  const rows = sources.map((s) => [
    s.id,
    ...targets.map((t) =>
      t.ports.filter(shown).map((p) => {
        const v = t === s ? undefined : index.get(key(s.id, t.id, p.protocol, p.port));
        return v === undefined ? '-' : v ? 'Y' : '.';
      }).join(''),
    ),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const legend = targets.map((t) => `${t.id}: ${t.ports.filter(shown).map((p) => `${p.protocol}/${p.port}`).join(' ')}`);
  const table = [line(header), ...rows.map(line), '', 'rows: from, columns: to; one character per port: Y allowed, . denied, - not probed', ...legend.map((l) => `  ${l}`)].join('\n');
  return {
    cells,
    table,
    ms: performance.now() - t0,
    allowed: (f, t, proto, port) => index.get(key(f, t, proto, port)),
  };
}
