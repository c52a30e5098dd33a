/**
 * A week of an immutable repository: S3 Object Lock emulated in front of
 * s3rver (test/helpers/object-lock-proxy.ts), a real MariaDB, the archiver,
 * a backup and a prune every simulated day (Date moved a day at a time with
 * vi.setSystemTime; the lock clock is the same Date). Each day: no job
 * fails, no locked version is ever asked to be deleted, no object is written
 * over, every object a kept backup or the binlog chain needs is locked into
 * the future, and retention that no longer keeps a backup leaves it until
 * its lock has run out, then deletes it by version id. At the end a delete
 * marker put over a backup by hand is reported by list and check, and the
 * repository still restores every row.
 */
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { takeBackup } from '../../../src/backup/backup.js';
import { BinlogArchiver } from '../../../src/binlog/archiver.js';
import { loadChain } from '../../../src/binlog/chain.js';
import { parseDsn } from '../../../src/mysql/dsn.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { pruneSource } from '../../../src/prune/prune.js';
import { binlogKeys, keys, newBackupId } from '../../../src/repository/layout.js';
import type { WritableRepository } from '../../../src/repository/repository.js';
import { restoreToPoint } from '../../../src/restore/pitr.js';
import { openRepository } from '../../../src/runtime/context.js';
import { cli } from '../../helpers/cli.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { ObjectLockProxy } from '../../helpers/object-lock-proxy.js';
import { startS3, type S3Sandbox } from '../../helpers/s3.js';
import { WORKLOAD_SCHEMA, Workload, idsOn } from '../../helpers/workload.js';
import { waitFor } from '../../helpers/wait.js';

const DAY = 86_400_000;
const MIN_RETAIN_DAYS = 2;
const log = silentLogger();
const actor = { kind: 'cli' as const, name: 'object-lock-week' };

let source: TestServer;
let s3: S3Sandbox;
let proxy: ObjectLockProxy;
let t: TestConfig;
let repo: WritableRepository;
let work: Workload;
let prefix: string;
const start = Date.now();
const days: Array<{ day: number; backup: string; kept: string[]; locked: string[]; deleted: number; extended: number }> = [];

beforeAll(async () => {
  [source, s3] = await Promise.all([startMariaDB(), startS3()]);
  proxy = new ObjectLockProxy({ backend: s3.client, dataBucket: 'lockdata', bucket: 'lockrepo', objectLock: true });
  const endpoint = await proxy.start();
  await source.source(WORKLOAD_SCHEMA);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' }, {
    source: { binlog: { uploadInterval: '300ms', foldPieces: 4 } },
    top: {
      repository: { url: 's3://lockrepo/week', s3: { endpoint, forcePathStyle: true, region: 'us-east-1', partSize: 5, objectLock: { mode: 'GOVERNANCE', minRetainDays: MIN_RETAIN_DAYS } } },
      retention: { keepLast: 3, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    },
  });
  prefix = 'week/';
  repo = await openRepository(t.cfg, 'write', log);
  work = new Workload(source);
  vi.useFakeTimers({ toFake: ['Date'] });
}, 120_000);

afterAll(async () => {
  vi.useRealTimers();
  await work?.close();
  await proxy?.stop();
  await Promise.all([source?.stop(), s3?.stop()]);
});

/** Archive what the day wrote (with a rotation, so whole files replace pieces), then stop the archiver. */
async function archiveDay(day: number): Promise<void> {
  const archiver = new BinlogArchiver({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, onLockHeld: 'fail' });
  const running = archiver.start();
  let failed: unknown;
  running.catch((err: unknown) => (failed = err));
  for (let i = 0; i < 6; i++) await work.writeOne(`day ${day} row ${i}`);
  if (day % 2 === 0) await source.query('FLUSH BINARY LOGS');
  for (let i = 0; i < 3; i++) await work.writeOne(`day ${day} late row ${i}`);
  const last = work.rows[work.rows.length - 1]!;
  await waitFor(async () => (await loadChain(repo, 'main')).some((tl) => tl.files.some((f) => f.segments.some((s) => s.lastTransaction?.gtid === last.gtid))), `day ${day}'s rows to be archived`, 30_000, 200);
  await archiver.stop();
  expect(failed, `the archiver failed on day ${day}`).toBeUndefined();
}

/** Every object a kept backup or the binlog chain needs, as the bucket's keys. */
async function neededKeys(): Promise<string[]> {
  const out: string[] = [];
  const { backups } = await repo.listBackups('main');
  for (const b of backups) for (const o of proxy.objects(`${prefix}${keys.backupPrefix('main', b.id)}`)) out.push(o.key);
  for (const tl of await loadChain(repo, 'main')) {
    for (const f of tl.files) for (const s of f.segments) out.push(`${prefix}${binlogKeys.segmentObject(s)}`, `${prefix}${binlogKeys.sidecar(s)}`);
  }
  return out;
}

