import { describe, expect, it } from 'vitest';
import { BinlogFormatError, encodeVarlen, encodeVarlenSigned, Reader } from '../../../../src/mysql/binlog/reader.js';
import { varint, varintSigned } from '../../../helpers/binlog-writer.js';

/**
 * mysql::serialization's variable-length integers. The byte strings are the
 * examples of MySQL's libs/mysql/serialization/readme.md; the test writer
 * (test/helpers) and the reader must both reproduce them.
 */
const PUBLISHED: Array<[bigint, string, 'unsigned' | 'signed']> = [
  [65535n, 'fbff07', 'unsigned'],
  [65535n, 'f3ff0f', 'signed'],
  [-65535n, 'ebff0f', 'signed'],
  [-65536n, 'fbff0f', 'signed'],
];

describe('variable-length integers (mysql::serialization)', () => {
  it.each(PUBLISHED)('%s %s is %s', (value, hex, kind) => {
    const bytes = Buffer.from(hex, 'hex');
    expect((kind === 'signed' ? varintSigned(value) : varint(value)).toString('hex')).toBe(hex);
    expect((kind === 'signed' ? encodeVarlenSigned(value) : encodeVarlen(value)).toString('hex')).toBe(hex);
    const r = new Reader(bytes, 'test');
    expect(kind === 'signed' ? r.varlenSigned() : r.varlen()).toBe(value);
    expect(r.remaining).toBe(0);
  });

  it('round-trips every length from 1 to 9 bytes, and the writer and reader agree', () => {
    const values = [0n, 1n, 127n, 128n, 16383n, 16384n, (1n << 56n) - 1n, 1n << 56n, (1n << 63n) + 12345n, (1n << 64n) - 1n];
    for (const v of values) {
      const b = varint(v);
      expect(encodeVarlen(v).equals(b)).toBe(true);
      expect(new Reader(b, 'test').varlen()).toBe(v);
    }
    for (const v of [0n, -1n, 1n, -(1n << 62n), (1n << 62n) - 1n]) expect(new Reader(varintSigned(v), 'test').varlenSigned()).toBe(v);
    expect(varint((1n << 64n) - 1n)).toHaveLength(9);
  });

  it('says what it was reading when the bytes run out, never a RangeError', () => {
    expect(() => new Reader(Buffer.from('fbff', 'hex'), 'a tagged GTID at 120').varlen('gno')).toThrow(BinlogFormatError);
    expect(() => new Reader(Buffer.from('fbff', 'hex'), 'a tagged GTID at 120').varlen('gno')).toThrow(/a tagged GTID at 120: gno needs 2 byte\(s\) at 1, only 1 left/);
    expect(() => new Reader(Buffer.alloc(3), 'x').u64('seq')).toThrow(/seq needs 8/);
    expect(() => new Reader(Buffer.from([0xfb]), 'x').packed('count')).toThrow(/starts with 0xfb/);
  });
});
