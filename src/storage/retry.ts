/**
 * Retry as a wrapper: an ObjectStore that retries transient failures of the
 * store it wraps, with exponential backoff and full jitter. It is the one
 * layer that retries (the S3 backend's own requests make a single attempt;
 * only the parts of a streamed multipart upload are retried inside the SDK,
 * because a stream cannot be replayed from here). What it retries:
 *
 *  - reads, listings, heads, deletes (idempotent) and puts of in-memory
 *    bodies: the whole call, up to `attempts` times;
 *  - a read that breaks part way (a connection reset mid-stream): it
 *    resumes from the byte where it broke, with a ranged read, so a large
 *    object is retried in pieces, never re-read from the start;
 *  - never a put of a stream (it cannot be replayed): the caller re-reads
 *    its source (the archiver re-reads its spool file on the next pass).
 *
 * Every backoff sleep ends at once when the call's signal, or the store's
 * own signal (the process is shutting down), is aborted.
 */
import { PassThrough, type Readable } from 'node:stream';
import { BacktrackError, InterruptedError } from '../errors.js';
import type { BucketLockStatus, GetOptions, IncompleteWrite, ObjectInfo, ObjectLocks, ObjectStore, PutOptions } from './store.js';

/** How hard to try. */
export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs?: number;
  /** Aborting it ends every backoff sleep at once (process shutdown). */
  signal?: AbortSignal | undefined;
  /** Called before each retry (for logging and metrics). */
  onRetry?: (info: { op: string; key: string; attempt: number; delayMs: number; error: unknown }) => void;
  /** Random numbers for the jitter (tests pass a seeded one). */
  random?: () => number;
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EBUSY', 'EAGAIN', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE']);
const TRANSIENT_NAMES = new Set(['SlowDown', 'RequestTimeout', 'RequestTimeTooSkewed', 'InternalError', 'ServiceUnavailable', 'TimeoutError', 'ThrottlingException']);

/** True when an error (or its cause chain) looks like a passing fault. */
export function isTransient(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (cur instanceof BacktrackError && cur.code !== 'STORAGE') return false;
    const e = cur as { code?: string; name?: string; $metadata?: { httpStatusCode?: number }; transient?: boolean };
    if (e.transient === true) return true;
    if (e.code && TRANSIENT_CODES.has(e.code)) return true;
    if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
    const status = e.$metadata?.httpStatusCode;
    if (status !== undefined && (status >= 500 || status === 429)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Whether an error, anywhere in its cause chain, is the repository failing
 * (a StorageError or a transient network fault), not the data being wrong.
 * A drill that meets one could not judge the backup: it errors, it does not
 * fail the backup.
 */
export function isStorageFault(err: unknown): boolean {
  let cur: unknown = err;
  for (let depth = 0; cur && depth < 8; depth++) {
    if (cur instanceof BacktrackError) {
      if (cur.code === 'STORAGE') return true;
    } else if (isTransient(cur)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export class RetryStore implements ObjectStore {
  readonly location: string;
  readonly locks: ObjectLocks | undefined;

  constructor(private readonly inner: ObjectStore, private readonly opts: RetryOptions) {
    this.location = inner.location;
    const l = inner.locks;
    this.locks = l && {
      mode: l.mode,
      minRetainDays: l.minRetainDays,
      retainUntil: (key) => this.run('retainUntil', key, () => l.retainUntil(key)),
      extend: (key, until, ifBefore) => this.run('extend', key, () => l.extend(key, until, ifBefore)),
    };
  }

  /** The backoff before attempt `attempt + 1`: exponential, capped, with jitter in its upper half. */
  delayFor(attempt: number): number {
    const cap = Math.min(this.opts.maxDelayMs ?? 20_000, this.opts.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(cap / 2 + (this.opts.random ?? Math.random)() * (cap / 2));
  }

  private async run<T>(op: string, key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= this.opts.attempts || !isTransient(err) || signal?.aborted || this.opts.signal?.aborted) throw err;
        await this.backoff(op, key, attempt, err, signal);
      }
    }
  }

  private async backoff(op: string, key: string, attempt: number, error: unknown, signal?: AbortSignal): Promise<void> {
    const delayMs = this.delayFor(attempt);
    this.opts.onRetry?.({ op, key, attempt, delayMs, error });
    await abortableSleep(delayMs, [signal, this.opts.signal]);
    if (signal?.aborted || this.opts.signal?.aborted) throw new InterruptedError(`${op} ${key} was interrupted while waiting to retry`, error);
  }

  put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    if (!Buffer.isBuffer(body)) return this.inner.put(key, body, opts);
    return this.run('put', key, () => this.inner.put(key, body, opts), opts.signal);
  }

  /**
   * Open a read that survives breaks: the opening is retried, and a stream
   * that errors part way with a transient error is re-opened at the byte it
   * reached (a ranged read) and continued, up to `attempts` times in all.
   */
  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const first = await this.run('get', key, () => this.inner.get(key, opts), opts.signal);
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    let offset = opts.start ?? 0;
    let breaks = 0;
    const follow = (src: Readable) => {
      src.on('data', (chunk: Buffer) => {
        offset += chunk.length;
        if (!out.write(chunk)) {
          src.pause();
          out.once('drain', () => src.resume());
        }
      });
      src.once('end', () => out.end());
      src.once('error', (err) => {
        breaks++;
        if (breaks >= this.opts.attempts || !isTransient(err) || opts.signal?.aborted || out.destroyed) {
          out.destroy(err);
          return;
        }
        this.backoff('get (resume)', key, breaks, err, opts.signal)
          .then(() => this.run('get', key, () => this.inner.get(key, { ...opts, start: offset }), opts.signal))
          .then(follow, (e: unknown) => out.destroy(e as Error));
      });
      out.once('close', () => {
        if (!src.destroyed) src.destroy();
      });
    };
    follow(first);
    return out;
  }

  head(key: string): Promise<ObjectInfo | undefined> {
    return this.run('head', key, () => this.inner.head(key));
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.run('list', prefix, () => this.inner.list(prefix));
  }

  delete(key: string): Promise<void> {
    return this.run('delete', key, () => this.inner.delete(key));
  }

  bucketStatus(): Promise<BucketLockStatus> {
    const inner = this.inner;
    if (!inner.bucketStatus) return Promise.reject(new Error(`internal error: ${this.location} has no bucket settings`));
    return this.run('bucketStatus', '', () => inner.bucketStatus!());
  }

  listIncomplete(prefix: string, olderThan: Date): Promise<IncompleteWrite[]> {
    return this.run('listIncomplete', prefix, () => this.inner.listIncomplete(prefix, olderThan));
  }

  removeIncomplete(write: IncompleteWrite): Promise<void> {
    return this.run('removeIncomplete', write.key, () => this.inner.removeIncomplete(write));
  }
}

/** Sleep, ending at once when any of the signals is (or becomes) aborted. */
export function abortableSleep(ms: number, signals: Array<AbortSignal | undefined>): Promise<void> {
  const live = signals.filter((s): s is AbortSignal => s !== undefined);
  if (live.some((s) => s.aborted)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      for (const s of live) s.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const s of live) s.addEventListener('abort', done, { once: true });
  });
}
