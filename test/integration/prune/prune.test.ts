/**
 * Retention on a real repository: backups whose snapshot points sit in
 * different binlog files, pruned with keepLast. Exactly the expected backups
 * and binlog files go, every deletion is audited, and point-in-time recovery
 * still works across the kept window (and is refused before it).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { WORKLOAD_SCHEMA, Workload, idsOn, nextSecond } from '../../helpers/workload.js';
import { waitFor, waitForStderr } from '../../helpers/wait.js';

let source: TestServer;
let target: TestServer;
let t: TestConfig;
let archiver: ResultPromise;
let work: Workload;
const backups: Array<{ id: string; file: string }> = [];
let midWindow = 0;

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' })]);
  await source.source(WORKLOAD_SCHEMA);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' } }, top: { retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 } } });
  archiver = cliSpawn(['binlog', '--config', t.file]);
  await waitForStderr(archiver, /binlog archiving started/);
  work = new Workload(source);
  for (let i = 0; i < 4; i++) {
    for (let k = 0; k < 5; k++) await work.writeOne(`batch ${i}`);
    const r = await cli(['backup', '--config', t.file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    backups.push({ id: r.json.backup.id, file: r.json.backup.snapshot.file });
    await source.query('FLUSH BINARY LOGS');
    if (i === 2) midWindow = await nextSecond();
    await nextSecond();
  }
  for (let k = 0; k < 5; k++) await work.writeOne('after the last backup');
  const last = work.rows[work.rows.length - 1]!;
  await waitFor(async () => {
    const l = await cli(['list', '--config', t.file, '--json']);
    const newest = l.json?.sources?.[0]?.binlog?.timelines?.[0]?.lastTransactionTime;
    return newest && Date.parse(newest) >= Math.floor(last.at.getTime() / 1000) * 1000;
  }, 'the archive to catch up', 30_000, 300);
  archiver.kill('SIGTERM');
  await archiver;
});
afterAll(async () => {
  archiver?.kill('SIGKILL');
  await work?.close();
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('backtrack prune', () => {
  it('lists what would go and why with --dry-run, and deletes nothing', async () => {
    const r = await cli(['prune', '--config', t.file, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = r.json.sources[0].decision;
    expect(d.remove.map((x: { id: string }) => x.id)).toEqual([backups[1]!.id, backups[0]!.id]);
    expect(d.keep.map((x: { id: string }) => x.id)).toEqual([backups[3]!.id, backups[2]!.id]);
    const text = await cli(['prune', '--config', t.file, '--dry-run']);
    expect(text.stdout).toMatch(/would delete .*matched no keep rule/);
    expect((await cli(['list', '--config', t.file, '--json'])).json.sources[0].backups).toHaveLength(4);
  });

  it('deletes exactly the expected backups and binlog files, audits each, and point-in-time recovery still works across the kept window', async () => {
    const r = await cli(['prune', '--config', t.file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const listed = (await cli(['list', '--config', t.file, '--json'])).json.sources[0];
    expect(listed.backups.map((b: { id: string }) => b.id)).toEqual([backups[2]!.id, backups[3]!.id]);
    // Binlog files before the oldest kept backup's snapshot file are gone, the rest stay.
    const tlDir = path.join(t.dir, 'repo', 'main', 'binlogs');
    const files = readdirSync(path.join(tlDir, readdirSync(tlDir)[0]!)).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
    const keepFrom = backups[2]!.file;
    expect(files.every((f) => f >= keepFrom)).toBe(true);
    expect(files).toContain(keepFrom);
    expect(r.json.sources[0].decision.removeBinlogs.length).toBeGreaterThan(0);
    const audit = await cli(['audit', '--config', t.file, '--json']);
    const deleted = audit.json.events.filter((e: { action: string }) => e.action === 'delete-backup').map((e: { backupId: string }) => e.backupId).sort();
    expect(deleted).toEqual([backups[0]!.id, backups[1]!.id].sort());
    expect(audit.json.events.filter((e: { action: string }) => e.action === 'delete-binlog').length).toBe(r.json.sources[0].decision.removeBinlogs.length);

    const dsn = `mysql://root@127.0.0.1:${target.port}`;
    const ok = await cli(['restore', '--config', t.file, '--target', dsn, '--force', '--to', new Date(midWindow * 1000).toISOString()]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await idsOn(target)).toEqual(work.idsAtOrBefore(midWindow));
    const latest = await cli(['restore', '--config', t.file, '--target', dsn, '--force']);
    expect(latest.code, latest.stderr).toBe(0);
    expect(await idsOn(target)).toEqual(work.rows.map((x) => x.id));
    const before = await cli(['restore', '--config', t.file, '--target', dsn, '--force', '--dry-run', '--to', new Date(Date.parse(work.rows[0]!.at.toISOString()) - 1000).toISOString()]);
    expect(before.code).toBe(8);
  });
});
