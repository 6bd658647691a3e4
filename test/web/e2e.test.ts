/**
 * The UI end to end in headless Chromium: the example loads, every matrix cell matches `matrixJson()`, a cell opens
 * its explanation with the deciding rule highlighted, an edit marks exactly the cells the engine says changed, dark
 * mode toggles, and the screenshot for the README is taken. Skipped, with the reason, when Chromium is missing.
 */
import { screenshotPath } from '../support/screenshots.js';
import { gate } from '../support/gate.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCluster } from '../../src/model/read.js';
import { compile } from '../../src/engine/engine.js';
import type { MatrixJson } from '../../src/engine/types.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { Workspace } from '../../src/web/workspace.js';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = 'examples/eks-multi-team/';
const skipChromium = gate('web-e2e', existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install chromium)`);

/** The state `palisade matrix` shows for each ordered pair (no filter). */
function expectedStates(m: MatrixJson): Map<string, string> {
  const byPair = new Map(m.connections.map((c) => [`${c.from} ${c.to}`, c]));
  const external = new Set(m.endpoints.filter((e) => e.kind === 'External').map((e) => e.id));
  const out = new Map<string, string>();
  for (const a of m.endpoints) {
    for (const b of m.endpoints) {
      const c = byPair.get(`${a.id} ${b.id}`);
      const all = (s: string) => s === '1-65535';
      out.set(`${a.id} ${b.id}`, a.id === b.id || (external.has(a.id) && external.has(b.id)) ? 'self' : !c ? 'blocked' : all(c.tcp) && all(c.udp) && all(c.sctp) ? 'allowed' : 'partial');
    }
  }
  return out;
}

async function cellStates(page: Page): Promise<Map<string, string>> {
  const cells = await page.$$eval('.mx-body [role=gridcell][data-from][data-to]', (els) => els.map((e) => [(e as HTMLElement).dataset.from!, (e as HTMLElement).dataset.to!, (e as HTMLElement).dataset.state!]));
  return new Map(cells.map(([f, t, s]) => [`${f} ${t}`, s]));
}

describe.skipIf(skipChromium)('web UI in Chromium', () => {
  let web: WebServer;
  let browser: Browser;
  let page: Page;
  let staticDir: string;
  const read = readCluster([EXAMPLE]);
  const engine = compile(read.cluster);

  beforeAll(async () => {
    staticDir = mkdtempSync(join(tmpdir(), 'palisade-web-'));
    const built = spawnSync(process.execPath, ['scripts/build-web.mjs', '--outdir', staticDir], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const texts = new Map(read.documents.map((d) => [d.pos.file, readFileSync(d.pos.file, 'utf8')]));
    web = await startWebServer({ workspace: new Workspace([EXAMPLE], read, texts), port: 0, staticDir });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 }, colorScheme: 'light' });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(web.url);
    await page.waitForSelector('.mx-body [role=gridcell]');
    expect(errors).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    if (staticDir) rmSync(staticDir, { recursive: true, force: true });
  });

  it('shows every cell as matrixJson() says', async () => {
    const expected = expectedStates(engine.matrixJson());
    const shown = await cellStates(page);
    expect(shown.size).toBe(expected.size);
    expect(shown).toEqual(expected);
  });

  it('filters by protocol and port as `matrix --protocol --port` does', async () => {
    await page.selectOption('#filter-protocol', 'UDP');
    await page.fill('#filter-port', '53');
    const m = engine.matrixJson({ protocol: 'UDP', port: 53 });
    const allowed = new Set(m.connections.map((c) => `${c.from} ${c.to}`));
    const shown = await cellStates(page);
    for (const [pair, state] of shown) {
      if (state === 'self') continue;
      expect(state, pair).toBe(allowed.has(pair) ? 'allowed' : 'blocked');
    }
    await page.selectOption('#filter-protocol', '');
    await page.fill('#filter-port', '');
  });

  it('collapses a namespace into one line and expands it again', async () => {
    await page.click('.mx-rowhead [data-toggle="a"]');
    expect(await page.locator('.mx-body [data-from-group="a"]').count()).toBeGreaterThan(0);
    expect(await page.locator('.mx-body [data-from="a/client"]').count()).toBe(0);
    await page.click('.mx-rowhead [data-toggle="a"]');
    expect(await page.locator('.mx-body [data-from="a/client"]').count()).toBeGreaterThan(0);
  });

  it('opens the explanation from the keyboard, with the deciding rule highlighted', async () => {
    const cell = page.locator('.mx-body [data-from="a/client"][data-to="a/client"]');
    await cell.click();
    await page.keyboard.press('Escape');
    // a/client's row; move right to a/nginx (the next column) and press Enter.
    await cell.focus();
    await page.keyboard.press('ArrowRight');
    const focused = await page.evaluate(() => [(document.activeElement as HTMLElement).dataset.from, (document.activeElement as HTMLElement).dataset.to]);
    expect(focused).toEqual(['a/client', 'a/nginx']);
    await page.keyboard.press('Enter');
    const panel = page.locator('#why');
    await panel.locator('.flow').first().waitFor();
    const text = await panel.innerText();
    expect(text).toContain('a/client → a/nginx');
    expect(text).toContain(engine.verdict({ from: 'a/client', to: 'a/nginx', protocol: 'TCP', port: 80 }).ingress.summary);
    const highlighted = await panel.locator('.flow').first().locator('[data-highlight]').allInnerTexts();
    expect(highlighted.join('\n')).toContain('port: http');
  });

  it('marks the cells an edit changes, and shows an error at its line', async () => {
    await page.click('#tab-edit');
    const editor = page.locator('textarea.editor-text');
    const yaml = await editor.inputValue();
    await editor.fill(yaml.replace('{protocol: TCP, port: http}', '{protocol: TCP, port: 8443}'));
    await page.waitForSelector('.mx-body [data-changed]');
    await page.locator('.mx-body [data-changed]').click();
    await page.locator('#why .flow').first().waitFor();
    await page.screenshot({ path: screenshotPath('screenshot-edit.png') });
    const changed = await page.$$eval('.mx-body [data-changed]', (els) => els.map((e) => `${(e as HTMLElement).dataset.from} ${(e as HTMLElement).dataset.to}`));
    expect(changed).toEqual(['a/client a/nginx']);
    await page.locator('#why .flow').first().waitFor();

    await editor.fill(yaml.replace('{protocol: TCP, port: http}', '{protocol: TCPX, port: http}'));
    const errorLine = yaml.split('\n').findIndex((l) => l.includes('{protocol: TCP, port: http}')) + 1;
    await page.waitForSelector(`.gutter .gl.error[data-line="${errorLine}"]`);
    expect(await page.locator('.problem.error').first().innerText()).toContain(`policies.yaml:${errorLine}`);

    await editor.fill(yaml);
    await page.waitForFunction(() => document.querySelectorAll('.mx-body [data-changed]').length === 0 && !document.body.dataset.stale);
  });

  it('draws the graph and lists a node’s connections', async () => {
    await page.click('#tab-graph');
    await page.waitForSelector('.graph svg .node');
    expect(await page.locator('.graph svg .node').count()).toBe(engine.matrixJson().endpoints.length);
    await page.locator('.graph svg .node[data-node="a/client"]').focus();
    await page.keyboard.press('Enter');
    expect(await page.locator('.graph-list').innerText()).toContain('a/nginx');
    await page.screenshot({ path: screenshotPath('screenshot-graph.png') });
  });

  it('explains policies with peers as units', async () => {
    await page.click('#tab-policies');
    const card = page.locator('[data-policy="NetworkPolicy a/allow-egress"]');
    await card.waitFor();
    expect(await card.locator('.rule').count()).toBe(3);
    expect(await card.locator('.peer .and').count()).toBe(1);
    await page.screenshot({ path: screenshotPath('screenshot-policies.png') });
  });

  it('toggles dark mode and takes the README screenshot', async () => {
    await page.click('#tab-matrix');
    const before = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.click('#theme-toggle');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    const after = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(after).not.toBe(before);
    await page.click('#theme-toggle');
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('light');

    await page.locator('.mx-body [data-from="a/client"][data-to="a/nginx"]').click();
    await page.locator('#why .flow').first().waitFor();
    await page.screenshot({ path: screenshotPath('screenshot.png') });
    await page.click('#theme-toggle');
    await page.screenshot({ path: screenshotPath('screenshot-dark.png') });
  });
});
