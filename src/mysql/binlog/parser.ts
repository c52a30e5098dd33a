/**
 * Reading the binary log file format (v4), incrementally, without holding a
 * file in memory: event boundaries, their timestamps, where each transaction
 * ends, and (on request) which tables each transaction changed and how many
 * rows. MariaDB and MySQL share the header and most event types but differ
 * in how GTIDs are written and how a transaction group is delimited.
 *
 * A transaction ("event group") ends at an XID or XA_PREPARE event, a
 * COMMIT/ROLLBACK query, the end of a Transaction_payload event (MySQL's
 * compressed transaction: the GTID event outside, the rest compressed
 * inside), or, for DDL and other standalone statements, right after its one
 * query. Its timestamp is the header timestamp of its last event (inside a
 * payload: of the last inner event), in whole seconds, as the server wrote
 * it. Positions are always those of the file: a stop position is never
 * inside a payload.
 *
 * An event this reader cannot read (an unknown type not flagged ignorable,
 * bytes that do not have their type's shape, an incident the server logged
 * for lost events) is a problem: in the default (archiving) mode it is
 * recorded in `facts.problems` and reading goes on, since the bytes are
 * archived as they are; in strict (planning) mode it throws, naming the
 * type and the offset.
 */
import { GtidSet, type Flavor, type Gtid } from '../gtid.js';
import { EventType, eventTypeName, KNOWN_TYPES, LOG_EVENT_ARTIFICIAL_F, LOG_EVENT_IGNORABLE_F, rowsEventShape } from './events.js';
import { decodeMariaGtid, decodeMariaGtidList, decodeMysqlGtid, decodeMysqlPreviousGtids, decodeMysqlTaggedGtid, MARIA_FL_STANDALONE } from './gtid-events.js';
import { decodeTransactionPayload, innerEvents, mariaUncompress, PayloadTooLarge } from './payload.js';
import { BinlogFormatError, LazyText, Reader, type Where } from './reader.js';
import { decodeRows, decodeTableMap, type TableMap } from './rows.js';

export { BinlogFormatError } from './reader.js';

export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;
const EMPTY = Buffer.alloc(0);
/** No event is larger than the server's max_allowed_packet ceiling (1 GiB) plus its header. */
const MAX_EVENT = 1024 * 1024 * 1024 + 64 * 1024;
/**
 * The most of one event's body read into memory: a larger compressed
 * transaction or rows event is passed over (its boundary and time still
 * count; its tables and rows are marked unread).
 */
const READ_LIMIT = 64 * 1024 * 1024;
/** How much of a statement's text is kept for a transaction's detail. */
const STATEMENT_TEXT = 1024;
/** How many statements a transaction's detail keeps. */
const STATEMENTS_KEPT = 16;
/** How many problems a file's facts keep (the count goes on). */
const PROBLEMS_KEPT = 50;

/** One event's header facts. */
export interface EventInfo {
  /** Offset of the event's first byte in the file. */
  pos: number;
  /** Offset just past the event. */
  end: number;
  type: number;
  timestamp: number;
  serverId: number;
}

/** The rows one transaction changed in one table. */
export interface TableChange {
  schema: string;
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
  /** False when some rows event of the table could not be counted (a column type this reader does not size). */
  counted: boolean;
}

/** One complete transaction (event group). */
export interface TransactionInfo {
  /** Offset of the group's first event (its GTID event, or BEGIN). */
  start: number;
  /** Offset just past its last event: a clean stop position. */
  end: number;
  /** Header timestamp (seconds) of its last event. */
  timestamp: number;
  gtid?: Gtid | undefined;
  /** The transaction's events were compressed in a Transaction_payload event. */
  compressed?: boolean;
  /** Its compressed events were too large to read in memory: its time is the payload event's, its tables are not known. */
  unread?: boolean;
  /** With `detail`: the tables it changed by rows events, with row counts. */
  tables?: TableChange[];
  /** With `detail`: statement texts (DDL, statement-format DML, annotations), each cut to 1 KiB. */
  statements?: Array<{ schema?: string; text: string }>;
}

