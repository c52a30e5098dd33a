import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BinlogFormatError, BinlogParser, type ParserOptions, type TransactionInfo } from '../../../../src/mysql/binlog/parser.js';
import { formatGtid } from '../../../../src/mysql/gtid.js';
import * as W from '../../../helpers/binlog-writer.js';

const { T, C, V } = W;
const MARIA = readFileSync(new URL('../../../fixtures/mariadb-bin.000001', import.meta.url));
const UUID = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const UUID2 = 'f00dcafe-0000-4000-8000-00000000beef';

function parse(flavor: 'mariadb' | 'mysql', buf: Buffer, chunk = 1 << 20, opts: ParserOptions = {}) {
  const trx: TransactionInfo[] = [];
  const p = new BinlogParser(flavor, { ...opts, onTransaction: (t) => trx.push(t) });
  for (let i = 0; i < buf.length; i += chunk) p.push(buf.subarray(i, i + chunk));
  return { p, trx, brief: trx.map((t) => ({ start: t.start, end: t.end, gtid: t.gtid ? formatGtid(t.gtid) : undefined })) };
}

describe('BinlogParser on a real MariaDB binlog', () => {
  it('finds every transaction with its GTID and exact end position', () => {
    const { p, brief } = parse('mariadb', MARIA);
    // mariadb-binlog shows: DDL 0-1-1 ends at 453, DDL 0-1-2 at 643, row trx 0-1-3 at 904, ...
    expect(brief.slice(0, 3)).toEqual([
      { start: 328, end: 453, gtid: '0-1-1' },
      { start: 453, end: 643, gtid: '0-1-2' },
      { start: 643, end: 904, gtid: '0-1-3' },
    ]);
    expect(brief.map((t) => t.gtid)).toEqual(['0-1-1', '0-1-2', '0-1-3', '0-1-4', '0-1-5', '0-1-6', '0-1-7']);
    expect(p.facts).toMatchObject({ checksum: true, closedBy: 'rotate', nextFile: 'mysql-bin.000002', problems: [] });
    expect(p.facts.serverVersion).toMatch(/MariaDB/);
    expect(p.boundary).toBe(MARIA.length);
  });

  it('counts rows per table as mariadb-binlog --verbose shows them', () => {
    const { trx } = parse('mariadb', MARIA, 1 << 20, { detail: true });
    const tables = trx.map((t) => (t.tables ?? []).map((x) => `${x.schema}.${x.table} +${x.inserted} ~${x.updated} -${x.deleted}${x.counted ? '' : '?'}`));
    // The server's own tool, on this file: 0-1-3 two INSERTs into d1.t; 0-1-5 one into d1.v;
    // 0-1-6 an UPDATE and an INSERT (the history row) of d1.v; 0-1-7 one INSERT into d1.t.
    expect(tables).toEqual([[], [], ['d1.t +2 ~0 -0'], [], ['d1.v +1 ~0 -0'], ['d1.v +1 ~1 -0'], ['d1.t +1 ~0 -0']]);
    expect(trx[0]?.statements?.[0]?.text).toBe('create database d1');
    expect(trx[2]?.statements?.[0]?.text).toMatch(/^insert into d1\.t/i);
  });

  it('gives the same answer fed one byte at a time', () => {
    expect(parse('mariadb', MARIA, 1, { detail: true }).trx).toEqual(parse('mariadb', MARIA, 1 << 20, { detail: true }).trx);
  });

  it('stops its boundary at the last complete event of a truncated file and says where it was cut', () => {
    const { p, brief } = parse('mariadb', MARIA.subarray(0, 700));
    expect(p.boundary).toBe(685);
    expect(brief.map((t) => t.gtid)).toEqual(['0-1-1', '0-1-2']);
    expect(p.truncation()).toBe('the bytes end 15 byte(s) into the header of the event at 685');
    expect(parse('mariadb', MARIA.subarray(0, 720)).p.truncation()).toBe('the bytes end 35 byte(s) into the event at 685 (maria_annotate_rows (160), 85 bytes long)');
  });

  it('refuses what is not a binlog', () => {
    expect(() => new BinlogParser('mariadb').push(Buffer.from('hello world, no magic'))).toThrow(/not a binary log/);
  });
});

