/**
 * Binlog segments in the repository and the JSON sidecar that describes each.
 * A segment is either a whole closed binlog file or a piece (a byte range) of
 * the file that is still active on the source; the closed file replaces its
 * pieces once it is complete. Segments live under a *timeline*: one server's
 * binary log (server identity), so that after a failover the new primary's
 * files never mix with the old one's, even though their names collide.
 *
 *   <source>/binlogs/<timeline>/<file>.zst[.age] + <file>.json
 *   <source>/binlogs/<timeline>/<file>.partial/<start>-<end>.zst[.age] + <start>-<end>.json
 *   <source>/binlogs/<timeline>/gaps/<time>-<file>.json
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ServerIdentity } from '../mysql/server.js';

/** An event the archiver could not read (binlog/parser.ts Problem): a replay cannot be planned across it. */
const ProblemSchema = z.object({ pos: z.number(), type: z.number(), kind: z.enum(['unknown-type', 'unreadable', 'incident']), message: z.string() });

const Trx = z.object({ start: z.number(), end: z.number(), timestamp: z.number(), gtid: z.string().optional() });

export const SidecarSchema = z.object({
  format: z.literal(1),
  source: z.string(),
  timeline: z.string(),
  file: z.string(),
  kind: z.enum(['file', 'piece']),
  /** Byte range of the original binlog file this segment holds: [start, end). */
  start: z.number().int().nonnegative(),
  end: z.number().int().nonnegative(),
  /** The file ended (rotate or server stop): nothing follows in it. */
  closed: z.boolean(),
  nextFile: z.string().optional(),
  /** Events carry CRC32 checksums (needed to parse a piece on its own). */
  checksum: z.boolean(),
  firstEventTime: z.string().optional(),
  lastEventTime: z.string().optional(),
  transactions: z.number().int().nonnegative(),
  firstTransaction: Trx.optional(),
  lastTransaction: Trx.optional(),
  /**
   * Smallest and largest commit timestamp of the segment's transactions
   * (binlog order is not timestamp order): a restore to a time finds the
   * segment that holds its stop point from these alone. Absent in sidecars
   * written before they were recorded; such segments are scanned.
   */
  minTimestamp: z.number().optional(),
  maxTimestamp: z.number().optional(),
  /** Fold level of a piece: 0 as uploaded, n+1 when it replaced a run of level-n pieces. */
  level: z.number().int().nonnegative().optional(),
  /** GTID state at the start of the file (Gtid_list / Previous_gtids), whole files and first pieces. */
  startGtids: z.string().optional(),
  /** Events in this segment the archiver could not read (at most 20 kept); planning refuses to replay across them. */
  problems: z.array(ProblemSchema).optional(),
  /** GTIDs of the transactions in this segment. */
  gtids: z.string().default(''),
  /**
   * What `find` needs to pass over this segment without reading it: the
   * tables its transactions changed or named (with the most rows one
   * transaction changed in each) and the kinds of statement. `complete`
   * false: some transaction could not be read in detail (or there were too
   * many tables to list), so the segment is always read. Absent in
   * segments archived before indexes: they are always read.
   */
  index: z
    .object({
      complete: z.boolean(),
      kinds: z.array(z.string()),
      tables: z.array(z.object({ schema: z.string(), table: z.string(), maxRows: z.number(), kinds: z.array(z.string()).default([]) })),
    })
    .optional(),
  object: z.object({ name: z.string(), size: z.number(), sha256: z.string(), rawSize: z.number(), encryption: z.enum(['age']).nullable() }),
  server: z.object({ flavor: z.enum(['mariadb', 'mysql']), serverId: z.number(), hostname: z.string(), port: z.number(), serverUuid: z.string().optional() }),
  archivedAt: z.string(),
});
export type Sidecar = z.infer<typeof SidecarSchema>;
export type SidecarTrx = z.infer<typeof Trx>;

export const GapSchema = z.object({
  format: z.literal(1),
  source: z.string(),
  timeline: z.string(),
  /** What is missing, in words a person reads in `list`. */
  reason: z.enum(['purged-before-archived', 'failover', 'missing-segment', 'gtid-discontinuity', 'server-crash-truncation']),
  /** Last file (and offset) archived before the gap. */
  after: z.object({ file: z.string(), offset: z.number() }).optional(),
  /** First file archived after the gap. */
  resumedAt: z.object({ file: z.string(), offset: z.number() }).optional(),
  missingFiles: z.array(z.string()).default([]),
  detail: z.string(),
  detectedAt: z.string(),
});
export type GapRecord = z.infer<typeof GapSchema>;

/** A timeline id from a server identity: stable across restarts, new after a failover. */
export function timelineOf(flavor: string, id: ServerIdentity): string {
  const who = id.serverUuid ? id.serverUuid : `${id.hostname}:${id.port}`;
  return `${flavor}-${id.serverId}-${createHash('sha256').update(who).digest('hex').slice(0, 8)}`;
}

/** The numeric suffix of a binlog file name (mysql-bin.000042 -> 42). */
export function fileIndex(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  return m ? Number(m[1]) : NaN;
}

/** The next binlog file name after `file` (same base, index + 1, same width). */
export function nextFileName(file: string): string {
  const m = /^(.*\.)(\d+)$/.exec(file);
  if (!m) return `${file}.next`;
  const n = String(Number(m[2]) + 1).padStart((m[2] as string).length, '0');
  return `${m[1]}${n}`;
}

