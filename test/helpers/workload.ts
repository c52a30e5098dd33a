/**
 * A write workload whose rows carry their own commit time, GTID and binlog
 * position, so a point-in-time restore can be checked against exactly the
 * rows that were committed at or before a point.
 */
import type { Connection } from 'mysql2/promise';
import { closeQuietly, connect, queryOne, queryRows } from '../../src/mysql/connect.js';
import type { TestServer } from './mariadb.js';

export interface WrittenRow {
  id: number;
  /** NOW(6) of the insert: the statement's start time, which the binlog stamps (in seconds). */
  at: Date;
  gtid: string;
  file: string;
  pos: number;
}

export const WORKLOAD_SCHEMA = `
  CREATE DATABASE IF NOT EXISTS pitr;
  CREATE TABLE IF NOT EXISTS pitr.events (id INT AUTO_INCREMENT PRIMARY KEY, committed_at DATETIME(6) NOT NULL, note VARCHAR(50));
`;

export class Workload {
  readonly rows: WrittenRow[] = [];
  private conn?: Connection;
  private running?: Promise<void>;
  private stopFlag = false;

  constructor(private readonly server: TestServer) {}

  /** Write one row now and record where it landed. */
  async writeOne(note = 'w'): Promise<WrittenRow> {
    this.conn ??= await connect(this.server.spec);
    await this.conn.query("SET time_zone = '+00:00'");
    await this.conn.query('INSERT INTO pitr.events (committed_at, note) VALUES (NOW(6), ?)', [note]);
    const r = await queryOne<{ id: number; at: string; gtid: string }>(this.conn, 'SELECT LAST_INSERT_ID() AS id, (SELECT committed_at FROM pitr.events WHERE id = LAST_INSERT_ID()) AS at, @@last_gtid AS gtid');
    const st = await queryOne<{ File: string; Position: number }>(this.conn, 'SHOW MASTER STATUS');
    const row = { id: Number(r?.id), at: new Date(`${r?.at}Z`), gtid: String(r?.gtid), file: String(st?.File), pos: Number(st?.Position) };
    this.rows.push(row);
    return row;
  }

  /** Write about `perSecond` rows a second in the background until stop(). */
  start(perSecond = 20): void {
    this.stopFlag = false;
    this.running = (async () => {
      while (!this.stopFlag) {
        await this.writeOne();
        await new Promise((r) => setTimeout(r, 1000 / perSecond));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopFlag = true;
    await this.running;
  }

  async close(): Promise<void> {
    await this.stop();
    await closeQuietly(this.conn);
  }

  /** Rows whose commit second is at or before `seconds` (the binlog's resolution). */
  idsAtOrBefore(seconds: number): number[] {
    return this.rows.filter((r) => Math.floor(r.at.getTime() / 1000) <= seconds).map((r) => r.id);
  }
}

/** The ids in pitr.events on a server. */
export async function idsOn(server: TestServer): Promise<number[]> {
  const conn = await connect(server.spec);
  try {
    return (await queryRows<{ id: number }>(conn, 'SELECT id FROM pitr.events ORDER BY id')).map((r) => Number(r.id));
  } finally {
    await closeQuietly(conn);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until the next whole second has begun (so phases have distinct binlog seconds). */
export async function nextSecond(): Promise<number> {
  const now = Date.now();
  await sleep(1000 - (now % 1000) + 20);
  return Math.floor(Date.now() / 1000);
}
