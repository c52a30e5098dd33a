/**
 * The binlog of some tables only, under new schema names: a Transform from a
 * binlog file's bytes (from offset 0) to a smaller binlog that the replay
 * tool reads as usual. It keeps the magic number and the format description,
 * and of the transactions between `start` and `stop` only those that change
 * a chosen table by row events, with only those tables' table maps
 * (rewritten to the new schema name, length and CRC32 fixed) and rows events.
 * Annotations, other tables' events and transactions that touch no chosen
 * table are left out; rows events are marked to apply without foreign key
 * checks (as the dump loads: a parent table may not be restored); a statement (DDL, or statement-format DML) that names a
 * chosen table stops the replay with an error saying where: it cannot be
 * applied rewritten exactly, and leaving it out would restore a wrong table.
 *
 * Why not the replay tool's own options: `mariadb-binlog --table` takes one
 * name and filters only row events, and `--rewrite-db` leaves qualified DDL
 * as it is.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { crc32 } from 'node:zlib';
import { BacktrackError, BinlogUnreadableError } from '../errors.js';
import { EventType, rowsEventShape } from '../mysql/binlog/events.js';
import { MARIA_FL_STANDALONE, decodeMariaGtid, decodeMysqlGtid, decodeMysqlTaggedGtid } from '../mysql/binlog/gtid-events.js';
import { formatGtid } from '../mysql/gtid.js';
import { identifierForms } from '../mysql/connect.js';

const HEADER = 19;
const STMT_END_F = 0x0001;
/** Rows event flag: apply without foreign key checks (the server honours it per event, over the session). */
const NO_FOREIGN_KEY_CHECKS_F = 0x0002;

/** Which tables to keep: `schema\0table` -> the schema it is replayed into. */
export interface TableFilter {
  tables: Map<string, string>;
  /** Whole schemas chosen (any DDL in them stops the replay): schema -> new name. */
  schemas: Map<string, string>;
}

/** A statement on a chosen table inside the replay range. */
export class FilteredStatementError extends BacktrackError {
  constructor(message: string) {
    super(message, { code: 'PARTIAL_REPLAY_REFUSED' });
  }
}

interface Ev {
  pos: number;
  type: number;
  timestamp: number;
  raw: Buffer;
}

