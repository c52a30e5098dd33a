/**
 * A restore refuses what it must not do, says why, and exits with the
 * documented code; a damaged or missing object stops it and names the object.
 */
import { readdirSync } from 'node:fs';
import { readFile, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli } from '../../helpers/cli.js';

let source: TestServer;
let target: TestServer;
let t: TestConfig;
let backupId: string;

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' })]);
  await source.source('CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.items VALUES (1, "one"), (2, "two");');
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' });
  const r = await cli(['backup', '--config', t.file, '--json']);
  expect(r.code).toBe(0);
  backupId = r.json.backup.id;
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

const targetDsn = () => `mysql://root@127.0.0.1:${target.port}`;
const objectPath = (name: string) => path.join(t.dir, 'repo', 'main', 'backups', backupId, name);

describe('restore safety', () => {
  it('refuses the source server as target with exit 6', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${source.port}`]);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/is the source server of this backup.*--force-overwrite-source/);
  });

  it('refuses a target that holds user schemas unless --force, then replaces only the backup\'s schemas', async () => {
    await target.query('CREATE DATABASE IF NOT EXISTS shop');
    await target.query('CREATE TABLE IF NOT EXISTS shop.stale (x INT)');
    await target.query('CREATE DATABASE IF NOT EXISTS keepme');
    const refused = await cli(['restore', '--config', t.file, '--target', targetDsn()]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/already holds user schemas \(keepme, shop\).*--force/);

    const dry = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--force', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/dry run/);
    expect(dry.stdout).toMatch(/DROPS\s+shop/);
    expect(await target.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_NAME = 'stale'")).toHaveLength(1);

    const forced = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--force']);
    expect(forced.code).toBe(0);
    expect(await target.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_NAME = 'stale'")).toHaveLength(0);
    expect(await target.query('SELECT id, name FROM shop.items ORDER BY id')).toEqual([{ id: 1, name: 'one' }, { id: 2, name: 'two' }]);
    expect(await target.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'keepme'")).toHaveLength(1);
    await target.query('DROP DATABASE shop');
    await target.query('DROP DATABASE keepme');
  });

  it('names an unknown backup id with exit 8', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', '20200101T000000Z-abcd']);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/backup 20200101T000000Z-abcd of source main does not exist/);
  });

  it('says the login was refused when the target password is wrong', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://backtrack@127.0.0.1:${source.port}`], { env: { BACKTRACK_TARGET_PASSWORD: 'wrong' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refused the login of user "backtrack": wrong password/);
    expect(r.stderr).not.toMatch(/wrong@|password=wrong/);
  });

  it('says nothing listens when the target is unreachable', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot connect to target at 127\.0\.0\.1:1: connection refused/);
  });
});

describe('restore of a damaged backup', () => {
  it('stops on a flipped byte, names the object, exits 3 and says the target is partial', async () => {
    // The object holding shop.items' rows (a backup is table by table).
    const name = readdirSync(path.dirname(objectPath('x'))).find((f) => f.startsWith('table.')) as string;
    const file = objectPath(name);
    const good = await readFile(file);
    const bad = Buffer.from(good);
    const at = Math.floor(bad.length / 2);
    bad[at] = (bad[at] ?? 0) ^ 0xff;
    await writeFile(file, bad);
    try {
      const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--force']);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`loading ${name.replace(/\./g, '\\.')} \\(rows of shop\\.items\\) failed: object file://\\S*/main/backups/${backupId}/${name.replace(/\./g, '\\.')} (is damaged|does not match its manifest)`));
      expect(r.stderr).toMatch(/PARTIAL restore/);
    } finally {
      await writeFile(file, good);
    }
  });

  it('names a missing object with exit 8', async () => {
    const file = objectPath('users.sql.zst');
    const keep = await readFile(file);
    await unlink(file);
    try {
      const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--force']);
      expect(r.code).toBe(8);
      expect(r.stderr).toMatch(new RegExp(`object file://\\S*/main/backups/${backupId}/users.sql.zst is missing`));
    } finally {
      await writeFile(file, keep);
    }
  });
});
