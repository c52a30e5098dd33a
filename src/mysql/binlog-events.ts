/**
 * Reading the binary log file format (v4), incrementally, without holding a
 * file in memory: event boundaries, their timestamps, and where each
 * transaction ends. This is the server's own format, so it lives with the
 * other flavor knowledge: MariaDB and MySQL share the header and most event
 * types but differ in how GTIDs are written and how a transaction group is
 * delimited.
 *
 * A transaction ("event group") ends at an XID event, a COMMIT/ROLLBACK query,
 * or (for DDL and other standalone statements) right after its one query.
 * Its timestamp is the header timestamp of that last event: the start time of
 * the statement that committed it, in whole seconds, as the server wrote it.
 */
import { type Gtid, GtidSet, type Flavor } from './gtid.js';

export const BINLOG_MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;

export const EventType = {
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  MYSQL_GTID: 33,
  MYSQL_ANONYMOUS_GTID: 34,
  MYSQL_PREVIOUS_GTIDS: 35,
  MYSQL_XA_PREPARE: 38,
  MYSQL_GTID_TAGGED: 42,
  MARIA_ANNOTATE_ROWS: 160,
  MARIA_BINLOG_CHECKPOINT: 161,
  MARIA_GTID: 162,
  MARIA_GTID_LIST: 163,
  MARIA_START_ENCRYPTION: 164,
} as const;

const ARTIFICIAL_FLAG = 0x20;
const MARIA_FL_STANDALONE = 1;

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

/** One complete transaction (event group). */
export interface TransactionInfo {
  /** Offset of the group's first event (its GTID event, or BEGIN). */
  start: number;
  /** Offset just past its last event: a clean stop position. */
  end: number;
  /** Header timestamp (seconds) of its last event. */
  timestamp: number;
  gtid?: Gtid | undefined;
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
}

export interface ParserEvents {
  onEvent?: (e: EventInfo) => void;
  onTransaction?: (t: TransactionInfo) => void;
}

/** Parse a binlog file's bytes as they come (from offset 0 or from `startOffset`). */
export class BinlogParser {
  readonly facts: FileFacts = { checksum: false, encrypted: false };
  /** Absolute offset of the next unread byte. */
  private offset: number;
  /** Offset just past the last complete event. */
  private lastBoundary: number;
  private head = Buffer.alloc(0);
  private skip = 0;
  private body: Buffer[] = [];
  private bodyWanted = 0;
  private bodyHave = 0;
  private current?: { info: EventInfo; flags: number; bodyLen: number };
  private group?: { start: number; gtid?: Gtid | undefined; standalone: boolean; awaitingFirst: boolean; hasBegin: boolean };

  /**
   * @param startOffset where the bytes fed will start (0 for a whole file;
   *   a later event boundary to resume, with `checksum` known from before)
   */
  constructor(readonly flavor: Flavor, private readonly handlers: ParserEvents = {}, startOffset = 0, checksum?: boolean) {
    this.offset = startOffset;
    this.lastBoundary = startOffset === 0 ? 0 : startOffset;
    if (checksum !== undefined) this.facts.checksum = checksum;
  }

  /** Offset just past the last complete event seen. */
  get boundary(): number {
    return this.lastBoundary;
  }