/** A MySQL 8.4 file: tagged and untagged GTIDs, a compressed transaction among plain ones, a DDL, a rotate. */
function mysqlFile(checksum: boolean) {
  const w = new W.BinlogWriter(checksum);
  const trx: Array<{ start: number; end: number; ts: number; gtid: string }> = [];
  w.add(T.FORMAT_DESCRIPTION, W.fde('8.4.3', checksum));
  w.add(
    T.PREVIOUS_GTIDS,
    W.previousGtids(
      [
        { uuid: UUID, intervals: [[1, 4], [7, 9]] },
        { uuid: UUID, tag: 'alpha', intervals: [[1, 2]] },
        { uuid: UUID2, tag: 'beta_2', intervals: [[5, 5], [10, 20], [30, 31]] },
      ],
      true,
    ),
  );
  const people = [{ type: C.LONG }, { type: C.VARCHAR, meta: [200, 0] }, { type: C.JSON, meta: [4] }];
  // 1. A plain transaction: GTID, BEGIN, table map, two inserts, XID.
  let start = w.add(T.GTID, W.mysqlGtid(UUID, 10), 1_700_000_001).start;
  w.add(T.QUERY, W.query('BEGIN'), 1_700_000_001);
  w.add(T.TABLE_MAP, W.tableMap(90, 'shop', 'people', people), 1_700_000_001);
  w.add(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 90, 3, [{ after: [V.int(1), V.varchar('ann', 200), V.blob(Buffer.from('{}'), 4)] }, { after: [V.int(2), null, null] }]), 1_700_000_001);
  let end = w.add(T.XID, W.xid(1), 1_700_000_002).end;
  trx.push({ start, end, ts: 1_700_000_002, gtid: `${UUID}:10` });
  // 2. A compressed transaction with a tagged GTID: inserts, an update, a delete, in one payload.
  start = w.add(T.GTID_TAGGED, W.mysqlTaggedGtid(UUID, 'alpha', 3), 1_700_000_003).start;
  const inner = [
    W.innerEvent(T.QUERY, W.query('BEGIN'), 1_700_000_003),
    W.innerEvent(T.TABLE_MAP, W.tableMap(90, 'shop', 'people', people), 1_700_000_003),
    W.innerEvent(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 90, 3, [1, 2, 3].map((i) => ({ after: [V.int(10 + i), V.varchar(`p${i}`, 200), null] })), { end: false }), 1_700_000_003),
    W.innerEvent(T.UPDATE_ROWS, W.rows(T.UPDATE_ROWS, 90, 3, [{ before: [V.int(11), V.varchar('p1', 200), null], after: [V.int(11), V.varchar('q1', 200), null] }, { before: [V.int(12), null, null], after: [V.int(12), V.varchar('q2', 200), null] }], { end: false }), 1_700_000_004),
    W.innerEvent(T.DELETE_ROWS, W.rows(T.DELETE_ROWS, 90, 3, [{ before: [V.int(2), null, null] }]), 1_700_000_004),
    W.innerEvent(T.XID, W.xid(2), 1_700_000_005),
  ];
  end = w.add(T.TRANSACTION_PAYLOAD, W.transactionPayload(inner), 1_700_000_003).end;
  trx.push({ start, end, ts: 1_700_000_005, gtid: `${UUID}:alpha:3` });
  // 3. A DDL with an untagged GTID.
  start = w.add(T.GTID, W.mysqlGtid(UUID, 11), 1_700_000_006).start;
  end = w.add(T.QUERY, W.query('CREATE TABLE t (id INT)'), 1_700_000_007).end;
  trx.push({ start, end, ts: 1_700_000_007, gtid: `${UUID}:11` });
  // 4. A transaction with a savepoint rolled back inside it.
  start = w.add(T.GTID_TAGGED, W.mysqlTaggedGtid(UUID2, 'beta_2', 21), 1_700_000_008).start;
  w.add(T.QUERY, W.query('BEGIN'), 1_700_000_008);
  w.add(T.QUERY, W.query('SAVEPOINT `s1`'), 1_700_000_008);
  w.add(T.QUERY, W.query('ROLLBACK TO `s1`'), 1_700_000_008);
  w.add(T.TABLE_MAP, W.tableMap(90, 'shop', 'people', people), 1_700_000_008);
  w.add(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 90, 3, [{ after: [V.int(5), null, null] }]), 1_700_000_008);
  end = w.add(T.XID, W.xid(3), 1_700_000_009).end;
  trx.push({ start, end, ts: 1_700_000_009, gtid: `${UUID2}:beta_2:21` });
  // 5. An uncompressed payload (compression type 255) of one insert.
  start = w.add(T.GTID, W.mysqlGtid(UUID, 12), 1_700_000_010).start;
  end = w.add(T.TRANSACTION_PAYLOAD, W.transactionPayload([W.innerEvent(T.QUERY, W.query('BEGIN'), 1_700_000_010), W.innerEvent(T.TABLE_MAP, W.tableMap(90, 'shop', 'people', people), 1_700_000_010), W.innerEvent(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 90, 3, [{ after: [V.int(6), null, null] }]), 1_700_000_010), W.innerEvent(T.XID, W.xid(4), 1_700_000_011)], 'none'), 1_700_000_010).end;
  trx.push({ start, end, ts: 1_700_000_011, gtid: `${UUID}:12` });
  w.add(T.ROTATE, W.rotate('binlog.000002'));
  return { file: w.file(), trx, events: w.events };
}