/** An event this reader could not read. */
export interface Problem {
  pos: number;
  type: number;
  kind: 'unknown-type' | 'unreadable' | 'incident';
  message: string;
}

/** What the parser learned about the file as a whole. */
export interface FileFacts {
  serverVersion?: string;
  checksum: boolean;
  /** GTID state written at the file's start (MariaDB Gtid_list, MySQL Previous_gtids). */
  startGtids?: GtidSet;
  /** How the file ended: rotated to the next file, or the server stopped. */
  closedBy?: 'rotate' | 'stop';
  nextFile?: string;
  encrypted: boolean;
  /** Events this reader could not read (the first 50), and how many in all. */
  problems: Problem[];
  problemCount: number;
}

export interface ParserOptions {
  onEvent?: (e: EventInfo) => void;
  onTransaction?: (t: TransactionInfo) => void;
  /** An event that could not be read (not called in strict mode, which throws instead). */
  onProblem?: (p: Problem) => void;
  /** Where the bytes fed will start: 0 for a whole file, or a later event boundary (with `checksum` known from before). */
  startOffset?: number;
  checksum?: boolean;
  /** Decode table maps, rows and statements: each transaction's tables, row counts and statement texts. */
  detail?: boolean;
  /** Throw at the first problem instead of recording it. */
  strict?: boolean;
  /** The file's name, for messages. */
  name?: string;
  /** The largest compressed transaction decompressed in memory (default 256 MiB). */
  payloadLimit?: number;
}

interface Group {
  start: number;
  gtid?: Gtid | undefined;
  standalone: boolean;
  awaitingFirst: boolean;
  hasBegin: boolean;
  compressed?: boolean;
  unread?: boolean;
  tables?: Map<string, TableChange>;
  statements?: Array<{ schema?: string; text: string }>;
}

/** Parse a binlog file's bytes as they come. */
export class BinlogParser {
  readonly facts: FileFacts = { checksum: false, encrypted: false, problems: [], problemCount: 0 };
  /** Absolute offset of the next unread byte. */
  private offset: number;
  /** Offset just past the last complete event. */
  private lastBoundary: number;
  private head: Buffer = Buffer.alloc(0);
  private skip = 0;
  private body: Buffer[] = [];
  private bodyWanted = 0;
  private bodyHave = 0;
  private current?: { info: EventInfo; flags: number; bodyLen: number };
  private group?: Group;
  private readonly tableMaps = new Map<number, TableMap>();
  private readonly o: ParserOptions;

  constructor(readonly flavor: Flavor, options: ParserOptions = {}) {
    this.o = options;
    this.offset = options.startOffset ?? 0;
    this.lastBoundary = this.offset;
    if (options.checksum !== undefined) this.facts.checksum = options.checksum;
  }

  /** Offset just past the last complete event seen. */
  get boundary(): number {
    return this.lastBoundary;
  }

  /** Start of the open transaction, if one is in progress at the boundary. */
  get openGroupStart(): number | undefined {
    return this.group?.start;
  }

