/**
 * Facts about a connected server: flavor, version, identity and binary log
 * settings, read once per job. Identity (server_uuid where the flavor has it,
 * server_id, host name, port) is how Backtrack tells one server from another:
 * a restore refuses the source as target, and the binlog archiver notices a
 * failover.
 */
import type { Connection } from 'mysql2/promise';
import { queryOne, queryRows } from './connect.js';
import { binaryLogStatusSql, detectFlavor, gtidExecutedSql, type Flavor, type ServerVersion } from './flavor.js';

/** Who a server is. */
export interface ServerIdentity {
  /** MySQL's server_uuid; MariaDB has none. */
  serverUuid?: string | undefined;
  serverId: number;
  hostname: string;
  port: number;
}

/** What Backtrack needs to know about a server before working with it. */
export interface ServerInfo {
  flavor: Flavor;
  version: ServerVersion;
  identity: ServerIdentity;
  logBin: boolean;
  binlogFormat: string;
  /** MySQL: gtid_mode=ON. MariaDB always has GTIDs in its binlog. */
  gtidMode: boolean;
  lowerCaseTableNames: number;
}

/** Read the server's facts. */
export async function serverInfo(conn: Connection): Promise<ServerInfo> {
  const v = await queryOne<{ version: string; comment: string }>(conn, 'SELECT VERSION() AS version, @@version_comment AS comment');
  const { flavor, version } = detectFlavor(v?.version ?? '', v?.comment ?? '');
  const vars = await queryOne<Record<string, string | number | null>>(
    conn,
    `SELECT @@server_id AS server_id, @@hostname AS hostname, @@port AS port, @@log_bin AS log_bin,
            @@binlog_format AS binlog_format, @@lower_case_table_names AS lctn
            ${flavor === 'mysql' ? ', @@server_uuid AS server_uuid, @@gtid_mode AS gtid_mode' : ''}`,
  );
  return {
    flavor,
    version,
    identity: {
      serverUuid: flavor === 'mysql' ? String(vars?.server_uuid ?? '') : undefined,
      serverId: Number(vars?.server_id ?? 0),
      hostname: String(vars?.hostname ?? ''),
      port: Number(vars?.port ?? 0),
    },
    logBin: Number(vars?.log_bin ?? 0) === 1,
    binlogFormat: String(vars?.binlog_format ?? ''),
    gtidMode: flavor === 'mariadb' ? true : String(vars?.gtid_mode ?? 'OFF').toUpperCase() === 'ON',
    lowerCaseTableNames: Number(vars?.lctn ?? 0),
  };
}

/** Whether two identities are the same server. */
export function sameServer(a: ServerIdentity, b: ServerIdentity): boolean {
  if (a.serverUuid && b.serverUuid) return a.serverUuid === b.serverUuid;
  return a.serverId === b.serverId && a.hostname === b.hostname && a.port === b.port;
}

/** The current binary log coordinates. */
export interface BinlogCoordinates {
  file: string;
  position: number;
  gtid: string;
}

/** Read the server's current binlog file, position and GTID position. */
export async function binlogCoordinates(conn: Connection, info: ServerInfo): Promise<BinlogCoordinates | undefined> {
  const row = await queryOne<{ File: string; Position: string | number }>(conn, binaryLogStatusSql(info.flavor, info.version));
  if (!row) return undefined;
  const g = await queryOne<{ gtid: string }>(conn, gtidExecutedSql(info.flavor));
  return { file: row.File, position: Number(row.Position), gtid: g?.gtid ?? '' };
}

/** The binary log files the server still has, oldest first. */
export async function binaryLogs(conn: Connection): Promise<Array<{ name: string; size: number }>> {
  const rows = await queryRows<{ Log_name: string; File_size: string | number }>(conn, 'SHOW BINARY LOGS');
  return rows.map((r) => ({ name: r.Log_name, size: Number(r.File_size) }));
}
