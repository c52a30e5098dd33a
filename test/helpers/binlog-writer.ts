/**
 * A binary log writer for tests, written from the documented format
 * (MySQL: libs/mysql/binlog/event/*.h and the serialization readme;
 * MariaDB: sql/log_event.h and the replication protocol pages), on its own:
 * it shares no code with the reader in src/mysql/binlog/, so a test that
 * passes means two separate readings of the format agree. Numbers are
 * spelled out here rather than imported for the same reason.
 */
import { crc32, deflateSync, zstdCompressSync } from 'node:zlib';

export const T = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  ROWS_QUERY: 29,
  WRITE_ROWS: 30,
  UPDATE_ROWS: 31,
  DELETE_ROWS: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  GTID_TAGGED: 42,
  ANNOTATE_ROWS: 160,
  BINLOG_CHECKPOINT: 161,
  MARIA_GTID: 162,
  GTID_LIST: 163,
  START_ENCRYPTION: 164,
  QUERY_COMPRESSED: 165,
  WRITE_ROWS_COMPRESSED_V1: 166,
  UPDATE_ROWS_COMPRESSED_V1: 167,
  DELETE_ROWS_COMPRESSED_V1: 168,
} as const;

/** Column types (include/field_types.h). */
export const C = { TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, LONGLONG: 8, INT24: 9, DATE: 10, YEAR: 13, VARCHAR: 15, BIT: 16, TIMESTAMP2: 17, DATETIME2: 18, TIME2: 19, JSON: 245, NEWDECIMAL: 246, ENUM: 247, SET: 248, BLOB: 252, STRING: 254, GEOMETRY: 255 } as const;

export const IGNORABLE_F = 0x80;

const u8 = (n: number) => Buffer.from([n & 0xff]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u48 = (n: number) => {
  const b = Buffer.alloc(6);
  b.writeUIntLE(n, 0, 6);
  return b;
};
const u64 = (n: bigint | number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** The client protocol's length-encoded integer. */
export function packedInt(n: number): Buffer {
  if (n < 251) return u8(n);
  if (n < 0x10000) return Buffer.concat([u8(0xfc), u16(n)]);
  if (n < 0x1000000) return Buffer.concat([u8(0xfd), Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff])]);
  return Buffer.concat([u8(0xfe), u64(n)]);
}

/**
 * mysql::serialization's unsigned varint, written the plain way: the value
 * needs `bits` bits; each extra byte buys 7 more (the first byte's low bits
 * hold the byte count in unary), up to 9 bytes for 64 bits.
 */
