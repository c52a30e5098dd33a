import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BINLOG_MAGIC, BinlogParser, EventType, type TransactionInfo } from '../../../src/mysql/binlog-events.js';
import { formatGtid } from '../../../src/mysql/gtid.js';

const MARIA = readFileSync(new URL('../../fixtures/mariadb-bin.000001', import.meta.url));

function parse(flavor: 'mariadb' | 'mysql', buf: Buffer, chunk = 1 << 20) {
  const trx: TransactionInfo[] = [];
  const p = new BinlogParser(flavor, { onTransaction: (t) => trx.push(t) });
  for (let i = 0; i < buf.length; i += chunk) p.push(buf.subarray(i, i + chunk));
  return { p, trx: trx.map((t) => ({ start: t.start, end: t.end, gtid: t.gtid ? formatGtid(t.gtid) : undefined })) };
}

describe('BinlogParser on a real MariaDB binlog', () => {
  it('finds every transaction with its GTID and exact end position', () => {
    const { p, trx } = parse('mariadb', MARIA);
    // mariadb-binlog shows: DDL 0-1-1 ends at 453, DDL 0-1-2 at 643, row trx 0-1-3 at 904, ...
    expect(trx.slice(0, 3)).toEqual([
      { start: 328, end: 453, gtid: '0-1-1' },
      { start: 453, end: 643, gtid: '0-1-2' },
      { start: 643, end: 904, gtid: '0-1-3' },
    ]);
    expect(trx.map((t) => t.gtid)).toEqual(['0-1-1', '0-1-2', '0-1-3', '0-1-4', '0-1-5', '0-1-6', '0-1-7']);
    expect(p.facts).toMatchObject({ checksum: true, closedBy: 'rotate', nextFile: 'mysql-bin.000002' });
    expect(p.facts.serverVersion).toMatch(/MariaDB/);
    expect(p.boundary).toBe(MARIA.length);
  });

  it('gives the same answer fed one byte at a time', () => {
    expect(parse('mariadb', MARIA, 1).trx).toEqual(parse('mariadb', MARIA).trx);
  });

  it('stops its boundary at the last complete event of a truncated file', () => {
    const { p, trx } = parse('mariadb', MARIA.subarray(0, 700));
    expect(p.boundary).toBeLessThan(700);
    expect(trx.map((t) => t.gtid)).toEqual(['0-1-1', '0-1-2']);
  });

  it('refuses what is not a binlog', () => {
    expect(() => new BinlogParser('mariadb').push(Buffer.from('hello world, no magic'))).toThrow(/not a binary log/);
  });
});

/** Build MySQL events by hand (MySQL 8 cannot be installed here). */
function ev(type: number, body: Buffer, pos: number, ts = 1_700_000_000, serverId = 1, flags = 0): Buffer {
  const h = Buffer.alloc(19);
  h.writeUInt32LE(ts, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(serverId, 5);
  h.writeUInt32LE(19 + body.length, 9);
  h.writeUInt32LE(pos + 19 + body.length, 13);
  h.writeUInt16LE(flags, 17);
  return Buffer.concat([h, body]);
}
function fde(): Buffer {
  const b = Buffer.alloc(2 + 50 + 4 + 1 + 40 + 5);
  b.writeUInt16LE(4, 0);
  b.write('8.0.36', 2, 'latin1');
  b.writeUInt8(19, 56);
  b.writeUInt8(0, b.length - 5); // checksum off
  return b;
}
const SID = Buffer.from('3e11fa4771ca11e19e33c80aa9429562', 'hex');
function gtid(gno: number): Buffer {
  const b = Buffer.alloc(1 + 16 + 8 + 8);
  b.writeUInt8(1, 0);
  SID.copy(b, 1);
  b.writeBigUInt64LE(BigInt(gno), 17);
  return b;
}
function query(text: string, db = 'shop'): Buffer {
  const post = Buffer.alloc(13);
  post.writeUInt8(db.length, 8);
  post.writeUInt16LE(0, 11);
  return Buffer.concat([post, Buffer.from(`${db}\0${text}`)]);
}
function previousGtids(): Buffer {
  const b = Buffer.alloc(8 + 16 + 8 + 16);
  b.writeBigUInt64LE(1n, 0);
  SID.copy(b, 8);
  b.writeBigUInt64LE(1n, 24);
  b.writeBigUInt64LE(1n, 32);
  b.writeBigUInt64LE(5n, 40); // exclusive end: 1-4
  return b;
}
function mysqlFile(): Buffer {
  const parts: Buffer[] = [BINLOG_MAGIC];
  let pos = 4;
  const add = (type: number, body: Buffer, ts?: number) => {
    const e = ev(type, body, pos, ts);
    parts.push(e);
    pos += e.length;
    return pos;
  };
  add(EventType.FORMAT_DESCRIPTION, fde());
  add(EventType.MYSQL_PREVIOUS_GTIDS, previousGtids());
  add(EventType.MYSQL_GTID, gtid(5));
  add(EventType.QUERY, query('BEGIN'));
  add(19, Buffer.alloc(30)); // TABLE_MAP, opaque here
  add(30, Buffer.alloc(40)); // WRITE_ROWS, opaque here
  add(EventType.XID, Buffer.alloc(8), 1_700_000_007);
  add(EventType.MYSQL_GTID, gtid(6));
  add(EventType.QUERY, query('CREATE TABLE t (id INT)'), 1_700_000_009);
  const rotate = Buffer.concat([Buffer.alloc(8), Buffer.from('binlog.000002')]);
  add(EventType.ROTATE, rotate);
  return Buffer.concat(parts);
}

describe('BinlogParser on MySQL 8 events', () => {
  it('delimits a BEGIN...XID transaction and a DDL after its GTID event', () => {
    const { p, trx } = parse('mysql', mysqlFile(), 7);
    expect(trx.map((t) => t.gtid)).toEqual(['3e11fa47-71ca-11e1-9e33-c80aa9429562:5', '3e11fa47-71ca-11e1-9e33-c80aa9429562:6']);
    expect(p.facts.startGtids?.toString()).toBe('3e11fa47-71ca-11e1-9e33-c80aa9429562:1-4');
    expect(p.facts).toMatchObject({ checksum: false, closedBy: 'rotate', nextFile: 'binlog.000002', serverVersion: '8.0.36' });
  });

  it('stamps a transaction with the time of its last event', () => {
    const ts: number[] = [];
    const p = new BinlogParser('mysql', { onTransaction: (t) => ts.push(t.timestamp) });
    p.push(mysqlFile());
    expect(ts).toEqual([1_700_000_007, 1_700_000_009]);
  });
});
