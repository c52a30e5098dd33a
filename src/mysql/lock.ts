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