export function varint(value: bigint): Buffer {
  let bytes = 1;
  while (bytes < 9 && value >= 1n << BigInt(7 * bytes)) bytes++;
  const out = Buffer.alloc(bytes);
  if (bytes === 9) {
    out[0] = 0xff;
    for (let i = 0; i < 8; i++) out[i + 1] = Number((value >> BigInt(8 * i)) & 0xffn);
    return out;
  }
  // Low `bytes - 1` bits of the first byte are ones, then a zero, then the value.
  const shifted = (value << BigInt(bytes)) | ((1n << BigInt(bytes - 1)) - 1n);
  for (let i = 0; i < bytes; i++) out[i] = Number((shifted >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function varintSigned(value: bigint): Buffer {
  return varint(value < 0n ? (-value << 1n) - 1n : value << 1n);
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

// ---- event bodies ---------------------------------------------------------

export function fde(version: string, checksum: boolean): Buffer {
  const b = Buffer.alloc(2 + 50 + 4 + 1);
  b.writeUInt16LE(4, 0);
  b.write(version, 2, 'latin1');
  b.writeUInt8(19, 56);
  // post-header lengths (one per type; only their presence matters here), then the checksum algorithm byte.
  return Buffer.concat([b, Buffer.alloc(42, 0), u8(checksum ? 1 : 0)]);
}

export function mysqlGtid(uuid: string, gno: number | bigint, anonymous = false): Buffer {
  // flags, uuid, gno, then logical clocks (typecode 2, last_committed, sequence_number).
  return Buffer.concat([u8(1), anonymous ? Buffer.alloc(16) : uuidBytes(uuid), u64(anonymous ? 0 : gno), u8(2), u64(0), u64(1)]);
}

/**
 * GTID_TAGGED_LOG_EVENT (42): version 1, the message size (counting itself),
 * the id of the last field a reader must know, then <id><value> per field.
 */
export function mysqlTaggedGtid(uuid: string, tag: string, gno: number | bigint, opts: { commitTimestamp?: bigint } = {}): Buffer {
  const fields = Buffer.concat([
    varint(0n), varint(1n), // gtid_flags
    varint(1n), ...[...uuidBytes(uuid)].map((b) => varint(BigInt(b))), // uuid: 16 varints
    varint(2n), varintSigned(BigInt(gno)), // gno
    varint(3n), varint(BigInt(tag.length)), Buffer.from(tag, 'latin1'), // tag
    varint(4n), varintSigned(0n), // last_committed
    varint(5n), varintSigned(1n), // sequence_number
    varint(6n), varint(opts.commitTimestamp ?? 1_700_000_000_000_000n), // immediate_commit_timestamp
  ]);
  const lastNonIgnorable = varint(6n);
  const version = varint(1n);
  // The size covers the whole message, its own varint included.
  let size = version.length + 1 + lastNonIgnorable.length + fields.length;
  while (version.length + varint(BigInt(size)).length + lastNonIgnorable.length + fields.length !== size) size++;
  return Buffer.concat([version, varint(BigInt(size)), lastNonIgnorable, fields]);
}

/** PREVIOUS_GTIDS (35); tagged sets use the format word 1<<56 | n<<8 | 1 and a tag per source. */
export function previousGtids(sources: Array<{ uuid: string; tag?: string; intervals: Array<[number, number]> }>, tagged: boolean): Buffer {
  const n = BigInt(sources.length);
  const head = tagged ? (1n << 56n) | (n << 8n) | 1n : n;
  const parts: Buffer[] = [u64(head)];
  for (const s of sources) {
    parts.push(uuidBytes(s.uuid));
    if (tagged) parts.push(varint(BigInt((s.tag ?? '').length)), Buffer.from(s.tag ?? '', 'latin1'));
    parts.push(u64(s.intervals.length));
    // Stored end is exclusive.
    for (const [a, b] of s.intervals) parts.push(u64(a), u64(b + 1));
  }
  return Buffer.concat(parts);
}

export function mariaGtid(seq: number, domain: number, flags: number): Buffer {
  return Buffer.concat([u64(seq), u32(domain), u8(flags), Buffer.alloc(6)]);
}

export function gtidList(gtids: Array<[number, number, number]>): Buffer {
  return Buffer.concat([u32(gtids.length), ...gtids.map(([d, s, n]) => Buffer.concat([u32(d), u32(s), u64(n)]))]);
}

export function query(text: string, schema = 'shop', opts: { compressed?: boolean } = {}): Buffer {
  const status = Buffer.from([0x00, 0, 0, 0, 0]); // Q_FLAGS2_CODE with value 0
  const post = Buffer.concat([u32(7), u32(0), u8(schema.length), u16(0), u16(status.length)]);
  const textBytes = opts.compressed ? mariaCompress(Buffer.from(text)) : Buffer.from(text);
  return Buffer.concat([post, status, Buffer.from(schema), u8(0), textBytes]);
}

/** MariaDB's compressed event part: 0x80 | length-bytes, the length big-endian, then zlib. */
export function mariaCompress(raw: Buffer): Buffer {
  const lenBytes = raw.length < 0x100 ? 1 : raw.length < 0x10000 ? 2 : raw.length < 0x1000000 ? 3 : 4;
  const len = Buffer.alloc(lenBytes);
  len.writeUIntBE(raw.length, 0, lenBytes);
  return Buffer.concat([u8(0x80 | lenBytes), len, deflateSync(raw)]);
}

export const xid = (n: number) => u64(n);

export function rotate(next: string): Buffer {
  return Buffer.concat([u64(4), Buffer.from(next)]);
}

export interface Column {
  type: number;
  /** Metadata bytes as the table map writes them. */
  meta?: number[];
}

export function tableMap(id: number, schema: string, table: string, columns: Column[]): Buffer {
  const meta = Buffer.from(columns.flatMap((c) => c.meta ?? []));
  return Buffer.concat([
    u48(id), u16(1),
    u8(schema.length), Buffer.from(schema), u8(0),
    u8(table.length), Buffer.from(table), u8(0),
    packedInt(columns.length), Buffer.from(columns.map((c) => c.type)),
    packedInt(meta.length), meta,
    Buffer.alloc((columns.length + 7) >> 3, 0xff), // all nullable
  ]);
}

/** One row image: a value (already encoded) per present column, or null. */
export type Image = Array<Buffer | null>;

function bitmap(bits: boolean[]): Buffer {
  const b = Buffer.alloc((bits.length + 7) >> 3);
  bits.forEach((on, i) => {
    if (on) b[i >> 3] = (b[i >> 3] as number) | (1 << (i & 7));
  });
  return b;
}

function image(values: Image): Buffer {
  return Buffer.concat([bitmap(values.map((v) => v === null)), ...values.filter((v): v is Buffer => v !== null)]);
}

/**
 * A rows event. v2 types get the 2-byte extra-data length; updates get the
 * after-image bitmap and before/after pairs; partial updates get their
 * value_options (and partial bits) between the images.
 */
export function rows(type: number, tableId: number, width: number, rowsData: Array<{ before?: Image; after?: Image; partialBits?: number[] }>, opts: { compressed?: boolean; end?: boolean } = {}): Buffer {
  const v2 = type >= 30 && type <= 39;
  const update = [T.UPDATE_ROWS_V1, T.UPDATE_ROWS, T.PARTIAL_UPDATE_ROWS, T.UPDATE_ROWS_COMPRESSED_V1].includes(type as never);
  const all = bitmap(new Array(width).fill(true) as boolean[]);
  const head = Buffer.concat([u48(tableId), u16(opts.end === false ? 0 : 1), v2 ? u16(2) : Buffer.alloc(0), packedInt(width), all, update ? all : Buffer.alloc(0)]);
  const body = Buffer.concat(
    rowsData.map((r) => {
      if (!update) return image((r.after ?? r.before) as Image);
      const shared = type === T.PARTIAL_UPDATE_ROWS ? (r.partialBits ? Buffer.concat([packedInt(1), Buffer.from(r.partialBits)]) : packedInt(0)) : Buffer.alloc(0);
      return Buffer.concat([image(r.before as Image), shared, image(r.after as Image)]);
    }),
  );
  return Buffer.concat([head, opts.compressed ? mariaCompress(body) : body]);
}

/** Value encoders for row images. */
export const V = {
  int: (n: number) => u32(n),
  tiny: (n: number) => u8(n),
  long: (n: bigint) => u64(n),
  varchar: (s: string, meta: number) => (meta < 256 ? Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)]) : Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s)])),
  blob: (b: Buffer, lenBytes: number) => {
    const len = Buffer.alloc(lenBytes);
    len.writeUIntLE(b.length, 0, lenBytes);
    return Buffer.concat([len, b]);
  },
  raw: (n: number) => Buffer.alloc(n, 0x11),
};