  /**
   * Where the bytes fed so far stop short of an event boundary: undefined
   * when they end exactly after an event, else a sentence saying where the
   * last event was cut.
   */
  truncation(): string | undefined {
    const name = this.o.name ? `${this.o.name}: ` : '';
    if (this.offset < 4 && this.lastBoundary === 0) return this.head.length ? `${name}the bytes end ${this.head.length} byte(s) into the file's 4-byte magic number` : undefined;
    if (this.current) {
      const { info, bodyLen } = this.current;
      const have = HEADER + this.bodyHave + (bodyLen - this.bodyWanted - this.skip);
      return `${name}the bytes end ${have} byte(s) into the event at ${info.pos} (${eventTypeName(info.type)}, ${info.end - info.pos} bytes long)`;
    }
    if (this.head.length) return `${name}the bytes end ${this.head.length} byte(s) into the header of the event at ${this.offset}`;
    return undefined;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.offset === 0 && this.head.length < 4 && !this.current) {
        const need = 4 - this.head.length;
        this.head = Buffer.concat([this.head, chunk.subarray(i, i + need)]);
        i += Math.min(need, chunk.length - i);
        if (this.head.length === 4) {
          if (!this.head.equals(BINLOG_MAGIC)) throw new BinlogFormatError(`${this.o.name ?? 'this file'} is not a binary log file (bad magic number)`);
          this.offset = 4;
          this.lastBoundary = 4;
          this.head = Buffer.alloc(0);
        }
        continue;
      }
      if (!this.current) {
        const need = HEADER - this.head.length;
        const take = Math.min(need, chunk.length - i);
        // A header inside the chunk is read in place; one split across chunks is copied together.
        this.head = this.head.length ? Buffer.concat([this.head, chunk.subarray(i, i + take)]) : take === HEADER ? chunk.subarray(i, i + take) : Buffer.from(chunk.subarray(i, i + take));
        i += take;
        if (this.head.length === HEADER) this.startEvent();
        continue;
      }
      if (this.bodyHave < this.bodyWanted) {
        const take = Math.min(this.bodyWanted - this.bodyHave, chunk.length - i);
        this.body.push(chunk.subarray(i, i + take));
        this.bodyHave += take;
        i += take;
      } else {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
      }
      if (this.bodyHave === this.bodyWanted && this.skip === 0) this.finishEvent();
    }
  }

  private startEvent(): void {
    const h = this.head;
    this.head = Buffer.alloc(0);
    const size = h.readUInt32LE(9);
    if (size < HEADER || size > MAX_EVENT) {
      const where = `${this.o.name ? `${this.o.name}: ` : ''}the event at ${this.offset}`;
      throw new BinlogFormatError(`corrupt binary log: ${where} ${size < HEADER ? `has size ${size}, less than its 19-byte header` : `claims ${size} bytes, more than any event can hold`}`);
    }
    const info: EventInfo = { pos: this.offset, end: this.offset + size, type: h.readUInt8(4), timestamp: h.readUInt32LE(0), serverId: h.readUInt32LE(5) };
    const bodyLen = size - HEADER;
    this.current = { info, flags: h.readUInt16LE(17), bodyLen };
    const want = Math.min(bodyLen, this.wantedBytes(info.type));
    this.body = [];
    this.bodyHave = 0;
    this.bodyWanted = want;
    this.skip = bodyLen - want;
    if (want === 0 && this.skip === 0) this.finishEvent();
  }

  private finishEvent(): void {
    const cur = this.current;
    if (!cur) return;
    this.current = undefined;
    const body = this.body.length === 1 ? (this.body[0] as Buffer) : this.body.length === 0 ? EMPTY : Buffer.concat(this.body);
    if (this.body.length) this.body = [];
    this.bodyWanted = 0;
    this.bodyHave = 0;
    this.offset = cur.info.end;
    this.lastBoundary = cur.info.end;
    const { info, flags, bodyLen } = cur;
    if (info.type === EventType.FORMAT_DESCRIPTION) this.formatDescription(body, bodyLen);
    else {
      // The data is the body less its checksum; a body read only in part is all data.
      const dataLen = bodyLen - (this.facts.checksum ? 4 : 0);
      try {
        this.interpret(info, flags, body.length > dataLen ? body.subarray(0, dataLen) : body, body.length >= dataLen);
      } catch (err) {
        // A format error is a problem, recorded or (strict) thrown.
        if (!(err instanceof BinlogFormatError)) throw err;
        this.problem(info, 'unreadable', err.message);
      }
    }
    this.o.onEvent?.(info);
  }

  /** How many body bytes an event type needs (the rest is skipped unread). */
  private wantedBytes(type: number): number {
    const detail = this.o.detail === true;
    switch (type) {
      case EventType.QUERY:
        return 13 + 65535 + 256 + STATEMENT_TEXT;
      case EventType.FORMAT_DESCRIPTION:
      case EventType.ROTATE:
      case EventType.MARIA_GTID:
      case EventType.MYSQL_GTID:
      case EventType.MYSQL_ANONYMOUS_GTID:
      case EventType.MYSQL_GTID_TAGGED:
        return 64 * 1024;
      case EventType.MARIA_GTID_LIST:
      case EventType.MYSQL_PREVIOUS_GTIDS:
        return 16 * 1024 * 1024;
      case EventType.MARIA_QUERY_COMPRESSED:
      case EventType.TRANSACTION_PAYLOAD:
        return READ_LIMIT;
      case EventType.TABLE_MAP:
        return detail ? READ_LIMIT : 0;
      case EventType.ROWS_QUERY:
      case EventType.MARIA_ANNOTATE_ROWS:
        return detail ? STATEMENT_TEXT + 1 : 0;
      default:
        return detail && rowsEventShape(type) ? READ_LIMIT : 0;
    }
  }

  private formatDescription(body: Buffer, bodyLen: number): void {
    this.facts.serverVersion = body.subarray(2, 52).toString('latin1').replace(/\0.*$/s, '');
    // The checksum algorithm byte sits before the FDE's own 4-byte checksum
    // (servers that know checksums always write both, even when off).
    this.facts.checksum = bodyLen >= 5 && body.length === bodyLen && body.readUInt8(bodyLen - 5) === 1;
  }

  private problem(e: EventInfo, kind: Problem['kind'], message: string): void {
    const text = `${this.o.name ? `${this.o.name}: ` : ''}the event at offset ${e.pos} (${eventTypeName(e.type)}): ${message}`;
    if (this.o.strict) throw new BinlogFormatError(text);
    const p: Problem = { pos: e.pos, type: e.type, kind, message: text };
    this.facts.problemCount++;
    if (this.facts.problems.length < PROBLEMS_KEPT) this.facts.problems.push(p);
    this.o.onProblem?.(p);
  }

  private where(e: EventInfo): LazyText {
    return new LazyText(() => `${eventTypeName(e.type)} at ${e.pos}`);
  }

  /**
   * Interpret one event's data (checksum excluded). `whole` is false when
   * only the start of the body was read (long query texts).
   */
  private interpret(e: EventInfo, flags: number, data: Buffer, whole: boolean, inPayload = false): void {
    const where = this.where(e);
    switch (e.type) {
      case EventType.MARIA_START_ENCRYPTION:
        this.facts.encrypted = true;
        return;
      case EventType.ROTATE:
        if (flags & LOG_EVENT_ARTIFICIAL_F) return;
        this.facts.closedBy = 'rotate';
        this.facts.nextFile = rotateTarget(data, where);
        return;
      case EventType.STOP:
        this.facts.closedBy = 'stop';
        return;
      case EventType.MARIA_GTID_LIST:
        if (this.flavor === 'mariadb') this.facts.startGtids = decodeMariaGtidList(data, where);
        return;
      case EventType.MYSQL_PREVIOUS_GTIDS:
        if (this.flavor === 'mysql') this.facts.startGtids = decodeMysqlPreviousGtids(data, where);
        return;
      case EventType.MARIA_GTID: {
        const g = decodeMariaGtid(data, e.serverId, where);
        this.openGroup(e, g.gtid, (g.flags & MARIA_FL_STANDALONE) !== 0);
        return;
      }
      case EventType.MYSQL_GTID:
      case EventType.MYSQL_ANONYMOUS_GTID:
        this.openGroup(e, e.type === EventType.MYSQL_GTID ? decodeMysqlGtid(data, where) : undefined, false);
        return;
      case EventType.MYSQL_GTID_TAGGED:
        this.openGroup(e, decodeMysqlTaggedGtid(data, where).gtid, false);
        return;
      case EventType.XID:
      case EventType.XA_PREPARE:
        this.endGroup(e);
        return;
      case EventType.QUERY:
      case EventType.EXECUTE_LOAD_QUERY:
      case EventType.MARIA_QUERY_COMPRESSED:
        this.onQuery(e, queryOf(e.type, data, whole, where));
        return;
      case EventType.TRANSACTION_PAYLOAD:
        if (inPayload) throw new BinlogFormatError(`${String(where)}: a payload inside a payload`);
        this.payload(e, data, whole, where);
        return;
      case EventType.INCIDENT:
        // mysqlbinlog turns an incident into a statement that fails on purpose: replay cannot go past it.
        this.problem(e, 'incident', 'the server logged an incident here (events were lost on the source): a replay cannot pass this point');
        return;
      case EventType.TABLE_MAP:
        if (this.o.detail) {
          const m = decodeTableMap(data, where);
          this.tableMaps.set(m.tableId, m);
        }
        this.touch();
        return;
      case EventType.ROWS_QUERY:
      case EventType.MARIA_ANNOTATE_ROWS:
        // Rows_query: one length byte (ignored by the server) before the text; annotate: the text.
        if (this.o.detail) this.statement(undefined, (e.type === EventType.ROWS_QUERY ? data.subarray(1) : data).subarray(0, STATEMENT_TEXT).toString('utf8'));
        this.touch();
        return;
      default:
        if (rowsEventShape(e.type)) {
          if (this.o.detail) this.rows(e, data, whole, where);
          this.touch();
          return;
        }
        if (!KNOWN_TYPES.has(e.type)) {
          if (flags & LOG_EVENT_IGNORABLE_F) return;
          this.problem(e, 'unknown-type', 'an event type this reader does not know, not marked ignorable; the bytes are archived as they are, but a restore cannot be planned over it');
        }
        this.touch();
    }
  }

  /** Any event but a group's own GTID/BEGIN makes a started group no longer await its first statement. */
  private touch(): void {
    if (this.group) this.group.awaitingFirst = false;
  }

  private openGroup(e: EventInfo, gtid: Gtid | undefined, standalone: boolean): void {
    this.group = { start: e.pos, gtid, standalone, awaitingFirst: true, hasBegin: false };
    if (this.o.detail) {
      this.group.tables = new Map();
      this.group.statements = [];
    }
  }

  private payload(e: EventInfo, data: Buffer, whole: boolean, where: Where): void {
    const group = this.group;
    if (group) group.compressed = true;
    let last = e;
    try {
      if (!whole) throw new PayloadTooLarge(data.length);
      for (const ie of innerEvents(decodeTransactionPayload(data, where, this.o.payloadLimit), where)) {
        // Inner events carry no checksum; their positions are the payload event's.
        last = { pos: e.pos, end: e.end, type: ie.type, timestamp: ie.timestamp, serverId: ie.serverId };
        this.interpret(last, ie.flags, ie.event.subarray(HEADER), true, true);
        if (!this.group) break;
      }
    } catch (err) {
      if (!(err instanceof PayloadTooLarge)) throw err;
      if (this.group) this.group.unread = true;
    } finally {
      // A payload holds one whole transaction: it ends with the payload, read or not.
      if (this.group) this.endGroup(last);
    }
  }

  private onQuery(e: EventInfo, q: { schema: string; text: string }): void {
    const head = q.text.trimStart().slice(0, 24).toUpperCase();
    const isBegin = head.startsWith('BEGIN') || head.startsWith('XA START') || head.startsWith('XA BEGIN');
    // ROLLBACK TO SAVEPOINT stays inside its transaction.
    const isEnd = head.startsWith('COMMIT') || (head.startsWith('ROLLBACK') && !/^ROLLBACK\s+TO\b/.test(head)) || head.startsWith('XA COMMIT') || head.startsWith('XA ROLLBACK');
    if (!this.group) {
      // No GTIDs (MySQL with gtid_mode OFF and old formats).
      if (isBegin) {
        this.openGroup(e, undefined, false);
        (this.group as unknown as Group).awaitingFirst = false;
        (this.group as unknown as Group).hasBegin = true;
      } else {
        this.emit({ start: e.pos, end: e.end, timestamp: e.timestamp, ...(this.o.detail ? { tables: [], statements: [{ schema: q.schema, text: q.text }] } : {}) });
      }
      return;
    }
    if (isEnd) return this.endGroup(e);
    if (!isBegin && !head.startsWith('SAVEPOINT')) this.statement(q.schema, q.text);
    if (this.group.awaitingFirst) {
      this.group.awaitingFirst = false;
      if (isBegin) {
        this.group.hasBegin = true;
        return;
      }
      // MariaDB marks standalone groups; MySQL writes a DDL as GTID + one query.
      if (this.group.standalone || (this.flavor === 'mysql' && !this.group.hasBegin)) this.endGroup(e);
    }
  }

  private statement(schema: string | undefined, text: string): void {
    const list = this.group?.statements;
    if (!list || list.length >= STATEMENTS_KEPT) return;
    list.push({ ...(schema ? { schema } : {}), text: text.slice(0, STATEMENT_TEXT) });
  }

  private rows(e: EventInfo, data: Buffer, whole: boolean, where: Where): void {
    // A rows event too large to read in memory: its table is known, its rows are not counted.
    const info = whole ? decodeRows(e.type, data, this.tableMaps, where) : { tableId: new Reader(data, where).u48('table id'), kind: rowsEventShape(e.type)!.kind, rows: undefined };
    const tables = this.group?.tables;
    if (!tables) return;
    const map = this.tableMaps.get(info.tableId);
    const key = map ? `${map.schema}\u0000${map.table}` : `#${info.tableId}`;
    let t = tables.get(key);
    if (!t) {
      t = { schema: map?.schema ?? '', table: map?.table ?? `(table id ${info.tableId}, no table map)`, inserted: 0, updated: 0, deleted: 0, counted: true };
      tables.set(key, t);
    }
    if (info.rows === undefined) t.counted = false;
    else if (info.kind === 'insert') t.inserted += info.rows;
    else if (info.kind === 'update') t.updated += info.rows;
    else t.deleted += info.rows;
  }

  private endGroup(e: EventInfo): void {
    const g = this.group;
    this.group = undefined;
    this.emit({
      start: g?.start ?? e.pos,
      end: e.end,
      timestamp: e.timestamp,
      gtid: g?.gtid,
      ...(g?.compressed ? { compressed: true } : {}),
      ...(g?.unread ? { unread: true } : {}),
      ...(this.o.detail ? { tables: [...(g?.tables?.values() ?? [])], statements: g?.statements ?? [] } : {}),
    });
  }

  private emit(t: TransactionInfo): void {
    this.o.onTransaction?.(t);
  }
}

/** A query event's default schema and (start of) text; MariaDB's compressed query is decompressed. */
function queryOf(type: number, data: Buffer, whole: boolean, where: Where): { schema: string; text: string } {
  const r = new Reader(data, where);
  r.skip(8, 'thread id and execution time');
  const dbLen = r.u8('schema name length');
  r.skip(2, 'error code');
  const statusLen = r.u16('status variables length');
  if (type === EventType.EXECUTE_LOAD_QUERY) r.skip(13, 'load query post-header');
  r.skip(statusLen, 'status variables');
  const schema = r.bytes(dbLen, 'schema name').toString('utf8');
  r.skip(1, 'schema name terminator');
  let text = r.rest();
  if (type === EventType.MARIA_QUERY_COMPRESSED) {
    if (!whole) return { schema, text: '' };
    text = mariaUncompress(text, new LazyText(() => `${String(where)} query text`));
  }
  return { schema, text: text.subarray(0, STATEMENT_TEXT).toString('utf8') };
}

/** A rotate event's next file name (after its 8-byte position). */
function rotateTarget(data: Buffer, where: Where): string {
  const r = new Reader(data, where);
  r.skip(8, 'position');
  return r.rest().toString('utf8');
}
