/**
 * A bounds-checked reader over one event's bytes. Every read past the end
 * throws BinlogFormatError naming what was being read and where, so a
 * short or damaged event is an error that says so, never a RangeError from
 * Buffer. Integers are little-endian, as the binary log writes them, except
 * where a method says otherwise.
 */

import { BinlogUnreadableError } from '../../errors.js';

/** An event whose bytes do not have the shape its type promises. */
export class BinlogFormatError extends BinlogUnreadableError {
  constructor(message: string) {
    super(message);
    this.name = 'BinlogFormatError';
  }
}

/**
 * Where a decoder is, for its error messages: text, or text made only when
 * an error needs it (the parser names millions of events it never reports).
 */
export class LazyText {
  constructor(private readonly make: () => string) {}
  toString(): string {
    return this.make();
  }
}
export type Where = string | LazyText;

export class Reader {
  pos = 0;

  constructor(readonly buf: Buffer, private readonly what: Where) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, field: string): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new BinlogFormatError(`${String(this.what)}: ${field} needs ${n} byte(s) at ${this.pos}, only ${Math.max(0, this.remaining)} left`);
    }
  }

  u8(field = 'a byte'): number {
    this.need(1, field);
    return this.buf.readUInt8(this.pos++);
  }

  u16(field = 'a 2-byte integer'): number {
    this.need(2, field);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  u24(field = 'a 3-byte integer'): number {
    this.need(3, field);
    const v = this.buf.readUIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32(field = 'a 4-byte integer'): number {
    this.need(4, field);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A 6-byte integer (table ids): exact as a JS number. */
  u48(field = 'a 6-byte integer'): number {
    this.need(6, field);
    const v = this.buf.readUIntLE(this.pos, 6);
    this.pos += 6;
    return v;
  }

  /** An unsigned little-endian integer of 1 to 6 bytes. */
  uint(n: number, field = 'an integer'): number {
    this.need(n, field);
    const v = this.buf.readUIntLE(this.pos, n);
    this.pos += n;
    return v;
  }

  u64(field = 'an 8-byte integer'): bigint {
    this.need(8, field);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  bytes(n: number, field = 'bytes'): Buffer {
    this.need(n, field);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number, field = 'bytes'): void {
    this.need(n, field);
    this.pos += n;
  }

  /** The rest of the buffer. */
  rest(): Buffer {
    const v = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return v;
  }

  /**
   * A packed ("length-encoded") integer of the client protocol and the
   * binary log: < 251 in one byte; 0xfc + 2 bytes; 0xfd + 3 bytes; 0xfe + 8 bytes.
   */
  packed(field = 'a packed integer'): number {
    const first = this.u8(field);
    if (first < 251) return first;
    if (first === 0xfc) return this.u16(field);
    if (first === 0xfd) return this.u24(field);
    if (first === 0xfe) {
      const v = this.u64(field);
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new BinlogFormatError(`${String(this.what)}: ${field} is ${v}, too large`);
      return Number(v);
    }
    throw new BinlogFormatError(`${String(this.what)}: ${field} starts with 0x${first.toString(16)}, which no packed integer does`);
  }

  /**
   * An unsigned variable-length integer of MySQL's serialization library
   * (mysql::serialization, used by tagged GTID events): the count of
   * trailing one bits of the first byte, plus one, is the byte count; the
   * value follows, little-endian (libs/mysql/serialization/readme.md).
   */
  varlen(field = 'a variable-length integer'): bigint {
    const first = this.u8(field);
    let n = 1;
    while (n <= 8 && ((first >> (n - 1)) & 1) === 1) n++;
    let value = BigInt(first >> n);
    if (n === 1) return value;
    this.need(n - 1, field);
    let rest = 0n;
    for (let i = 0; i < n - 1; i++) rest |= BigInt(this.buf[this.pos + i] as number) << BigInt(8 * i);
    this.pos += n - 1;
    // n <= 8: the first byte held 8 - n value bits; n == 9: it held none.
    value |= rest << BigInt(n === 9 ? 0 : 8 - n);
    return value;
  }

  /** A signed variable-length integer: the sign is the lowest bit of the unsigned encoding. */
  varlenSigned(field = 'a variable-length integer'): bigint {
    const u = this.varlen(field);
    return u & 1n ? -(u >> 1n) - 1n : u >> 1n;
  }
}

/** Encode an unsigned variable-length integer as mysql::serialization does (tests build fixtures with it). */
export function encodeVarlen(value: bigint): Buffer {
  const bits = value === 0n ? 0 : value.toString(2).length;
  const n = ((bits * 575) >> 12) + 1;
  const out = Buffer.alloc(n);
  out[0] = Number((((1n << BigInt(n - 1)) - 1n) | (value << BigInt(n))) & 0xffn);
  const rest = value >> BigInt(n === 9 ? 0 : 8 - n);
  for (let i = 1; i < n; i++) out[i] = Number((rest >> BigInt(8 * (i - 1))) & 0xffn);
  return out;
}

/** Encode a signed variable-length integer. */
export function encodeVarlenSigned(value: bigint): Buffer {
  return encodeVarlen(value < 0n ? ((-(value + 1n)) << 1n) | 1n : value << 1n);
}
