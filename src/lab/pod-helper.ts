/**
 * The long-lived process that runs inside every lab pod (and the external hosts): it serves the pod's ports on TCP
 * and UDP and takes probe requests over a Unix socket (sockets on the filesystem work across network namespaces).
 * One process per pod keeps a full probe fast: starting `node` per connection costs 0.1–0.3 s.
 *
 * Kept as plain JavaScript text, written to the lab's state directory at `up`, so it runs the same whether Palisade
 * runs from TypeScript sources (tests) or from `dist/`.
 *
 * Requests (one JSON object per line) and replies:
 *   {id, op:'probe', targets:[{host,port,protocol}], timeoutMs} → {id, results:[true|false]}
 *   {id, op:'open', conn, host, port, timeoutMs}                  → {id, ok}      a long-lived TCP connection
 *   {id, op:'echo', conn, timeoutMs}                              → {id, ok}      round trip on it
 *   {id, op:'close', conn}                                        → {id, ok}
 */
export const POD_HELPER_SOURCE = String.raw`
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';

const cfg = JSON.parse(process.argv[2]);
const name = cfg.name;

for (const p of cfg.ports) {
  if (p.protocol === 'TCP') {
    for (const host of ['0.0.0.0', '::']) {
      const srv = net.createServer((s) => {
        s.on('error', () => {});
        s.write(name + '\n');
        s.on('data', (d) => s.write(d));
      });
      srv.on('error', () => {});
      srv.listen({ port: p.port, host, ipv6Only: host === '::' });
    }
  } else if (p.protocol === 'UDP') {
    for (const type of ['udp4', 'udp6']) {
      const sock = dgram.createSocket({ type, ipv6Only: type === 'udp6' });
      sock.on('error', () => {});
      sock.on('message', (msg, rinfo) => sock.send(name, rinfo.port, rinfo.address));
      sock.bind(p.port, type === 'udp4' ? '0.0.0.0' : '::');
    }
  }
}

function probeTcp(t, timeoutMs) {
  return new Promise((resolve) => {
    const s = net.connect({ host: t.host, port: t.port });
    const done = (ok) => { clearTimeout(timer); s.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('data', () => done(true));
    s.once('error', () => done(false));
  });
}

// UDP probes bind source ports from a rolling counter instead of an ephemeral port: a reused source port would match
// a conntrack entry left by an earlier probe (UDP entries live 30-120 s) and pass as established after the policy
// changed, which is what conntrack should do, but not what a probe of the current policy wants to see.
let nextUdpPort = 20000 + Math.floor(Math.random() * 20000);
function udpSourcePort() {
  nextUdpPort = nextUdpPort >= 60999 ? 20000 : nextUdpPort + 1;
  return nextUdpPort;
}

function probeUdp(t, timeoutMs, attempt = 0) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
    let timer;
    let bound = false;
    const done = (ok) => { clearTimeout(timer); try { s.close(); } catch {} resolve(ok); };
    timer = setTimeout(() => done(false), timeoutMs);
    s.once('message', () => done(true));
    s.once('error', () => {
      if (bound || attempt >= 5) { done(false); return; }
      // The port was taken (a server port, or still in use): try the next one.
      clearTimeout(timer);
      try { s.close(); } catch {}
      probeUdp(t, timeoutMs, attempt + 1).then(resolve);
    });
    s.bind(udpSourcePort(), () => { bound = true; s.send('probe', t.port, t.host); });
  });
}

const conns = new Map();

async function handle(req) {
  const timeoutMs = req.timeoutMs ?? 1000;
  switch (req.op) {
    case 'probe':
      return { results: await Promise.all(req.targets.map((t) => (t.protocol === 'UDP' ? probeUdp(t, timeoutMs) : probeTcp(t, timeoutMs)))) };
    case 'open':
      return await new Promise((resolve) => {
        const s = net.connect({ host: req.host, port: req.port });
        const timer = setTimeout(() => { s.destroy(); resolve({ ok: false }); }, timeoutMs);
        s.on('error', () => {});
        s.once('data', () => { clearTimeout(timer); conns.set(req.conn, s); resolve({ ok: true }); });
      });
    case 'echo': {
      const s = conns.get(req.conn);
      if (!s || s.destroyed) return { ok: false };
      return await new Promise((resolve) => {
        const token = 'echo-' + Math.random().toString(36).slice(2) + '\n';
        let got = '';
        const onData = (d) => { got += d.toString(); if (got.includes(token)) { finish(true); } };
        const finish = (ok) => { clearTimeout(timer); s.off('data', onData); resolve({ ok }); };
        const timer = setTimeout(() => finish(false), timeoutMs);
        s.on('data', onData);
        s.write(token);
      });
    }
    case 'close': {
      conns.get(req.conn)?.destroy();
      conns.delete(req.conn);
      return { ok: true };
    }
    default:
      return { error: 'unknown op ' + req.op };
  }
}

try { fs.unlinkSync(cfg.sock); } catch {}
const ctl = net.createServer((c) => {
  let buf = '';
  c.on('error', () => {});
  c.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const req = JSON.parse(line);
      handle(req).then((r) => c.write(JSON.stringify({ id: req.id, ...r }) + '\n'), (e) => c.write(JSON.stringify({ id: req.id, error: String(e) }) + '\n'));
    }
  });
});
ctl.listen(cfg.sock, () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => process.exit(0));
`;
