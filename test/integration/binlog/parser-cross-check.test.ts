/**
 * The binlog reader against the server's own tool: a real MariaDB writes a
 * binlog of every column type, multi-row statements, updates, deletes, a
 * rolled-back savepoint, DDL, and (with log_bin_compress=ON) compressed
 * query and rows events; `mariadb-binlog --verbose` then decodes the same
 * file. Per transaction, the tables and the INSERT/UPDATE/DELETE row counts
 * the reader finds must be the ones mariadb-binlog prints.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BinlogParser, type TransactionInfo } from '../../../src/mysql/binlog/parser.js';
import { formatGtid } from '../../../src/mysql/gtid.js';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';

const WORKLOAD = `
CREATE DATABASE x;
CREATE DATABASE IF NOT EXISTS test;
CREATE TABLE x.every (
  id INT PRIMARY KEY AUTO_INCREMENT, ti TINYINT, si SMALLINT, mi MEDIUMINT, bi BIGINT UNSIGNED,
  f FLOAT, d DOUBLE, dec1 DECIMAL(20,6), dec2 DECIMAL(5,0), dt DATE, y YEAR, tm TIME(3), dtm DATETIME(6), ts TIMESTAMP(2) NULL,
  b BIT(11), e ENUM('a','b','c'), st SET('x','y','z'), c CHAR(10), cw CHAR(200) CHARACTER SET utf8mb4, vc VARCHAR(300),
  vb VARBINARY(20), tb TINYBLOB, bl BLOB, mt MEDIUMTEXT, lb LONGBLOB, js JSON, g GEOMETRY NULL, ip INET6, u UUID
);
CREATE TABLE x.small (k VARCHAR(10) PRIMARY KEY, n INT) ENGINE=InnoDB;
INSERT INTO x.every (ti, si, mi, bi, f, d, dec1, dec2, dt, y, tm, dtm, ts, b, e, st, c, cw, vc, vb, tb, bl, mt, lb, js, g, ip, u) VALUES
  (1, 2, 3, 4, 1.5, 2.5, 1234.5678, 99, '2026-01-02', 2026, '12:34:56.789', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05.12', b'101', 'b', 'x,z', 'char', REPEAT('é', 150), REPEAT('v', 290),
   0x0102, 'tiny', REPEAT('B', 60000), REPEAT('m', 100), REPEAT('L', 1000), '{"a": [1, 2, {"b": null}]}', POINT(1, 2), '::1', UUID()),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO x.every (ti) SELECT seq % 100 FROM test.seq_1_to_500;
UPDATE x.every SET vc = CONCAT('updated ', id), js = JSON_SET(COALESCE(js, '{}'), '$.n', id) WHERE id % 3 = 0;
DELETE FROM x.every WHERE id % 7 = 0;
INSERT INTO x.small VALUES ('a', 1), ('b', 2), ('c', 3);
BEGIN; INSERT INTO x.small VALUES ('d', 4); SAVEPOINT s1; INSERT INTO x.small VALUES ('e', 5); ROLLBACK TO SAVEPOINT s1; UPDATE x.small SET n = n + 10; COMMIT;
SET GLOBAL log_bin_compress = ON;
SET GLOBAL log_bin_compress_min_len = 10;
`;

// A new session sees the global compression settings.
const COMPRESSED = `
INSERT INTO x.small VALUES ('f', 6), ('g', 7);
UPDATE x.every SET mt = REPEAT('compressed ', 50) WHERE id < 100;
DELETE FROM x.every WHERE id > 400;
CREATE TABLE x.after_compression (id INT PRIMARY KEY, note TEXT);
INSERT INTO x.after_compression SELECT seq, REPEAT('n', seq) FROM test.seq_1_to_50;
DROP TABLE x.small;
`;

/** Per GTID: "schema.table +inserts ~updates -deletes" as mariadb-binlog --verbose prints the rows. */
function fromTool(text: string): Map<string, string[]> {
  const out = new Map<string, Map<string, { i: number; u: number; d: number }>>();
  let gtid = '';
  for (const line of text.split('\n')) {
    const g = /\bGTID (\d+-\d+-\d+)/.exec(line);
    if (g && line.startsWith('#')) {
      gtid = g[1] as string;
      out.set(gtid, new Map());
      continue;
    }
    const m = /^### (INSERT INTO|UPDATE|DELETE FROM) `([^`]+)`\.`([^`]+)`/.exec(line);
    if (!m) continue;
    const key = `${m[2]}.${m[3]}`;
    const tables = out.get(gtid) as Map<string, { i: number; u: number; d: number }>;
    const c = tables.get(key) ?? { i: 0, u: 0, d: 0 };
    if (m[1] === 'INSERT INTO') c.i++;
    else if (m[1] === 'UPDATE') c.u++;
    else c.d++;
    tables.set(key, c);
  }
  return new Map([...out].map(([g, t]) => [g, [...t].map(([k, c]) => `${k} +${c.i} ~${c.u} -${c.d}`).sort()]));
}

function fromParser(trx: TransactionInfo[]): Map<string, string[]> {
  return new Map(trx.map((t) => [t.gtid ? formatGtid(t.gtid) : '?', (t.tables ?? []).map((x) => `${x.schema}.${x.table} +${x.inserted} ~${x.updated} -${x.deleted}${x.counted ? '' : ' (not counted)'}`).sort()]));
}

describe('the binlog reader agrees with mariadb-binlog --verbose', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startMariaDB();
    await server.source(WORKLOAD);
    await server.source(COMPRESSED);
    await server.query('FLUSH BINARY LOGS');
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('on tables, row counts and transaction ends, plain and compressed', async () => {
    const file = path.join(server.datadir, 'mysql-bin.000001');
    const bytes = await readFile(file);
    const trx: TransactionInfo[] = [];
    const p = new BinlogParser('mariadb', { detail: true, strict: true, onTransaction: (t) => trx.push(t) });
    for (let i = 0; i < bytes.length; i += 4096) p.push(bytes.subarray(i, i + 4096));
    expect(p.facts.closedBy).toBe('rotate');
    expect(p.truncation()).toBeUndefined();

    const { stdout } = await execa('mariadb-binlog', ['--no-defaults', '--verbose', '--base64-output=decode-rows', file]);
    const tool = fromTool(stdout);
    const mine = fromParser(trx);
    expect([...mine.keys()]).toEqual([...tool.keys()]);
    expect(mine).toEqual(tool);
    // The workload did reach the compressed event types.
    expect(stdout).toMatch(/Query_compressed|Write_compressed_rows|Update_compressed_rows|Delete_compressed_rows/);
    // Every transaction end is an end_log_pos the tool prints.
    const ends = new Set([...stdout.matchAll(/end_log_pos (\d+)/g)].map((m) => Number(m[1])));
    for (const t of trx) expect(ends.has(t.end), `end ${t.end}`).toBe(true);
    // And the DROP TABLE is found with its text.
    expect(trx.flatMap((t) => t.statements ?? []).some((s) => /DROP TABLE `?x`?\.`?small/i.test(s.text))).toBe(true);
  });
});