  /** Start of the open transaction, if one is in progress at the boundary. */
  get openGroupStart(): number | undefined {
    return this.group?.start;
  }

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.offset === 0 && this.head.length < 4 && !this.current) {
        const need = 4 - this.head.length;
        this.head = Buffer.concat([this.head, chunk.subarray(i, i + need)]);
        i += Math.min(need, chunk.length - i);
        if (this.head.length === 4) {
          if (!this.head.equals(BINLOG_MAGIC)) throw new Error('not a binary log file (bad magic number)');
          this.offset = 4;
          this.lastBoundary = 4;
          this.head = Buffer.alloc(0);
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        if (this.skip === 0 && this.bodyWanted === 0) this.finishEvent();
        continue;
      }
      if (!this.current) {
        const need = HEADER - this.head.length;
        const take = Math.min(need, chunk.length - i);
        this.head = this.head.length ? Buffer.concat([this.head, chunk.subarray(i, i + take)]) : Buffer.from(chunk.subarray(i, i + take));
        i += take;
        if (this.head.length === HEADER) this.startEvent();
        continue;
      }
      // Collect the part of the body we want, then skip the rest.
      const take = Math.min(this.bodyWanted - this.bodyHave, chunk.length - i);
      this.body.push(chunk.subarray(i, i + take));
      this.bodyHave += take;
      i += take;
      if (this.bodyHave === this.bodyWanted) {
        this.bodyWanted = 0;
        if (this.skip === 0) this.finishEvent();
      }
    }
  }

  private startEvent(): void {
    const h = this.head;
    this.head = Buffer.alloc(0);
    const size = h.readUInt32LE(9);
    if (size < HEADER) throw new Error(`corrupt binary log: event at ${this.offset} has size ${size}`);
    const info: EventInfo = { pos: this.offset, end: this.offset + size, type: h.readUInt8(4), timestamp: h.readUInt32LE(0), serverId: h.readUInt32LE(5) };
    const bodyLen = size - HEADER;
    this.current = { info, flags: h.readUInt16LE(17), bodyLen };
    const want = Math.min(bodyLen, wantedBytes(info.type));
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
    const body = this.body.length === 1 ? (this.body[0] as Buffer) : Buffer.concat(this.body);
    this.body = [];
    this.offset = cur.info.end;
    this.lastBoundary = cur.info.end;
    this.interpret(cur.info, cur.flags, body, cur.bodyLen);
    this.handlers.onEvent?.(cur.info);
  }

  private interpret(e: EventInfo, flags: number, body: Buffer, bodyLen: number): void {
    const dataLen = bodyLen - (this.facts.checksum && e.type !== EventType.FORMAT_DESCRIPTION ? 4 : 0);
    switch (e.type) {
      case EventType.FORMAT_DESCRIPTION:
        this.facts.serverVersion = body.subarray(2, 52).toString('latin1').replace(/\0.*$/s, '');
        // The checksum algorithm byte sits before the FDE's own 4-byte checksum.
        this.facts.checksum = bodyLen >= 5 && body.length === bodyLen && body.readUInt8(bodyLen - 5) === 1;
        return;
      case EventType.MARIA_START_ENCRYPTION:
        this.facts.encrypted = true;
        return;
      case EventType.ROTATE:
        if (flags & ARTIFICIAL_FLAG) return;
        this.facts.closedBy = 'rotate';
        this.facts.nextFile = body.subarray(8, dataLen).toString('utf8');
        return;
      case EventType.STOP:
        this.facts.closedBy = 'stop';
        return;
      case EventType.MARIA_GTID_LIST:
        if (this.flavor === 'mariadb') this.facts.startGtids = decodeMariaGtidList(body);
        return;
      case EventType.MYSQL_PREVIOUS_GTIDS:
        if (this.flavor === 'mysql') this.facts.startGtids = decodeMysqlPreviousGtids(body);
        return;
      case EventType.MARIA_GTID: {
        const seq = body.readBigUInt64LE(0);
        const domain = body.readUInt32LE(8);
        const f2 = body.readUInt8(12);
        this.group = { start: e.pos, gtid: { flavor: 'mariadb', domain, server: e.serverId, seq }, standalone: (f2 & MARIA_FL_STANDALONE) !== 0, awaitingFirst: true, hasBegin: false };
        return;
      }
      case EventType.MYSQL_GTID: {
        const sid = formatUuid(body.subarray(1, 17));
        this.group = { start: e.pos, gtid: { flavor: 'mysql', sid, gno: body.readBigUInt64LE(17) }, standalone: false, awaitingFirst: true, hasBegin: false };
        return;
      }
      case EventType.MYSQL_ANONYMOUS_GTID:
      case EventType.MYSQL_GTID_TAGGED:
        this.group = { start: e.pos, standalone: false, awaitingFirst: true, hasBegin: false };
        return;
      case EventType.XID:
      case EventType.MYSQL_XA_PREPARE:
        this.endGroup(e);
        return;
      case EventType.QUERY:
        this.onQuery(e, queryText(body, dataLen));
        return;
      default:
        if (this.group) this.group.awaitingFirst = false;
    }
  }

  private onQuery(e: EventInfo, text: string): void {
    const upper = text.trimStart().slice(0, 12).toUpperCase();
    const isBegin = upper.startsWith('BEGIN') || upper.startsWith('XA START');
    const isEnd = upper.startsWith('COMMIT') || upper.startsWith('ROLLBACK') || upper.startsWith('XA END') || upper.startsWith('XA COMMIT') || upper.startsWith('XA ROLLBACK');
    if (!this.group) {
      // No GTIDs (MySQL with gtid_mode OFF and old formats).
      if (isBegin) this.group = { start: e.pos, standalone: false, awaitingFirst: false, hasBegin: true };
      else this.emit({ start: e.pos, end: e.end, timestamp: e.timestamp });
      return;
    }
    if (isEnd) return this.endGroup(e);
    if (this.group.awaitingFirst) {
      this.group.awaitingFirst = false;
      if (isBegin) {
        this.group.hasBegin = true;
        return;
      }
      // MariaDB marks standalone groups; MySQL writes a DDL as GTID + one query.
      if (this.group.standalone || (this.flavor === 'mysql' && !this.group.hasBegin)) this.endGroup(e);
      return;
    }
  }

  private endGroup(e: EventInfo): void {
    const g = this.group;
    this.group = undefined;
    this.emit({ start: g?.start ?? e.pos, end: e.end, timestamp: e.timestamp, gtid: g?.gtid });
  }

  private emit(t: TransactionInfo): void {
    this.handlers.onTransaction?.(t);
  }
}

