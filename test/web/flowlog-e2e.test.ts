/**
 * The flow-log marks in headless Chromium: loading the bundled AWS agent log through the page's file input marks the
 * cells its flows fell on, and the `except` bug's ACCEPT to 169.254.169.254 as a mismatch. Skipped, with the reason,
 * when Chromium is missing.
 */
import { gate } from '../support/gate.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFlowLogs, readFlowLogFile } from '../../src/audit/flowlog.js';
import { compile } from '../../src/engine/engine.js';
import { readCluster } from '../../src/model/read.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { Workspace } from '../../src/web/workspace.js';

const CHROMIUM = '/usr/bin/chromium';
const EXAMPLE = 'examples/eks-multi-team/';
const LOG = 'examples/eks-aws/network-policy-agent.log';
const skip = gate('web-flowlog', existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install chromium)`);

describe.skipIf(skip)('flow-log marks in Chromium', () => {
  let web: WebServer;
  let browser: Browser;
  let page: Page;
  let staticDir: string;
  const read = readCluster([EXAMPLE]);

  beforeAll(async () => {
    staticDir = mkdtempSync(join(tmpdir(), 'palisade-web-log-'));
    const built = spawnSync(process.execPath, ['scripts/build-web.mjs', '--outdir', staticDir], { encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    const texts = new Map(read.documents.map((d) => [d.pos.file, readFileSync(d.pos.file, 'utf8')]));
    web = await startWebServer({ workspace: new Workspace([EXAMPLE], read, texts), port: 0, staticDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(web.url);
    await page.waitForSelector('.mx-body [role=gridcell]');
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await web?.close();
    if (staticDir) rmSync(staticDir, { recursive: true, force: true });
  });

  it('marks every logged pod-to-pod cell, the mismatch as such, and says how many flows contradict the engine', async () => {
    await page.setInputFiles('#flowlog-file', LOG);
    await page.waitForSelector('.mx-body [data-log]');
    const marks = await page.$$eval('.mx-body [data-log]', (els) => els.map((e) => [(e as HTMLElement).dataset.from!, (e as HTMLElement).dataset.to!, (e as HTMLElement).dataset.log!]));
    const expected = auditFlowLogs(compile(read.cluster), [readFlowLogFile(LOG)]).cells.map((c) => [c.from, c.to, c.mismatch ? 'mismatch' : 'agrees']);
    expect(new Set(marks.map((m) => m.join(' ')))).toEqual(new Set(expected.map((m) => m.join(' '))));
    expect(marks.filter((m) => m[2] === 'mismatch')).toEqual([['a/client', '169.254.169.254-169.254.169.254', 'mismatch']]);
    expect(await page.textContent('#flowlog-status')).toBe('network-policy-agent.log: 7 flows, 1 contradicts the engine, 1 line not read');
  });
});