describe('a week of an immutable repository', () => {
  it('backs up, archives and prunes every day without a failure, a refused deletion, a rewrite, or a needed object unlocked', async () => {
    let leftover = '';
    for (let day = 0; day < 7; day++) {
      vi.setSystemTime(start + day * DAY);
      await archiveDay(day);
      // Day 1: what a backup killed part way leaves (objects, no manifest), locked like any object.
      if (day === 1) {
        leftover = newBackupId();
        await repo.backupWriter('main', leftover).put('data.sql.zst', Buffer.from('cut short'));
      }
      const m = await takeBackup({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor });
      const r = await pruneSource({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, dryRun: false });
      expect(r.locks, 'prune ran the lock pass').toBeDefined();
      days.push({ day, backup: m.id, kept: r.decision.keep.map((k) => k.id), locked: (r.locked ?? []).map((l) => l.what), deleted: r.deletedObjects, extended: r.locks!.extended });
      // What Backtrack never does: ask to delete a locked version, write over an object, upload without a checksum.
      expect(proxy.refused, `day ${day}`).toEqual([]);
      expect(proxy.overwrites, `day ${day}`).toEqual([]);
      expect(proxy.missingChecksum, `day ${day}`).toEqual([]);
      // Everything needed is locked into the future, by at least a day.
      const needed = await neededKeys();
      expect(needed.length).toBeGreaterThan(0);
      for (const key of needed) {
        const until = proxy.newestObject(key)?.retainUntil?.getTime() ?? 0;
        expect(until, `day ${day}: ${key} is locked`).toBeGreaterThan(Date.now() + DAY - 60_000);
      }
      // A backup retention dropped but its lock still holds is still there, and said to be locked.
      const { backups, leftovers } = await repo.listBackups('main');
      // The leftover stays a leftover while locked (the cleanups leave it, failing nothing), and goes once unlocked.
      if (day >= 1 && day <= 2) expect(leftovers.map((l) => l.id), `day ${day}`).toContain(leftover);
      if (day >= 4) expect(proxy.versions.has(`${prefix}${keys.backupObject('main', leftover, 'data.sql.zst')}`), `day ${day}: the leftover is gone`).toBe(false);
      for (const what of r.locked ?? []) {
        const id = /^backup (\S+)$/.exec(what.what)?.[1];
        if (id) expect(backups.map((b) => b.id)).toContain(id);
        expect(Date.parse(what.until)).toBeGreaterThan(Date.now());
      }
    }
    // The run: from day 3 on retention drops a backup each day, and the lock (extended while it was kept) holds it a while longer.
    console.log(`object lock week: ${days.map((d) => `day ${d.day}: kept ${d.kept.length}, locked ${d.locked.length}, deleted ${d.deleted} objects, extended ${d.extended}`).join('; ')}`);
    expect(days.slice(3).every((d) => d.locked.some((w) => w.startsWith('backup ')))).toBe(true);
    // Backups dropped early enough are gone by the end: deleted by version id once unlocked, no marker left.
    const dropped = days[0]!.backup;
    expect((await repo.listBackups('main')).backups.map((b) => b.id)).not.toContain(dropped);
    expect(proxy.objects(`${prefix}${keys.backupPrefix('main', dropped)}`)).toEqual([]);
    expect([...proxy.versions.keys()].filter((k) => k.startsWith(`${prefix}${keys.backupPrefix('main', dropped)}`))).toEqual([]);
  }, 600_000);

  it('once every lock has run out, prune deletes all that retention dropped and keeps the rest locked', async () => {
    vi.setSystemTime(start + (7 + MIN_RETAIN_DAYS + 1) * DAY);
    const r = await pruneSource({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, dryRun: false });
    expect(r.locked, JSON.stringify(r.locked)).toEqual([]);
    const { backups } = await repo.listBackups('main');
    expect(backups.map((b) => b.id)).toEqual(days.slice(-3).map((d) => d.backup));
    for (const key of await neededKeys()) expect(proxy.newestObject(key)!.retainUntil!.getTime(), key).toBeGreaterThan(Date.now() + DAY);
    expect(proxy.refused).toEqual([]);
    // Pieces a whole file replaced outlived it only until their short lock ran out: prune swept them.
    const stored = proxy.objects(`${prefix}main/binlogs/`).map((o) => o.key);
    const whole = new Set(stored.filter((k) => !k.includes('.partial/') && k.endsWith('.zst')).map((k) => k.replace(/\.zst$/, '')));
    expect(stored.filter((k) => k.includes('.partial/') && whole.has(k.replace(/\.partial\/.*$/, '')))).toEqual([]);
  }, 120_000);

  it('reports a delete marker put over a backup by hand (list, check), reads through it, and still restores every row', async () => {
    const newest = days[days.length - 1]!.backup;
    const other = new S3Client({ endpoint: proxy.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    await other.send(new DeleteObjectCommand({ Bucket: 'lockrepo', Key: `${prefix}${keys.manifest('main', newest)}` }));
    other.destroy();
    vi.useRealTimers();
    const list = await cli(['list', '--config', t.file, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const src = list.json.sources[0];
    expect(src.hidden.map((h: { key: string }) => h.key)).toEqual([`main/backups/${newest}/manifest.json`]);
    // Read through the marker: the backup is still a backup.
    expect(src.backups.map((b: { id: string }) => b.id)).toContain(newest);
    const text = await cli(['list', '--config', t.file]);
    expect(text.stdout).toMatch(/HIDDEN: 1 object\(s\) carry a delete marker that Backtrack did not write/);
    const check = await cli(['check', '--config', t.file, '--json']);
    expect(check.code).toBe(1);
    const checks = check.json.checks as Array<{ name: string; status: string; detail: string }>;
    expect(checks.find((c) => c.name === 'repository object lock')).toMatchObject({ status: 'ok' });
    expect(checks.find((c) => c.name === 'source main: repository contents')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/1 object\(s\) hidden by delete markers/) });
    const target = await startMariaDB({ profile: 'scratch' });
    try {
      await restoreToPoint({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, target: parseDsn(`mysql://root@127.0.0.1:${target.port}`), dryRun: false, force: false, forceOverwriteSource: false, skipUsers: true, noBinlog: false, point: { kind: 'latest' } });
      expect(await idsOn(target)).toEqual(work.rows.map((r) => r.id));
    } finally {
      await target.stop();
    }
  }, 300_000);
});
