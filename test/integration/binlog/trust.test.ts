/**
 * The archive under the faults a careless or unlucky operator meets:
 * a second archiver started while one runs (also after the lock's session
 * would have idled out, and after the source restarts), a segment object
 * deleted from the repository, pieces that overlap (two writers once
 * wrote the same bytes), and a file that stays active while pieces pile up.
 */
import { readdir, readFile, unlink, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { restartMariaDB, startMariaDB } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { WORKLOAD_SCHEMA, Workload, idsOn, sleep } from '../../helpers/workload.js';
import { waitFor, waitForStderr } from '../../helpers/wait.js';
import { getText, metric } from '../../helpers/http.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { silentLogger } from '../../../src/observability/logger.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

type Side = { file: string; kind: string; start: number; end: number; timeline: string; level?: number; object: { name: string; size: number; sha256: string; rawSize: number }; lastTransaction?: { gtid?: string; end: number } };

async function setup(binlog: Record<string, unknown> = { uploadInterval: '300ms' }, top: Record<string, unknown> = {}) {
  const source = await startMariaDB();
  cleanups.push(() => source.stop());
  await source.source(WORKLOAD_SCHEMA);
  const account = await source.createBacktrackUser();
  const t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog }, top });
  const work = new Workload(source);
  cleanups.push(() => work.close());
  return { source, t, work };
}

function archiver(t: TestConfig): ResultPromise {
  const child = cliSpawn(['binlog', '--config', t.file]);
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await child;
  });
  return child;
}

/** Every segment sidecar, with where its object lives. */
async function sidecars(t: TestConfig): Promise<Array<Side & { objectPath: string; sidecarPath: string }>> {
  const out: Array<Side & { objectPath: string; sidecarPath: string }> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json') && !p.includes('/gaps/')) {
        const s = JSON.parse(await readFile(p, 'utf8')) as Side;
        out.push({ ...s, sidecarPath: p, objectPath: path.join(path.dirname(p), s.object.name) });
      }
    }
  };
  await walk(path.join(t.dir, 'repo', 'main', 'binlogs'));
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.start - b.start);
}

