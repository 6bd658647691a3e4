/**
 * `palisade matrix PATH...`: who can reach whom, as a table, JSON (the documented contract), CSV or Markdown.
 */
import { Option } from 'commander';
import { InputError } from '../api/diagnostics.js';
import type { Protocol } from '../api/types.js';
import { compile, type MatrixOptions } from '../engine/engine.js';
import type { MatrixConnection, MatrixJson } from '../engine/types.js';
import { inputOptions, readInput } from './input.js';
import { action, parsePort, parseProtocol, type Register } from './program.js';

type Cell = 'allowed' | 'partial' | 'blocked' | 'self';

const ALL = '1-65535';

/** What the table shows: with a port, a cell is allowed or blocked; else `~` marks some ports of the protocols shown. */
export interface View {
  readonly port?: number;
  readonly protocol?: Protocol;
}

function cellOf(c: MatrixConnection | undefined, view: View): Cell {
  if (!c) return 'blocked';
  if (view.port !== undefined) return 'allowed';
  if (view.protocol) return c[view.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp'] === ALL ? 'allowed' : 'partial';
  return c.tcp === ALL && c.udp === ALL && c.sctp === ALL ? 'allowed' : 'partial';
}

const SYMBOL: Record<Cell, string> = { allowed: '✓', partial: '~', blocked: '✗', self: '-' };

function grid(m: MatrixJson, view: View): { ids: string[]; cells: Cell[][]; byPair: Map<string, MatrixConnection> } {
  const ids = m.endpoints.map((e) => e.id);
  const byPair = new Map(m.connections.map((c) => [`${c.from}\u0000${c.to}`, c]));
  const external = new Set(m.endpoints.filter((e) => e.kind === 'External').map((e) => e.id));
  const cells = ids.map((from) =>
    ids.map((to): Cell => (from === to || (external.has(from) && external.has(to)) ? 'self' : cellOf(byPair.get(`${from}\u0000${to}`), view))),
  );
  return { ids, cells, byPair };
}

/** The terminal table: rows are sources, columns destinations, numbered so ~50 endpoints stay readable. */
export function renderTable(m: MatrixJson, view: View, caption: string): string {
  const { ids, cells } = grid(m, view);
  const width = String(ids.length).length;
  const label = (i: number) => `${String(i + 1).padStart(width)} ${ids[i]}`;
  const labelWidth = Math.max(4, ...ids.map((_, i) => label(i).length));
  const lines: string[] = [caption, ''];
  // Column headers: the column numbers written vertically.
  for (let digit = 0; digit < width; digit++) {
    lines.push(`${' '.repeat(labelWidth)}  ${ids.map((_, j) => String(j + 1).padStart(width)[digit]).join(' ')}`.trimEnd());
  }
  ids.forEach((_, i) => lines.push(`${label(i).padEnd(labelWidth)}  ${cells[i].map((c) => SYMBOL[c]).join(' ')}`));
  lines.push('');
  lines.push(view.port !== undefined ? 'rows: from, columns: to.  ✓ allowed  ✗ blocked  - self' : 'rows: from, columns: to.  ✓ all ports  ~ some ports (see -o json)  ✗ blocked  - self');
  return lines.join('\n');
}

export function renderMarkdown(m: MatrixJson, view: View): string {
  const { ids, cells, byPair } = grid(m, view);
  const lines = [`| from \\ to | ${ids.map((id) => `\`${id}\``).join(' | ')} |`, `|---|${ids.map(() => '---').join('|')}|`];
  ids.forEach((from, i) => {
    const row = cells[i].map((c, j) => {
      if (c !== 'partial') return SYMBOL[c];
      const p = byPair.get(`${from}\u0000${ids[j]}`)!;
      return [p.tcp && `tcp ${p.tcp}`, p.udp && `udp ${p.udp}`, p.sctp && `sctp ${p.sctp}`].filter(Boolean).join('; ');
    });
    lines.push(`| \`${from}\` | ${row.join(' | ')} |`);
  });
  return lines.join('\n');
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(m: MatrixJson): string {
  return ['from,to,tcp,udp,sctp', ...m.connections.map((c) => [c.from, c.to, c.tcp, c.udp, c.sctp].map(csvField).join(','))].join('\n');
}

export const registerMatrix: Register = (program, io, setExit) => {
  inputOptions(
    program
      .command('matrix')
      .description('who can reach whom: every pod, workload and external range, with the allowed ports')
      .argument('[paths...]', 'files, directories or - for stdin (or --kubeconfig for a live cluster)')
      .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'csv', 'md']).default('table'))
      .option('--port <port>', 'only this port', parsePort)
      .option('--protocol <protocol>', 'only this protocol (TCP, UDP or SCTP)', parseProtocol),
  )
    .addHelpText('after', '\nWith -n/--namespace N, objects written without a namespace go to N (as with kubectl) and the matrix shows only\nN\'s endpoints and the external ranges.\n\nExamples:\n  palisade matrix examples/eks-multi-team/\n  palisade matrix examples/eks-multi-team/ -n a\n  palisade matrix examples/eks-multi-team/ --port 80 --protocol TCP\n  helm template ./chart | palisade matrix - -o json')
    .action(
      action(io, setExit, (paths: string[], opts: { output: string; port?: number; protocol?: Protocol; namespace?: string; defaultNamespace: string; quiet?: boolean }) => {
        const { cluster } = readInput(paths, io, opts);
        if (opts.namespace !== undefined && !cluster.namespaces.has(opts.namespace)) {
          throw new InputError(`namespace "${opts.namespace}" does not appear in the input`);
        }
        const engine = compile(cluster);
        const mopts: MatrixOptions = { ...(opts.namespace ? { namespace: opts.namespace } : {}), ...(opts.protocol ? { protocol: opts.protocol } : {}), ...(opts.port ? { port: opts.port } : {}) };
        const m = engine.matrixJson(mopts);
        const view: View = { ...(opts.port !== undefined ? { port: opts.port } : {}), ...(opts.protocol ? { protocol: opts.protocol } : {}) };
        const what = [opts.protocol ?? (opts.port !== undefined ? 'TCP/UDP/SCTP' : 'all protocols'), opts.port !== undefined ? `port ${opts.port}` : 'all ports'].join(', ');
        switch (opts.output) {
          case 'json':
            io.out(JSON.stringify(m, null, 2));
            break;
          case 'csv':
            io.out(renderCsv(m));
            break;
          case 'md':
            io.out(renderMarkdown(m, view));
            break;
          default:
            io.out(renderTable(m, view, `Reachability (${what}): ${m.endpoints.length} endpoints, ${m.connections.length} allowed pairs`));
        }
      }),
    );
};
