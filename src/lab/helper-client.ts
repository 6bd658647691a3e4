/** Talks to a pod's probe helper over its Unix socket. */
import { connect, type Socket } from 'node:net';

export interface HelperTarget {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

export class HelperClient {
  private nextId = 1;
  private pending = new Map<number, (r: Record<string, unknown>) => void>();
  private buf = '';
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, i)) as Record<string, unknown> & { id: number };
        this.buf = this.buf.slice(i + 1);
        this.pending.get(msg.id)?.(msg);
        this.pending.delete(msg.id);
      }
    });
  }

  static connect(path: string): Promise<HelperClient> {
    return new Promise((resolve, reject) => {
      const s = connect(path);
      s.once('connect', () => resolve(new HelperClient(s)));
      s.once('error', reject);
    });
  }

  /** Sends one request and waits for its reply (bounded by `timeoutMs` + 5 s). */
  request<T extends Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    const limit = ((req.timeoutMs as number | undefined) ?? 1000) + 5000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new Error(`helper did not answer ${String(req.op)}`)); }, limit);
      this.pending.set(id, (r) => { clearTimeout(timer); resolve(r as T); });
      this.sock.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  /** Real connections from the helper's pod to each target, in parallel; true = an answer came back. */
  async probe(targets: readonly HelperTarget[], timeoutMs = 1000): Promise<boolean[]> {
    const r = await this.request<{ results: boolean[] }>({ op: 'probe', targets, timeoutMs });
    return r.results;
  }

  /** Opens a long-lived TCP connection named `conn`; true when the server's greeting arrived. */
  async open(conn: string, host: string, port: number, timeoutMs = 1000): Promise<boolean> {
    return (await this.request<{ ok: boolean }>({ op: 'open', conn, host, port, timeoutMs })).ok;
  }

  /** A round trip over connection `conn`. */
  async echo(conn: string, timeoutMs = 1000): Promise<boolean> {
    return (await this.request<{ ok: boolean }>({ op: 'echo', conn, timeoutMs })).ok;
  }

  async closeConn(conn: string): Promise<void> {
    await this.request({ op: 'close', conn });
  }

  close(): void {
    this.sock.destroy();
  }
}