async function listing(t: TestConfig) {
  const r = await cli(['list', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json.sources[0];
}

async function waitArchived(t: TestConfig, work: Workload) {
  const gtid = work.rows[work.rows.length - 1]!.gtid;
  await waitFor(async () => (await sidecars(t)).some((s) => s.lastTransaction?.gtid === gtid), 'the last row to be archived', 30_000, 200);
}

async function restoreLatestEquals(t: TestConfig, work: Workload): Promise<void> {
  const target = await startMariaDB({ profile: 'scratch' });
  cleanups.push(() => target.stop());
  const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`]);
  expect(r.code, r.stderr).toBe(0);
  expect(await idsOn(target)).toEqual(work.rows.map((x) => x.id));
}

/** Back up, archive `batches` of writes with a pause after each (so they land in separate pieces), and stop the archiver. */
async function archiveBatches(t: TestConfig, work: Workload, batches: number, perBatch: number, pauseMs: number): Promise<void> {
  expect((await cli(['backup', '--config', t.file])).code).toBe(0);
  const a = archiver(t);
  await waitForStderr(a, /binlog archiving started/);
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < perBatch; i++) await work.writeOne(`batch ${b}`);
    await sleep(pauseMs);
  }
  await waitArchived(t, work);
  await sleep(500);
  a.kill('SIGTERM');
  await a;
}

describe('exactly one archiver per source', () => {
  it('refuses a second archiver with exit 5 after the lock session would have idled out, and after the source restarted', async () => {
    const { source, t, work } = await setup({ uploadInterval: '300ms' }, { daemon: { leaderRetry: '1s' } });
    await source.query('SET GLOBAL wait_timeout = 3');
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    const a = archiver(t);
    await waitForStderr(a, /binlog archiving started/);
    for (let i = 0; i < 10; i++) await work.writeOne('before idle');
    // Longer than wait_timeout: an unpinged lock session would be gone by now.
    await sleep(5000);
    const b = await cli(['binlog', '--config', t.file], { timeoutMs: 30_000 });
    expect(b.code).toBe(5);
    expect(b.stderr).toMatch(/another Backtrack process holds the binlog lock for source main/);
    // The source restarts: the archiver re-takes its lock and goes on; a newcomer is still refused.
    await work.close();
    await source.stop({ keepData: true });
    const again = await restartMariaDB(source);
    cleanups.push(() => again.stop());
    await again.query('SET GLOBAL wait_timeout = 3');
    await waitForStderr(a, /binlog archiving started/, 60_000);
    const w2 = new Workload(again);
    cleanups.push(() => w2.close());
    for (let i = 0; i < 10; i++) await w2.writeOne('after restart');
    await sleep(4000);
    const c = await cli(['binlog', '--config', t.file], { timeoutMs: 30_000 });
    expect(c.code).toBe(5);
    work.rows.push(...w2.rows);
    await waitArchived(t, work);
    const l = await listing(t);
    expect(l.binlog.gaps).toEqual([]);
    await restoreLatestEquals(t, work);
  });
});

describe('an archiver whose lock is taken from it', () => {
  it('stops within leaderRetry, with exit 5, when another session takes the lock it lost', async () => {
    const { source, t, work } = await setup({ uploadInterval: '300ms' }, { daemon: { leaderRetry: '1s' } });
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    const a = archiver(t);
    await waitForStderr(a, /binlog archiving started/);
    for (let i = 0; i < 5; i++) await work.writeOne('x');
    await waitArchived(t, work);
    // Its lock session dies, and someone else holds the lock before it can re-take it.
    const thief = await source.root();
    cleanups.push(() => thief.end());
    const [[holder]] = (await thief.query("SELECT IS_USED_LOCK('backtrack:main:binlog') AS id")) as unknown as [[{ id: number }]];
    await thief.query(`KILL ${Number(holder.id)}`);
    const [[got]] = (await thief.query("SELECT GET_LOCK('backtrack:main:binlog', 5) AS ok")) as unknown as [[{ ok: number }]];
    expect(Number(got.ok)).toBe(1);
    const started = Date.now();
    const r = await a;
    expect(r.exitCode).toBe(5);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(String(r.stderr)).toMatch(/the binlog lock could not be kept: stopping this archiver/);
  });
});

describe('a source idle since its backup', () => {
  it('has a restorable window that does not end before it starts', async () => {
    const { t, work } = await setup();
    const a = archiver(t);
    await waitForStderr(a, /binlog archiving started/);
    for (let i = 0; i < 5; i++) await work.writeOne('before the backup');
    await waitArchived(t, work);
    await sleep(1100);
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    await sleep(1500);
    const l = await listing(t);
    expect(l.window).not.toBeNull();
    expect(Date.parse(l.window.to)).toBeGreaterThanOrEqual(Date.parse(l.window.from));
  });
});

describe('a segment missing from the repository', () => {
  it('is a gap that list shows and restore refuses with exit 4, naming the nearest restorable point inside the file', async () => {
    const { t, work } = await setup();
    await archiveBatches(t, work, 4, 5, 700);
    const pieces = (await sidecars(t)).filter((s) => s.kind === 'piece');
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    const victim = pieces[Math.floor(pieces.length / 2)]!;
    await unlink(victim.objectPath);
    const l = await listing(t);
    expect(l.binlog.gaps).toHaveLength(1);
    expect(l.binlog.gaps[0].detail).toMatch(new RegExp(`bytes ${victim.start}\\.\\.${victim.end} of ${victim.file.replace('.', '\\.')} are not usable: the object of .* \\(missing\\)`));
    const r = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1', '--dry-run']);
    expect(r.code).toBe(4);
    const m = /nearest restorable point before the gap is \S+ \((\S+):(\d+)\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(m![1]).toBe(victim.file);
    expect(Number(m![2])).toBeLessThanOrEqual(victim.start);
    // check reports it too, and the daemon's gap metric counts it.
    const c = await cli(['check', '--config', t.file, '--json']);
    expect(c.json.checks.find((x: { name: string }) => x.name === 'source main: repository contents').detail).toMatch(/binlog gap/);
    const src = t.cfg.sources[0]!;
    const daemon = new Daemon({ cfg: { ...t.cfg, sources: [{ ...src, binlog: { ...src.binlog, enabled: false } }] }, log: silentLogger(), listen: '127.0.0.1:0' });
    try {
      const { port } = await daemon.start();
      expect(metric((await getText(`http://127.0.0.1:${port}/metrics`)).body, 'backtrack_binlog_gaps', { source: 'main' })).toBe(1);
    } finally {
      await daemon.stop();
    }
  });

  it('is not a gap when it is an object without a sidecar at the end (a killed archiver), which the next archiver removes', async () => {
    const { t, work } = await setup();
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    let a = archiver(t);
    await waitForStderr(a, /binlog archiving started/);
    for (let i = 0; i < 10; i++) await work.writeOne('x');
    await waitArchived(t, work);
    a.kill('SIGTERM');
    await a;
    const last = (await sidecars(t)).filter((s) => s.kind === 'piece').slice(-1)[0]!;
    const pad = (n: number) => String(n).padStart(20, '0');
    const stray = path.join(path.dirname(last.objectPath), `${pad(last.end)}-${pad(last.end + 500)}.zst`);
    await copyFile(last.objectPath, stray);
    expect((await listing(t)).binlog.gaps).toEqual([]);
    a = archiver(t);
    await waitForStderr(a, /binlog archiving started/);
    await waitFor(async () => !(await readdir(path.dirname(stray))).includes(path.basename(stray)), 'the stray object to be removed', 10_000, 200);
  });
});