describe('BinlogParser on MySQL 8.0-8.4 events', () => {
  for (const checksum of [false, true]) {
    it(`delimits plain, compressed, tagged, DDL and savepoint transactions (checksum ${checksum ? 'on' : 'off'})`, () => {
      const f = mysqlFile(checksum);
      const { p, trx } = parse('mysql', f.file, 7);
      expect(trx.map((t) => ({ start: t.start, end: t.end, ts: t.timestamp, gtid: t.gtid ? formatGtid(t.gtid) : '' }))).toEqual(f.trx);
      expect(trx.map((t) => t.compressed === true)).toEqual([false, true, false, false, true]);
      expect(p.facts.startGtids?.toString()).toBe(`${UUID}:1-4:7-9:alpha:1-2,${UUID2}:beta_2:5:10-20:30-31`);
      expect(p.facts).toMatchObject({ checksum, closedBy: 'rotate', nextFile: 'binlog.000002', serverVersion: '8.4.3', problems: [] });
      expect(p.boundary).toBe(f.file.length);
    });
  }

  it('reads the tables and row counts of a compressed transaction from its inner events', () => {
    const { trx } = parse('mysql', mysqlFile(true).file, 1 << 20, { detail: true });
    expect(trx[1]?.tables).toEqual([{ schema: 'shop', table: 'people', inserted: 3, updated: 2, deleted: 1, counted: true }]);
    expect(trx[0]?.tables).toEqual([{ schema: 'shop', table: 'people', inserted: 2, updated: 0, deleted: 0, counted: true }]);
    expect(trx[2]?.statements).toEqual([{ schema: 'shop', text: 'CREATE TABLE t (id INT)' }]);
    expect(trx[3]?.statements).toEqual([{ schema: 'shop', text: 'ROLLBACK TO `s1`' }]);
  });

  it('reads untagged Previous_gtids with several sources and intervals', () => {
    const w = new W.BinlogWriter(false);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.0.36', false));
    w.add(T.PREVIOUS_GTIDS, W.previousGtids([{ uuid: UUID2, intervals: [[1, 100], [102, 102]] }, { uuid: UUID, intervals: [[3, 7]] }], false));
    const { p } = parse('mysql', w.file());
    expect(p.facts.startGtids?.toString()).toBe(`${UUID}:3-7,${UUID2}:1-100:102`);
  });

  it('reads a partial JSON update (bytes published with another binlog reader, mysql_common)', () => {
    // Table (id INT, j JSON with a 1-byte length), and the rows body of UPDATE t SET j = JSON_REPLACE(j, '$.a', 1):
    // table id 1, flags 0, extra 2, width 2, bitmaps 03 03; before: nulls 00, id 1, j (2 bytes 04 02);
    // value_options 01, partial bits 01; after: nulls 00, id 1, diff of 8 bytes (replace $.a with 04 01).
    const body = Buffer.from('010000000000' + '0000' + '0200' + '02' + '03' + '03' + '00' + '01000000' + '02' + '0402' + '01' + '01' + '00' + '01000000' + '08' + '0003242e6102' + '0401', 'hex');
    const w = new W.BinlogWriter(true);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.0.36', true));
    w.add(T.GTID, W.mysqlGtid(UUID, 1));
    w.add(T.QUERY, W.query('BEGIN'));
    w.add(T.TABLE_MAP, W.tableMap(1, 'd', 't', [{ type: C.LONG }, { type: C.JSON, meta: [1] }]));
    w.add(T.PARTIAL_UPDATE_ROWS, body);
    w.add(T.XID, W.xid(1));
    const { p, trx } = parse('mysql', w.file(), 1 << 20, { detail: true, strict: true });
    expect(p.facts.problems).toEqual([]);
    expect(trx[0]?.tables).toEqual([{ schema: 'd', table: 't', inserted: 0, updated: 1, deleted: 0, counted: true }]);
  });

  it('counts rows of every fixed and variable column type', () => {
    const cols: W.Column[] = [
      { type: C.TINY }, { type: C.SHORT }, { type: C.INT24 }, { type: C.LONG }, { type: C.LONGLONG },
      { type: C.FLOAT, meta: [4] }, { type: C.DOUBLE, meta: [8] }, { type: C.DATE }, { type: C.YEAR },
      { type: C.NEWDECIMAL, meta: [20, 6] }, { type: C.TIMESTAMP2, meta: [3] }, { type: C.DATETIME2, meta: [6] }, { type: C.TIME2, meta: [0] },
      { type: C.BIT, meta: [3, 2] }, { type: C.STRING, meta: [C.ENUM, 2] }, { type: C.STRING, meta: [C.SET, 1] },
      { type: C.STRING, meta: [0xfe ^ 0x10, 0x2c] }, // CHAR(300) (utf8: over 255 bytes: two bits borrowed from the type byte)
      { type: C.VARCHAR, meta: [0x2c, 0x01] }, { type: C.BLOB, meta: [2] }, { type: C.GEOMETRY, meta: [4] },
    ];
    const row = [V.tiny(1), V.raw(2), V.raw(3), V.int(4), V.long(5n), V.raw(4), V.raw(8), V.raw(3), V.raw(1),
      V.raw(10), // decimal(20,6): 14 integer digits take 4+3 bytes, 6 fraction digits 3
      V.raw(4 + 2), V.raw(5 + 3), V.raw(3), V.raw(3), V.raw(2), V.raw(1),
      V.varchar('x'.repeat(280), 300), V.varchar('y'.repeat(260), 300), V.blob(Buffer.alloc(70000 % 65536), 2), V.blob(Buffer.alloc(25), 4)];
    const w = new W.BinlogWriter(false);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.0.36', false));
    w.add(T.GTID, W.mysqlGtid(UUID, 1));
    w.add(T.QUERY, W.query('BEGIN'));
    w.add(T.TABLE_MAP, W.tableMap(7, 'd', 'wide', cols));
    w.add(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 7, cols.length, [{ after: row }, { after: row.map((v, i) => (i % 2 ? null : v)) }, { after: row }]));
    w.add(T.XID, W.xid(1));
    const { trx } = parse('mysql', w.file(), 1 << 20, { detail: true, strict: true });
    expect(trx[0]?.tables).toEqual([{ schema: 'd', table: 'wide', inserted: 3, updated: 0, deleted: 0, counted: true }]);
  });

  it('says a count is unknown, not wrong, when a column type has no known size', () => {
    const w = new W.BinlogWriter(false);
    w.add(T.FORMAT_DESCRIPTION, W.fde('9.0.0', false));
    w.add(T.GTID, W.mysqlGtid(UUID, 1));
    w.add(T.QUERY, W.query('BEGIN'));
    w.add(T.TABLE_MAP, W.tableMap(7, 'd', 'vec', [{ type: C.LONG }, { type: 242, meta: [4] }]));
    w.add(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 7, 2, [{ after: [V.int(1), V.raw(9)] }]));
    const x = w.add(T.XID, W.xid(1));
    const { trx, p } = parse('mysql', w.file(), 1 << 20, { detail: true });
    expect(trx[0]).toMatchObject({ end: x.end, tables: [{ table: 'vec', counted: false }] });
    expect(p.facts.problems).toEqual([]);
  });
});

