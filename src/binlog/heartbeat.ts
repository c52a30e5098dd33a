/**
 * The heartbeat: an opt-in row the daemon (or `backtrack binlog`) inserts on
 * the source every interval, stamped with the source's own NOW(6). A
 * point-in-time drill restores to T and then finds the newest heartbeat in
 * the restored data: it must be at or before T, and no older than T minus
 * the interval (plus slack). That checks the recovered point with data the
 * source wrote itself, not with Backtrack's own planning.
 *
 * Needs: GRANT CREATE, INSERT, DELETE, SELECT ON <schema>.* TO the account.
 */
import type { SourceConfig } from '../config/schema.js';
import { closeQuietly, connect, quoteIdent, type ConnectionSpec } from '../mysql/connect.js';
import type { Logger } from '../observability/logger.js';

export const HEARTBEAT_TABLE = 'heartbeat';

export class HeartbeatWriter {
  private timer?: NodeJS.Timeout;
  private conn?: Awaited<ReturnType<typeof connect>> | undefined;
  private beats = 0;
  private writing = false;

  constructor(private readonly spec: ConnectionSpec, private readonly source: SourceConfig, private readonly log: Logger) {}

  /** Create the table if needed and start beating; idempotent. */
  async start(): Promise<void> {
    if (this.timer) return;
    await this.ensureTable();
    this.timer = setInterval(() => void this.beat(), this.source.verify.heartbeat.interval);
    this.timer.unref();
    await this.beat();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await closeQuietly(this.conn);
    this.conn = undefined;
  }

  private table(): string {
    return `${quoteIdent(this.source.verify.heartbeat.schema)}.${quoteIdent(HEARTBEAT_TABLE)}`;
  }

  private async ensureTable(): Promise<void> {
    const c = await connect(this.spec);
    try {
      await c.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(this.source.verify.heartbeat.schema)}`);
      await c.query(`CREATE TABLE IF NOT EXISTS ${this.table()} (id BIGINT AUTO_INCREMENT PRIMARY KEY, beat_at DATETIME(6) NOT NULL, KEY (beat_at)) ENGINE=InnoDB`);
    } finally {
      await closeQuietly(c);
    }
  }

  private async beat(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      this.conn ??= await connect(this.spec);
      await this.conn.query("SET time_zone = '+00:00'");
      await this.conn.query(`INSERT INTO ${this.table()} (beat_at) VALUES (NOW(6))`);
      // Keep the table small: a day of beats is plenty for drills.
      if (++this.beats % 600 === 0) await this.conn.query(`DELETE FROM ${this.table()} WHERE beat_at < NOW(6) - INTERVAL 1 DAY`);
    } catch (err) {
      this.log.warn({ err }, 'heartbeat write failed; retrying next interval');
      await closeQuietly(this.conn);
      this.conn = undefined;
    } finally {
      this.writing = false;
    }
  }
}
