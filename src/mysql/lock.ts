/**
 * Per-source locks held on the source itself with GET_LOCK: a lock lives
 * exactly as long as the connection that took it, so a process killed with
 * -9 releases it the moment the server notices the connection is gone. Two
 * Backtrack processes (two daemons, or a daemon and the CLI) therefore never
 * back up or prune the same source at once.
 */
import { createHash } from 'node:crypto';
import type { Connection } from 'mysql2/promise';
import { LockHeldError } from '../errors.js';
import { closeQuietly, connect, queryOne, type ConnectionSpec } from './connect.js';

/** A held lock. */
export interface HeldLock {
  readonly name: string;
  /** Whether the lock's connection is still alive (the lock is still ours). */
  isHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** The server-side lock name (GET_LOCK names are limited to 64 characters). */
export function lockName(source: string, purpose: string): string {
  const name = `backtrack:${source}:${purpose}`;
  return name.length <= 64 ? name : `backtrack:${createHash('sha256').update(name).digest('hex').slice(0, 50)}`;
}

/** Take the lock or fail with LockHeldError after `waitSeconds`. */
export async function acquireLock(spec: ConnectionSpec, source: string, purpose: string, waitSeconds = 0): Promise<HeldLock> {
  const name = lockName(source, purpose);
  const conn: Connection = await connect(spec);
  try {
    const row = await queryOne<{ got: number | null; holder: number | null }>(conn, 'SELECT GET_LOCK(?, ?) AS got, IS_USED_LOCK(?) AS holder', [name, waitSeconds, name]);
    if (Number(row?.got) !== 1) {
      throw new LockHeldError(
        `another Backtrack process holds the ${purpose} lock for source ${source} (server connection id ${String(row?.holder)}); wait for it to finish, or find it with SHOW PROCESSLIST`,
        { source, lock: name, holderConnectionId: row?.holder },
      );
    }
  } catch (err) {
    await closeQuietly(conn);
    throw err;
  }
  let released = false;
  return {
    name,
    async isHeld() {
      if (released) return false;
      try {
        const r = await queryOne<{ mine: number | null }>(conn, 'SELECT IS_USED_LOCK(?) = CONNECTION_ID() AS mine', [name]);
        return Number(r?.mine) === 1;
      } catch {
        return false;
      }
    },
    async release() {
      if (released) return;
      released = true;
      try {
        await conn.query('SELECT RELEASE_LOCK(?)', [name]);
      } catch {
        // The connection is gone, and the lock with it.
      }
      await closeQuietly(conn);
    },
  };
}

/** A lock kept for as long as work runs on it: `lost` settles when it can no longer be held. */
export interface KeptLock extends HeldLock {
  /** Resolves with the reason when the lock is gone and could not be re-taken within the interval. */
  readonly lost: Promise<Error>;
}

/**
 * Take a lock and keep it: every `intervalMs` its session is pinged (which
 * also keeps the session from idling into the server's wait_timeout, without
 * raising it) and checked to still hold the lock. A lock whose session died
 * (the server restarted, a network cut) is re-taken on a new session at once;
 * when that fails (someone else took it, or the server cannot be reached),
 * `lost` resolves, within one interval of the check that noticed.
 */
export async function acquireKeptLock(spec: ConnectionSpec, source: string, purpose: string, o: { intervalMs: number; onRetaken?: () => void }): Promise<KeptLock> {
  let held = await acquireLock(spec, source, purpose);
  let stopped = false;
  let checking = false;
  let signalLost: (err: Error) => void = () => undefined;
  const lost = new Promise<Error>((resolve) => (signalLost = resolve));
  const check = async () => {
    if (checking || stopped) return;
    checking = true;
    try {
      if (await held.isHeld()) return;
      await held.release();
      try {
        held = await acquireLock({ ...spec, connectTimeoutMs: Math.max(100, Math.min(spec.connectTimeoutMs, o.intervalMs)) }, source, purpose);
        o.onRetaken?.();
      } catch (err) {
        stop();
        signalLost(err instanceof Error ? err : new Error(String(err)));
      }
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), o.intervalMs);
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return {
    get name() {
      return held.name;
    },
    isHeld: () => held.isHeld(),
    lost,
    async release() {
      stop();
      while (checking) await new Promise((r) => setTimeout(r, 10));
      await held.release();
    },
  };
}
