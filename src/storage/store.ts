/**
 * The ObjectStore interface: the only way Backtrack touches a repository.
 * Implementations: `fs.ts` (a local directory, the embedded default) and
 * `s3.ts` (S3 and S3-compatible stores). Retry is a wrapper (`retry.ts`) that
 * implements this same interface; so is the fault injector used by tests.
 * Every implementation must pass the shared suite in
 * test/integration/storage/suite.ts.
 *
 * Keys are relative, '/'-separated paths ("main/backups/ID/manifest.json"):
 * no leading '/', no empty, '.' or '..' segments. `validateKey` enforces it.
 */
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';

/** What a listing or head returns about one committed object. */
export interface ObjectInfo {
  key: string;
  /** Size in bytes of the stored object. */
  size: number;
  lastModified: Date;
  /**
   * A delete marker hides this object (S3 with Object Lock): someone deleted
   * it with the repository's credentials, and the store reads the locked
   * version beneath. Never set by Backtrack's own deletions, which remove
   * versions by id.
   */
  hidden?: boolean;
}

/** Leftovers of writes that never completed (temp files, multipart uploads). */
export interface IncompleteWrite {
  key: string;
  /** Implementation-specific handle (temp path, multipart UploadId). */
  handle: string;
  started: Date;
}

/** Options for put. */
export interface PutOptions {
  /** Aborting rejects the put with InterruptedError and leaves nothing visible. */
  signal?: AbortSignal;
  /** Called with the running count of bytes accepted from the body. */
  onProgress?: (bytes: number) => void;
  /** The expected size, when known (lets S3 pick a part size that fits 10000 parts). */
  sizeHint?: number | undefined;
  /**
   * A short-lived object (a binlog piece, a deletion marker): a store with
   * Object Lock locks it for SHORT_LOCK_DAYS instead of minRetainDays; what
   * replaces it carries the long lock.
   */
  shortLock?: boolean;
}

/** Days a short-lived object stays locked (PutOptions.shortLock). */
export const SHORT_LOCK_DAYS = 1;

/** S3 Object Lock operations of a store that locks what it writes. */
export interface ObjectLocks {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly minRetainDays: number;
  /** The retain-until date of the version reads see, or undefined when it has none (or there is no object). */
  retainUntil(key: string): Promise<Date | undefined>;
  /**
   * Lock that version until `until` when its lock runs out before `ifBefore`
   * (default `until`: whenever it is shorter); never shortens a lock.
   */
  extend(key: string, until: Date, ifBefore?: Date): Promise<'extended' | 'unchanged'>;
}

export interface BucketLockStatus {
  /** 'Enabled', 'Suspended' or 'Off' (never enabled). */
  versioning: string;
  objectLock: boolean;
  /** The bucket's default retention, when it has one. */
  defaultRetention?: { mode: string; days?: number | undefined; years?: number | undefined } | undefined;
}

/** Options for get. */
export interface GetOptions {
  signal?: AbortSignal;
  /** Read from this byte offset (inclusive) to the end. */
  start?: number;
}

export interface ObjectStore {
  /** Where this store points, without credentials (for messages and audit). */
  readonly location: string;

  /**
   * Store `body` under `key`, streaming: memory use is bounded by the
   * implementation's buffer settings, not by the object's size.
   * Visibility is atomic: until the promise resolves, readers see the previous
   * object under `key` (or none); after it resolves, the whole new object.
   * Overwriting an existing key is allowed (last writer wins).
   * On any failure (body stream error, network, disk full, abort) the promise
   * rejects, nothing new becomes visible under `key`, and the implementation
   * removes its temporary state; whatever a crash leaves behind is reported
   * by `listIncomplete` and never by `list`/`head`/`get`.
   * A Buffer body may be retried by wrappers; a stream body cannot.
   */
  put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<{ size: number }>;

  /**
   * Open a stream of the object's bytes. Rejects with NotFoundError when the
   * key does not exist (checked before resolving, never as a stream error).
   * Errors after that (network cut mid-read) surface as stream errors.
   */
  get(key: string, opts?: GetOptions): Promise<Readable>;

  /** The object's info, or undefined when it does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;

  /**
   * Every committed object whose key starts with `prefix` (a plain string
   * prefix, not a directory), sorted by key. Incomplete writes never appear.
   */
  list(prefix: string): Promise<ObjectInfo[]>;

  /**
   * Delete the object. Idempotent: deleting a missing key succeeds. A store
   * with Object Lock deletes every version of the key by its id (no delete
   * marker is left) and rejects with ObjectLockedError, having deleted
   * nothing, while a version is locked.
   */
  delete(key: string): Promise<void>;

  /** Object Lock operations; undefined on a store that does not lock what it writes. */
  readonly locks?: ObjectLocks | undefined;

  /** The bucket's versioning and Object Lock settings (S3 only; for check). */
  bucketStatus?(): Promise<BucketLockStatus>;

  /** Incomplete writes under `prefix` that started before `olderThan`. */
  listIncomplete(prefix: string, olderThan: Date): Promise<IncompleteWrite[]>;

  /** Remove one incomplete write. Idempotent. */
  removeIncomplete(write: IncompleteWrite): Promise<void>;
}

/** Only part of a store: what a flow that reads (or writes) objects needs. */
export type ObjectReader = Pick<ObjectStore, 'location' | 'get' | 'head'>;
export type ObjectWriter = Pick<ObjectStore, 'location' | 'put'>;

/** Where an object is, for messages: the store's location and the key (s3://bucket/prefix/main/backups/ID/data.sql.zst). */
export function objectUrl(store: { location: string }, key: string): string {
  return `${store.location}/${key}`;
}

function badSegments(segments: string[]): boolean {
  return segments.some((seg) => seg === '' || seg === '.' || seg === '..' || seg.startsWith('.tmp-'));
}

function badChars(s: string): boolean {
  return s.startsWith('/') || s.includes('\\') || s.includes('\0');
}

/** Reject keys that could escape the store's root or collide with temp names. */
export function validateKey(key: string): string {
  if (key.length === 0 || badChars(key) || badSegments(key.split('/'))) {
    throw new UsageError(`invalid object key "${key}": keys are relative '/'-separated paths without empty, '.', '..' or '.tmp-' segments`);
  }
  return key;
}

/**
 * Reject listing prefixes that could leave the store's root: the same rules
 * as keys, except that a prefix may be empty, end with '/', or end part way
 * through a segment ("main/backups/2026").
 */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const segments = prefix.split('/');
  const last = segments[segments.length - 1];
  if (badChars(prefix) || badSegments(segments.slice(0, -1)) || last === '..' || last === '.') {
    throw new UsageError(`invalid listing prefix "${prefix}": prefixes are relative '/'-separated paths without empty, '.' or '..' segments`);
  }
  return prefix;
}
