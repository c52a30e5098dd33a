/**
 * Target DSNs on the command line: `mysql://user@host:port` (or mariadb://).
 * A password in the DSN works but is discouraged (it shows in `ps`); prefer
 * --target-password-file or BACKTRACK_TARGET_PASSWORD.
 */
import { readPasswordFile } from '../config/secrets.js';
import { UsageError } from '../errors.js';
import type { ConnectionSpec } from './connect.js';

/** Parse a DSN into a connection spec. */
export function parseDsn(dsn: string, opts: { passwordFile?: string | undefined; env?: NodeJS.ProcessEnv; label?: string } = {}): ConnectionSpec {
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw new UsageError(`"${redactDsn(dsn)}" is not a DSN; write mysql://user@host:port (password from --target-password-file or BACKTRACK_TARGET_PASSWORD)`);
  }
  if (!['mysql:', 'mariadb:'].includes(url.protocol)) throw new UsageError(`DSN scheme must be mysql:// or mariadb:// (mysql://user@host:port), got ${url.protocol}//`);
  const socket = url.searchParams.get('socket') ?? undefined;
  if (!url.hostname && !socket) throw new UsageError(`DSN "${redactDsn(dsn)}" has no host`);
  const env = opts.env ?? process.env;
  let password = url.password ? decodeURIComponent(url.password) : undefined;
  if (opts.passwordFile) {
    password = readPasswordFile(opts.passwordFile, 'the target password file (--target-password-file)', (m) => new UsageError(m));
  } else if (password === undefined && env.BACKTRACK_TARGET_PASSWORD !== undefined) password = env.BACKTRACK_TARGET_PASSWORD;
  return {
    host: url.hostname || '127.0.0.1',
    port: url.port ? Number(url.port) : 3306,
    socket,
    user: decodeURIComponent(url.username) || 'root',
    password,
    connectTimeoutMs: 10_000,
    label: opts.label ?? 'target',
  };
}

/** The DSN with any password replaced, for messages and logs. */
export function redactDsn(dsn: string): string {
  return dsn.replace(/(\/\/[^:/@]+:)[^@]*@/, '$1[redacted]@');
}

/** Render a spec as a DSN without the password. */
export function formatDsn(s: ConnectionSpec): string {
  return s.socket ? `mysql://${s.user}@localhost/?socket=${s.socket}` : `mysql://${s.user}@${s.host}:${s.port}`;
}