describe('MariaDB event types', () => {
  function mariaFile() {
    const w = new W.BinlogWriter(true);
    w.add(T.FORMAT_DESCRIPTION, W.fde('10.11.6-MariaDB-log', true));
    w.add(T.GTID_LIST, W.gtidList([[0, 1, 41], [2, 7, 9]]));
    w.add(T.BINLOG_CHECKPOINT, Buffer.concat([Buffer.from([16, 0, 0, 0]), Buffer.from('mysql-bin.000001')]));
    // A compressed DDL (standalone), then a transaction with annotate + compressed rows.
    const ddl = { start: w.add(T.MARIA_GTID, W.mariaGtid(42, 0, 1), 1_700_000_100).start, end: w.add(T.QUERY_COMPRESSED, W.query(`CREATE TABLE big (${'c INT, '.repeat(40)}id INT)`, 'shop', { compressed: true }), 1_700_000_100).end };
    const t2start = w.add(T.MARIA_GTID, W.mariaGtid(43, 0, 0), 1_700_000_101).start;
    w.add(T.QUERY, W.query('BEGIN'), 1_700_000_101);
    w.add(T.ANNOTATE_ROWS, Buffer.from('DELETE FROM orders WHERE id < 100'), 1_700_000_101);
    w.add(T.TABLE_MAP, W.tableMap(33, 'shop', 'orders', [{ type: C.LONG }, { type: C.VARCHAR, meta: [50, 0] }]), 1_700_000_101);
    w.add(T.DELETE_ROWS_COMPRESSED_V1, W.rows(T.DELETE_ROWS_COMPRESSED_V1, 33, 2, Array.from({ length: 99 }, (_, i) => ({ before: [V.int(i + 1), V.varchar('gone', 50)] })), { compressed: true }), 1_700_000_101);
    w.add(T.UPDATE_ROWS_V1, W.rows(T.UPDATE_ROWS_V1, 33, 2, [{ before: [V.int(100), null], after: [V.int(100), V.varchar('kept', 50)] }]), 1_700_000_101);
    const t2end = w.add(T.QUERY, W.query('COMMIT'), 1_700_000_102).end;
    w.add(T.ROTATE, W.rotate('mysql-bin.000002'));
    return { file: w.file(), ddl, t2: { start: t2start, end: t2end } };
  }

  it('reads GTID list, checkpoint, compressed query and rows, annotate', () => {
    const f = mariaFile();
    const { p, trx } = parse('mariadb', f.file, 3, { detail: true, strict: true });
    expect(p.facts.startGtids?.toString()).toBe('0-1-41,2-7-9');
    expect(trx.map((t) => ({ start: t.start, end: t.end, gtid: t.gtid ? formatGtid(t.gtid) : '' }))).toEqual([
      { ...f.ddl, gtid: '0-1-42' },
      { ...f.t2, gtid: '0-1-43' },
    ]);
    expect(trx[0]?.statements?.[0]?.text).toMatch(/^CREATE TABLE big \(c INT/);
    expect(trx[1]?.statements).toEqual([{ text: 'DELETE FROM orders WHERE id < 100' }]);
    expect(trx[1]?.tables).toEqual([{ schema: 'shop', table: 'orders', inserted: 0, updated: 1, deleted: 99, counted: true }]);
  });

  it('notes start-encryption', () => {
    const w = new W.BinlogWriter(false);
    w.add(T.FORMAT_DESCRIPTION, W.fde('10.11.6-MariaDB-log', false));
    w.add(T.START_ENCRYPTION, Buffer.concat([Buffer.from([1]), Buffer.alloc(4), Buffer.alloc(12)]));
    expect(parse('mariadb', w.file()).p.facts.encrypted).toBe(true);
  });
});

describe('events this reader cannot read', () => {
  function withEvent(type: number, body: Buffer, flags = 0) {
    const w = new W.BinlogWriter(true);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.4.0', true));
    w.add(T.GTID, W.mysqlGtid(UUID, 1));
    w.add(T.QUERY, W.query('BEGIN'));
    const odd = w.add(type, body, 1_700_000_000, flags);
    const x = w.add(T.XID, W.xid(1));
    return { file: w.file(), odd, x };
  }

  it('skips an unknown type flagged ignorable', () => {
    const f = withEvent(77, Buffer.alloc(10), W.IGNORABLE_F);
    const { p, trx } = parse('mysql', f.file, 1 << 20, { strict: true });
    expect(p.facts.problems).toEqual([]);
    expect(trx.map((t) => t.end)).toEqual([f.x.end]);
  });

  it('records an unknown type not flagged ignorable, archiving on; planning (strict) names type and offset', () => {
    const f = withEvent(77, Buffer.alloc(10));
    const { p, trx } = parse('mysql', f.file);
    expect(trx.map((t) => t.end)).toEqual([f.x.end]);
    expect(p.facts.problems).toEqual([expect.objectContaining({ pos: f.odd.start, type: 77, kind: 'unknown-type' })]);
    expect(() => parse('mysql', f.file, 1 << 20, { strict: true, name: 'binlog.000001' })).toThrow(new RegExp(`binlog.000001: the event at offset ${f.odd.start} \\(unknown type 77\\)`));
  });

  it('records a damaged payload and still ends its transaction at the payload', () => {
    const w = new W.BinlogWriter(true);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.4.0', true));
    const g = w.add(T.GTID, W.mysqlGtid(UUID, 1));
    const good = W.transactionPayload([W.innerEvent(T.QUERY, W.query('BEGIN'), 1), W.innerEvent(T.XID, W.xid(1), 2)]);
    const bad = Buffer.from(good);
    bad.fill(0x55, bad.length - 8); // damage the zstd frame's end
    const pl = w.add(T.TRANSACTION_PAYLOAD, bad, 1_700_000_050);
    const { p, trx } = parse('mysql', w.file());
    expect(trx).toEqual([expect.objectContaining({ start: g.start, end: pl.end, timestamp: 1_700_000_050, compressed: true })]);
    expect(p.facts.problems).toEqual([expect.objectContaining({ pos: pl.start, kind: 'unreadable' })]);
    expect(p.facts.problems[0]?.message).toMatch(/payload (does not decompress|decompresses to)/);
  });

  it('passes over a compressed transaction too large to read in memory: it still ends at the payload, stamped with the payload\'s time', () => {
    const w = new W.BinlogWriter(true);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.4.0', true));
    const g = w.add(T.GTID, W.mysqlGtid(UUID, 1));
    const cols = [{ type: C.LONG }, { type: C.VARCHAR, meta: [100, 0] }];
    const many = Array.from({ length: 200 }, (_, i) => ({ after: [V.int(i), V.varchar('x'.repeat(90), 100)] }));
    const pl = w.add(T.TRANSACTION_PAYLOAD, W.transactionPayload([W.innerEvent(T.QUERY, W.query('BEGIN'), 1), W.innerEvent(T.TABLE_MAP, W.tableMap(1, 'd', 't', cols), 1), W.innerEvent(T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 1, 2, many), 1), W.innerEvent(T.XID, W.xid(1), 2)]), 1_700_000_077);
    const after = { start: w.add(T.GTID, W.mysqlGtid(UUID, 2)).start, end: w.add(T.QUERY, W.query('DROP TABLE t')).end };
    const small = parse('mysql', w.file(), 1 << 20, { detail: true, strict: true, payloadLimit: 4096 });
    expect(small.trx.map((t) => ({ start: t.start, end: t.end, ts: t.timestamp, unread: t.unread ?? false }))).toEqual([
      { start: g.start, end: pl.end, ts: 1_700_000_077, unread: true },
      { start: after.start, end: after.end, ts: 1_700_000_000, unread: false },
    ]);
    expect(small.p.facts.problems).toEqual([]);
    // With room, the same payload is read: 200 rows, stamped with its XID's time.
    const roomy = parse('mysql', w.file(), 1 << 20, { detail: true, strict: true });
    expect(roomy.trx[0]).toMatchObject({ timestamp: 2, tables: [{ inserted: 200 }] });
    expect(roomy.trx[0]?.unread).toBeUndefined();
  });

  it('records an incident: a replay cannot pass it', () => {
    const f = withEvent(T.INCIDENT, Buffer.concat([Buffer.from([1, 0]), Buffer.from([11]), Buffer.from('LOST_EVENTS')]));
    expect(parse('mysql', f.file).p.facts.problems).toEqual([expect.objectContaining({ pos: f.odd.start, kind: 'incident' })]);
  });

  it('records a rows event whose bytes are short instead of throwing a RangeError', () => {
    const w = new W.BinlogWriter(true);
    w.add(T.FORMAT_DESCRIPTION, W.fde('8.4.0', true));
    w.add(T.GTID, W.mysqlGtid(UUID, 1));
    w.add(T.QUERY, W.query('BEGIN'));
    w.add(T.TABLE_MAP, W.tableMap(1, 'd', 't', [{ type: C.LONG }, { type: C.VARCHAR, meta: [10, 0] }]));
    const full = W.rows(T.WRITE_ROWS, 1, 2, [{ after: [V.int(1), V.varchar('abcdef', 10)] }]);
    const r = w.add(T.WRITE_ROWS, full.subarray(0, full.length - 3));
    w.add(T.XID, W.xid(1));
    const { p } = parse('mysql', w.file(), 1 << 20, { detail: true });
    expect(p.facts.problems).toEqual([expect.objectContaining({ pos: r.start, kind: 'unreadable' })]);
    expect(p.facts.problems[0]?.message).toMatch(/value needs 6 byte\(s\)/);
  });
});

