/**
 * The `yaml` library, loaded on first use: most manifests are read by the fast block reader, so a command like `why`
 * on a plain example never pays for loading the full YAML parser.
 */
import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');

let loaded: YamlModule | undefined;

/** The `yaml` module (loaded once, synchronously, when first asked for). */
export function yamlLib(): YamlModule {
  loaded ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return loaded;
}