/** How many body bytes an event type needs for interpretation (the rest is skipped). */
function wantedBytes(type: number): number {
  switch (type) {
    case EventType.QUERY:
      return 4096;
    case EventType.FORMAT_DESCRIPTION:
    case EventType.ROTATE:
    case EventType.MARIA_GTID:
    case EventType.MYSQL_GTID:
      return 1024 * 64;
    case EventType.MARIA_GTID_LIST:
    case EventType.MYSQL_PREVIOUS_GTIDS:
      return 16 * 1024 * 1024;
    default:
      return 0;
  }
}

function queryText(body: Buffer, dataLen: number): string {
  if (body.length < 13) return '';
  const dbLen = body.readUInt8(8);
  const statusLen = body.readUInt16LE(11);
  const start = 13 + statusLen + dbLen + 1;
  return body.subarray(start, Math.min(dataLen, body.length, start + 64)).toString('utf8');
}

function decodeMariaGtidList(body: Buffer): GtidSet {
  const set = new GtidSet('mariadb');
  const count = body.readUInt32LE(0) & 0x0fffffff;
  for (let i = 0; i < count && 4 + i * 16 + 16 <= body.length; i++) {
    const at = 4 + i * 16;
    set.add({ flavor: 'mariadb', domain: body.readUInt32LE(at), server: body.readUInt32LE(at + 4), seq: body.readBigUInt64LE(at + 8) });
  }
  return set;
}

function decodeMysqlPreviousGtids(body: Buffer): GtidSet {
  const parts: string[] = [];
  let at = 0;
  const nSids = Number(body.readBigUInt64LE(at));
  at += 8;
  for (let i = 0; i < nSids; i++) {
    const sid = formatUuid(body.subarray(at, at + 16));
    at += 16;
    const n = Number(body.readBigUInt64LE(at));
    at += 8;
    const ivs: string[] = [];
    for (let j = 0; j < n; j++) {
      const s = body.readBigUInt64LE(at);
      const e = body.readBigUInt64LE(at + 8) - 1n; // stored end is exclusive
      at += 16;
      ivs.push(s === e ? `${s}` : `${s}-${e}`);
    }
    if (ivs.length) parts.push(`${sid}:${ivs.join(':')}`);
  }
  return GtidSet.parse('mysql', parts.join(','));
}

function formatUuid(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
