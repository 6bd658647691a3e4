/** The server's JSON API. */
import type { EvaluateResponse, FlowLogResponse, Grid, PoliciesResponse, SourceResponse, WhyResponse } from '../../src/web/protocol.js';
import type { Protocol } from './cells.js';

async function call<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const value = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(value.error ?? `${res.status} ${res.statusText}`);
  return value;
}

export const api = {
  source: () => call<SourceResponse>('/api/source'),
  grid: () => call<Grid>('/api/grid'),
  evaluate: (yaml: string) => call<EvaluateResponse>('/api/evaluate', { yaml }),
  policies: (yaml?: string) => (yaml === undefined ? call<PoliciesResponse>('/api/policies') : call<PoliciesResponse>('/api/policies', { yaml })),
  flowlog: (log: string, file: string, yaml?: string) => call<FlowLogResponse>('/api/flowlog', { log, file, ...(yaml !== undefined ? { yaml } : {}) }),
  why: (q: { from: string; to: string; port?: number; protocol?: Protocol; yaml?: string }) => call<WhyResponse>('/api/why', q),
};