/** Inner events of a payload: header without a checksum. */
export function innerEvent(type: number, body: Buffer, ts: number, serverId = 1): Buffer {
  const h = Buffer.alloc(19);
  h.writeUInt32LE(ts, 0);
  h.writeUInt8(type, 4);
  h.writeUInt32LE(serverId, 5);
  h.writeUInt32LE(19 + body.length, 9);
  h.writeUInt32LE(0, 13);
  h.writeUInt16LE(0, 17);
  return Buffer.concat([h, body]);
}

/**
 * TRANSACTION_PAYLOAD (40): header fields as <type><length><value> packed
 * integers (1 payload size, 2 compression type, 3 uncompressed size, 0 end),
 * then the (zstd) payload.
 */
export function transactionPayload(inner: Buffer[], compression: 'zstd' | 'none' = 'zstd'): Buffer {
  const raw = Buffer.concat(inner);
  const payload = compression === 'zstd' ? zstdCompressSync(raw) : raw;
  const field = (type: number, value: number) => {
    const v = packedInt(value);
    return Buffer.concat([packedInt(type), packedInt(v.length), v]);
  };
  return Buffer.concat([field(2, compression === 'zstd' ? 0 : 255), field(3, raw.length), field(1, payload.length), packedInt(0), payload]);
}

// ---- files -----------------------------------------------------------------

/** Events appended one after another, with positions and (optionally) CRC32 checksums. */
export class BinlogWriter {
  private readonly parts: Buffer[] = [Buffer.from([0xfe, 0x62, 0x69, 0x6e])];
  pos = 4;
  /** Each event's [start, end), in order. */
  readonly events: Array<{ type: number; start: number; end: number }> = [];

  constructor(readonly checksum: boolean, private readonly serverId = 1) {}

  add(type: number, body: Buffer, ts = 1_700_000_000, flags = 0): { start: number; end: number } {
    const size = 19 + body.length + (this.checksum ? 4 : 0);
    const h = Buffer.alloc(19);
    h.writeUInt32LE(ts, 0);
    h.writeUInt8(type, 4);
    h.writeUInt32LE(this.serverId, 5);
    h.writeUInt32LE(size, 9);
    h.writeUInt32LE(this.pos + size, 13);
    h.writeUInt16LE(flags, 17);
    const event = Buffer.concat([h, body]);
    this.parts.push(event);
    if (this.checksum) this.parts.push(u32(crc32(event)));
    const at = { start: this.pos, end: this.pos + size };
    this.events.push({ type, ...at });
    this.pos += size;
    return at;
  }

  file(): Buffer {
    return Buffer.concat(this.parts);
  }
}
