/**
 * The event types of the binary log, as MySQL 8.0-8.4 and MariaDB 10.6-11.x
 * write them (MySQL: libs/mysql/binlog/event/binlog_event.h; MariaDB:
 * sql/log_event.h), and what each means to Backtrack. A type not listed
 * here is unknown: skipped when the event carries LOG_EVENT_IGNORABLE_F,
 * otherwise reported (planning over it fails, naming type and offset).
 */

export const EventType = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  SLAVE: 7,
  APPEND_BLOCK: 9,
  DELETE_FILE: 11,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS: 30,
  UPDATE_ROWS: 31,
  DELETE_ROWS: 32,
  MYSQL_GTID: 33,
  MYSQL_ANONYMOUS_GTID: 34,
  MYSQL_PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  MYSQL_GTID_TAGGED: 42,
  MARIA_ANNOTATE_ROWS: 160,
  MARIA_BINLOG_CHECKPOINT: 161,
  MARIA_GTID: 162,
  MARIA_GTID_LIST: 163,
  MARIA_START_ENCRYPTION: 164,
  MARIA_QUERY_COMPRESSED: 165,
  MARIA_WRITE_ROWS_COMPRESSED_V1: 166,
  MARIA_UPDATE_ROWS_COMPRESSED_V1: 167,
  MARIA_DELETE_ROWS_COMPRESSED_V1: 168,
  MARIA_WRITE_ROWS_COMPRESSED: 169,
  MARIA_UPDATE_ROWS_COMPRESSED: 170,
  MARIA_DELETE_ROWS_COMPRESSED: 171,
} as const;

/** Header flag: a reader that does not know the event may skip it. */
export const LOG_EVENT_IGNORABLE_F = 0x80;
/** Header flag of artificial events (the fake rotate at the start of a stream). */
export const LOG_EVENT_ARTIFICIAL_F = 0x20;

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(EventType).map(([k, v]) => [v, k.toLowerCase()]));

/** Every type this reader knows. */
export const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(EventType).filter((t) => t !== EventType.UNKNOWN));

/** The event type's name for messages ("unknown type 77" for one we do not know). */
export function eventTypeName(type: number): string {
  return NAMES[type] && type !== 0 ? `${NAMES[type]} (${type})` : `unknown type ${type}`;
}

/** What a rows event does to its rows. */
export type RowsKind = 'insert' | 'update' | 'delete';

/** The kind of a rows event, its layout (v1: no extra data), and whether its rows are zlib-compressed (MariaDB). */
export function rowsEventShape(type: number): { kind: RowsKind; v2: boolean; compressed: boolean; partial: boolean } | undefined {
  switch (type) {
    case EventType.WRITE_ROWS_V1:
      return { kind: 'insert', v2: false, compressed: false, partial: false };
    case EventType.UPDATE_ROWS_V1:
      return { kind: 'update', v2: false, compressed: false, partial: false };
    case EventType.DELETE_ROWS_V1:
      return { kind: 'delete', v2: false, compressed: false, partial: false };
    case EventType.WRITE_ROWS:
      return { kind: 'insert', v2: true, compressed: false, partial: false };
    case EventType.UPDATE_ROWS:
      return { kind: 'update', v2: true, compressed: false, partial: false };
    case EventType.PARTIAL_UPDATE_ROWS:
      return { kind: 'update', v2: true, compressed: false, partial: true };
    case EventType.DELETE_ROWS:
      return { kind: 'delete', v2: true, compressed: false, partial: false };
    case EventType.MARIA_WRITE_ROWS_COMPRESSED_V1:
      return { kind: 'insert', v2: false, compressed: true, partial: false };
    case EventType.MARIA_UPDATE_ROWS_COMPRESSED_V1:
      return { kind: 'update', v2: false, compressed: true, partial: false };
    case EventType.MARIA_DELETE_ROWS_COMPRESSED_V1:
      return { kind: 'delete', v2: false, compressed: true, partial: false };
    case EventType.MARIA_WRITE_ROWS_COMPRESSED:
      return { kind: 'insert', v2: true, compressed: true, partial: false };
    case EventType.MARIA_UPDATE_ROWS_COMPRESSED:
      return { kind: 'update', v2: true, compressed: true, partial: false };
    case EventType.MARIA_DELETE_ROWS_COMPRESSED:
      return { kind: 'delete', v2: true, compressed: true, partial: false };
    default:
      return undefined;
  }
}
