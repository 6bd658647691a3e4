/**
 * The web UI's HTTP server (node:http only): the JSON API over a {@link Workspace} and the static browser bundle.
 * Loopback by default; on loopback it answers only requests addressed to a loopback name (no DNS rebinding) and
 * takes POST bodies only as JSON (no cross-site form posts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { InputError } from '../api/diagnostics.js';
import type { Protocol } from '../api/types.js';
import type { MatrixOptions } from '../engine/engine.js';
import { EditEvaluator, EvaluationInputError, EvaluationTimeout, type EvaluatorOptions, type EvaluatorSetup } from './evaluator.js';
import type { EvaluateRequest, EvaluateResponse, PoliciesResponse, WhyResponse } from './protocol.js';
import type { Workspace } from './workspace.js';

/** Options of {@link startWebServer}. */
export interface WebServerOptions {
  readonly workspace: Workspace;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** 0 picks a free port. @default 8080 */
  readonly port?: number;
  /** Where the browser bundle is. @default {@link defaultStaticDir} */
  readonly staticDir?: string;
  /**
   * Evaluate edits in a worker thread built from these texts, within a time budget (what `palisade serve` does).
   * @default undefined (edits are evaluated on the request loop)
   */
  readonly evaluator?: EvaluatorSetup & EvaluatorOptions;
}

/** A running server. */
export interface WebServer {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** A request body: an edit (at most MAX_EDIT_BYTES of YAML) as JSON, with room for escaping. */
const MAX_BODY = 8 * 1024 * 1024;
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/**
 * The browser bundle: `static/` beside the compiled server (`dist/web/static`), or, when running from sources,
 * `dist/web/static` of the repository. Undefined when it has not been built.
 */
export function defaultStaticDir(): string | undefined {
  const candidates = [new URL('./static/', import.meta.url), new URL('../../dist/web/static/', import.meta.url)];
  for (const c of candidates) {
    const dir = fileURLToPath(c);
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

const LOOPBACK_NAMES = new Set(['localhost', '[::1]', '::1']);
const IPV4_LOOPBACK = /^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * A loopback name or literal: `localhost`, `[::1]` (or `::1` as a bind address) or an IPv4 literal in 127.0.0.0/8
 * written in plain dotted decimal. `127.0.0.1.attacker.example` is not one: a name that merely starts with `127.` can
 * resolve anywhere (DNS rebinding).
 */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host.toLowerCase()) || IPV4_LOOPBACK.test(host);
}

/** The host name of a `Host` header value (`name:port`, `[v6]:port`), without the port. */
function hostName(header: string): string {
  const v6 = /^(\[[^\]]*\])(?::\d+)?$/.exec(header);
  if (v6) return v6[1];
  return header.replace(/:\d+$/, '');
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  let data = typeof body === 'string' ? Buffer.from(body) : body;
  const headers: Record<string, string> = {
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
  };
  if (data.length > 1024 && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    data = gzipSync(data);
    headers['content-encoding'] = 'gzip';
  }
  headers['content-length'] = String(data.length);
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : data);
}

function json(req: IncomingMessage, res: ServerResponse, value: unknown, status = 200): void {
  send(req, res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/.test(String(req.headers['content-type'] ?? ''))) throw new HttpError(415, 'send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'body must be a JSON object');
  return value as Record<string, unknown>;
}

function optionalString(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new HttpError(400, `${what} must be a string`);
  return v;
}

function requiredString(v: unknown, what: string): string {
  const s = optionalString(v, what);
  if (s === undefined) throw new HttpError(400, `${what} is required`);
  return s;
}

function portParam(v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  // Digits only: Number() would also read "0x50", "1e2", " 80" and "80.0".
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^[0-9]{1,5}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new HttpError(400, `port must be a number from 1 to 65535 (digits only), got "${String(v)}"`);
  return n;
}

function protocolParam(v: unknown): Protocol | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const p = String(v).toUpperCase();
  if (p !== 'TCP' && p !== 'UDP' && p !== 'SCTP') throw new HttpError(400, `protocol must be TCP, UDP or SCTP, got "${String(v)}"`);
  return p;
}

/** Asks the worker, mapping its failures to HTTP: over budget 503, an error in the edit 400. */
async function offLoop<T>(evaluator: EditEvaluator, question: Parameters<EditEvaluator['ask']>[0]): Promise<T> {
  try {
    return await evaluator.ask<T>(question);
  } catch (e) {
    if (e instanceof EvaluationTimeout) throw new HttpError(503, e.message);
    if (e instanceof EvaluationInputError) throw new HttpError(400, e.message);
    throw e;
  }
}