describe('overlapping pieces', () => {
  /** Replace the pieces after the first with one piece that starts inside the second: the cover overlaps. */
  async function overlap(t: TestConfig, mutate?: (raw: Buffer, overlapAt: number) => void): Promise<void> {
    const pieces = (await sidecars(t)).filter((s) => s.kind === 'piece');
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    const [, second, ...rest] = pieces;
    const raw = Buffer.concat(await Promise.all(pieces.map(async (p) => zstdDecompressSync(await readFile(p.objectPath)))));
    const base = pieces[0]!.start;
    const from = second!.start + Math.floor((second!.end - second!.start) / 2);
    const to = pieces[pieces.length - 1]!.end;
    const bytes = Buffer.from(raw.subarray(from - base, to - base));
    mutate?.(bytes, second!.end - from);
    const z = zstdCompressSync(bytes);
    const pad = (n: number) => String(n).padStart(20, '0');
    const name = `${pad(from)}-${pad(to)}.zst`;
    const dir = path.dirname(second!.objectPath);
    await writeFile(path.join(dir, name), z);
    const lastSide = JSON.parse(await readFile(rest[rest.length - 1]!.sidecarPath, 'utf8'));
    const side = { ...lastSide, start: from, end: to, object: { ...lastSide.object, name, size: z.length, sha256: createHash('sha256').update(z).digest('hex'), rawSize: bytes.length } };
    await writeFile(path.join(dir, `${pad(from)}-${pad(to)}.json`), JSON.stringify(side));
    for (const p of rest) {
      await unlink(p.sidecarPath);
      await unlink(p.objectPath);
    }
  }


  it('are read as one chain when they hold the same bytes', async () => {
    const { t, work } = await setup();
    await archiveBatches(t, work, 4, 5, 700);
    await overlap(t);
    expect((await listing(t)).binlog.gaps).toEqual([]);
    await restoreLatestEquals(t, work);
  });

  it('are reported as damage, naming both, when they hold different bytes', async () => {
    const { t, work } = await setup();
    await archiveBatches(t, work, 4, 5, 700);
    await overlap(t, (bytes, overlapLen) => {
      bytes[Math.floor(overlapLen / 2)] = (bytes[Math.floor(overlapLen / 2)] ?? 0) ^ 0xff;
    });
    const target = await startMariaDB({ profile: 'scratch' });
    cleanups.push(() => target.stop());
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/binlog segment .* and binlog segment .* overlap at bytes \d+\.\.\d+ but hold different bytes there/);
  });
});

describe('an active file that stays active', () => {
  it('is held in a bounded number of folded pieces, and a restore to its newest transaction reads only those', async () => {
    const { t, work } = await setup({ uploadInterval: '200ms', foldPieces: 3 });
    // About 40 uploads of the one active file.
    await archiveBatches(t, work, 40, 1, 220);
    const pieces = (await sidecars(t)).filter((s) => s.kind === 'piece');
    const files = await readdir(path.dirname(pieces[0]!.objectPath));
    // Two objects per piece; with 3 per level, at most 2 pieces per level (4 levels for ~40 uploads).
    expect(files.length).toBe(pieces.length * 2);
    expect(pieces.length).toBeLessThanOrEqual(8);
    expect(Math.max(...pieces.map((p) => p.level ?? 0))).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < pieces.length; i++) expect(pieces[i]!.start).toBe(pieces[i - 1]!.end);
    const target = await startMariaDB({ profile: 'scratch' });
    cleanups.push(() => target.stop());
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const read = r.json.plan.pitr.files.flatMap((f: { objects: string[] }) => f.objects);
    expect(read.sort()).toEqual(pieces.map((p) => `${p.timeline}/${p.file}.partial/${p.object.name}`).sort());
    expect(await idsOn(target)).toEqual(work.rows.map((x) => x.id));
    // A dry run to the newest transaction reads no segment at all.
    const dry = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--dry-run', '--force', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json.plan.pitr.fetchedBytes).toBe(0);
  });

  it('restores a file of many pieces with only JSON on stderr (no Node warning among the logs)', async () => {
    const { t, work } = await setup({ uploadInterval: '200ms', foldPieces: 64 });
    await archiveBatches(t, work, 14, 1, 250);
    expect((await sidecars(t)).filter((s) => s.kind === 'piece').length).toBeGreaterThan(10);
    const target = await startMariaDB({ profile: 'scratch' });
    cleanups.push(() => target.stop());
    for (const extra of [['--dry-run'], []]) {
      const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--log-level', 'debug', ...extra]);
      expect(r.code, r.stderr).toBe(0);
      for (const line of r.stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).not.toThrow();
      expect(r.stderr).not.toMatch(/MaxListenersExceeded/);
    }
    expect(await idsOn(target)).toEqual(work.rows.map((x) => x.id));
  });
});
