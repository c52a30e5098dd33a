/**
 * The status page in a real browser: Debian's chromium driven by
 * playwright-core, against a daemon on loopback with a real MariaDB source,
 * its archiver running and a real local repository. The page asks for the
 * token, then shows the restorable window and the backup (not yet drilled);
 * after a corrupted backup is drilled it marks the failed drill; after a
 * binlog segment goes missing it shows the gap. The screenshots it takes
 * are the README's (docs/status-page*.png).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../../src/daemon/daemon.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { cli } from '../../helpers/cli.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { WORKLOAD_SCHEMA, Workload } from '../../helpers/workload.js';
import { waitFor } from '../../helpers/wait.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const required = process.env.BACKTRACK_REQUIRE_ALL === '1';
const TOKEN = 'status-page-token-5e1a';
const DOCS = path.resolve('docs');

let source: TestServer;
let t: TestConfig;
let daemon: Daemon;
let browser: Browser;
let page: Page;
let base: string;
let work: Workload;
const backups: string[] = [];

describe.skipIf(!CHROMIUM && !required)('the status page', () => {
  beforeAll(async () => {
    expect(CHROMIUM, 'chromium is required here (BACKTRACK_REQUIRE_ALL=1): apt-get install chromium').toBeDefined();
    source = await startMariaDB();
    await source.source(WORKLOAD_SCHEMA);
    const account = await source.createBacktrackUser();
    t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '500ms' }, verify: { scratch: { mode: 'spawn' } } } });
    const tokenFile = path.join(t.dir, 'token');
    await writeFile(tokenFile, `ops:${TOKEN}\n`, { mode: 0o600 });
    await writeFile(t.file, (await import('yaml')).stringify({ ...t.raw, http: { listen: '127.0.0.1:0', tokenFile }, daemon: { leaderRetry: '500ms', refreshInterval: '2s' } }));
    const cfg = (await import('../../../src/config/load.js')).loadConfig(t.file).config;
    daemon = new Daemon({ cfg, log: silentLogger(), listen: '127.0.0.1:0' });
    const { port } = await daemon.start();
    base = `http://127.0.0.1:${port}`;
    work = new Workload(source);
    for (let i = 0; i < 5; i++) await work.writeOne(`before ${i}`);
    const b = await cli(['backup', '--config', t.file, '--json']);
    expect(b.code, b.stderr).toBe(0);
    backups.push(b.json.backup.id);
    // Writes over a few seconds, so the window (backup to newest archived transaction) has a visible length.
    for (let i = 0; i < 5; i++) {
      await work.writeOne(`after ${i}`);
      await new Promise((r) => setTimeout(r, 800));
    }
    await waitFor(async () => (await cli(['list', '--config', t.file, '--json'])).json?.sources?.[0]?.window !== null, 'a restorable window', 30_000, 300);
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await daemon?.stop();
    await work?.close();
    await source?.stop();
  });

  it('asks for the token, then shows the restorable window and the backup, not yet drilled', async () => {
    await page.goto(`${base}/`);
    await page.getByLabel(/API token/).fill('wrong');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not accepted/);
    await page.getByLabel(/API token/).fill(TOKEN);
    await page.getByRole('button', { name: 'Show status' }).click();
    await page.getByRole('heading', { name: /main/ }).waitFor();
    const window = await page.getByTestId('window').textContent();
    expect(window).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC … \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(any second/);
    const status = (await (await fetch(`${base}/api/v1/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { sources: Array<{ windows: Array<{ from: string; to: string }> }> };
    const w = status.sources[0]!.windows.at(-1)!;
    expect(window).toContain(`${w.from.slice(0, 19).replace('T', ' ')} UTC`);
    expect(await page.getByTestId('backup-none').count()).toBe(1);
    expect(await page.getByTestId('window-band').count()).toBe(1);
    expect(await page.getByTestId('archive').textContent()).toMatch(/streaming, lag/);
    expect(await page.getByTestId('gaps').textContent()).toBe('none');
    expect(await page.getByText('this daemon leads it').count()).toBe(1);
    // A text alternative for the timeline: its summary, and a table opened from the keyboard.
    expect(await page.getByTestId('timeline').getAttribute('aria-label')).toMatch(/1 backup\(s\), 0 proven by a drill, 0 failed; 0 gap\(s\)/);
    await page.getByText('The timeline as a table').focus();
    await page.keyboard.press('Enter');
    expect(await page.getByRole('cell', { name: /not drilled yet/ }).count()).toBe(1);
    // The token stays with this tab only.
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([1, 0]);
    await page.screenshot({ path: path.join(DOCS, 'status-page.png'), fullPage: true });
  }, 60_000);

  it('marks a failed drill after a corrupted backup is drilled', async () => {
    const b = await cli(['backup', '--config', t.file, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const id = b.json.backup.id as string;
    backups.push(id);
    const dir = path.join(new URL(t.cfg.repository.url).pathname, 'main', 'backups', id);
    const object = (await readdir(dir)).find((f) => f.endsWith('.zst') && !f.startsWith('users'))!;
    const bytes = await readFile(path.join(dir, object));
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    await writeFile(path.join(dir, object), bytes);
    const drill = await cli(['verify', '--config', t.file, '--backup', id]);
    expect(drill.code, drill.stderr).toBe(3);
    await page.getByTestId('backup-failed').waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('last-drill').textContent()).toMatch(/Last drill: FAILED/);
    expect(await page.getByTestId('timeline').getAttribute('aria-label')).toMatch(/2 backup\(s\), 0 proven by a drill, 1 failed/);
    await page.screenshot({ path: path.join(DOCS, 'status-page-failed-drill.png'), fullPage: true });
  }, 300_000);

  it('shows a gap after a binlog segment goes missing', async () => {
    for (let f = 0; f < 3; f++) {
      await work.writeOne(`later ${f}`);
      await source.query('FLUSH BINARY LOGS');
    }
    await work.writeOne('last');
    const root = path.join(new URL(t.cfg.repository.url).pathname, 'main', 'binlogs');
    // A closed file stored whole, neither the first nor the newest: its object goes missing.
    const wholeFiles = async () => {
      const out: string[] = [];
      for (const tl of await readdir(root)) for (const f of await readdir(path.join(root, tl))) if (/\.\d{6}\.zst$/.test(f)) out.push(path.join(root, tl, f));
      return out.sort();
    };
    await waitFor(async () => (await wholeFiles()).length >= 3, 'three binlog files archived whole', 30_000, 300);
    const victim = (await wholeFiles()).at(-2)!;
    await unlink(victim);
    await page.getByTestId('gap-band').first().waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('gaps').textContent()).toMatch(/GAP: .*not (usable|in the repository)/);
    expect(await page.getByTestId('timeline').getAttribute('aria-label')).toMatch(/1 gap\(s\)/);
    await page.screenshot({ path: path.join(DOCS, 'status-page-gap.png'), fullPage: true });
  }, 120_000);

  it('is one small file, served open, whose data needs the token', async () => {
    const r = await fetch(`${base}/`);
    expect(r.status).toBe(200);
    const html = await r.text();
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/);
    expect((await fetch(`${base}/api/v1/status`)).status).toBe(401);
  });
});
