/**
 * The foundation's promise: a database with every type and object, backed up
 * through the CLI to S3 and to a local repository, restored into an empty
 * server, equals the source object by object and row by row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, loadEverythingFixture, type TestServer } from '../../helpers/mariadb.js';
import { startS3, type S3Sandbox } from '../../helpers/s3.js';
import { writeTestConfig, type RepoKind } from '../../helpers/config.js';
import { cli } from '../../helpers/cli.js';
import { snapshotServer } from '../../helpers/compare.js';

let source: TestServer;
let s3: S3Sandbox;
let account: { user: string; passwordFile: string };
const ACCOUNTS = ["'bt_app'@'%'", 'bt_reader'];

beforeAll(async () => {
  [source, s3] = await Promise.all([startMariaDB(), startS3()]);
  await loadEverythingFixture(source);
  account = await source.createBacktrackUser();
});
afterAll(async () => {
  await Promise.all([source?.stop(), s3?.stop()]);
});

describe.each([
  ['a local directory', () => ({ kind: 'fs' }) as RepoKind],
  ['S3 (s3rver)', () => ({ kind: 's3', s3 }) as RepoKind],
])('backup and full restore through %s', (_label, repoKind) => {
  it('restores into an empty server a copy equal to the source, object by object and row by row', async () => {
    const t = await writeTestConfig(source, account, repoKind());
    const backup = await cli(['backup', '--config', t.file, '--json']);
    expect(backup.stderr).not.toMatch(/"level":"error"/);
    expect(backup.code).toBe(0);
    const m = backup.json.backup;
    expect(m.id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    expect(m.snapshot.file).toMatch(/^mysql-bin\.\d+$/);

    const target = await startMariaDB({ profile: 'scratch' });
    try {
      const restore = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--json']);
      expect(restore.stderr).toBe(restore.code === 0 ? restore.stderr : '');
      expect(restore.code).toBe(0);
      expect(restore.json.plan.backup.id).toBe(m.id);

      const [want, got] = await Promise.all([snapshotServer(source.spec, ACCOUNTS), snapshotServer(target.spec, ACCOUNTS)]);
      expect(Object.keys(got.objects).sort()).toEqual(Object.keys(want.objects).sort());
      expect(got.schemas).toEqual(want.schemas);
      expect(got.objects).toEqual(want.objects);
      expect(got.rows).toEqual(want.rows);
      expect(got.grants).toEqual(want.grants);
      // The fixture is not trivially small: it did exercise the hard cases.
      expect(want.rows['bt everything.all_types']).toHaveLength(5);
      expect(want.rows['bt everything.versioned']?.length).toBeGreaterThan(2);
    } finally {
      await target.stop();
    }
  });
});

describe('the manifest of a backup', () => {
  it('holds exact row counts from the dump itself, history rows included', async () => {
    const t = await writeTestConfig(source, account, { kind: 'fs' });
    const r = await cli(['backup', '--config', t.file, '--json']);
    expect(r.code).toBe(0);
    const { Repository } = await import('../../../src/repository/repository.js');
    const { FsStore } = await import('../../../src/storage/fs.js');
    const repo = new Repository(new FsStore(new URL(t.cfg.repository.url).pathname));
    const m = await repo.readManifest('main', r.json.backup.id);
    const counts = Object.fromEntries(m.rowCounts.map((c) => [`${c.schema}.${c.table}`, c.rows]));
    expect(counts['bt everything.all_types']).toBe(5);
    expect(counts['bt everything.no_pk']).toBe(3);
    expect(counts['bt everything.empty_table']).toBe(0);
    expect(counts['bt everything.weird `name']).toBe(2);
    // 2 current rows + 1 deleted + 2 superseded versions of row 1.
    expect(counts['bt everything.versioned']).toBe(4);
    expect(m.rowCounts.find((c) => c.table === 'versioned')?.history).toBe(true);
    expect(m.inventory.routines.map((x) => x.name).sort()).toEqual(['add_parent', 'double it']);
    expect(m.inventory.triggers.map((x) => x.name)).toEqual(['trg_child_insert']);
    expect(m.inventory.events.map((x) => x.name)).toEqual(['ev_cleanup']);
    expect(m.accounts).toEqual(expect.arrayContaining(["'bt_app'@'%'", "role 'bt_reader'"]));
    // Table by table: a schema and a post-data object per database, one object per table, the accounts.
    expect(m.format).toBe(2);
    const roles = m.objects.map((o) => o.role);
    expect(roles.indexOf('schema')).toBe(0);
    expect(roles.lastIndexOf('users')).toBe(roles.length - 1);
    expect(m.objects.filter((o) => o.role === 'schema').map((o) => o.schema).sort()).toEqual([...m.inventory.schemas].sort());
    const base = m.inventory.tables.filter((x) => x.type === 'BASE TABLE' || x.type === 'SYSTEM VERSIONED');
    const tableObjects = m.objects.filter((o) => o.role === 'table');
    expect(tableObjects.map((o) => `${o.schema}.${o.table}`).sort()).toEqual(base.map((x) => `${x.schema}.${x.name}`).sort());
    for (const o of tableObjects) expect(o.rows, `${o.schema}.${o.table}`).toBe(counts[`${o.schema}.${o.table}`]);
    expect(m.objects.find((o) => o.role === 'post' && o.schema === 'bt everything')).toBeDefined();
    expect(m.parallel).toMatchObject({ parallelism: expect.any(Number), lock: { method: 'BACKUP STAGE BLOCK_COMMIT' } });
    expect(m.parallel!.lock!.heldSeconds).toBeLessThan(5);
  });

  it('keeps writing the one-stream format when backup.layout is stream', async () => {
    const t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { backup: { layout: 'stream' } } });
    const r = await cli(['backup', '--config', t.file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { Repository } = await import('../../../src/repository/repository.js');
    const { FsStore } = await import('../../../src/storage/fs.js');
    const m = await new Repository(new FsStore(new URL(t.cfg.repository.url).pathname)).readManifest('main', r.json.backup.id);
    expect(m.format).toBe(1);
    expect(m.objects.map((o) => o.name)).toEqual(['data.sql.zst', 'users.sql.zst']);
  });
});
