/**
 * Restore drills: a good backup passes every check; each kind of damage fails
 * with the right check named; a drill killed part way leaves no scratch
 * server and no datadir; a point-in-time drill over rotated binlogs passes
 * and fails when a segment in the middle is removed.
 */
import { execSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { waitFor, waitForStderr, sleep } from '../../helpers/wait.js';
import { WORKLOAD_SCHEMA, Workload } from '../../helpers/workload.js';

let source: TestServer;
let t: TestConfig;
let backupId: string;
let backupDir: string;
const saved = new Map<string, Buffer>();
let DATA: string;

beforeAll(async () => {
  source = await startMariaDB();
  await source.source(`
    CREATE DATABASE shop; USE shop;
    CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50));
    INSERT INTO items SELECT seq, CONCAT('item ', seq) FROM seq_1_to_2000;
    CREATE TABLE orders (id INT PRIMARY KEY, item_id INT, FOREIGN KEY (item_id) REFERENCES items (id));
    INSERT INTO orders SELECT seq, 1 + seq % 2000 FROM seq_1_to_5000;
    CREATE VIEW order_count AS SELECT COUNT(*) AS n FROM orders;
    CREATE PROCEDURE p() SELECT 1;
    CREATE TRIGGER trg BEFORE INSERT ON orders FOR EACH ROW SET NEW.item_id = NEW.item_id;
    CREATE USER 'shop_app'@'%' IDENTIFIED BY 'x';
    GRANT SELECT ON shop.* TO 'shop_app'@'%';
  `);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' });
  const r = await cli(['backup', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  backupId = r.json.backup.id;
  backupDir = path.join(t.dir, 'repo', 'main', 'backups', backupId);
  for (const f of readdirSync(backupDir)) saved.set(f, await readFile(path.join(backupDir, f)));
  // The object of the largest table (shop.orders): a backup is table by table.
  DATA = [...saved.keys()].filter((f) => f.startsWith('table.')).sort((a, b) => (saved.get(b)?.length ?? 0) - (saved.get(a)?.length ?? 0))[0] as string;
});
afterAll(async () => {
  await source?.stop();
});
beforeEach(async () => {
  // Every test starts from the intact backup.
  for (const [f, b] of saved) await writeFile(path.join(backupDir, f), b);
});

const scratchBase = () => path.join(t.dir, 'work', 'scratch');

/** No scratch datadir and no server process from a drill remain. */
async function expectNothingLeft() {
  await waitFor(() => {
    const dirs = existsSync(scratchBase()) ? readdirSync(scratchBase()) : [];
    let procs = '';
    try {
      procs = execSync(`pgrep -af '[m]ariadbd.*${scratchBase()}' || true`).toString().trim();
    } catch {
      procs = '';
    }
    return dirs.length === 0 && procs === '';
  }, 'the scratch server and its datadir to be gone', 30_000, 250);
}

async function drill(extra: string[] = []) {
  const r = await cli(['verify', '--config', t.file, '--json', ...extra]);
  return { ...r, checks: Object.fromEntries((r.json?.checks ?? []).map((c: { name: string; verdict: string }) => [c.name, c.verdict])) };
}

async function editManifest(fn: (m: Record<string, any>) => void) { // eslint-disable-line @typescript-eslint/no-explicit-any
  const p = path.join(backupDir, 'manifest.json');
  const m = JSON.parse(await readFile(p, 'utf8'));
  fn(m);
  await writeFile(p, JSON.stringify(m));
}

describe('a drill of a good backup', () => {
  it('passes every check, reports the RTO, and is shown by list', async () => {
    const r = await drill();
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.verdict).toBe('passed');
    expect(r.checks).toEqual({ integrity: 'passed', load: 'passed', inventory: 'passed', rows: 'passed', timing: 'passed' });
    expect(r.json.rto.seconds).toBeGreaterThan(0);
    const rows = r.json.checks.find((c: { name: string }) => c.name === 'rows');
    expect(rows.evidence.rows).toBe(7000);
    const l = await cli(['list', '--config', t.file, '--json']);
    expect(l.json.sources[0].backups[0].drill.verdict).toBe('passed');
    await expectNothingLeft();
  });
});

describe('a drill of a damaged backup', () => {
  it('fails integrity when one byte of an object is flipped', async () => {
    const p = path.join(backupDir, DATA);
    const b = Buffer.from(saved.get(DATA)!);
    b[Math.floor(b.length / 3)] = (b[Math.floor(b.length / 3)] ?? 0) ^ 0x01;
    await writeFile(p, b);
    const r = await drill();
    expect(r.code).toBe(3);
    expect(r.json.failedChecks).toContain('integrity');
    expect(r.checks.load).not.toBe('passed');
    expect(r.stdout + r.stderr).toContain(DATA);
    await expectNothingLeft();
  });

  it('fails integrity when an object is truncated', async () => {
    await truncate(path.join(backupDir, DATA), 100);
    const r = await drill();
    expect(r.code).toBe(3);
    expect(r.json.failedChecks).toEqual(['integrity']);
    await expectNothingLeft();
  });

  it('fails integrity when an object is missing', async () => {
    await unlink(path.join(backupDir, 'users.sql.zst'));
    const r = await drill();
    expect(r.code).toBe(3);
    expect(r.json.failedChecks).toEqual(['integrity']);
    expect(r.json.checks[0].message).toMatch(/users\.sql\.zst is missing/);
  });

  it('fails rows when the manifest\'s count for one table is off by one', async () => {
    await editManifest((m) => {
      m.rowCounts.find((c: { table: string }) => c.table === 'orders').rows += 1;
    });
    const r = await drill();
    expect(r.code).toBe(3);
    expect(r.json.failedChecks).toEqual(['rows']);
    expect(r.json.checks.find((c: { name: string }) => c.name === 'rows').message).toMatch(/shop\.orders has 5000, manifest says 5001/);
  });

  it('fails load when the SQL fails part way, with the server\'s message', async () => {
    const sql = zstdDecompressSync(saved.get(DATA)!).toString('utf8');
    const at = sql.indexOf('LOCK TABLES `orders`');
    const broken = `${sql.slice(0, at)}\nTHIS IS NOT SQL;\n${sql.slice(at)}`;
    const z = zstdCompressSync(Buffer.from(broken));
    await writeFile(path.join(backupDir, DATA), z);
    await editManifest((m) => {
      const o = m.objects.find((x: { name: string }) => x.name === DATA);
      o.size = z.length;
      o.sha256 = createHash('sha256').update(z).digest('hex');
    });
    const r = await drill();
    expect(r.code).toBe(3);
    expect(r.json.failedChecks).toEqual(['load']);
    expect(r.json.checks.find((c: { name: string }) => c.name === 'load').message).toMatch(/ERROR 1064/);
    await expectNothingLeft();
  });
});

describe('a drill that is killed', () => {
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    it(`leaves no scratch server and no datadir after ${sig}`, async () => {
      const child = cliSpawn(['verify', '--config', t.file]);
      await waitForStderr(child, /drill: (loading the backup|starting the scratch server)/);
      await sleep(300);
      child.kill(sig);
      await child;
      await expectNothingLeft();
    });
  }
});

describe('a drill that cannot start', () => {
  it('exits 7 and does not judge the backup', async () => {
    const bad = await writeTestConfig(source, { user: 'backtrack', passwordFile: t.cfg.sources[0]!.mysql.passwordFile! }, { kind: 'fs' }, { top: { repository: { url: path.join(t.dir, 'repo') } }, source: { verify: { scratch: { mode: 'spawn', serverBinary: '/nonexistent/mariadbd' } } } });
    const r = await cli(['verify', '--config', bad.file]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/scratch/);
  });
});

describe('a point-in-time drill', () => {
  it('passes over a backup plus rotated binlogs, and fails when a middle segment is removed', async () => {
    const own = await startMariaDB();
    try {
      await own.source(WORKLOAD_SCHEMA);
      const account = await own.createBacktrackUser();
      await own.query("GRANT CREATE, INSERT, DELETE, SELECT ON backtrack.* TO 'backtrack'@'127.0.0.1'");
      const c = await writeTestConfig(own, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' }, verify: { heartbeat: { enabled: true, interval: '200ms' } } } });
      const archiver = cliSpawn(['binlog', '--config', c.file]);
      await waitForStderr(archiver, /binlog archiving started/);
      const work = new Workload(own);
      await work.writeOne();
      expect((await cli(['backup', '--config', c.file])).code).toBe(0);
      for (const _ of [1, 2, 3]) {
        for (let i = 0; i < 10; i++) await work.writeOne();
        await own.query('FLUSH BINARY LOGS');
        await sleep(400);
      }
      // Beats of the last 5 s before the point are not compared (commit order): let some be older.
      await sleep(5500);
      const T = Math.floor(Date.now() / 1000) - 1;
      await sleep(1200);
      archiver.kill('SIGTERM');
      await archiver;
      await work.close();
      const ok = await cli(['verify', '--config', c.file, '--json', '--to', new Date(T * 1000).toISOString()]);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
      const pit = ok.json.checks.find((x: { name: string }) => x.name === 'point-in-time');
      expect(pit.verdict).toBe('passed');
      expect(pit.message).toMatch(/holds exactly the \d+ heartbeat\(s\) the source wrote from /);
      expect(pit.evidence.files.length).toBeGreaterThanOrEqual(3);
      // Remove a closed binlog file in the middle of the chain.
      const tlDir = path.join(c.dir, 'repo', 'main', 'binlogs');
      const timeline = readdirSync(tlDir)[0]!;
      const files = readdirSync(path.join(tlDir, timeline)).filter((f) => f.endsWith('.zst')).sort();
      const middle = files[Math.floor(files.length / 2)]!;
      await rm(path.join(tlDir, timeline, middle));
      await rm(path.join(tlDir, timeline, middle.replace(/\.zst$/, '.json')));
      const bad = await cli(['verify', '--config', c.file, '--json', '--to', new Date(T * 1000).toISOString()]);
      expect(bad.code).toBe(3);
      expect(bad.json.failedChecks).toContain('point-in-time');
      expect(bad.json.checks.find((x: { name: string }) => x.name === 'point-in-time').message).toMatch(/gap/);
    } finally {
      await own.stop();
    }
  });
});
