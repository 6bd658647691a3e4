/**
 * The UI at scale: 2,000 endpoints (20 namespaces of 100 pods). The grid on the wire stays small, and the page keeps
 * only the cells in view in the DOM, however large the matrix.
 */
import { screenshotPath } from '../support/screenshots.js';
import { gate } from '../support/gate.js';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseManifests } from '../../src/api/load.js';
import { buildCluster } from '../../src/model/cluster.js';
import { encodeGrid, denseGrid, gridToMatrix } from '../../src/web/grid.js';
import { compile } from '../../src/engine/engine.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { Workspace } from '../../src/web/workspace.js';

const CHROMIUM = '/usr/bin/chromium';
const NAMESPACES = 20;
const PODS = 100;

function clusterYaml(): string {
  const docs: string[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `team-${String(n).padStart(2, '0')}`;
    docs.push(`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}, labels: {tier: ${n % 3 === 0 ? 'front' : 'back'}}}`);
    for (let p = 0; p < PODS; p++) {
      docs.push(`apiVersion: v1\nkind: Pod\nmetadata: {name: pod-${p}, namespace: ${ns}, labels: {app: app-${p % 7}}}\nspec:\n  containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]\nstatus: {phase: Running, podIP: 10.${n}.${Math.floor(p / 250)}.${(p % 250) + 1}}`);
    }
    docs.push(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: ${ns}}\nspec: {podSelector: {}, policyTypes: [Ingress]}`);
    docs.push(`apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: same-namespace, namespace: ${ns}}\nspec:\n  podSelector: {}\n  ingress:\n  - from: [{podSelector: {}}]\n  - from: [{namespaceSelector: {matchLabels: {tier: front}}}]\n    ports: [{port: http}]`);
  }
  return docs.join('\n---\n');
}

describe('2,000 endpoints', () => {
  const text = clusterYaml();
  const parsed = parseManifests(text, 'big.yaml');
  const { cluster } = buildCluster(parsed.documents);
  let web: WebServer | undefined;
  let browser: Browser | undefined;
  let staticDir: string | undefined;

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    if (staticDir) rmSync(staticDir, { recursive: true, force: true });
  });

  it('encodes the grid compactly and exactly', () => {
    const engine = compile(cluster);
    const started = Date.now();
    const grid = encodeGrid(denseGrid(engine));
    const elapsed = Date.now() - started;
    expect(grid.endpoints.length).toBe(NAMESPACES * PODS + engine.externals.length);
    const bytes = JSON.stringify(grid).length;
    // 4 million cells, in well under a megabyte.
    expect(bytes).toBeLessThan(1_000_000);
    expect(elapsed).toBeLessThan(10_000);
    const sample = gridToMatrix(grid).connections.filter((c) => c.from === 'team-01/pod-3');
    expect(sample).toEqual(engine.matrixJson().connections.filter((c) => c.from === 'team-01/pod-3'));
  });

  describe.skipIf(gate('web-scale', existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install chromium)`))('in Chromium', () => {
    beforeAll(async () => {
      staticDir = mkdtempSync(join(tmpdir(), 'palisade-web-'));
      expect(spawnSync(process.execPath, ['scripts/build-web.mjs', '--outdir', staticDir]).status).toBe(0);
      const read = { cluster, documents: parsed.documents, diagnostics: [], invalid: 0 };
      web = await startWebServer({ workspace: new Workspace(['big.yaml'], read, new Map([['big.yaml', text]])), port: 0, staticDir });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    });

    it('starts collapsed by namespace, expands one, and keeps the DOM small while scrolling', async () => {
      const page = await browser!.newPage({ viewport: { width: 1440, height: 900 } });
      const started = Date.now();
      await page.goto(web!.url);
      await page.waitForSelector('.mx-body [role=gridcell]');
      const loadMs = Date.now() - started;
      expect(loadMs).toBeLessThan(15_000);
      // Collapsed: one line per namespace, the 20 x 20 blocks combined.
      expect(await page.locator('.mx-body [data-from-group="team-01"][data-to-group="team-01"]').getAttribute('data-state')).toBe('allowed');
      expect(await page.locator('.mx-body [data-from-group="team-01"][data-to-group="team-02"]').getAttribute('data-state')).toBe('blocked');
      expect(await page.locator('.mx-body [data-from-group="team-01"][data-to-group="team-03"]').getAttribute('data-state')).toBe('blocked');
      expect(await page.locator('.mx-body [data-from-group="team-00"][data-to-group="team-01"]').getAttribute('data-state')).toBe('partial');
      await page.click('button:has-text("Expand all")');
      await page.waitForSelector('.mx-body [data-from="team-00/pod-0"]');
      const count = await page.locator('.mx-body [role=gridcell]').count();
      expect(count).toBeLessThan(20_000);
      await page.locator('.mx-scroller').evaluate((el) => {
        el.scrollTop = 30_000;
        el.scrollLeft = 20_000;
      });
      await page.waitForFunction(() => !document.querySelector('.mx-body [data-from="team-00/pod-0"]'));
      expect(await page.locator('.mx-body [role=gridcell]').count()).toBeLessThan(20_000);
      await page.screenshot({ path: screenshotPath('screenshot-scale.png') });
      await page.close();
    });
  });
});
