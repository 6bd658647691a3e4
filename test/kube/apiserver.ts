/**
 * A real kube-apiserver 1.20 (with etcd) for one test file, through `scripts/kube-apiserver.sh`.
 *
 * ```ts
 * import { kubeApiServer, useKubeApiServer } from './apiserver.js';
 *
 * describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('my API test'), () => {
 *   const server = useKubeApiServer();
 *   it('lists namespaces', async () => {
 *     const core = server().kubeConfig.makeApiClient(CoreV1Api);
 *     ...
 *   });
 * });
 * ```
 *
 * Set `PALISADE_KUBE=off` to skip these tests on purpose. When the binary is not cached and we are root, the first test
 * file that needs it builds it (about 15 minutes on 2 cores); other files wait for that build.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { gate } from '../support/gate.js';

const run = promisify(execFile);

/** The project's script; tests never look outside the repository for it. */
export const KUBE_APISERVER_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/kube-apiserver.sh');

/** Building from source takes 12–15 minutes on 2 cores; allow for a slow machine. */
const BUILD_TIMEOUT_MS = 40 * 60_000;
const START_TIMEOUT_MS = 120_000;

/** Whether this machine can run the API server, and if not, why. */
export interface KubeApiServerAvailability {
  readonly available: boolean;
  /** Why the tests are skipped; empty when available. */
  readonly reason: string;
  /** The cached binary, whether or not it exists yet. */
  readonly binary: string;
  /** True when the binary must be built before the first start. */
  readonly needsBuild: boolean;
  /** A describe() title that carries the skip reason, so skipped runs say why. */
  title(name: string): string;
}

/** A running server for the current test file. */
export interface KubeApiServer {
  /** Loaded from `dir/kubeconfig`: admin (system:masters) by bearer token, CA pinned to the server's own cert. */
  readonly kubeConfig: KubeConfig;
  /** The directory holding the kubeconfig, logs, pids and etcd data; removed on stop. */
  readonly dir: string;
}

/** Reads the script's `env` output (`export NAME=value` lines). */
function scriptEnv(): Record<string, string> {
  const out = execFileSync('bash', [KUBE_APISERVER_SCRIPT, 'env'], { encoding: 'utf8' });
  const vars: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^export (\w+)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

function checkAvailability(): KubeApiServerAvailability {
  const make = (available: boolean, reason: string, binary = '', needsBuild = false): KubeApiServerAvailability => ({
    available,
    reason,
    binary,
    needsBuild,
    title: (name) => (available ? name : `${name} [skipped: ${reason}]`),
  });
  if (process.env.PALISADE_KUBE === 'off') return make(false, 'PALISADE_KUBE=off');
  if (process.platform !== 'linux') return make(false, `kube-apiserver tests run on Linux only, not ${process.platform}`);
  let vars: Record<string, string>;
  try {
    vars = scriptEnv();
  } catch (err) {
    return make(false, `${KUBE_APISERVER_SCRIPT} env failed: ${(err as Error).message}`);
  }
  const binary = vars.PALISADE_KUBE_APISERVER ?? '';
  const root = process.getuid?.() === 0;
  const cached = binary !== '' && existsSync(binary);
  if (!cached && !root) {
    return make(false, `no kube-apiserver at ${binary} and not root to build it (run: sudo ${KUBE_APISERVER_SCRIPT} build)`, binary);
  }
  if (!vars.PALISADE_ETCD && !root) {
    return make(false, 'etcd is not installed and not root to install it (apt-get install etcd-server)', binary);
  }
  return make(true, '', binary, !cached);
}

/** Checked once per test file, at import, so `describe.skipIf` can use it. */
export const kubeApiServer: KubeApiServerAvailability = checkAvailability();
gate('kube-apiserver', kubeApiServer.available ? undefined : kubeApiServer.reason);

/** Builds the binary if needed; safe to call from several test files at once (the script serialises builds). */
async function ensureBinary(): Promise<void> {
  if (existsSync(kubeApiServer.binary)) return;
  console.warn(`[palisade] building kube-apiserver into ${kubeApiServer.binary} (about 15 minutes)`);
  await run('bash', [KUBE_APISERVER_SCRIPT, 'build'], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
}

function stopSync(dir: string): void {
  try {
    execFileSync('bash', [KUBE_APISERVER_SCRIPT, 'stop', dir], { stdio: 'ignore', timeout: 30_000 });
  } catch {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts etcd + kube-apiserver before the file's tests and stops them after. Call inside a `describe` that is skipped
 * when {@link kubeApiServer} is not available.
 *
 * @returns an accessor for the running server; it throws if called before `beforeAll` ran.
 */
export function useKubeApiServer(): () => KubeApiServer {
  let server: KubeApiServer | undefined;
  // If the test process dies without afterAll, do not leave etcd and the server behind.
  const onExit = (): void => {
    if (server) stopSync(server.dir);
  };

  beforeAll(async () => {
    await ensureBinary();
    const dir = mkdtempSync(join(tmpdir(), 'palisade-kube-'));
    try {
      await run('bash', [KUBE_APISERVER_SCRIPT, 'start', dir], { timeout: START_TIMEOUT_MS });
    } catch (err) {
      stopSync(dir);
      const e = err as Error & { stderr?: string };
      throw new Error(`kube-apiserver did not start: ${e.stderr || e.message}`);
    }
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(join(dir, 'kubeconfig'));
    server = { kubeConfig, dir };
    process.once('exit', onExit);
  }, BUILD_TIMEOUT_MS + START_TIMEOUT_MS);

  afterAll(async () => {
    if (!server) return;
    process.off('exit', onExit);
    const { dir } = server;
    server = undefined;
    await run('bash', [KUBE_APISERVER_SCRIPT, 'stop', dir], { timeout: 30_000 });
  }, 60_000);

  return () => {
    if (!server) throw new Error('kube-apiserver is not running (useKubeApiServer() must be called inside describe)');
    return server;
  };
}