/** Creates the HTTP server (not listening). */
export function createWebServer(workspace: Workspace, opts: { staticDir?: string; host?: string; evaluator?: EditEvaluator } = {}): Server {
  const { evaluator } = opts;
  const staticDir = opts.staticDir ?? defaultStaticDir();
  const checkHost = opts.host === undefined || isLoopbackHost(opts.host);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const hostHeader = String(req.headers.host ?? '');
    if (checkHost && !isLoopbackHost(hostName(hostHeader))) throw new HttpError(403, 'this server answers only requests to localhost');
    const origin = req.headers.origin;
    if (origin !== undefined) {
      // A browser names the page that sent a request; only pages of this very server may use the API.
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        throw new HttpError(403, `foreign Origin "${origin}"`);
      }
      if (originHost !== hostHeader.toLowerCase() || (checkHost && !isLoopbackHost(hostName(originHost)))) throw new HttpError(403, `foreign Origin "${origin}": this server answers only its own pages`);
    }
    const path = url.pathname;
    const q = url.searchParams;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';

    if (path.startsWith('/api/')) {
      if (get && path === '/api/source') return json(req, res, workspace.source());
      if (get && path === '/api/grid') return json(req, res, workspace.grid());
      if (get && path === '/api/matrix') {
        const ns = optionalString(q.get('namespace'), 'namespace');
        const protocol = protocolParam(q.get('protocol'));
        const port = portParam(q.get('port'));
        const mopts: MatrixOptions = { ...(ns !== undefined ? { namespace: ns } : {}), ...(protocol ? { protocol } : {}), ...(port !== undefined ? { port } : {}) };
        return json(req, res, workspace.engine().matrixJson(mopts));
      }
      if (path === '/api/why' && (get || method === 'POST')) {
        const p = get ? Object.fromEntries(q) : await readJson(req);
        const port = portParam(p.port);
        const protocol = protocolParam(p.protocol);
        const yaml = get ? undefined : optionalString(p.yaml, 'yaml');
        const query = { from: requiredString(p.from, 'from'), to: requiredString(p.to, 'to'), ...(port !== undefined ? { port } : {}), ...(protocol ? { protocol } : {}), ...(yaml !== undefined ? { yaml } : {}) };
        return json(req, res, yaml !== undefined && evaluator ? await offLoop<WhyResponse>(evaluator, { method: 'why', query }) : workspace.why(query));
      }
      if (path === '/api/policies' && (get || method === 'POST')) {
        const yaml = get ? undefined : optionalString((await readJson(req)).yaml, 'yaml');
        return json(req, res, yaml !== undefined && evaluator ? await offLoop<PoliciesResponse>(evaluator, { method: 'policies', yaml }) : workspace.policies(yaml));
      }
      if (path === '/api/flowlog' && method === 'POST') {
        const body = await readJson(req);
        if (typeof body.log !== 'string') throw new HttpError(400, 'log (the text of an AWS network policy agent log) is required');
        const yaml = optionalString(body.yaml, 'yaml');
        return json(req, res, workspace.flowLog(body.log, optionalString(body.file, 'file') ?? 'uploaded.log', yaml));
      }
      if (path === '/api/evaluate' && method === 'POST') {
        const body = await readJson(req);
        if (typeof body.yaml !== 'string') throw new HttpError(400, 'yaml (a string) is required');
        const request: EvaluateRequest = { yaml: body.yaml, matrix: body.matrix === true };
        return json(req, res, evaluator ? await offLoop<EvaluateResponse>(evaluator, { method: 'evaluate', request }) : workspace.evaluate(request));
      }
      throw new HttpError(404, `no API ${method} ${path}`);
    }

    if (!get) throw new HttpError(405, `${method} is not allowed here`);
    const name = path === '/' ? 'index.html' : path.slice(1);
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.')) throw new HttpError(404, `not found: ${path}`);
    if (!staticDir || !existsSync(join(staticDir, 'index.html'))) {
      return send(req, res, 503, 'text/plain; charset=utf-8', 'The web UI bundle is not built: run `npm run build:web` (or `node scripts/build-web.mjs`). The JSON API under /api/ works.');
    }
    const file = join(staticDir, name);
    if (!existsSync(file)) throw new HttpError(404, `not found: ${path}`);
    return send(req, res, 200, TYPES[extname(name)] ?? 'application/octet-stream', readFileSync(file));
  };

  return createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : e instanceof InputError ? 400 : 500;
      const message = e instanceof Error ? e.message : String(e);
      if (!res.headersSent) json(req, res, { error: message }, status);
      else res.destroy();
    });
  });
}

/**
 * Starts the server and resolves once it listens.
 * @example
 * const web = await startWebServer({ workspace, port: 0 });
 * console.log(web.url); // http://127.0.0.1:41234/
 */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const host = opts.host ?? '127.0.0.1';
  const evaluator = opts.evaluator ? new EditEvaluator(opts.evaluator, opts.evaluator) : undefined;
  const server = createWebServer(opts.workspace, { ...(opts.staticDir !== undefined ? { staticDir: opts.staticDir } : {}), host, ...(evaluator ? { evaluator } : {}) });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE' ? new InputError(`port ${opts.port ?? 8080} on ${host} is in use; pick another with --port`) : e.code === 'EADDRNOTAVAIL' ? new InputError(`cannot listen on ${host}: no such local address`) : e);
    };
    server.once('error', onError);
    server.once('error', () => void evaluator?.close());
    server.listen(opts.port ?? 8080, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return {
    server,
    url: `http://${shown}:${port}/`,
    close: async () => {
      await evaluator?.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
