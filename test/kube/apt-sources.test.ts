/** scripts/kube-apiserver.sh reads its package source from the machine's own apt configuration only (dry run). */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function sources(files: Record<string, string>): { code: number | null; out: string; err: string } {
  const dir = mkdtempSync(join(tmpdir(), 'palisade-apt-'));
  try {
    mkdirSync(join(dir, 'sources.list.d'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync('bash', ['scripts/kube-apiserver.sh', 'sources'], { env: { ...process.env, PALISADE_APT_DIR: dir }, encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const codename = spawnSync('bash', ['-c', '. /etc/os-release 2>/dev/null; printf %s "${VERSION_CODENAME:-bookworm}"'], { encoding: 'utf8' }).stdout || 'bookworm';

describe('kube-apiserver.sh sources: the deb-src stanza comes from apt configuration, never a built-in mirror', () => {
  it('reads a deb822 .sources stanza (URIs, Suites, Signed-By), skipping disabled ones', () => {
    const r = sources({
      'sources.list.d/a.sources': `Types: deb\nURIs: http://disabled.invalid/debian\nSuites: ${codename}\nComponents: main\nEnabled: no\n\nTypes: deb\nURIs: http://mirror-a.invalid/debian\nSuites: ${codename} ${codename}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n`,
    });
    expect(r.code).toBe(0);
    expect(r.out).toBe(`Types: deb-src\nURIs: http://mirror-a.invalid/debian\nSuites: ${codename} ${codename}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/k.gpg\n`);
  });

  it('reads a one-line sources.list entry with a signed-by option', () => {
    const r = sources({ 'sources.list': `# comment\ndeb-src http://src.invalid/debian ${codename} main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror-b.invalid/debian ${codename} main\n` });
    expect(r.code).toBe(0);
    expect(r.out).toContain('URIs: http://mirror-b.invalid/debian\n');
    expect(r.out).toContain('Signed-By: /k.gpg\n');
  });

  it('fails with a clear message when the configuration names no source for the release', () => {
    const r = sources({ 'sources.list': `deb http://other.invalid/debian some-other-release main\n` });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/no enabled 'deb' source for/);
    expect(r.out).toBe('');
  });
});