describe('a file cut at every offset', () => {
  it('never throws; the boundary is the last whole event; the cut is described', () => {
    const f = mysqlFile(true);
    const ends = new Set([4, ...f.events.map((e) => e.end)]);
    for (let cut = 0; cut <= f.file.length; cut++) {
      const bytes = f.file.subarray(0, cut);
      const trx: TransactionInfo[] = [];
      const p = new BinlogParser('mysql', { detail: true, onTransaction: (t) => trx.push(t) });
      // Feed in two uneven chunks.
      p.push(bytes.subarray(0, cut >> 1));
      p.push(bytes.subarray(cut >> 1));
      const lastEnd = Math.max(0, ...[...ends].filter((e) => e <= cut));
      expect(p.boundary).toBe(cut < 4 ? 0 : lastEnd);
      expect(trx.every((t) => t.end <= cut)).toBe(true);
      expect(trx.length).toBe(f.trx.filter((t) => t.end <= cut).length);
      if (cut === 0 || ends.has(cut)) expect(p.truncation()).toBeUndefined();
      else expect(p.truncation()).toMatch(/the bytes end \d+ byte\(s\) into (the (header of the )?event at \d+|the file's 4-byte magic number)/);
      expect(p.facts.problems).toEqual([]);
    }
  });
});

describe('BinlogFormatError', () => {
  it('is the error damaged bytes are reported with', () => {
    expect(new BinlogFormatError('x')).toBeInstanceOf(Error);
  });
});
