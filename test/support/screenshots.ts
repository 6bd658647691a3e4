/** Where browser tests save screenshots: `docs/` when PALISADE_SCREENSHOTS=docs (to refresh the README's), else a temp dir. */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function screenshotPath(name: string): string {
  const dir = process.env.PALISADE_SCREENSHOTS === 'docs' ? 'docs' : join(tmpdir(), 'palisade-screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
