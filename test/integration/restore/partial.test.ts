/**
 * Partial restores of a table-by-table backup: one table, tables joined by a
 * foreign key, a schema under a new name beside the live one on the source
 * itself, names that need quoting; only the chosen objects are read, what is
 * left out is named, and what would touch live data is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { sleep, waitForStderr } from '../../helpers/wait.js';

let source: TestServer;
let target: TestServer;
let t: TestConfig;
let backup: { id: string; objects: Array<{ name: string; size: number; role: string; schema?: string; table?: string }> };

const SCHEMA = `
CREATE DATABASE shop;
CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(20));
CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT, amount INT, CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES shop.customers (id));
CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50));
CREATE TRIGGER shop.orders_ai AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO audit (note) VALUES (CONCAT('order ', NEW.id));
USE shop;
CREATE TRIGGER customers_bi BEFORE INSERT ON customers FOR EACH ROW SET NEW.name = LOWER(NEW.name);
CREATE VIEW shop.big_orders AS SELECT o.id, c.name FROM shop.orders o JOIN shop.customers c ON c.id = o.customer_id WHERE o.amount > 10;
INSERT INTO shop.customers VALUES (1, 'ann'), (2, 'bob'), (3, 'cy');
INSERT INTO shop.orders VALUES (10, 1, 5), (11, 1, 50), (12, 2, 70), (13, 3, 1);
CREATE DATABASE \`odd.name\`;
CREATE TABLE \`odd.name\`.\`t*1\` (id INT PRIMARY KEY);
CREATE TABLE \`odd.name\`.t2 (id INT PRIMARY KEY);
INSERT INTO \`odd.name\`.\`t*1\` VALUES (1), (2);
INSERT INTO \`odd.name\`.t2 VALUES (7);
CREATE DATABASE report;
CREATE TABLE report.r (id INT PRIMARY KEY);
CREATE VIEW report.order_count AS SELECT COUNT(*) AS n FROM shop.orders;
`;

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' })]);
  await source.source(SCHEMA);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' });
  const r = await cli(['backup', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const shown = await cli(['list', '--config', t.file, '--json']);
  backup = { id: r.json.backup.id, objects: shown.json.sources[0].backups[0].objects ?? [] };
  if (!backup.objects.length) {
    const { readFile } = await import('node:fs/promises');
    const path = await import('node:path');
    backup.objects = JSON.parse(await readFile(path.join(t.dir, 'repo', 'main', 'backups', backup.id, 'manifest.json'), 'utf8')).objects;
  }
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

const targetDsn = () => `mysql://root@127.0.0.1:${target.port}`;
const sourceDsn = () => `mysql://root@127.0.0.1:${source.port}`;
const userSchemas = async (s: TestServer) =>
  (await s.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys') ORDER BY 1")).map((r) => String(r.s));
const dropAll = async (s: TestServer) => {
  for (const name of await userSchemas(s)) await s.query(`DROP DATABASE \`${name.replace(/`/g, '``')}\``);
};

describe('a partial restore', () => {
  it('restores one table into an empty server, reading only its objects, and names what it left out', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', 'shop.customers', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(await userSchemas(target)).toEqual(['shop']);
    expect(await target.query('SHOW TABLES FROM shop')).toEqual([{ Tables_in_shop: 'customers' }]);
    expect(await target.query('SELECT id, name FROM shop.customers ORDER BY id')).toEqual(await source.query('SELECT id, name FROM shop.customers ORDER BY id'));
    // Only the schema object of shop and the customers table object were read.
    const wanted = backup.objects.filter((o) => (o.role === 'schema' && o.schema === 'shop') || (o.role === 'table' && o.schema === 'shop' && o.table === 'customers'));
    expect(r.json.plan.partial.objects.sort()).toEqual(wanted.map((o) => o.name).sort());
    expect(r.json.bytesRead).toBe(wanted.reduce((a, o) => a + o.size, 0));
    expect(r.json.plan.partial.warnings.join('\n')).toMatch(/not restored from shop.*view big_orders/);
    expect(r.json.plan.partial.warnings.join('\n')).toMatch(/accounts are not created/);
    await dropAll(target);
  });

  it('restores two tables joined by a foreign key, with the key', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', 'shop.orders', '--only', 'shop.cust*']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/only\s+shop\.customers, shop\.orders/);
    expect(r.stdout).toMatch(/left out.*trigger orders_ai \(on orders\)/);
    expect(await target.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id')).toEqual(await source.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id'));
    expect(await target.query("SELECT CONSTRAINT_NAME AS c FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = 'shop'")).toEqual([{ c: 'fk_customer' }]);
    expect(await target.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' ORDER BY 1")).toEqual([{ t: 'customers' }, { t: 'orders' }]);
    await dropAll(target);
  });

  it('restores a schema whole under a new name beside the live one on the source, leaving its replication state alone', async () => {
    const before = await source.query('SELECT @@GLOBAL.gtid_slave_pos AS slave, @@GLOBAL.gtid_binlog_pos AS bin');
    const live = await source.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id');
    const liveAudit = await source.query('SELECT id, note FROM shop.audit ORDER BY id');
    // The live schema itself is refused, and the message says how to restore beside it.
    const refused = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--backup', backup.id, '--only', 'shop']);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/is the source server of this backup and already has shop.*--rename shop:shop_restored/);

    const r = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--backup', backup.id, '--only', 'shop', '--rename', 'shop:shop_restored']);
    expect(r.code, r.stderr).toBe(0);
    const after = await source.query('SELECT @@GLOBAL.gtid_slave_pos AS slave, @@GLOBAL.gtid_binlog_pos AS bin');
    expect(after[0]?.slave).toBe(before[0]?.slave);
    // Kept out of the source's binlog: nothing of it is archived or replicated.
    expect(after[0]?.bin).toBe(before[0]?.bin);
    expect(r.stdout).toMatch(/the target is the source itself: the restore is kept out of its binary log/);
    expect(await source.query('SELECT id, customer_id, amount FROM shop_restored.orders ORDER BY id')).toEqual(live);
    // Views and triggers came along, pointed at the new schema.
    expect(await source.query('SELECT id, name FROM shop_restored.big_orders ORDER BY id')).toEqual([{ id: 11, name: 'ann' }, { id: 12, name: 'bob' }]);
    await source.query("INSERT INTO shop_restored.customers VALUES (99, 'DAN')");
    expect(await source.query('SELECT name FROM shop_restored.customers WHERE id = 99')).toEqual([{ name: 'dan' }]);
    // A trigger written with the old schema's name would act on the live schema: it is left out, and named.
    expect(r.stdout).toMatch(/warning: trigger shop.orders_ai of shop_restored was not created: its definition names shop explicitly/);
    expect(await source.query("SELECT TRIGGER_NAME AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop_restored'")).toEqual([{ t: 'customers_bi' }]);
    await source.query('INSERT INTO shop_restored.orders VALUES (99, 99, 1)');
    // The live schema is untouched, and so is the replication state.
    expect(await source.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id')).toEqual(live);
    expect(await source.query('SELECT id, note FROM shop.audit ORDER BY id')).toEqual(liveAudit);


    // Again: the schema now exists, so it is refused (unless forced, which is not tried on the source here).
    const again = await cli(['restore', '--config', t.file, '--target', sourceDsn(), '--backup', backup.id, '--only', 'shop', '--rename', 'shop:shop_restored']);
    expect(again.code).toBe(6);
    expect(again.stderr).toMatch(/already has shop_restored/);
    await source.query('DROP DATABASE shop_restored');
  });

  it('takes backtick-quoted names that hold a dot or a star literally', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', '`odd.name`.`t*1`', '--rename', 'odd.name:odd2']);
    expect(r.code, r.stderr).toBe(0);
    expect(await target.query('SHOW TABLES FROM odd2')).toEqual([{ 'Tables_in_odd2': 't*1' }]);
    expect(await target.query('SELECT id FROM odd2.`t*1` ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    await dropAll(target);
  });

  it('skips a view whose tables were not restored, naming it, and creates the rest', async () => {
    const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', 'report', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.skipped.join('\n')).toMatch(/view order_count of report was not created: .*shop.*orders/i);
    expect(await target.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'report'")).toEqual([{ t: 'r' }]);
    await dropAll(target);
  });

  it('refuses what it cannot do, with exit 2 and what to do instead', async () => {
    const noMatch = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', 'shop.nosuch']);
    expect(noMatch.code).toBe(2);
    expect(noMatch.stderr).toMatch(/--only shop.nosuch matches no table/);
    const view = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', 'shop.big_orders']);
    expect(view.code).toBe(2);
    expect(view.stderr).toMatch(/names a view/);
    const badRename = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--rename', 'shop']);
    expect(badRename.code).toBe(2);
    expect(badRename.stderr).toMatch(/must be OLD:NEW/);
    const unclosed = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--backup', backup.id, '--only', '`shop']);
    expect(unclosed.code).toBe(2);
    expect(unclosed.stderr).toMatch(/unclosed backtick/);
    expect(await userSchemas(target)).toEqual([]);
  });

  it('refuses --only on a one-stream backup of the previous format, and restores it whole as before', async () => {
    const old = await writeTestConfig(source, { user: 'backtrack', passwordFile: t.cfg.sources[0]!.mysql.passwordFile! }, { kind: 'fs' }, { source: { backup: { layout: 'stream' } } });
    const b = await cli(['backup', '--config', old.file, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const r = await cli(['restore', '--config', old.file, '--target', targetDsn(), '--backup', b.json.backup.id, '--only', 'shop.orders']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is one stream \(format 1.*cannot take part of it/);
    expect(await userSchemas(target)).toEqual([]);
    const whole = await cli(['restore', '--config', old.file, '--target', targetDsn(), '--backup', b.json.backup.id]);
    expect(whole.code, whole.stderr).toBe(0);
    expect(await target.query('SELECT id, amount FROM shop.orders ORDER BY id')).toEqual(await source.query('SELECT id, amount FROM shop.orders ORDER BY id'));
    await dropAll(target);
    // And it drills as before.
    const drill = await cli(['verify', '--config', old.file, '--backup', b.json.backup.id, '--json']);
    expect(drill.code, drill.stdout + drill.stderr).toBe(0);
    expect(drill.json.checks.find((x: { name: string }) => x.name === 'rows').verdict).toBe('passed');
  });
});

describe('a partial restore to a point in time', () => {
  let own: TestServer;
  let c: TestConfig;
  beforeAll(async () => {
    own = await startMariaDB();
    await own.source(`
      CREATE DATABASE shop; USE shop;
      CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(20));
      CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, amount INT, CONSTRAINT fk_c FOREIGN KEY (customer_id) REFERENCES customers (id));
      CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(50));
      CREATE DATABASE other;
      CREATE TABLE other.t (id INT PRIMARY KEY, v INT);
      INSERT INTO customers VALUES (1, 'ann'), (2, 'bob');
      INSERT INTO orders VALUES (10, 1, 5);
    `);
    const account = await own.createBacktrackUser();
    c = await writeTestConfig(own, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' } } });
    expect((await cli(['backup', '--config', c.file])).code).toBe(0);
  });
  afterAll(async () => {
    await own?.stop();
  });

  it('replays only the chosen tables, renamed, up to the point; the table equals the source table at that point', async () => {
    const archiver = cliSpawn(['binlog', '--config', c.file]);
    await waitForStderr(archiver, /binlog archiving started/);
    // Changes to the chosen tables, mixed in one transaction with another schema's, and to tables not chosen.
    await own.query("INSERT INTO shop.customers VALUES (3, 'cy')");
    await own.query('INSERT INTO shop.orders VALUES (11, 3, 70), (12, 2, 8)');
    await own.query('UPDATE shop.orders SET amount = amount + 1 WHERE id = 10');
    await own.query("INSERT INTO shop.audit (note) VALUES ('x')");
    const conn = await (await import('../../../src/mysql/connect.js')).connect(own.spec);
    await conn.query('START TRANSACTION');
    await conn.query('INSERT INTO other.t VALUES (1, 1)');
    await conn.query('INSERT INTO shop.orders VALUES (13, 1, 9)');
    await conn.query('COMMIT');
    await conn.end();
    await own.query('FLUSH BINARY LOGS');
    await own.query('DELETE FROM shop.orders WHERE id = 13');
    const atPoint = await own.query('SELECT id, customer_id, amount FROM shop.orders ORDER BY id');
    const customersAtPoint = await own.query('SELECT id, name FROM shop.customers ORDER BY id');
    await sleep(1100);
    const T = new Date(Math.floor(Date.now() / 1000) * 1000 - 1).toISOString();
    await sleep(1100);
    // The accident, after the point.
    await own.query('DELETE FROM shop.orders');
    await own.query('INSERT INTO other.t VALUES (2, 2)');
    await sleep(1500);
    archiver.kill('SIGTERM');
    await archiver;
    const gapsBefore = (await cli(['list', '--config', c.file, '--json'])).json.sources[0].gaps;
    const before = await own.query('SELECT @@GLOBAL.gtid_binlog_pos AS bin, @@GLOBAL.gtid_slave_pos AS slave');

    const dry = await cli(['restore', '--config', c.file, '--target', `mysql://root@127.0.0.1:${own.port}`, '--to', T, '--only', 'shop.orders', '--only', 'shop.customers', '--rename', 'shop:shop_then', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/only the chosen tables' row changes are replayed \(\d+ transaction\(s\) touch them, \d+ others left out\), into shop_then/);
    const r = await cli(['restore', '--config', c.file, '--target', `mysql://root@127.0.0.1:${own.port}`, '--to', T, '--only', 'shop.orders', '--only', 'shop.customers', '--rename', 'shop:shop_then']);
    expect(r.code, r.stderr).toBe(0);
    expect(await own.query('SELECT id, customer_id, amount FROM shop_then.orders ORDER BY id')).toEqual(atPoint);
    expect(await own.query('SELECT id, name FROM shop_then.customers ORDER BY id')).toEqual(customersAtPoint);
    expect(await own.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop_then' ORDER BY 1")).toEqual([{ t: 'customers' }, { t: 'orders' }]);
    // The live tables and the other schema are as they were; the source's GTID state and the archive's gaps too.
    expect(Number((await own.query('SELECT COUNT(*) AS n FROM shop.orders'))[0]?.n)).toBe(0);
    expect(await own.query('SELECT id FROM other.t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
    expect(await own.query('SELECT @@GLOBAL.gtid_binlog_pos AS bin, @@GLOBAL.gtid_slave_pos AS slave')).toEqual(before);
    expect((await cli(['list', '--config', c.file, '--json'])).json.sources[0].gaps).toEqual(gapsBefore);
    await own.query('DROP DATABASE shop_then');
  });

  it('stops before writing anything when a statement changes a chosen table inside the range', async () => {
    const archiver = cliSpawn(['binlog', '--config', c.file]);
    await waitForStderr(archiver, /binlog archiving started/);
    await own.query('ALTER TABLE shop.customers ADD COLUMN email VARCHAR(50)');
    await own.query("INSERT INTO shop.customers (id, name) VALUES (4, 'dee')");
    await sleep(1500);
    archiver.kill('SIGTERM');
    await archiver;
    const r = await cli(['restore', '--config', c.file, '--target', `mysql://root@127.0.0.1:${own.port}`, '--to', 'latest', '--only', 'shop.customers', '--rename', 'shop:shop_latest']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/holds a statement on shop.customers inside the replay range: "ALTER TABLE shop.customers ADD COLUMN email.*Restore to a point before it \(--to-position /);
    expect(await own.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop_latest'")).toEqual([]);
    // A table the statement does not touch still comes back to the newest transaction.
    const ok = await cli(['restore', '--config', c.file, '--target', `mysql://root@127.0.0.1:${own.port}`, '--only', 'shop.orders', '--rename', 'shop:shop_latest']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(Number((await own.query('SELECT COUNT(*) AS n FROM shop_latest.orders'))[0]?.n)).toBe(0);
    await own.query('DROP DATABASE shop_latest');
  });
});
