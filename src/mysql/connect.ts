/**
 * Connections with mysql2, and the errors a person can act on when they fail:
 * unreachable host, refused login, unknown database. Connection settings come
 * from the config (`MysqlConnectionConfig`) or from a target DSN.
 */
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { ConnectionError } from '../errors.js';
import type { MysqlConnectionConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';

/** Everything needed to log in; the password already read from its file or variable. */
export interface ConnectionSpec {
  host: string;
  port: number;
  socket?: string | undefined;
  user: string;
  password?: string | undefined;
  connectTimeoutMs: number;
  /** How this server is called in messages ("source main", "target"). */
  label: string;
}

/** Build a spec from config, reading the secret now. */
export function specFromConfig(c: MysqlConnectionConfig, label: string): ConnectionSpec {
  return { host: c.host, port: c.port, socket: c.socket, user: c.user, password: readSecret(c, label), connectTimeoutMs: c.connectTimeout, label };
}

/** host:port or the socket, for messages. */
export function describeEndpoint(s: ConnectionSpec): string {
  return s.socket ? `socket ${s.socket}` : `${s.host}:${s.port}`;
}

/** Open a connection; failures become ConnectionError with a next step. */
export async function connect(spec: ConnectionSpec, opts: { database?: string; multipleStatements?: boolean } = {}): Promise<Connection> {
  try {
    const conn = await mysql.createConnection({
      ...(spec.socket ? { socketPath: spec.socket } : { host: spec.host, port: spec.port }),
      user: spec.user,
      password: spec.password ?? '',
      connectTimeout: spec.connectTimeoutMs,
      database: opts.database,
      multipleStatements: opts.multipleStatements ?? false,
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      timezone: 'Z',
      charset: 'utf8mb4_general_ci',
    });
    // A connection dropped by the server later must not crash the process.
    conn.on('error', () => undefined);
    return conn;
  } catch (err) {
    throw connectionError(spec, err);
  }
}

/** Turn a mysql2 connect failure into an actionable message. */
export function connectionError(spec: ConnectionSpec, err: unknown): ConnectionError {
  const e = err as { code?: string; errno?: number; message?: string };
  const where = `${spec.label} at ${describeEndpoint(spec)}`;
  let what: string;
  switch (e.code) {
    case 'ECONNREFUSED':
      what = `cannot connect to ${where}: connection refused; is the server running and listening there?`;
      break;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      what = `cannot connect to ${where}: ${e.code}; check the host, port and firewall`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      what = `cannot connect to ${where}: the host name does not resolve; check the host`;
      break;
    case 'ENOENT':
      what = `cannot connect to ${where}: the socket does not exist; is the server running?`;
      break;
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR':
      what = `${where} refused the login of user "${spec.user}": wrong password or no such account; check the password file/variable and the account's host`;
      break;
    case 'ER_DBACCESS_DENIED_ERROR':
    case 'ER_BAD_DB_ERROR':
      what = `${where}: ${e.message}`;
      break;
    default:
      what = `cannot connect to ${where}: ${e.message ?? String(err)}`;
  }
  return new ConnectionError(what, err, { endpoint: describeEndpoint(spec), mysqlCode: e.code });
}

/** Run a query and return its rows as plain objects. */
export async function queryRows<T = Record<string, unknown>>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await conn.query<RowDataPacket[]>(sql, params);
  return rows as unknown as T[];
}

/** Run a query expected to return one row. */
export async function queryOne<T = Record<string, unknown>>(conn: Connection, sql: string, params: unknown[] = []): Promise<T | undefined> {
  return (await queryRows<T>(conn, sql, params))[0];
}

/** Close without throwing (cleanup paths). */
export async function closeQuietly(conn: Connection | undefined): Promise<void> {
  if (!conn) return;
  try {
    await conn.end();
  } catch {
    conn.destroy();
  }
}

/** Backtick-quote an identifier. */
export function quoteIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** A string matched literally inside a RegExp. */
export function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * An identifier as SQL text may spell it, as RegExp sources: backtick-quoted,
 * and bare when it needs no quotes (callers add the boundaries they need).
 */
export function identifierForms(name: string): { quoted: string; bare?: string } {
  return { quoted: escapeRegExp(quoteIdent(name)), ...(/^[A-Za-z0-9_$]+$/.test(name) ? { bare: escapeRegExp(name) } : {}) };
}
