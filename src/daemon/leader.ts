/**
 * Leadership per source between several daemons: a GET_LOCK held on the
 * source by a dedicated session. The leader checks every `retryMs` that its
 * session still holds the lock; a standby tries to take it every `retryMs`.
 * A killed leader's session closes at once, so a standby takes over within
 * `retryMs`; a leader whose host vanishes loses the lock when the server
 * times its idle session out (`sessionTimeoutMs`, the session's wait_timeout,
 * kept alive by the checks), so takeover is bounded by that plus `retryMs`.
 */
import type { Connection } from 'mysql2/promise';
import { closeQuietly, connect, queryOne, type ConnectionSpec } from '../mysql/connect.js';
import { lockName } from '../mysql/lock.js';
import type { Logger } from '../observability/logger.js';

export interface LeaderOptions {
  spec: ConnectionSpec;
  source: string;
  retryMs: number;
  sessionTimeoutMs: number;
  log: Logger;
  onChange: (leader: boolean) => Promise<void> | void;
}

export class LeaderLock {
  private conn?: Connection | undefined;
  private timer?: NodeJS.Timeout;
  private leader = false;
  private stopped = false;
  private ticking = false;
  private readonly name: string;

  constructor(private readonly o: LeaderOptions) {
    this.name = lockName(o.source, 'leader');
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.o.retryMs);
    void this.tick();
  }

  /** Give up leadership (if held) and stop trying; idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.ticking) await new Promise((r) => setTimeout(r, 20));
    await this.lose('stopping');
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      if (this.leader) {
        if (!(await this.stillHeld())) await this.lose('the lock session was lost');
      } else await this.tryAcquire();
    } finally {
      this.ticking = false;
    }
  }

  private async tryAcquire(): Promise<void> {
    try {
      this.conn ??= await connect(this.o.spec);
      await this.conn.query('SET SESSION wait_timeout = ?', [Math.max(1, Math.ceil(this.o.sessionTimeoutMs / 1000))]);
      const r = await queryOne<{ got: number | null }>(this.conn, 'SELECT GET_LOCK(?, 0) AS got', [this.name]);
      if (Number(r?.got) === 1 && !this.stopped) {
        this.leader = true;
        this.o.log.info({ source: this.o.source }, 'became leader for the source');
        await this.o.onChange(true);
      }
    } catch (err) {
      this.o.log.warn({ source: this.o.source, error: (err as Error).message }, 'cannot reach the source to take the leader lock; retrying');
      await closeQuietly(this.conn);
      this.conn = undefined;
    }
  }

  private async stillHeld(): Promise<boolean> {
    try {
      const r = await queryOne<{ mine: number | null }>(this.conn!, 'SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [this.name]);
      return Number(r?.mine) === 1;
    } catch {
      return false;
    }
  }

  private async lose(why: string): Promise<void> {
    const was = this.leader;
    this.leader = false;
    if (this.conn) {
      await this.conn.query('SELECT RELEASE_LOCK(?)', [this.name]).catch(() => undefined);
      await closeQuietly(this.conn);
      this.conn = undefined;
    }
    if (was) {
      this.o.log.warn({ source: this.o.source, why }, 'no longer leader for the source');
      await this.o.onChange(false);
    }
  }
}