/** Filter one binlog file. `start`/`stop`: the plan's positions in it (undefined: from the first event, to the end). */
export class BinlogTableFilter extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private offset = 0;
  private checksum = false;
  private group: Ev[] = [];
  /** The open group has had its BEGIN (MySQL: a statement after it is inside the transaction). */
  private began = false;
  private tableIds = new Map<number, string>();
  private done = false;
  /** Transactions kept and left out, for the log. */
  readonly counts = { kept: 0, dropped: 0 };
  /** GTIDs of `skip` met (and left out). */
  readonly skipped: string[] = [];

  /**
   * `chosen`: only these tables (undefined: every transaction as it is).
   * `skip`: GTIDs of transactions to leave out whole (restore --skip).
   */
  constructor(
    private readonly chosen: TableFilter | undefined,
    private readonly o: { file: string; start?: number | undefined; stop?: number | undefined; skip?: ReadonlySet<string> | undefined },
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
      this.drain();
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    // An open transaction at the end is not complete: like the replay tool, apply nothing of it.
    cb();
  }

  private drain(): void {
    let at = 0;
    if (this.offset === 0) {
      if (this.buf.length < 4) return;
      this.push(this.buf.subarray(0, 4));
      at = 4;
      this.offset = 4;
    }
    while (!this.done && this.buf.length - at >= HEADER) {
      const size = this.buf.readUInt32LE(at + 9);
      if (size < HEADER) throw new BinlogUnreadableError(`${this.o.file}: the event at ${this.offset} says it is ${size} bytes long; the binlog is damaged`);
      if (this.buf.length - at < size) break;
      const raw = Buffer.from(this.buf.subarray(at, at + size));
      this.event({ pos: this.offset, type: raw[4] as number, timestamp: raw.readUInt32LE(0), raw });
      at += size;
      this.offset += size;
    }
    this.buf = this.buf.subarray(at);
  }

  private event(e: Ev): void {
    if (e.type === EventType.FORMAT_DESCRIPTION) {
      // The checksum algorithm is the byte before the event's own 4-byte checksum (1: CRC32).
      this.checksum = e.raw[e.raw.length - 5] === 1;
      this.push(e.raw);
      return;
    }
    if (this.o.stop !== undefined && e.pos >= this.o.stop) {
      this.done = true;
      return;
    }
    if (this.o.start !== undefined && e.pos < this.o.start) return;
    if (e.type === EventType.TRANSACTION_PAYLOAD || (e.type >= EventType.MARIA_QUERY_COMPRESSED && e.type <= EventType.MARIA_DELETE_ROWS_COMPRESSED)) {
      throw new FilteredStatementError(`${this.o.file}: the event at ${e.pos} is compressed (binlog_transaction_compression / log_bin_compress), which a partial restore cannot filter yet; restore the whole point in time into a scratch server and copy the tables out`);
    }
    const opens = e.type === EventType.MARIA_GTID || e.type === EventType.MYSQL_GTID || e.type === EventType.MYSQL_GTID_TAGGED || e.type === EventType.MYSQL_ANONYMOUS_GTID;
    if (opens) {
      this.group = [e];
      this.began = false;
      return;
    }
    if (!this.group.length) return; // between transactions: rotate, checkpoints, heartbeats
    this.group.push(e);
    const ends = e.type === EventType.XID || e.type === EventType.XA_PREPARE || (e.type === EventType.QUERY && this.isEnd(e));
    if (ends) this.endGroup();
  }

  /**
   * A Query event that ends its group: COMMIT/ROLLBACK, or the one statement
   * of a group without a transaction (DDL): MariaDB marks those on the GTID
   * event (FL_STANDALONE); MySQL writes no BEGIN for them.
   */
  private isEnd(e: Ev): boolean {
    const q = this.query(e).text.trim().toUpperCase();
    if (q === 'COMMIT' || q === 'ROLLBACK' || q.startsWith('XA COMMIT') || q.startsWith('XA ROLLBACK')) return true;
    const gtid = this.group[0] as Ev;
    if (gtid.type === EventType.MARIA_GTID) return (gtid.raw.readUInt8(HEADER + 12) & MARIA_FL_STANDALONE) !== 0;
    if (q === 'BEGIN') this.began = true;
    if (q === 'BEGIN' || q.startsWith('XA START')) return false;
    return !this.began;
  }

  /** The GTID of a group's first event, as text. */
  private gtidOf(e: Ev): string | undefined {
    const body = e.raw.subarray(HEADER);
    if (e.type === EventType.MARIA_GTID) return formatGtid(decodeMariaGtid(body, e.raw.readUInt32LE(5), this.o.file).gtid);
    if (e.type === EventType.MYSQL_GTID) {
      const g = decodeMysqlGtid(body, this.o.file);
      return g ? formatGtid(g) : undefined;
    }
    if (e.type === EventType.MYSQL_GTID_TAGGED) return formatGtid(decodeMysqlTaggedGtid(body, this.o.file).gtid);
    return undefined;
  }

  private endGroup(): void {
    const group = this.group;
    this.group = [];
    this.tableIds.clear();
    const gtid = this.o.skip?.size ? this.gtidOf(group[0] as Ev) : undefined;
    if (gtid !== undefined && this.o.skip?.has(gtid)) {
      const ddl = group.find((e) => e.type === EventType.QUERY && !/^\s*(BEGIN|COMMIT|ROLLBACK)\s*$/i.test(this.query(e).text));
      if (ddl) {
        throw new FilteredStatementError(
          `--skip ${gtid} (${this.o.file}:${(group[0] as Ev).pos}) is a statement, not row changes: "${this.query(ddl).text.slice(0, 200)}". Leaving out DDL (or statement-format DML) changes what every later transaction was written against, so it is refused; restore --before it instead`,
        );
      }
      this.skipped.push(gtid);
      this.counts.dropped++;
      return;
    }
    if (!this.chosen) {
      this.counts.kept++;
      for (const e of group) this.push(e.raw);
      return;
    }
    const out: Buffer[] = [];
    let rows = 0;
    let lastKeptRows = -1;
    for (const e of group) {
      if (e.type === EventType.TABLE_MAP) {
        const tm = this.tableMap(e);
        const to = this.chosen?.tables.get(`${tm.schema}\u0000${tm.table}`);
        if (to === undefined) continue;
        this.tableIds.set(tm.id, to);
        out.push(this.rewriteTableMap(e, tm, to));
        continue;
      }
      const shape = rowsEventShape(e.type);
      if (shape) {
        const id = e.raw.readUIntLE(HEADER, 6);
        const flags = e.raw.readUInt16LE(HEADER + 6);
        if (this.tableIds.has(id)) {
          // The rows were checked on the source; a parent table may not be part of this restore.
          out.push(flags & NO_FOREIGN_KEY_CHECKS_F ? e.raw : this.withFlags(e.raw, flags | NO_FOREIGN_KEY_CHECKS_F));
          lastKeptRows = out.length - 1;
          rows++;
        } else if (flags & STMT_END_F && lastKeptRows >= 0) {
          // The statement's last rows event is left out: its end moves to the last one kept.
          out[lastKeptRows] = this.withFlags(out[lastKeptRows] as Buffer, (out[lastKeptRows] as Buffer).readUInt16LE(HEADER + 6) | STMT_END_F);
        }
        if (flags & STMT_END_F) lastKeptRows = -1;
        continue;
      }
      if (e.type === EventType.QUERY) {
        const q = this.query(e);
        const upper = q.text.trim().toUpperCase();
        if (upper === 'BEGIN' || upper === 'COMMIT' || upper === 'ROLLBACK') out.push(e.raw);
        else this.refuseIfChosen(e, q);
        continue;
      }
      if (e.type === EventType.MARIA_GTID || e.type === EventType.MYSQL_GTID || e.type === EventType.MYSQL_GTID_TAGGED || e.type === EventType.MYSQL_ANONYMOUS_GTID || e.type === EventType.XID) {
        out.push(e.raw);
        continue;
      }
      // Annotations, rows-query texts, intvar/rand/user-var of left-out statements: not needed for row events.
    }
    if (rows === 0) {
      this.counts.dropped++;
      return;
    }
    this.counts.kept++;
    for (const b of out) this.push(b);
  }

  /** A statement that names a chosen table (or is DDL in a chosen schema) cannot be left out or rewritten exactly. */
  private refuseIfChosen(e: Ev, q: { db: string; text: string }): void {
    if (!this.chosen) return;
    const names = (s: string) => Object.values(identifierForms(s));
    const hits: string[] = [];
    for (const key of this.chosen.tables.keys()) {
      const [schema, table] = key.split('\u0000') as [string, string];
      const t = names(table).join('|');
      const qualified = new RegExp(`(?:${names(schema).join('|')})\\s*\\.\\s*(?:${t})(?![\\w$])`, 'i');
      const bare = new RegExp(`(?<![\\w$.\`])(?:${t})(?![\\w$])`, 'i');
      if (qualified.test(q.text) || (q.db === schema && bare.test(q.text))) hits.push(`${schema}.${table}`);
    }
    for (const schema of this.chosen.schemas.keys()) {
      if (q.db === schema || new RegExp(`(?:${names(schema).join('|')})\\s*\\.`).test(q.text)) hits.push(`schema ${schema}`);
    }
    if (!hits.length) return;
    const when = new Date(e.timestamp * 1000).toISOString().replace('.000Z', 'Z');
    throw new FilteredStatementError(
      `${this.o.file}:${e.pos} (${when}) holds a statement on ${[...new Set(hits)].join(', ')} inside the replay range: "${q.text.slice(0, 200)}". A partial restore replays row changes only and cannot apply it rewritten exactly. Restore to a point before it (--to-position ${this.o.file}:${e.pos}), or restore the whole point in time into a scratch server`,
    );
  }

  private query(e: Ev): { db: string; text: string } {
    const b = e.raw;
    const end = b.length - (this.checksum ? 4 : 0);
    const dbLen = b.readUInt8(HEADER + 8);
    const statusLen = b.readUInt16LE(HEADER + 11);
    const dbAt = HEADER + 13 + statusLen;
    return { db: b.toString('utf8', dbAt, dbAt + dbLen), text: b.toString('utf8', dbAt + dbLen + 1, end) };
  }

  private tableMap(e: Ev): { id: number; schema: string; table: string; schemaAt: number; afterSchema: number } {
    const b = e.raw;
    const id = b.readUIntLE(HEADER, 6);
    const schemaAt = HEADER + 8;
    const sLen = b.readUInt8(schemaAt);
    const schema = b.toString('utf8', schemaAt + 1, schemaAt + 1 + sLen);
    const tAt = schemaAt + 1 + sLen + 1;
    const tLen = b.readUInt8(tAt);
    return { id, schema, table: b.toString('utf8', tAt + 1, tAt + 1 + tLen), schemaAt, afterSchema: schemaAt + 1 + sLen + 1 };
  }

  /** The table map with its schema name replaced; the event length and checksum follow. */
  private rewriteTableMap(e: Ev, tm: { schema: string; schemaAt: number; afterSchema: number }, to: string): Buffer {
    if (to === tm.schema) return e.raw;
    const name = Buffer.from(to, 'utf8');
    const body = Buffer.concat([e.raw.subarray(0, tm.schemaAt), Buffer.from([name.length]), name, Buffer.from([0]), e.raw.subarray(tm.afterSchema, e.raw.length - (this.checksum ? 4 : 0))]);
    return this.seal(body);
  }

  private withFlags(raw: Buffer, flags: number): Buffer {
    const body = Buffer.from(raw.subarray(0, raw.length - (this.checksum ? 4 : 0)));
    body.writeUInt16LE(flags, HEADER + 6);
    return this.seal(body);
  }

  /** Set the event's length and append its CRC32 (when the file has checksums). */
  private seal(body: Buffer): Buffer {
    const out = Buffer.alloc(body.length + (this.checksum ? 4 : 0));
    body.copy(out);
    out.writeUInt32LE(out.length, 9);
    if (this.checksum) out.writeUInt32LE(crc32(out.subarray(0, body.length)), body.length);
    return out;
  }
}
