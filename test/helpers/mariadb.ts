/**
 * Real MariaDB servers for tests: Debian's mariadbd on a free loopback port
 * with a temp datadir, started through the same code drills use
 * (src/scratch/spawn.ts). A missing server binary fails the test run; it is
 * never a silent skip.
 */
import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mysql2/promise';
import { execa } from 'execa';
import { spawnServer, type SpawnedServer, type SpawnOptions } from '../../src/scratch/spawn.js';
import { connect, closeQuietly, queryRows, type ConnectionSpec } from '../../src/mysql/connect.js';

export interface TestServer extends SpawnedServer {
  /** Run one statement as root. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Run a SQL script (DELIMITER allowed) through the mariadb client as root. */
  source(sqlText: string): Promise<void>;
  /** A root connection (close it yourself). */
  root(database?: string): Promise<Connection>;
  /** Create the least-privileged backup account; returns its password file. */
  createBacktrackUser(): Promise<{ user: string; password: string; passwordFile: string }>;
}

/** Start a server; `source` profile has the binlog on. */
export async function startMariaDB(opts: Partial<SpawnOptions> = {}): Promise<TestServer> {
  const server = await spawnServer({ profile: 'source', bufferPoolSize: '64M', startTimeoutMs: 60_000, ...opts });
  return decorate(server);
}

/** Restart a stopped server on the same port and datadir. */
export async function restartMariaDB(old: TestServer, opts: Partial<SpawnOptions> = {}): Promise<TestServer> {
  const server = await spawnServer({ profile: 'source', bufferPoolSize: '64M', startTimeoutMs: 60_000, ...opts, port: old.port, datadir: old.datadir });
  return decorate(server);
}

function decorate(server: SpawnedServer): TestServer {
  const spec: ConnectionSpec = server.spec;
  return Object.assign(server, {
    async query<T>(sql: string, params: unknown[] = []) {
      const conn = await connect(spec);
      try {
        return await queryRows<T>(conn, sql, params);
      } finally {
        await closeQuietly(conn);
      }
    },
    async source(sqlText: string) {
      await execa('mariadb', ['--no-defaults', `--socket=${server.socket}`, '-uroot', '--binary-mode'], { input: sqlText });
    },
    root: (database?: string) => connect(spec, database ? { database } : {}),
    async createBacktrackUser() {
      const password = `pw-${Math.random().toString(36).slice(2)}`;
      const dir = await mkdtemp(path.join(tmpdir(), 'bt-secret-'));
      const passwordFile = path.join(dir, 'mysql-password');
      await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
      const conn = await connect(spec);
      try {
        await conn.query("CREATE USER IF NOT EXISTS 'backtrack'@'127.0.0.1' IDENTIFIED BY ?", [password]);
        await conn.query("ALTER USER 'backtrack'@'127.0.0.1' IDENTIFIED BY ?", [password]);
        await conn.query("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'backtrack'@'127.0.0.1'");
      } finally {
        await closeQuietly(conn);
      }
      return { user: 'backtrack', password, passwordFile };
    },
  }) as TestServer;
}

/** The fixture with every type and object. */
export async function loadEverythingFixture(server: TestServer): Promise<void> {
  const sql = await readFile(new URL('../fixtures/everything.sql', import.meta.url), 'utf8');
  await server.source(sql);
}
