/**
 * Row events: which table a rows event changes, and how many rows.
 *
 * A TABLE_MAP event (19) names a table id's schema and table and gives each
 * column's type and metadata; a rows event (v1: 23-25, MariaDB's default;
 * v2: 30-32, MySQL's; 39 partial JSON update; MariaDB's compressed 166-171)
 * then carries rows as images of the columns it names. Counting the rows
 * needs every value's size, so each column type's size rule is here
 * (MySQL: libs/mysql/binlog/event/binary_log_funcs.cpp, calc_field_size;
 * MariaDB: log_event.cc). A type whose size this reader does not know makes
 * the count unknown, never wrong.
 */
import { rowsEventShape, type RowsKind } from './events.js';
import { mariaUncompress } from './payload.js';
import { BinlogFormatError, LazyText, Reader, type Where } from './reader.js';

/** Column types (include/field_types.h). */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

const T = ColumnType;

/** One table as a TABLE_MAP event describes it. */
export interface TableMap {
  tableId: number;
  schema: string;
  table: string;
  /** Each column's type and metadata word (its meaning depends on the type). */
  columns: Array<{ type: number; meta: number }>;
}

/** The table a rows event changes and the rows it holds. */
export interface RowsInfo {
  tableId: number;
  kind: RowsKind;
  /** Rows in the event; undefined when a column's size is not known to this reader. */
  rows: number | undefined;
  /** The statement ends with this event (STMT_END_F). */
  statementEnd: boolean;
}

const STMT_END_F = 1;

/** Decode a TABLE_MAP event's data (checksum excluded). */
export function decodeTableMap(data: Buffer, where: Where): TableMap {
  const r = new Reader(data, where);
  const tableId = r.u48('table id');
  r.u16('flags');
  const schema = r.bytes(r.u8('schema name length'), 'schema name').toString('utf8');
  r.skip(1, 'schema name terminator');
  const table = r.bytes(r.u8('table name length'), 'table name').toString('utf8');
  r.skip(1, 'table name terminator');
  const count = r.packed('column count');
  const types = [...r.bytes(count, 'column types')];
  const metaLen = r.packed('metadata length');
  const meta = new Reader(r.bytes(metaLen, 'column metadata'), new LazyText(() => `${String(where)} column metadata`));
  const columns = types.map((type) => ({ type, meta: readMeta(meta, type) }));
  // The null bitmap and MySQL's optional metadata follow; row counting needs neither.
  return { tableId, schema, table, columns };
}

function readMeta(r: Reader, type: number): number {
  switch (type) {
    case T.FLOAT:
    case T.DOUBLE:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
    case T.GEOMETRY:
    case T.JSON:
    case T.TIMESTAMP2:
    case T.DATETIME2:
    case T.TIME2:
      return r.u8('column metadata');
    case T.VARCHAR:
    case T.VAR_STRING:
      return r.u16('column metadata');
    case T.BIT:
    case T.NEWDECIMAL:
    case T.STRING:
    case T.ENUM:
    case T.SET: {
      // Two bytes, the first one high: (real type or precision or bits) << 8 | (length or scale or bytes).
      const hi = r.u8('column metadata');
      return (hi << 8) | r.u8('column metadata');
    }
    default:
      return 0;
  }
}

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/** Bytes of a DECIMAL(precision, scale) in the binary format. */
export function decimalBinSize(precision: number, scale: number): number {
  const intg = precision - scale;
  return Math.floor(intg / 9) * 4 + (DIG2BYTES[intg % 9] as number) + Math.floor(scale / 9) * 4 + (DIG2BYTES[scale % 9] as number);
}

/** A little-endian length prefix of `n` bytes. */
function lengthPrefixed(r: Reader, n: number): void {
  r.skip(r.uint(n, 'value length'), 'value');
}

/**
 * Step over one value of a column; false when this reader does not know
 * the type's size (the caller stops counting).
 */
