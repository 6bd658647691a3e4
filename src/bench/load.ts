/**
 * Reading large inputs: a generated 20 MB stream of about 43k documents (pods, NetworkPolicies, Services), timed
 * from YAML text through parse, validate and build, as `palisade check` runs them, with peak memory.
 */
import { execFileSync } from 'node:child_process';
import { parseManifests } from '../api/load.js';
import { validateDocuments } from '../model/read.js';
import { buildCluster } from '../model/cluster.js';
import type { BenchRow } from './row.js';

/** A YAML stream of about `megabytes` MB: pods with labels, ports and IPs, one NetworkPolicy per 10 pods, Services. */
export function largeStream(megabytes: number): { text: string; documents: number } {
  const parts: string[] = [];
  let size = 0;
  let documents = 0;
  const push = (doc: string) => {
    parts.push(doc);
    size += doc.length + 4;
    documents++;
  };
  for (let i = 0; size < megabytes * 1e6; i++) {
    const ns = `team-${i % 50}`;
    push(`apiVersion: v1
kind: Pod
metadata:
  name: pod-${i}
  namespace: ${ns}
  labels:
    app: app-${i % 200}
    tier: "${['web', 'api', 'db'][i % 3]}"
    version: v${i % 7}
  annotations:
    example.com/owner: team ${i % 50} # a comment
spec:
  nodeName: node-${i % 20}
  containers:
  - name: main
    image: registry.example/app:${i % 10}
    resources: {requests: {cpu: 100m, memory: 128Mi}}
    ports:
    - name: http
      containerPort: 8080
      protocol: TCP
    - containerPort: 9090
status:
  phase: Running
  podIP: 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}
`);
    if (i % 10 === 0) {
      push(`apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: np-${i}
  namespace: ${ns}
spec:
  podSelector:
    matchLabels:
      app: app-${i % 200}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {tier: web}
      namespaceSelector:
        matchExpressions:
        - {key: team, operator: In, values: [a, b]}
    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
    ports:
    - {protocol: TCP, port: http}
    - {port: 9000, endPort: 9100}
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{protocol: UDP, port: 53}]
`);
    }
    if (i % 25 === 0) {
      push(`apiVersion: v1
kind: Service
metadata:
  name: svc-${i}
  namespace: ${ns}
spec:
  selector: {app: app-${i % 200}}
  ports:
  - {name: http, port: 80, targetPort: http}
`);
    }
  }
  return { text: parts.join('---\n'), documents };
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Parse, validate and build of the large stream, each timed; the total against the target, and peak memory. */
export function benchLoad(megabytes = 20): BenchRow[] {
  const { text, documents } = largeStream(megabytes);
  const label = `${(text.length / 1e6).toFixed(0)} MB, ${Math.round(documents / 1000)}k documents`;
  const cpu0 = process.cpuUsage();
  const cpuMsSince = (from: NodeJS.CpuUsage) => {
    const d = process.cpuUsage(from);
    return (d.user + d.system) / 1000;
  };
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const parsed = parseManifests(text, 'large.yaml');
  const parseMs = ms(t0);
  const parseCpu = cpuMsSince(c0);
  const t1 = process.hrtime.bigint();
  const c1 = process.cpuUsage();
  const checked = validateDocuments(parsed.documents);
  const validateMs = ms(t1);
  const validateCpu = cpuMsSince(c1);
  const t2 = process.hrtime.bigint();
  const c2 = process.cpuUsage();
  const built = buildCluster(checked.valid);
  const buildMs = ms(t2);
  const buildCpu = cpuMsSince(c2);
  const total = parseMs + validateMs + buildMs;
  // CPU time as well: on a shared machine the wall clock also counts other people's work.
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const problems = parsed.diagnostics.length + checked.diagnostics.length + built.diagnostics.length;
  const rss = process.resourceUsage().maxRSS / 1024;
  return [
    { name: `check ${label}: parse (YAML text to objects)`, value: parseMs, unit: `ms (CPU ${parseCpu.toFixed(0)} ms)` },
    { name: `check ${label}: validate`, value: validateMs, unit: `ms (CPU ${validateCpu.toFixed(0)} ms)` },
    { name: `check ${label}: build the cluster (${built.cluster.endpoints.length} endpoints, ${problems} diagnostics)`, value: buildMs, unit: `ms (CPU ${buildCpu.toFixed(0)} ms)` },
    { name: `check ${label}: total`, value: total, unit: 'ms', target: '≤ 3000 ms', met: total <= 3000 },
    { name: `check ${label}: CPU time (user + system, with generating the text)`, value: cpuMs, unit: 'ms' },
    { name: `check ${label}: peak memory (RSS, with the text)`, value: rss, unit: 'MB', target: '≤ 600 MB', met: rss <= 600 },
  ];
}

/** The median wall time of running `args` with node, `runs` times. */
function medianRun(args: readonly string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, [...args], { stdio: 'ignore' });
    times.push(ms(t));
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

/** Start-up: `palisade --version` against a bare node start, and one `why` on the bundled example. */
export function benchStartup(cli: string): BenchRow[] {
  const bare = medianRun(['-e', '0'], 7);
  const version = medianRun([cli, '--version'], 7);
  const why = medianRun([cli, 'why', 'a/stranger', 'a/nginx', '--port', '80', 'examples/eks-multi-team/'], 5);
  return [
    { name: 'start-up: node -e 0', value: bare, unit: 'ms' },
    { name: 'start-up: palisade --version, times a bare node start', value: version / bare, unit: '×', target: '≤ 2.5×', met: version / bare <= 2.5 },
    { name: 'start-up: palisade why on examples/eks-multi-team', value: why, unit: 'ms', target: '≤ 300 ms', met: why <= 300 },
  ];
}
