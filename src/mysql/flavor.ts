/**
 * What differs between MariaDB and MySQL, in one place: tool names, dump
 * flags, how the dump states its snapshot point, the SQL for binary log
 * status, and account statements. Everything outside src/mysql asks this file
 * instead of testing the flavor itself.
 */
import type { Flavor } from './gtid.js';

export type { Flavor } from './gtid.js';

/** A parsed server version. */
export interface ServerVersion {
  major: number;
  minor: number;
  patch: number;
  /** As the server reports it, e.g. "10.11.6-MariaDB-0+deb12u1-log". */
  text: string;
}

/** Tell the flavor and version from `SELECT VERSION(), @@version_comment`. */
export function detectFlavor(version: string, versionComment = ''): { flavor: Flavor; version: ServerVersion } {
  const flavor: Flavor = /mariadb/i.test(version) || /mariadb/i.test(versionComment) ? 'mariadb' : 'mysql';
  // MariaDB 10.x once reported "5.5.5-10.x.y-MariaDB" over the protocol.
  const text = version.replace(/^5\.5\.5-/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  return { flavor, version: { major: Number(m?.[1] ?? 0), minor: Number(m?.[2] ?? 0), patch: Number(m?.[3] ?? 0), text: version } };
}

/** Compare a version with major.minor.patch: negative, zero or positive. */
export function compareVersion(v: ServerVersion, major: number, minor = 0, patch = 0): number {
  return v.major - major || v.minor - minor || v.patch - patch;
}

/** The client-side programs for a flavor. */
export interface FlavorTools {
  dump: string;
  client: string;
  binlog: string;
  server: string;
  installDb: string;
}

export function toolsFor(flavor: Flavor): FlavorTools {
  return flavor === 'mariadb'
    ? { dump: 'mariadb-dump', client: 'mariadb', binlog: 'mariadb-binlog', server: 'mariadbd', installDb: 'mariadb-install-db' }
    : { dump: 'mysqldump', client: 'mysql', binlog: 'mysqlbinlog', server: 'mysqld', installDb: 'mysqld' };
}

/** What a dump must contain. */
export interface DumpFlagOptions {
  flavor: Flavor;
  version: ServerVersion;
  /** MySQL: whether gtid_mode is ON (then the dump records GTID_PURGED). */
  gtidMode: boolean;
  /** MariaDB: whether any table is system-versioned (then history is dumped). */
  hasSystemVersioned: boolean;
}

/**
 * Flags for a consistent, complete, restorable logical dump. Common to both:
 * one transaction (InnoDB-consistent without blocking writes), row-by-row
 * streaming (--quick), routines, triggers, events, binary as hex, UTC
 * temporal values, and the binlog coordinates as a comment.
 */
export function dumpFlags(o: DumpFlagOptions): string[] {
  const common = ['--single-transaction', '--quick', '--routines', '--triggers', '--events', '--hex-blob', '--tz-utc', '--default-character-set=utf8mb4', '--add-drop-table', '--max-allowed-packet=1G'];
  if (o.flavor === 'mariadb') {
    // --gtid prints the GTID position next to file:pos; --dump-history keeps
    // the history rows of system-versioned tables (10.11+).
    const flags = [...common, '--master-data=2', '--gtid'];
    if (o.hasSystemVersioned && compareVersion(o.version, 10, 11) >= 0) flags.push('--dump-history');
    return flags;
  }
  // MySQL renamed --master-data to --source-data in 8.0.26.
  const flags = [...common, compareVersion(o.version, 8, 0, 26) >= 0 ? '--source-data=2' : '--master-data=2'];
  flags.push(o.gtidMode ? '--set-gtid-purged=COMMENTED' : '--set-gtid-purged=OFF');
  flags.push('--column-statistics=0');
  return flags;
}

/** The SQL that shows the current binary log file and position. */
export function binaryLogStatusSql(flavor: Flavor, version: ServerVersion): string {
  // MySQL 8.2 added SHOW BINARY LOG STATUS and 8.4 removed SHOW MASTER STATUS.
  if (flavor === 'mysql' && compareVersion(version, 8, 2) >= 0) return 'SHOW BINARY LOG STATUS';
  return 'SHOW MASTER STATUS';
}

/** The SQL that reads the executed GTID set (the server's own position). */
export function gtidExecutedSql(flavor: Flavor): string {
  return flavor === 'mariadb' ? 'SELECT @@GLOBAL.gtid_binlog_pos AS gtid' : 'SELECT @@GLOBAL.gtid_executed AS gtid';
}

/** Session settings that make SHOW CREATE USER output replayable. */
export function accountSessionSql(flavor: Flavor, version: ServerVersion): string[] {
  // MySQL 8 prints caching_sha2 hashes as raw bytes unless asked for hex.
  if (flavor === 'mysql' && compareVersion(version, 8, 0, 17) >= 0) return ['SET SESSION print_identified_with_as_hex = ON'];
  return [];
}

/** Accounts that belong to the server itself and are never backed up or restored. */
export function isSystemAccount(flavor: Flavor, user: string, host: string): boolean {
  if (user === 'root' || user === '') return true;
  if (flavor === 'mariadb') return user === 'mariadb.sys' || (user === 'PUBLIC' && host === '');
  return ['mysql.sys', 'mysql.session', 'mysql.infoschema'].includes(user);
}

/** Schemas that belong to the server and are never part of a backup. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** The binlog coordinates at which a dump is consistent. */
export interface SnapshotPoint {
  file: string;
  position: number;
  /** GTID position/set at the snapshot, in the flavor's own notation ('' when none). */
  gtid: string;
}

const COORD_PATTERNS = [
  /CHANGE MASTER TO MASTER_LOG_FILE='([^']+)',\s*MASTER_LOG_POS=(\d+)/i,
  /CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='([^']+)',\s*SOURCE_LOG_POS=(\d+)/i,
];
const GTID_PATTERNS = [
  // MariaDB --gtid: "-- SET GLOBAL gtid_slave_pos='0-1-42';"
  /SET GLOBAL gtid_slave_pos\s*=\s*'([^']*)'/i,
  // MySQL: "SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'uuid:1-5';" (maybe commented, maybe multi-line)
  /GTID_PURGED\s*=\s*(?:\/\*!80000\s*'\+'\s*\*\/\s*)?'\+?([^']*)'/i,
];