function skipValue(r: Reader, type: number, meta: number): boolean {
  switch (type) {
    case T.TINY:
    case T.YEAR:
      r.skip(1, 'value');
      return true;
    case T.SHORT:
      r.skip(2, 'value');
      return true;
    case T.INT24:
    case T.DATE:
    case T.NEWDATE:
    case T.TIME:
      r.skip(3, 'value');
      return true;
    case T.LONG:
    case T.TIMESTAMP:
      r.skip(4, 'value');
      return true;
    case T.FLOAT:
      r.skip(meta || 4, 'value');
      return true;
    case T.LONGLONG:
    case T.DATETIME:
      r.skip(8, 'value');
      return true;
    case T.DOUBLE:
      r.skip(meta || 8, 'value');
      return true;
    case T.NULL:
      return true;
    case T.TIMESTAMP2:
      r.skip(4 + Math.floor((meta + 1) / 2), 'value');
      return true;
    case T.DATETIME2:
      r.skip(5 + Math.floor((meta + 1) / 2), 'value');
      return true;
    case T.TIME2:
      r.skip(3 + Math.floor((meta + 1) / 2), 'value');
      return true;
    case T.VARCHAR:
    case T.VAR_STRING:
      lengthPrefixed(r, meta < 256 ? 1 : 2);
      return true;
    case T.BIT: {
      const bits = meta >> 8;
      const bytes = meta & 0xff;
      r.skip(bytes + (bits > 0 ? 1 : 0), 'value');
      return true;
    }
    case T.NEWDECIMAL:
      r.skip(decimalBinSize(meta >> 8, meta & 0xff), 'value');
      return true;
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
    case T.GEOMETRY:
    case T.JSON:
      if (meta < 1 || meta > 4) return false;
      lengthPrefixed(r, meta);
      return true;
    case T.ENUM:
    case T.SET:
      r.skip(meta & 0xff, 'value');
      return true;
    case T.STRING: {
      let real = meta >> 8;
      let length = meta & 0xff;
      // Lengths over 255 borrow two bits of the real type byte (Field_string::save_field_metadata).
      if ((real & 0x30) !== 0x30) {
        length |= ((real & 0x30) ^ 0x30) << 4;
        real |= 0x30;
      }
      if (real === T.ENUM || real === T.SET) {
        r.skip(length, 'value');
        return true;
      }
      lengthPrefixed(r, length < 256 ? 1 : 2);
      return true;
    }
    default:
      return false;
  }
}

function bitCount(bitmap: Buffer, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (((bitmap[i >> 3] as number) >> (i & 7)) & 1) c++;
  return c;
}

function bitSet(bitmap: Buffer, i: number): boolean {
  return (((bitmap[i >> 3] as number) >> (i & 7)) & 1) === 1;
}

/**
 * Decode a rows event's data (checksum excluded): its table id and, when
 * the table's map is known, how many rows it holds.
 */
export function decodeRows(type: number, data: Buffer, tables: ReadonlyMap<number, TableMap>, where: Where): RowsInfo {
  const shape = rowsEventShape(type);
  if (!shape) throw new BinlogFormatError(`${String(where)}: type ${type} is not a rows event`);
  const r = new Reader(data, where);
  const tableId = r.u48('table id');
  const flags = r.u16('flags');
  if (shape.v2) {
    const extra = r.u16('extra data length');
    if (extra < 2) throw new BinlogFormatError(`${String(where)}: extra data length ${extra} is less than its own 2 bytes`);
    r.skip(extra - 2, 'extra data');
  }
  const info: RowsInfo = { tableId, kind: shape.kind, rows: undefined, statementEnd: (flags & STMT_END_F) !== 0 };
  const width = r.packed('column count');
  const bitmapLen = (width + 7) >> 3;
  const present = r.bytes(bitmapLen, 'columns bitmap');
  const presentAfter = shape.kind === 'update' ? r.bytes(bitmapLen, 'after-image columns bitmap') : present;
  const map = tables.get(tableId);
  if (!map || map.columns.length !== width) return info;
  const rowsWhere = new LazyText(() => `${String(where)} rows`);
  const rows = shape.compressed ? new Reader(mariaUncompress(r.rest(), rowsWhere), rowsWhere) : r;
  // A partial update's after image starts with value_options and, when its
  // PARTIAL_JSON bit is set, one bit per JSON column of the table (present
  // or not). A partial JSON value is sized like a whole one: its diffs sit
  // behind the same length prefix (sql/rpl_record.cc, unpack_row).
  const jsonColumns = map.columns.filter((c) => c.type === T.JSON).length;
  let count = 0;
  while (rows.remaining > 0) {
    if (!skipImage(rows, map, width, present)) return info;
    if (shape.kind === 'update') {
      if (shape.partial) {
        const options = rows.packed('value options');
        if (options > 1) throw new BinlogFormatError(`${String(where)}: value options ${options} (only 0 and 1 exist)`);
        if (options & 1) rows.skip((jsonColumns + 7) >> 3, 'partial JSON bitmap');
      }
      if (!skipImage(rows, map, width, presentAfter)) return info;
    }
    count++;
  }
  info.rows = count;
  return info;
}

/** Step over one row image; false when a column's size is unknown. */
function skipImage(r: Reader, map: TableMap, width: number, present: Buffer): boolean {
  const n = bitCount(present, width);
  // The null bitmap is read in place (no copy per row).
  const nulls = r.pos;
  r.skip((n + 7) >> 3, 'null bitmap');
  const buf = r.buf;
  let k = 0;
  for (let i = 0; i < width; i++) {
    if (!bitSet(present, i)) continue;
    const col = map.columns[i] as { type: number; meta: number };
    const isNull = (((buf[nulls + (k >> 3)] as number) >> (k & 7)) & 1) === 1;
    k++;
    if (isNull) continue;
    if (!skipValue(r, col.type, col.meta)) return false;
  }
  return true;
}
