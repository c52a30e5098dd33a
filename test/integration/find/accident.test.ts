/**
 * Undo the accident: `find` lists the DELETE without WHERE and the DROP TABLE
 * in the archived binlog, newest first, with their rows and SQL; `restore
 * --before` their GTID (or position) brings the table back as it was just
 * before, beside the live one on the source itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { sleep, waitForStderr } from '../../helpers/wait.js';
import { WORKLOAD_SCHEMA, Workload } from '../../helpers/workload.js';

let source: TestServer;
let t: TestConfig;
const before: Record<string, Array<Record<string, unknown>>> = {};

beforeAll(async () => {
  source = await startMariaDB();
  await source.source(`
    CREATE DATABASE shop; USE shop;
    CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20));
    CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, amount INT);
    CREATE DATABASE other;
    CREATE TABLE other.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT);
    INSERT INTO customers SELECT seq, CONCAT('c', seq) FROM seq_1_to_50;
    INSERT INTO orders SELECT seq, 1 + seq % 50, seq * 3 FROM seq_1_to_300;
    CREATE TABLE prices (id INT PRIMARY KEY, p INT, note VARCHAR(20));
    INSERT INTO prices SELECT seq, seq * 7, CONCAT('n', seq) FROM seq_1_to_20;
    CREATE TABLE coupons (id INT PRIMARY KEY, code VARCHAR(10));
    INSERT INTO coupons SELECT seq, CONCAT('c-', seq) FROM seq_1_to_10;
    CREATE TABLE logs (id INT PRIMARY KEY, line VARCHAR(30));
    INSERT INTO logs SELECT seq, CONCAT('line ', seq) FROM seq_1_to_15;
  `);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' } } });
  expect((await cli(['backup', '--config', t.file])).code).toBe(0);
  const archiver = cliSpawn(['binlog', '--config', t.file]);
  await waitForStderr(archiver, /binlog archiving started/);
  const writes = async (n: number) => {
    for (let i = 0; i < n; i++) await source.query('INSERT INTO other.t (v) VALUES (?)', [i]);
  };
  await writes(5);
  await source.query('UPDATE shop.orders SET amount = amount + 1 WHERE id <= 10');
  await source.query('FLUSH BINARY LOGS');
  await writes(5);
  before.orders = await source.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id');
  await source.query('DELETE FROM shop.orders');
  await writes(5);
  await source.query('INSERT INTO shop.orders VALUES (1000, 1, 1)');
  before.customers = await source.query('SELECT id, name FROM shop.customers ORDER BY id');
  await source.query('DROP TABLE shop.customers');
  await writes(5);
  before.prices = await source.query('SELECT id, p, note FROM shop.prices ORDER BY id');
  before.coupons = await source.query('SELECT id, code FROM shop.coupons ORDER BY id');
  await source.query('UPDATE shop.prices SET p = 0');
  await source.query('DELETE FROM shop.coupons');
  await writes(3);
  before.logs = await source.query('SELECT id, line FROM shop.logs ORDER BY id');
  await source.query('TRUNCATE TABLE shop.logs');
  await source.query("INSERT INTO shop.logs VALUES (100, 'after')");
  await writes(2);
  await sleep(1500);
  archiver.kill('SIGTERM');
  await archiver;
});
afterAll(async () => {
  await source?.stop();
});

const sourceDsn = () => `mysql://root@127.0.0.1:${source.port}`;

describe('finding and undoing an accident', () => {
  it('find lists the DELETE without WHERE and the DROP TABLE, newest first, with rows, SQL and where to stop', async () => {
    const r = await cli(['find', '--config', t.file, '--table', 'shop.orders', '--table', 'shop.cust*', '--statement', 'delete', '--statement', 'drop', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [drop, del] = r.json.matches;
    expect(drop).toMatchObject({ kinds: ['drop'], tables: [expect.objectContaining({ schema: 'shop', table: 'customers' })] });
    expect(drop.statements[0]).toMatch(/DROP TABLE/i);
    expect(drop.gtid).toMatch(/^0-1-\d+$/);
    expect(del).toMatchObject({ kinds: ['delete'], tables: [{ schema: 'shop', table: 'orders', inserted: 0, updated: 0, deleted: 300, counted: true, kinds: ['delete'] }], textMissing: false });
    expect(del.statements[0]).toMatch(/DELETE FROM shop.orders/);
    expect(r.json.matches).toHaveLength(2);
    // The segment index passes over files that cannot match; a full scan finds the same.
    const prices = await cli(['find', '--config', t.file, '--table', 'shop.prices', '--statement', 'update', '--json']);
    expect(prices.json.matches).toHaveLength(1);
    expect(prices.json.scanned.skippedByIndex.files).toBeGreaterThanOrEqual(1);
    const full = await cli(['find', '--config', t.file, '--table', 'shop.prices', '--statement', 'update', '--json', '--full-scan']);
    expect(full.json.matches).toEqual(prices.json.matches);
    expect(full.json.scanned.skippedByIndex.files).toBe(0);
    expect(full.json.scanned.files).toBeGreaterThan(prices.json.scanned.files);
    // The text output names the restore that stops right before it.
    const text = await cli(['find', '--config', t.file, '--table', 'shop.orders', '--min-rows', '100', '--until', new Date(Date.now() + 60_000).toISOString(), '--statement', 'dml', '--limit', '1']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^1 match\(es\) \(and 1 older ones; raise --limit\), newest first; searched .* of binlog in \d+ file\(s\)/);
    expect(text.stdout).toMatch(/DELETE\s+gtid 0-1-\d+\s+\S+:\d+\n\s+shop.orders: 300 deleted\n\s+SQL\s+DELETE FROM shop.orders/);
    expect(text.stdout).toMatch(/just before it: backtrack restore --before 0-1-\d+ --target \.\.\. \[--only shop.orders --rename shop:shop_before\]/);
  });

  it('restore --before the DELETE brings the table back as it was just before, beside the live one', async () => {
    const found = (await cli(['find', '--config', t.file, '--table', 'shop.orders', '--statement', 'delete', '--json'])).json.matches[0];
    const gtidBefore = await source.query('SELECT @@GLOBAL.gtid_binlog_pos AS g');
    const dry = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--before', found.gtid, '--only', 'shop.orders', '--rename', 'shop:shop_before', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`first out\\s+\\S+ gtid ${found.gtid} \\(${found.file}:${found.start}\\.\\.`));
    const r = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--before', found.gtid, '--only', 'shop.orders', '--rename', 'shop:shop_before']);
    expect(r.code, r.stderr).toBe(0);
    expect(await source.query('SELECT id, customer_id, amount FROM shop_before.orders ORDER BY id')).toEqual(before.orders);
    expect(await source.query('SELECT @@GLOBAL.gtid_binlog_pos AS g')).toEqual(gtidBefore);
    expect(await source.query('SELECT id FROM shop.orders')).toEqual([{ id: 1000 }]);
    await source.query('DROP DATABASE shop_before');
    // By position too: FILE:POS of its start.
    const byPos = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--before', `${found.file}:${found.start}`, '--only', 'shop.orders', '--rename', 'shop:shop_before']);
    expect(byPos.code, byPos.stderr).toBe(0);
    expect(Number((await source.query('SELECT COUNT(*) AS n FROM shop_before.orders'))[0]?.n)).toBe(before.orders!.length);
    await source.query('DROP DATABASE shop_before');
  });

  it('restore --before the DROP TABLE brings the dropped table back', async () => {
    const found = (await cli(['find', '--config', t.file, '--statement', 'drop', '--json'])).json.matches[0];
    const r = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--before', found.gtid, '--only', 'shop.customers', '--rename', 'shop:shop_c']);
    expect(r.code, r.stderr).toBe(0);
    expect(await source.query('SELECT id, name FROM shop_c.customers ORDER BY id')).toEqual(before.customers);
    await source.query('DROP DATABASE shop_c');
  });

  it('find lists a TRUNCATE, and restore --before it brings the rows back', async () => {
    const r = await cli(['find', '--config', t.file, '--table', 'shop.logs', '--statement', 'truncate', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.matches).toHaveLength(1);
    const m = r.json.matches[0];
    expect(m).toMatchObject({ kinds: ['truncate'], tables: [expect.objectContaining({ schema: 'shop', table: 'logs' })] });
    expect(m.statements[0]).toMatch(/TRUNCATE TABLE shop.logs/);
    const back = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--before', m.gtid, '--only', 'shop.logs', '--rename', 'shop:shop_t']);
    expect(back.code, back.stderr).toBe(0);
    expect(await source.query('SELECT id, line FROM shop_t.logs ORDER BY id')).toEqual(before.logs);
    expect(await source.query('SELECT id, line FROM shop.logs ORDER BY id')).toEqual([{ id: 100, line: 'after' }]);
    await source.query('DROP DATABASE shop_t');
  });

  it('restore --skip leaves the DELETE out and keeps every later write, naming the later ones on the same table', async () => {
    const other = await startMariaDB({ profile: 'scratch' });
    try {
      const del = (await cli(['find', '--config', t.file, '--table', 'shop.orders', '--statement', 'delete', '--json'])).json.matches[0];
      const dsn = `mysql://root@127.0.0.1:${other.port}`;
      const dry = await cli(['restore', '--config', t.file, '--target', dsn, '--skip', del.gtid, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(new RegExp(`left out \\(--skip\\): ${del.gtid} \\(${del.file}:${del.start}, .*shop.orders\\)`));
      expect(dry.stdout).toMatch(/1 later transaction\(s\) change the same tables .*shop.orders/);
      const r = await cli(['restore', '--config', t.file, '--target', dsn, '--skip', del.gtid]);
      expect(r.code, r.stderr).toBe(0);
      // Every order as before the DELETE, plus the one written after it; the DROP after it is replayed too.
      expect(await other.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id')).toEqual([...before.orders!, { id: 1000, customer_id: 1, amount: 1 }]);
      expect(await other.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'customers'")).toEqual([]);
      expect(Number((await other.query('SELECT COUNT(*) AS n FROM other.t'))[0]?.n)).toBe(Number((await source.query('SELECT COUNT(*) AS n FROM other.t'))[0]?.n));
      // A DDL transaction cannot be left out: refused before anything is written.
      const drop = (await cli(['find', '--config', t.file, '--statement', 'drop', '--json'])).json.matches[0];
      await other.query('DROP DATABASE shop');
      await other.query('DROP DATABASE other');
      const refused = await cli(['restore', '--config', t.file, '--target', dsn, '--skip', drop.gtid]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/--skip 0-1-\d+ .* is a statement, not row changes: "DROP TABLE.*restore --before it instead/);
      expect(await other.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'")).toEqual([]);
      const unknown = await cli(['restore', '--config', t.file, '--target', dsn, '--skip', '0-1-999999', '--dry-run']);
      expect(unknown.code).toBe(8);
      expect(unknown.stderr).toMatch(/--skip 0-1-999999: not a transaction of the replay range/);
    } finally {
      await other.stop();
    }
  });

  it('undo prints the reverse of an UPDATE and a DELETE without WHERE; applied to a copy it gives the rows back', async () => {
    const copy = await startMariaDB({ profile: 'scratch' });
    try {
      const upd = (await cli(['find', '--config', t.file, '--table', 'shop.prices', '--statement', 'update', '--json'])).json.matches[0];
      const del = (await cli(['find', '--config', t.file, '--table', 'shop.coupons', '--statement', 'delete', '--json'])).json.matches[0];
      const u1 = await cli(['undo', '--config', t.file, '--gtid', upd.gtid]);
      expect(u1.code, u1.stderr).toBe(0);
      expect(u1.stdout).toMatch(/^-- backtrack undo --gtid 0-1-\d+: the reverse of /);
      expect(u1.stdout).toMatch(/BINLOG ADMIN/);
      // Readable, with the column names of the table's definition.
      expect(u1.stdout).toMatch(/-- UPDATE `shop`.`prices`\n-- WHERE\n--\s+id=1 .*\n--\s+p=0 /);
      const u2 = await cli(['undo', '--config', t.file, '--gtid', del.gtid]);
      expect(u2.code, u2.stderr).toBe(0);
      expect(u2.stdout).toMatch(/-- INSERT INTO `shop`.`coupons`/);
      // A copy of the source as it is now (the accidents included), then the undo applied to it.
      const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${copy.port}`]);
      expect(r.code, r.stderr).toBe(0);
      expect(Number((await copy.query('SELECT COUNT(*) AS n FROM shop.coupons'))[0]?.n)).toBe(0);
      await copy.source(u1.stdout);
      await copy.source(u2.stdout);
      expect(await copy.query('SELECT id, p, note FROM shop.prices ORDER BY id')).toEqual(before.prices);
      expect(await copy.query('SELECT id, code FROM shop.coupons ORDER BY id')).toEqual(before.coupons);
      // Audited.
      const audit = await cli(['audit', '--config', t.file, '--json']);
      expect(audit.json.events.filter((e: { action: string }) => e.action === 'undo').map((e: { params: { gtid: string } }) => e.params.gtid)).toEqual(expect.arrayContaining([upd.gtid, del.gtid]));
    } finally {
      await copy.stop();
    }
  });

  it('undo refuses what it cannot reverse exactly, and says what to do instead', async () => {
    const del = (await cli(['find', '--config', t.file, '--table', 'shop.orders', '--statement', 'delete', '--json'])).json.matches[0];
    const later = await cli(['undo', '--config', t.file, '--gtid', del.gtid]);
    expect(later.code).toBe(1);
    expect(later.stderr).toMatch(/cannot be undone exactly: 1 later transaction\(s\) changed the same tables .*restore --skip/);
    const drop = (await cli(['find', '--config', t.file, '--statement', 'drop', '--json'])).json.matches[0];
    const ddl = await cli(['undo', '--config', t.file, '--gtid', drop.gtid]);
    expect(ddl.code).toBe(1);
    expect(ddl.stderr).toMatch(/holds DDL \(drop\).*restore --before/);
    const missing = await cli(['undo', '--config', t.file, '--gtid', '0-1-999999']);
    expect(missing.code).toBe(8);
    const none = await cli(['undo', '--config', t.file]);
    expect(none.code).toBe(2);
  });

  it('says what is wrong with bad input, with the documented exit codes', async () => {
    const missing = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1', '--before', '0-1-999999', '--dry-run']);
    expect(missing.code).toBe(8);
    expect(missing.stderr).toMatch(/0-1-999999 is not in the archived binlog.*backtrack find/);
    const both = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--before', '0-1-5', '--to', 'latest']);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/only one of --to, --to-gtid, --to-position, --before/);
    const notStart = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1', '--before', 'nonsense', '--dry-run']);
    expect(notStart.code).toBe(2);
    const kind = await cli(['find', '--config', t.file, '--statement', 'explode']);
    expect(kind.code).toBe(2);
    expect(kind.stderr).toMatch(/--statement "explode" is not one of drop, truncate/);
    const when = await cli(['find', '--config', t.file, '--since', 'yesterday-ish']);
    expect(when.code).toBe(2);
    const none = await cli(['find', '--config', t.file, '--table', 'nosuch.*', '--json']);
    expect(none.code).toBe(0);
    expect(none.json.matches).toEqual([]);
  });
});

describe('accidents under a running workload', () => {
  it('finds each of a DELETE, an UPDATE without WHERE, a TRUNCATE and a DROP first, and restores each table to just before it', async () => {
    const own = await startMariaDB();
    const writers: Workload[] = [];
    try {
      await own.source(`${WORKLOAD_SCHEMA}
        CREATE DATABASE app; USE app;
        CREATE TABLE a (id INT PRIMARY KEY, v INT); INSERT INTO a SELECT seq, seq FROM seq_1_to_200;
        CREATE TABLE b (id INT PRIMARY KEY, v INT); INSERT INTO b SELECT seq, seq FROM seq_1_to_200;
        CREATE TABLE c (id INT PRIMARY KEY, v INT); INSERT INTO c SELECT seq, seq FROM seq_1_to_200;
        CREATE TABLE d (id INT PRIMARY KEY, v INT); INSERT INTO d SELECT seq, seq FROM seq_1_to_200;
      `);
      const account = await own.createBacktrackUser();
      const c = await writeTestConfig(own, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' } } });
      expect((await cli(['backup', '--config', c.file])).code).toBe(0);
      const archiver = cliSpawn(['binlog', '--config', c.file]);
      await waitForStderr(archiver, /binlog archiving started/);
      // Two writers on another schema all along.
      for (const _ of [1, 2]) {
        const w = new Workload(own);
        w.start(20);
        writers.push(w);
      }
      const accidents: Array<{ table: string; kind: string; sql: string; rows?: Array<Record<string, unknown>> }> = [
        { table: 'a', kind: 'delete', sql: 'DELETE FROM app.a' },
        { table: 'b', kind: 'update', sql: 'UPDATE app.b SET v = 0' },
        { table: 'c', kind: 'truncate', sql: 'TRUNCATE TABLE app.c' },
        { table: 'd', kind: 'drop', sql: 'DROP TABLE app.d' },
      ];
      for (const [i, x] of accidents.entries()) {
        await own.query(`UPDATE app.${x.table} SET v = v + 1 WHERE id <= 5`);
        await sleep(300);
        x.rows = await own.query(`SELECT id, v FROM app.${x.table} ORDER BY id`);
        await own.query(x.sql);
        await sleep(300);
        if (i === 1) await own.query('FLUSH BINARY LOGS');
        // A backup in the middle: the later accidents restore from it.
        if (i === 1) expect((await cli(['backup', '--config', c.file])).code).toBe(0);
      }
      await sleep(500);
      for (const w of writers) await w.stop();
      await sleep(1000);
      archiver.kill('SIGTERM');
      await archiver;
      for (const x of accidents) {
        const f = await cli(['find', '--config', c.file, '--table', `app.${x.table}`, '--json']);
        expect(f.code, f.stderr).toBe(0);
        const first = f.json.matches[0];
        expect(first.kinds, `${x.kind}: ${JSON.stringify(first)}`).toEqual([x.kind]);
        const r = await cli(['restore', '--config', c.file, '--target', `mysql://root@127.0.0.1:${own.port}`, '--before', first.gtid, '--only', `app.${x.table}`, '--rename', `app:app_${x.table}`]);
        expect(r.code, r.stderr).toBe(0);
        expect(await own.query(`SELECT id, v FROM app_${x.table}.${x.table} ORDER BY id`), x.kind).toEqual(x.rows);
      }
    } finally {
      for (const w of writers) await w.close().catch(() => undefined);
      await own.stop();
    }
  });
});