/**
 * Read the snapshot point from a dump header line (the dump tool prints it as
 * comments with --master-data/--source-data=2 and --gtid/--set-gtid-purged).
 * Returns the parts found on this line.
 */
export function parseSnapshotComment(line: string): Partial<SnapshotPoint> | undefined {
  for (const re of COORD_PATTERNS) {
    const m = re.exec(line);
    if (m) return { file: m[1] as string, position: Number(m[2]) };
  }
  for (const re of GTID_PATTERNS) {
    const m = re.exec(line);
    if (m) return { gtid: (m[1] as string).replace(/\s+/g, '') };
  }
  return undefined;
}

/** Whether a header line opens a GTID statement that continues on the next lines. */
export function opensMultilineGtid(line: string): boolean {
  return /GTID_PURGED\s*=/.test(line) && (line.match(/'/g) ?? []).length % 2 === 1;
}

/**
 * Arguments that stream a server's binary log raw into `spoolDir`, from
 * `startFile` on, never stopping. The replica server id identifies the
 * stream on the server (two streams with one id would evict each other).
 */
export function binlogStreamArgs(flavor: Flavor, spoolDir: string, startFile: string, replicaServerId: number): string[] {
  const idFlag = flavor === 'mariadb' ? `--stop-never-slave-server-id=${replicaServerId}` : `--connection-server-id=${replicaServerId}`;
  return ['--read-from-remote-server', '--raw', '--stop-never', idFlag, `--result-file=${spoolDir.endsWith('/') ? spoolDir : `${spoolDir}/`}`, startFile];
}

/** Arguments that turn binlog file(s) into SQL for replay, between two positions. */
export function binlogReplayArgs(o: { start?: number | undefined; stop?: number | undefined; noBinlog: boolean; flavor?: Flavor; withoutSourceGtids?: boolean }): string[] {
  const args: string[] = [];
  if (o.start !== undefined) args.push(`--start-position=${o.start}`);
  if (o.stop !== undefined) args.push(`--stop-position=${o.stop}`);
  if (o.noBinlog) args.push('--disable-log-bin');
  // A partial replay (into a live server, perhaps the source itself) must not take on the source's GTIDs:
  // MySQL's mysqlbinlog leaves out SET GTID_NEXT; MariaDB's session GTID settings do nothing without the binlog.
  if (o.withoutSourceGtids && o.flavor === 'mysql') args.push('--skip-gtids');
  // Both flavors' tools keep the source's GTIDs, so the target's GTID state
  // continues the source's (MySQL writes SET GTID_NEXT per transaction,
  // MariaDB sets gtid_domain_id/server_id/seq_no): no flavor difference here.
  return args;
}

/** What a binlog tool's `--version` line says it is. */
export interface BinlogToolIdentity {
  kind: 'mysql' | 'mariadb';
  /** MySQL's tool carries the server version (8.0.36); MariaDB's a client version (3.5). */
  major: number;
  minor: number;
  text: string;
}

/**
 * Read `mysqlbinlog --version`. MySQL 8.0+ prints "mysqlbinlog  Ver 8.4.3 for
 * Linux on x86_64 (MySQL Community Server - GPL)"; MariaDB prints
 * "mariadb-binlog Ver 3.5 for debian-linux-gnu at x86_64" (Debian's
 * `mysqlbinlog` is the same program) or "... from 11.4.3-MariaDB ...".
 * A version below 8 is MariaDB's numbering (or a MySQL older than 8.0,
 * which cannot read a MySQL 8 binlog either).
 */
export function identifyBinlogTool(versionOutput: string): BinlogToolIdentity {
  const text = versionOutput.split('\n')[0]?.trim() ?? '';
  const m = /\bVer\s+(\d+)\.(\d+)/.exec(text);
  const major = Number(m?.[1] ?? 0);
  const minor = Number(m?.[2] ?? 0);
  const mariadb = /mariadb/i.test(text) || major < 8;
  return { kind: mariadb ? 'mariadb' : 'mysql', major, minor, text };
}

/**
 * Why a binlog tool cannot replay a source's binlog, or undefined when it
 * can. MariaDB's tool cannot read MySQL 8's compressed transactions or
 * tagged GTIDs; MySQL's cannot read MariaDB's GTID events; an older MySQL
 * tool cannot read a newer server's events (tagged GTIDs came in 8.3).
 */
export function binlogToolMismatch(tool: BinlogToolIdentity, flavor: Flavor, server: ServerVersion): string | undefined {
  if (flavor === 'mariadb') {
    return tool.kind === 'mariadb' ? undefined : `it is MySQL's (${tool.text}), which cannot read MariaDB's GTID events; use mariadb-binlog from the mariadb-client package`;
  }
  if (tool.kind === 'mariadb') {
    return `it is MariaDB's (${tool.text}), which cannot read MySQL 8's compressed transactions or tagged GTIDs; install MySQL's own client tools (mysql-community-client from MySQL's APT repository, or build the image with --build-arg MYSQL_CLIENT=8.4) and set tools.binlog to its mysqlbinlog`;
  }
  if (tool.major < server.major || (tool.major === server.major && tool.minor < server.minor)) {
    return `it is MySQL ${tool.major}.${tool.minor}'s (${tool.text}), older than the source's MySQL ${server.major}.${server.minor}: it may not read the newer events; use mysqlbinlog ${server.major}.${server.minor} or newer`;
  }
  return undefined;
}

/**
 * The lock that blocks commits while a parallel backup's sessions open their
 * snapshots, and how to release it. MariaDB: BACKUP STAGE BLOCK_COMMIT (what
 * mariabackup uses: commits wait, reads and the dump sessions' START
 * TRANSACTION WITH CONSISTENT SNAPSHOT do not; needs RELOAD). MySQL: LOCK
 * INSTANCE FOR BACKUP (blocks DDL; needs BACKUP_ADMIN) and FLUSH TABLES WITH
 * READ LOCK (blocks commits; needs RELOAD).
 */
export function commitLockSql(flavor: Flavor): { method: string; take: string[]; release: string[] } {
  return flavor === 'mariadb'
    ? { method: 'BACKUP STAGE BLOCK_COMMIT', take: ['BACKUP STAGE START', 'BACKUP STAGE BLOCK_COMMIT'], release: ['BACKUP STAGE END'] }
    : { method: 'LOCK INSTANCE FOR BACKUP + FLUSH TABLES WITH READ LOCK', take: ['LOCK INSTANCE FOR BACKUP', 'FLUSH TABLES WITH READ LOCK'], release: ['UNLOCK TABLES', 'UNLOCK INSTANCE'] };
}

/**
 * Dump flags for the sessions of a table-by-table backup, from the flags of
 * a one-stream dump: `data` sessions write rows only (no CREATE, no
 * triggers), the `schema` session tables, sequences and views without rows,
 * the `post` session triggers, routines and events only.
 */
export function sessionDumpFlags(base: string[], kind: 'data' | 'schema' | 'post'): string[] {
  const without = (...drop: string[]) => base.filter((f) => !drop.includes(f));
  if (kind === 'data') return [...without('--routines', '--events', '--triggers'), '--no-create-info', '--no-create-db', '--skip-triggers'];
  if (kind === 'schema') return [...without('--routines', '--events', '--triggers', '--dump-history'), '--no-data', '--skip-triggers'];
  return [...without('--dump-history'), '--no-data', '--no-create-info', '--no-create-db'];
}
