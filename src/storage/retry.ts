/**
 * Retry as a wrapper: an ObjectStore that retries transient failures of the
 * store it wraps, with exponential backoff and full jitter. It retries every
 * call that can be repeated safely: reads, listings, deletes (idempotent) and
 * puts of in-memory bodies. A streamed put cannot be replayed, so it is not
 * retried here; the S3 SDK retries each multipart part on its own.
 */
import type { Readable } from 'node:stream';
import { BacktrackError } from '../errors.js';
import type { GetOptions, IncompleteWrite, ObjectInfo, ObjectStore, PutOptions } from './store.js';

/** How hard to try. */
export interface RetryOptions {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs?: number;
  /** Called before each retry (for logging and metrics). */
  onRetry?: (info: { op: string; key: string; attempt: number; delayMs: number; error: unknown }) => void;
}

const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EBUSY', 'EAGAIN']);
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

export class RetryStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly inner: ObjectStore, private readonly opts: RetryOptions) {
    this.location = inner.location;
  }

  private async run<T>(op: string, key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= this.opts.attempts || !isTransient(err) || signal?.aborted) throw err;
        const cap = Math.min(this.opts.maxDelayMs ?? 20_000, this.opts.baseDelayMs * 2 ** (attempt - 1));
        const delayMs = Math.round(cap / 2 + Math.random() * (cap / 2));
        this.opts.onRetry?.({ op, key, attempt, delayMs, error: err });
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    if (!Buffer.isBuffer(body)) return this.inner.put(key, body, opts);
    return this.run('put', key, () => this.inner.put(key, body, opts), opts.signal);
  }

  get(key: string, opts: GetOptions = {}): Promise<Readable> {
    return this.run('get', key, () => this.inner.get(key, opts), opts.signal);
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

  listIncomplete(prefix: string, olderThan: Date): Promise<IncompleteWrite[]> {
    return this.run('listIncomplete', prefix, () => this.inner.listIncomplete(prefix, olderThan));
  }

  removeIncomplete(write: IncompleteWrite): Promise<void> {
    return this.run('removeIncomplete', write.key, () => this.inner.removeIncomplete(write));
  }
}
