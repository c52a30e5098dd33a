/**
 * The partial replay's filter on a MySQL-shaped binlog built here event by
 * event (no MySQL server can run here; the MariaDB side is tested against a
 * real server in test/integration/restore/partial.test.ts).
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BinlogTableFilter } from '../../../src/binlog/filter.js';

const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);

/** One event with a CRC32: header (19 bytes) + body + checksum. */
function event(type: number, body: Buffer): Buffer {
  const e = Buffer.alloc(19 + body.length + 4);
  e.writeUInt32LE(1764115200, 0);
  e.writeUInt8(type, 4);
  e.writeUInt32LE(1, 5);
  e.writeUInt32LE(e.length, 9);
  body.copy(e, 19);
  e.writeUInt32LE(crc32(e.subarray(0, e.length - 4)), e.length - 4);
  return e;
}
const fde = () => event(15, Buffer.concat([Buffer.alloc(2 + 50 + 4 + 1 + 40), Buffer.from([1])]));
const gtid = () => event(33, Buffer.alloc(42));
function query(db: string, text: string): Buffer {
  const post = Buffer.alloc(13);
  post.writeUInt8(Buffer.byteLength(db), 8);
  return event(2, Buffer.concat([post, Buffer.from(db), Buffer.from([0]), Buffer.from(text)]));
}
function tableMap(id: number, db: string, table: string): Buffer {
  const head = Buffer.alloc(8);
  head.writeUIntLE(id, 0, 6);
  return event(19, Buffer.concat([head, Buffer.from([db.length]), Buffer.from(db), Buffer.from([0]), Buffer.from([table.length]), Buffer.from(table), Buffer.from([0]), Buffer.from([1, 3, 0, 0])]));
}
function rows(id: number, flags: number): Buffer {
  const head = Buffer.alloc(10);
  head.writeUIntLE(id, 0, 6);
  head.writeUInt16LE(flags, 6);
  head.writeUInt16LE(2, 8);
  return event(30, Buffer.concat([head, Buffer.from([1, 0xff, 0, 42, 0, 0, 0])]));
}
const xid = () => event(16, Buffer.alloc(8));

async function filtered(parts: Buffer[], tables: Array<[string, string]>): Promise<Buffer[]> {
  const f = new BinlogTableFilter({ tables: new Map(tables), schemas: new Map() }, { file: 'binlog.000001' });
  const out: Buffer[] = [];
  await pipeline(Readable.from([Buffer.concat([MAGIC, ...parts])]), f, new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return out;
}

/** Events of a filtered binlog: type, and for a table map its schema. */
function events(out: Buffer[]): Array<{ type: number; schema?: string; id?: number; flags?: number; crcOk: boolean }> {
  const b = Buffer.concat(out);
  expect(b.subarray(0, 4)).toEqual(MAGIC);
  const list = [];
  for (let at = 4; at < b.length; ) {
    const size = b.readUInt32LE(at + 9);
    const e = b.subarray(at, at + size);
    const crcOk = crc32(e.subarray(0, size - 4)) === e.readUInt32LE(size - 4);
    const type = e[4] as number;
    if (type === 19) list.push({ type, schema: e.toString('utf8', 28, 28 + (e[27] as number)), crcOk });
    else if (type === 30) list.push({ type, id: e.readUIntLE(19, 6), flags: e.readUInt16LE(25), crcOk });
    else list.push({ type, crcOk });
    at += size;
  }
  return list;
}

describe('the partial replay filter (MySQL events)', () => {
  it('keeps only the chosen table, renamed, with its statement end and no foreign key checks, and leaves out other transactions', async () => {
    const out = await filtered(
      [
        fde(),
        gtid(), query('shop', 'BEGIN'), tableMap(5, 'shop', 'orders'), tableMap(6, 'other', 't'), rows(5, 0), rows(6, 1), xid(),
        gtid(), query('', 'BEGIN'), tableMap(6, 'other', 't'), rows(6, 1), xid(),
        gtid(), query('other', 'CREATE TABLE other.x (id INT)'),
      ],
      [['shop\u0000orders', 'shop_then']],
    );
    expect(events(out)).toEqual([
      { type: 15, crcOk: true },
      { type: 33, crcOk: true },
      { type: 2, crcOk: true },
      { type: 19, schema: 'shop_then', crcOk: true },
      // The statement ended on the left-out rows event: its end moves here; FK checks off (0x2).
      { type: 30, id: 5, flags: 0x3, crcOk: true },
      { type: 16, crcOk: true },
    ]);
  });

  it('refuses a statement on a chosen table inside the range, naming it and its position', async () => {
    const parts = [fde(), gtid(), query('shop', 'ALTER TABLE orders ADD COLUMN x INT')];
    await expect(filtered(parts, [['shop\u0000orders', 'shop2']])).rejects.toThrow(/binlog.000001:\d+ .*holds a statement on shop.orders inside the replay range: "ALTER TABLE orders ADD COLUMN x INT"/);
    // The same name in another schema, or a longer name, is not the chosen table.
    await expect(filtered([fde(), gtid(), query('other', 'ALTER TABLE orders ADD COLUMN x INT'), gtid(), query('shop', 'ALTER TABLE orders_old ADD x INT')], [['shop\u0000orders', 'shop2']])).resolves.toBeDefined();
  });

  it('refuses compressed transactions, which it cannot filter yet', async () => {
    await expect(filtered([fde(), gtid(), event(40, Buffer.alloc(10))], [['shop\u0000orders', 'shop2']])).rejects.toThrow(/is compressed/);
  });
});
