/**
 * A damaged repository must never stop a source: a truncated manifest, a
 * backup folder holding a manifest of the wrong shape, or a committed
 * backup whose manifest was deleted. Every command goes on with the rest,
 * list and check name what is wrong, a metric counts it, and nothing a
 * person may still need is deleted until they say so (prune --orphans).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli } from '../../helpers/cli.js';
import { getText, metric } from '../../helpers/http.js';
import { Daemon } from '../../../src/daemon/daemon.js';
import { silentLogger } from '../../../src/observability/logger.js';

let source: TestServer;
let target: TestServer;
let t: TestConfig;

const backupDir = (id: string) => path.join(t.dir, 'repo', 'main', 'backups', id);

async function backup(): Promise<string> {
  const r = await cli(['backup', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json.backup.id as string;
}

async function listing() {
  const r = await cli(['list', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json.sources[0];
}

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' })]);
  await source.source('CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.items VALUES (1, "one"), (2, "two");');
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { enabled: false } }, top: { retention: { keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 } } });
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

describe('a damaged manifest', () => {
  let truncated: string;
  const junk = '20261101T000000Z-dead';

  beforeAll(async () => {
    truncated = await backup();
    await writeFile(path.join(backupDir(truncated), 'manifest.json'), '{"format": 1, "id": "');
    await mkdir(backupDir(junk), { recursive: true });
    await writeFile(path.join(backupDir(junk), 'manifest.json'), JSON.stringify({ hello: 'world' }));
  });

  it('does not stop the next backup, and list shows both damaged backups with the reason', async () => {
    const good = await backup();
    const l = await listing();
    expect(l.backups.map((b: { id: string }) => b.id)).toEqual([good]);
    const damaged = Object.fromEntries(l.damaged.map((d: { id: string; reason: string }) => [d.id, d.reason]));
    expect(damaged[truncated]).toMatch(/is damaged: its manifest .* is not valid JSON/);
    expect(damaged[junk]).toMatch(/does not have the manifest's shape/);
    const text = await cli(['list', '--config', t.file]);
    expect(text.stdout).toMatch(new RegExp(`DAMAGED backup ${truncated}`));
  });

  it('lets verify and restore use the good backups, and says exit 3 for the damaged one', async () => {
    const v = await cli(['verify', '--config', t.file, '--latest', '--json']);
    expect(v.code, v.stderr).toBe(0);
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    const bad = await cli(['verify', '--config', t.file, '--backup', truncated]);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/is damaged: its manifest .* is not valid JSON/);
  });

  it('is reported by check and counted by the metric', async () => {
    const c = await cli(['check', '--config', t.file, '--json']);
    const contents = c.json.checks.find((x: { name: string }) => x.name === 'source main: repository contents');
    expect(contents).toMatchObject({ status: 'fail' });
    expect(contents.detail).toContain(`damaged backup ${truncated}`);
    const daemon = new Daemon({ cfg: t.cfg, log: silentLogger(), listen: '127.0.0.1:0' });
    try {
      const { port } = await daemon.start();
      const m = await getText(`http://127.0.0.1:${port}/metrics`);
      expect(metric(m.body, 'backtrack_backups_unusable', { source: 'main', kind: 'damaged' })).toBe(2);
    } finally {
      await daemon.stop();
    }
  });

  it('is kept by prune, and deleted only by prune --orphans', async () => {
    const p = await cli(['prune', '--config', t.file, '--json']);
    expect(p.code, p.stderr).toBe(0);
    expect(existsSync(path.join(backupDir(truncated), 'users.sql.zst'))).toBe(true);
    const o = await cli(['prune', '--config', t.file, '--orphans', '--json']);
    expect(o.code, o.stderr).toBe(0);
    expect(existsSync(backupDir(truncated))).toBe(false);
    expect(existsSync(backupDir(junk))).toBe(false);
    const audit = await cli(['audit', '--config', t.file, '--json']);
    expect(audit.json.events.filter((e: { action: string }) => e.action === 'delete-damaged').map((e: { backupId: string }) => e.backupId).sort()).toEqual([junk, truncated].sort());
  });
});

describe('a committed backup whose manifest was lost', () => {
  it('is an orphan: kept by the next backup and by prune, shown by list and check, removed only by prune --orphans', async () => {
    const lost = await backup();
    const files = await readdir(backupDir(lost));
    await unlink(path.join(backupDir(lost), 'manifest.json'));
    await backup();
    // The files a by-hand restore needs are still there.
    expect((await readdir(backupDir(lost))).sort()).toEqual(files.filter((f) => f !== 'manifest.json').sort());
    const l = await listing();
    expect(l.orphans.map((o: { id: string }) => o.id)).toEqual([lost]);
    expect(l.leftovers).toEqual([]);
    const c = await cli(['check', '--config', t.file, '--json']);
    expect(c.json.checks.find((x: { name: string }) => x.name === 'source main: repository contents').detail).toContain(`orphan backup ${lost}`);
    expect((await cli(['prune', '--config', t.file])).code).toBe(0);
    expect(existsSync(path.join(backupDir(lost), 'users.sql.zst'))).toBe(true);
    const o = await cli(['prune', '--config', t.file, '--orphans']);
    expect(o.code, o.stderr).toBe(0);
    expect(o.stdout).toMatch(new RegExp(`DELETED orphan backup ${lost}`));
    expect(existsSync(backupDir(lost))).toBe(false);
  });
});
