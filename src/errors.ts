/**
 * Errors are values with a code. Every failure a user can act on is a
 * BacktrackError subclass carrying a stable `code` (for --json and logs), an
 * `exitCode` (the table below, printed by --help) and the underlying `cause`.
 * Messages say what happened, to what, and what to do next.
 *
 * This file is a leaf: every module may import it, it imports nothing.
 */

/** The exit-code table. Scripts and alerting depend on these numbers: never renumber. */
export const EXIT_CODES = {
  ok: { code: 0, meaning: 'success' },
  failed: { code: 1, meaning: 'the command failed (see the error message)' },
  usage: { code: 2, meaning: 'bad usage or invalid configuration' },
  verificationFailed: { code: 3, meaning: 'a verification failed: checksum mismatch or a drill check failed' },
  binlogGap: { code: 4, meaning: 'the binlog chain has a gap where the command needs it' },
  lockHeld: { code: 5, meaning: 'another Backtrack process holds the lock for this source' },
  refused: { code: 6, meaning: 'refused to touch a target (not empty, or it is the source) without --force' },
  drillUnavailable: { code: 7, meaning: 'a drill could not start (no scratch server); the backup was not judged' },
  notFound: { code: 8, meaning: 'a backup, object or point named on the command line does not exist' },
  interrupted: { code: 130, meaning: 'interrupted by SIGINT or SIGTERM; nothing was committed' },
} as const;

export type ExitCodeName = keyof typeof EXIT_CODES;

/** Base class: a failure with a stable code, an exit code and an optional cause. */
export class BacktrackError extends Error {
  readonly code: string;
  readonly exitCode: number;
  /** Extra facts for --json output and logs (never secrets). */
  readonly details: Record<string, unknown>;

  constructor(
    message: string,
    opts: { code?: string; exit?: ExitCodeName; exitCode?: number; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code ?? 'FAILED';
    this.exitCode = opts.exitCode ?? EXIT_CODES[opts.exit ?? 'failed'].code;
    this.details = opts.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, exitCode: this.exitCode, ...this.details };
  }
}

/** The configuration file or a flag is wrong; exit 2. */
export class ConfigError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'CONFIG_INVALID', exit: 'usage', details });
  }
}

/** The command line is wrong; exit 2. */
export class UsageError extends BacktrackError {
  constructor(message: string) {
    super(message, { code: 'USAGE', exit: 'usage' });
  }
}

/** A named thing (object, backup, point in the log) does not exist. */
export class NotFoundError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super(message, { code: 'NOT_FOUND', exit: 'notFound', details, cause });
  }
}

/** The repository failed (network, permissions, disk full) after retries. */
export class StorageError extends BacktrackError {
  constructor(message: string, cause?: unknown, details: Record<string, unknown> = {}) {
    super(message, { code: 'STORAGE', cause, details });
  }
}

/**
 * An object version is still under S3 Object Lock: it cannot be deleted
 * before its retain-until date. Not a failure of the repository: callers
 * that delete on purpose report it and try again after the date.
 */
export class ObjectLockedError extends BacktrackError {
  constructor(message: string, details: { key: string; retainUntil?: string | undefined }, cause?: unknown) {
    super(message, { code: 'OBJECT_LOCKED', cause, details });
  }
}

/** A MySQL/MariaDB server could not be reached or refused the login. */
export class ConnectionError extends BacktrackError {
  constructor(message: string, cause?: unknown, details: Record<string, unknown> = {}) {
    super(message, { code: 'MYSQL_CONNECT', cause, details });
  }
}

/** An external tool (mariadb-dump, zstd, ...) is missing or failed. */
export class ToolError extends BacktrackError {
  constructor(message: string, cause?: unknown, details: Record<string, unknown> = {}) {
    super(message, { code: 'TOOL_FAILED', cause, details });
  }
}

/** A stored object's bytes differ from what its manifest or sidecar recorded. */
export class ChecksumError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'CHECKSUM_MISMATCH', exit: 'verificationFailed', details });
  }
}

/** A backup's manifest cannot be read or does not describe a backup: the backup cannot be used as it is. */
export class DamagedBackupError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'BACKUP_DAMAGED', exit: 'verificationFailed', details });
  }
}

/** A drill ran and at least one check failed: the backup is not proven. */
export class VerificationFailedError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'VERIFY_FAILED', exit: 'verificationFailed', details });
  }
}

/** The binlog chain has a gap that the requested work would cross. */
export class BinlogGapError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'BINLOG_GAP', exit: 'binlogGap', details });
  }
}

/**
 * Binary log bytes that do not read as their event type says (an unknown
 * type, a damaged event, an incident the server logged for lost events):
 * a replay cannot be planned across them.
 */
export class BinlogUnreadableError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'BINLOG_UNREADABLE', exit: 'binlogGap', details });
  }
}

/** Another process holds the per-source lock. */
export class LockHeldError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'LOCK_HELD', exit: 'lockHeld', details });
  }
}

/** A restore target was refused for safety (not empty, or the source itself). */
export class TargetRefusedError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'TARGET_REFUSED', exit: 'refused', details });
  }
}

/** A drill could not start its scratch server: says nothing about the backup. */
export class ScratchUnavailableError extends BacktrackError {
  constructor(message: string, cause?: unknown, details: Record<string, unknown> = {}) {
    super(message, { code: 'SCRATCH_UNAVAILABLE', exit: 'drillUnavailable', cause, details });
  }
}

/** The work was cancelled by a signal or an AbortSignal. */
export class InterruptedError extends BacktrackError {
  constructor(message = 'interrupted; nothing was committed', cause?: unknown) {
    super(message, { code: 'INTERRUPTED', exit: 'interrupted', cause });
  }
}

/** Wrap anything thrown into a BacktrackError, keeping the original as cause. */
export function asBacktrackError(err: unknown): BacktrackError {
  if (err instanceof BacktrackError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // mysql2's words for a server that went away mid-query.
  if ((err as { code?: string } | undefined)?.code === 'PROTOCOL_CONNECTION_LOST' || /socket has been ended by the other party/.test(message)) {
    return new BacktrackError(`lost the connection to the MySQL server (${message.replace(/^(.+): \1$/, '$1')}): it restarted, crashed, or the connection was killed`, { code: 'CONNECTION_LOST', cause: err });
  }
  return new BacktrackError(message, { cause: err });
}

/** Throw InterruptedError if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError(undefined, signal.reason);
}

/** The exit-code table as text, for --help. */
export function exitCodeTable(): string {
  return Object.values(EXIT_CODES)
    .map((e) => `  ${String(e.code).padStart(3)}  ${e.meaning}`)
    .join('\n');
}
