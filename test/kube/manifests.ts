/**
 * Reading the plain manifests under `deploy/` and applying them to a test API server.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  ApiextensionsV1Api,
  KubeConfig,
  KubernetesObject,
  KubernetesObjectApi,
  V1CustomResourceDefinition,
  loadAllYaml,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

/** The repository's `deploy/` directory. */
export const DEPLOY_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy');

/**
 * One YAML document from a manifest file, with where it came from.
 *
 * `object` is the document as written (wire names: `enum`, `default`, `from`). The client's typed models rename some
 * fields (`_enum`, `_default`, `_from`) and drop names they do not know when serialising, so anything sent to a server
 * must go through {@link typedObjects} instead.
 */
export interface Manifest {
  /** Path relative to `deploy/`. */
  readonly file: string;
  readonly object: KubernetesObject & Record<string, unknown>;
}

/** Every `.yaml`/`.yml` file under `dir`, skipping Helm `templates/` (Go templates, not YAML). */
export function manifestFiles(dir: string = DEPLOY_DIR): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'templates') files.push(...manifestFiles(path));
    } else if (/\.ya?ml$/.test(name)) {
      files.push(path);
    }
  }
  return files;
}

/**
 * Parses a file's YAML documents; throws on the first syntax error, naming the file.
 *
 * @returns the non-empty documents in file order.
 */
export function parseManifestFile(path: string): Manifest[] {
  const file = relative(DEPLOY_DIR, path);
  return parseAllDocuments(readFileSync(path, 'utf8')).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
    const object = doc.toJS() as Manifest['object'] | null;
    return object ? [{ file, object }] : [];
  });
}

/** Every Kubernetes object in the plain manifests (files with `apiVersion` and `kind`), Helm templates excluded. */
export function deployObjects(dir: string = DEPLOY_DIR): Manifest[] {
  return manifestFiles(dir)
    .flatMap(parseManifestFile)
    .filter((m) => typeof m.object.apiVersion === 'string' && typeof m.object.kind === 'string');
}

/** The objects of one manifest file as the client's typed models, ready to send. */
export function typedObjects(path: string): KubernetesObject[] {
  return loadAllYaml(readFileSync(path, 'utf8')).filter((o): o is KubernetesObject => o != null);
}

/** The CRDs in `deploy/crds/`, as typed models. */
export function deployCrds(): V1CustomResourceDefinition[] {
  return manifestFiles(join(DEPLOY_DIR, 'crds'))
    .flatMap(typedObjects)
    .filter((o): o is V1CustomResourceDefinition => o.kind === 'CustomResourceDefinition');
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Creates the CRDs and waits until each is Established and its resource is served.
 *
 * @returns the CRDs as the server stored them.
 */
export async function installCrds(
  kubeConfig: KubeConfig,
  crds: readonly V1CustomResourceDefinition[],
): Promise<V1CustomResourceDefinition[]> {
  const api = kubeConfig.makeApiClient(ApiextensionsV1Api);
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const stored: V1CustomResourceDefinition[] = [];
  for (const crd of crds) {
    await api.createCustomResourceDefinition({ body: crd });
    const name = crd.metadata?.name ?? '';
    for (let i = 0; ; i++) {
      const current = await api.readCustomResourceDefinition({ name });
      const established = current.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
      if (established) {
        stored.push(current);
        break;
      }
      if (i >= 100) throw new Error(`CRD ${name} not Established after 10 s`);
      await sleep(100);
    }
    // Established can precede discovery by a moment; list once through discovery to be sure the resource is served.
    const version = crd.spec.versions[0].name;
    for (let i = 0; ; i++) {
      try {
        await objects.list(`${crd.spec.group}/${version}`, crd.spec.names.kind);
        break;
      } catch (err) {
        if (i >= 100) throw err;
        await sleep(100);
      }
    }
  }
  return stored;
}
