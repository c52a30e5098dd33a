/**
 * The S3 ObjectStore (`s3://bucket/prefix`), for AWS and S3-compatible stores.
 * Large objects go up as multipart uploads with bounded part buffers
 * (partSize x queueSize); an upload that fails or is aborted is aborted on the
 * server too, so no part of it becomes an object. Credentials come from the
 * standard AWS chain.
 *
 * Retries happen in one layer: RetryStore (retry.ts) retries every request
 * that can be replayed, so this store's requests make a single attempt. The
 * exception is a streamed upload, which cannot be replayed from above: its
 * parts go through a second client whose SDK retry (repository.retry.attempts)
 * retries each part, so a large upload is retried in bounded pieces.
 */
import { Readable, Transform } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  S3Client,
  type S3ClientConfig,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InterruptedError, NotFoundError, ObjectLockedError, StorageError } from '../errors.js';
import { SHORT_LOCK_DAYS, validateKey, validatePrefix, type BucketLockStatus, type GetOptions, type IncompleteWrite, type ObjectInfo, type ObjectLocks, type ObjectStore, type PutOptions } from './store.js';

const DAY_MS = 86_400_000;

/** Settings of an S3 store (from `repository.s3` in the config). */
export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  endpoint?: string | undefined;
  region: string;
  forcePathStyle: boolean;
  /** MiB per multipart part. */
  partSize: number;
  /** Parts in flight per upload. */
  queueSize: number;
  storageClass?: string | undefined;
  maxAttempts?: number;
  /** S3 Object Lock: every object is written locked, and deletions go by version id (see ObjectStore.delete). */
  objectLock?: { mode: 'GOVERNANCE' | 'COMPLIANCE'; minRetainDays: number } | undefined;
}

/** One version of a key, from ListObjectVersions. */
interface KeyVersion {
  versionId: string;
  deleteMarker: boolean;
  latest: boolean;
  size: number;
  lastModified: Date;
}

export class S3Store implements ObjectStore {
  readonly location: string;
  private readonly client: S3Client;
  /** For the parts of streamed uploads only: the SDK retries each part. */
  private readonly partClient: S3Client;
  private readonly prefix: string;
  readonly locks: ObjectLocks | undefined;

  constructor(private readonly opts: S3StoreOptions, client?: S3Client) {
    this.prefix = opts.prefix.replace(/^\/+|\/+$/g, '');
    this.location = `s3://${opts.bucket}${this.prefix ? `/${this.prefix}` : ''}`;
    const cfg: S3ClientConfig = {
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: 1,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    };
    this.client = client ?? new S3Client(cfg);
    this.partClient = client ?? new S3Client({ ...cfg, maxAttempts: opts.maxAttempts ?? 3 });
    this.locks = opts.objectLock && new S3Locks(this, opts.objectLock);
  }

  private full(key: string): string {
    validateKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private fullPrefix(prefix: string): string {
    validatePrefix(prefix);
    return this.prefix ? `${this.prefix}/${prefix}` : prefix;
  }

  private relative(fullKey: string): string {
    return this.prefix ? fullKey.slice(this.prefix.length + 1) : fullKey;
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    const full = this.full(key);
    let size = Buffer.isBuffer(body) ? body.length : 0;
    let source: Readable | Buffer = body;
    if (!Buffer.isBuffer(body)) {
      source = body.pipe(
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            size += chunk.length;
            opts.onProgress?.(size);
            cb(null, chunk);
          },
        }),
      );
      // pipe() does not forward errors: a failing producer must fail the upload.
      body.once('error', (err) => (source as Readable).destroy(err));
    }
    const upload = new Upload({
      // A buffer is replayed by RetryStore; a stream's parts are retried by the SDK.
      client: Buffer.isBuffer(body) ? this.client : this.partClient,
      params: {
        Bucket: this.opts.bucket,
        Key: full,
        Body: source,
        ...(this.opts.storageClass ? { StorageClass: this.opts.storageClass as StorageClass } : {}),
        // A bucket with Object Lock takes only uploads that carry a checksum.
        ...(this.opts.objectLock
          ? {
              ObjectLockMode: this.opts.objectLock.mode,
              ObjectLockRetainUntilDate: new Date(Date.now() + (opts.shortLock ? Math.min(SHORT_LOCK_DAYS, this.opts.objectLock.minRetainDays) : this.opts.objectLock.minRetainDays) * DAY_MS),
              ChecksumAlgorithm: 'CRC32' as const,
            }
          : {}),
      },
      // S3 allows 10000 parts: grow the part size for a very large object.
      partSize: Math.max(this.opts.partSize * 1024 * 1024, Math.ceil((opts.sizeHint ?? 0) / 9000)),
      queueSize: this.opts.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = () => void upload.abort().catch(() => undefined);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
      if (Buffer.isBuffer(body)) opts.onProgress?.(size);
      return { size };
    } catch (err) {
      if (!Buffer.isBuffer(source)) source.destroy();
      if (opts.signal?.aborted) throw new InterruptedError(`upload of ${key} was interrupted; nothing was stored`, err);
      throw new StorageError(`cannot write ${key} to ${this.location}: ${describe(err)}`, err, { key });
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const full = this.full(key);
    let versionId: string | undefined;
    for (;;) {
      try {
        const res = await this.client.send(
          new GetObjectCommand({ Bucket: this.opts.bucket, Key: full, ...(versionId ? { VersionId: versionId } : {}), ...(opts.start ? { Range: `bytes=${opts.start}-` } : {}) }),
          opts.signal ? { abortSignal: opts.signal } : {},
        );
        return res.Body as Readable;
      } catch (err) {
        if (statusOf(err) === 416) return Readable.from([]);
        // A delete marker over a locked version: read the version beneath.
        if (isNotFound(err) && !versionId && this.opts.objectLock) {
          versionId = (await this.beneathMarker(key))?.versionId;
          if (versionId) continue;
        }
        if (isNotFound(err)) throw new NotFoundError(`object ${key} does not exist in ${this.location}`, { key }, err);
        throw new StorageError(`cannot read ${key} from ${this.location}: ${describe(err)}`, err, { key });
      }
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const h = await this.headVersion(key);
    return h && { key, size: h.size, lastModified: h.lastModified, ...(h.hidden ? { hidden: true } : {}) };
  }

  /** HEAD of the version reads see (beneath a delete marker on a lock store), with its lock. */
  async headVersion(key: string, versionId?: string): Promise<{ size: number; lastModified: Date; versionId?: string | undefined; retainUntil?: Date | undefined; hidden: boolean } | undefined> {
    const full = this.full(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: full, ...(versionId ? { VersionId: versionId } : {}) }));
      return { size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0), versionId: res.VersionId, retainUntil: res.ObjectLockRetainUntilDate, hidden: false };
    } catch (err) {
      if (isNotFound(err)) {
        if (versionId || !this.opts.objectLock) return undefined;
        const beneath = await this.beneathMarker(key);
        const h = beneath && (await this.headVersion(key, beneath.versionId));
        return h && { ...h, hidden: true };
      }
      throw new StorageError(`cannot stat ${key} in ${this.location}: ${describe(err)}`, err, { key });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    if (this.opts.objectLock) return this.listThroughMarkers(prefix);
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    const fullPrefix = this.fullPrefix(prefix);
    do {
      let res;
      try {
        res = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: fullPrefix, ContinuationToken: token }));
      } catch (err) {
        throw new StorageError(`cannot list ${this.location}/${prefix}: ${describe(err)}`, err);
      }
      for (const o of res.Contents ?? []) {
        if (o.Key) out.push({ key: this.relative(o.Key), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return sortByKey(out);
  }

  /**
   * A lock store's listing: every key whose newest version is an object, and
   * every key whose newest version is a delete marker over an object version
   * (hidden: true); a key whose versions are all delete markers is gone.
   */
  private async listThroughMarkers(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for (const [key, versions] of await this.versions(prefix)) {
      const newest = versions[0];
      const data = versions.find((v) => !v.deleteMarker);
      if (!newest || !data) continue;
      out.push({ key, size: data.size, lastModified: data.lastModified, ...(newest.deleteMarker ? { hidden: true } : {}) });
    }
    return sortByKey(out);
  }

  /** Every version of every key under a prefix, newest first per key. */
  async versions(prefix: string, exactKey = false): Promise<Map<string, KeyVersion[]>> {
    const fullPrefix = exactKey ? this.full(prefix) : this.fullPrefix(prefix);
    const byKey = new Map<string, KeyVersion[]>();
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      let res;
      try {
        res = await this.client.send(new ListObjectVersionsCommand({ Bucket: this.opts.bucket, Prefix: fullPrefix, KeyMarker: keyMarker, VersionIdMarker: idMarker }));
      } catch (err) {
        throw new StorageError(`cannot list the versions in ${this.location}/${prefix}: ${describe(err)}; repository.s3.objectLock needs a bucket with versioning and Object Lock enabled: enable them on the bucket, or remove repository.s3.objectLock`, err);
      }
      const add = (k: string | undefined, v: KeyVersion) => {
        if (!k || (exactKey && k !== fullPrefix)) return;
        const key = this.relative(k);
        byKey.set(key, [...(byKey.get(key) ?? []), v]);
      };
      for (const v of res.Versions ?? []) add(v.Key, { versionId: v.VersionId ?? 'null', deleteMarker: false, latest: !!v.IsLatest, size: v.Size ?? 0, lastModified: v.LastModified ?? new Date(0) });
      for (const m of res.DeleteMarkers ?? []) add(m.Key, { versionId: m.VersionId ?? 'null', deleteMarker: true, latest: !!m.IsLatest, size: 0, lastModified: m.LastModified ?? new Date(0) });
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      idMarker = res.IsTruncated ? res.NextVersionIdMarker : undefined;
    } while (keyMarker);
    for (const list of byKey.values()) list.sort((a, b) => Number(b.latest) - Number(a.latest) || b.lastModified.getTime() - a.lastModified.getTime());
    return byKey;
  }

  /** The newest object version under a delete marker, when the key's newest version is a marker. */
  private async beneathMarker(key: string): Promise<KeyVersion | undefined> {
    const versions = (await this.versions(key, true)).get(key) ?? [];
    return versions[0]?.deleteMarker ? versions.find((v) => !v.deleteMarker) : undefined;
  }

  async delete(key: string): Promise<void> {
    const full = this.full(key);
    if (this.opts.objectLock) return this.deleteVersions(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: full }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw new StorageError(`cannot delete ${key} from ${this.location}: ${describe(err)}`, err, { key });
    }
  }

  /**
   * A lock store's delete: every version of the key (delete markers too) by
   * its id, so nothing is left hidden. Nothing is deleted while a version is
   * still locked: that is an ObjectLockedError naming the date.
   */
  private async deleteVersions(key: string): Promise<void> {
    const versions = (await this.versions(key, true)).get(key) ?? [];
    const now = Date.now();
    for (const v of versions.filter((x) => !x.deleteMarker)) {
      const until = (await this.headVersion(key, v.versionId))?.retainUntil;
      if (until && until.getTime() > now) {
        throw new ObjectLockedError(`${key} in ${this.location} is locked until ${until.toISOString()} (S3 Object Lock); it can be deleted after that`, { key, retainUntil: until.toISOString() });
      }
    }
    for (const v of versions) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.full(key), VersionId: v.versionId }));
      } catch (err) {
        if (isNotFound(err)) continue;
        if (statusOf(err) === 403) throw new ObjectLockedError(`${key} in ${this.location} cannot be deleted yet: ${describe(err)}`, { key }, err);
        throw new StorageError(`cannot delete ${key} from ${this.location}: ${describe(err)}`, err, { key });
      }
    }
  }

  /** Set a version's retain-until date (PutObjectRetention). */
  async setRetention(key: string, versionId: string | undefined, mode: 'GOVERNANCE' | 'COMPLIANCE', until: Date): Promise<void> {
    try {
      await this.client.send(new PutObjectRetentionCommand({ Bucket: this.opts.bucket, Key: this.full(key), ...(versionId ? { VersionId: versionId } : {}), Retention: { Mode: mode, RetainUntilDate: until }, ChecksumAlgorithm: 'CRC32' }));
    } catch (err) {
      throw new StorageError(`cannot extend the lock of ${key} in ${this.location}: ${describe(err)}`, err, { key });
    }
  }

  /** The bucket's versioning and Object Lock configuration. */
  async bucketStatus(): Promise<BucketLockStatus> {
    let versioning: string;
    try {
      versioning = (await this.client.send(new GetBucketVersioningCommand({ Bucket: this.opts.bucket }))).Status ?? 'Off';
    } catch (err) {
      // An S3-compatible store without versioning at all.
      if (statusOf(err) === 501 || (err as { name?: string }).name === 'NotImplemented') return { versioning: 'Off', objectLock: false };
      throw new StorageError(`cannot read the versioning of bucket ${this.opts.bucket}: ${describe(err)}`, err);
    }
    try {
      const c = (await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.opts.bucket }))).ObjectLockConfiguration;
      const d = c?.Rule?.DefaultRetention;
      return { versioning, objectLock: c?.ObjectLockEnabled === 'Enabled', ...(d?.Mode ? { defaultRetention: { mode: d.Mode, days: d.Days, years: d.Years } } : {}) };
    } catch (err) {
      if ((err as { name?: string }).name === 'ObjectLockConfigurationNotFoundError' || statusOf(err) === 404 || statusOf(err) === 501 || (err as { name?: string }).name === 'NotImplemented') return { versioning, objectLock: false };
      throw new StorageError(`cannot read the Object Lock configuration of bucket ${this.opts.bucket}: ${describe(err)}`, err);
    }
  }

  async listIncomplete(prefix: string, olderThan: Date): Promise<IncompleteWrite[]> {
    const out: IncompleteWrite[] = [];
    const fullPrefix = this.fullPrefix(prefix);
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      let res;
      try {
        res = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.opts.bucket, Prefix: fullPrefix, KeyMarker: keyMarker, UploadIdMarker: idMarker }),
        );
      } catch (err) {
        // Some S3-compatible stores do not implement this call; a bucket
        // lifecycle rule (AbortIncompleteMultipartUpload) covers them.
        if ((err as { name?: string }).name === 'NotImplemented' || statusOf(err) === 501) return [];
        throw new StorageError(`cannot list incomplete uploads in ${this.location}: ${describe(err)}`, err);
      }
      for (const u of res.Uploads ?? []) {
        if (u.Key && u.UploadId && u.Initiated && u.Initiated < olderThan) {
          out.push({ key: this.relative(u.Key), handle: u.UploadId, started: u.Initiated });
        }
      }
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      idMarker = res.IsTruncated ? res.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return out;
  }

  async removeIncomplete(write: IncompleteWrite): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key: this.full(write.key), UploadId: write.handle }));
    } catch (err) {
      if (!isNotFound(err)) throw new StorageError(`cannot abort upload of ${write.key}: ${describe(err)}`, err);
    }
  }

  /** Release sockets (tests and short-lived commands). */
  destroy(): void {
    this.client.destroy();
    this.partClient.destroy();
  }
}

/** The Object Lock operations of an S3Store configured with repository.s3.objectLock. */
class S3Locks implements ObjectLocks {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly minRetainDays: number;

  constructor(private readonly store: S3Store, o: { mode: 'GOVERNANCE' | 'COMPLIANCE'; minRetainDays: number }) {
    this.mode = o.mode;
    this.minRetainDays = o.minRetainDays;
  }

  async retainUntil(key: string): Promise<Date | undefined> {
    return (await this.store.headVersion(key))?.retainUntil;
  }

  async extend(key: string, until: Date, ifBefore: Date = until): Promise<'extended' | 'unchanged'> {
    const h = await this.store.headVersion(key);
    if (!h || (h.retainUntil && h.retainUntil.getTime() >= Math.min(ifBefore.getTime(), until.getTime()))) return 'unchanged';
    await this.store.setRetention(key, h.versionId, this.mode, until);
    return 'extended';
  }
}

function sortByKey(list: ObjectInfo[]): ObjectInfo[] {
  return list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload' || statusOf(err) === 404;
}

/** A message that says what the server said and what to do about it. */
export function describe(err: unknown): string {
  const name = (err as { name?: string })?.name ?? 'Error';
  const status = statusOf(err);
  const msg = (err as Error)?.message || name;
  const hints: Record<string, string> = {
    NoSuchBucket: 'the bucket does not exist: create it or fix repository.url',
    AccessDenied: 'the credentials are not allowed to do this: check the IAM policy and AWS_* credentials',
    InvalidAccessKeyId: 'the access key is unknown to the server: check AWS_ACCESS_KEY_ID',
    SignatureDoesNotMatch: 'the secret key is wrong: check AWS_SECRET_ACCESS_KEY',
    CredentialsProviderError: 'no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or an instance role',
    ECONNREFUSED: 'nothing listens at the endpoint: check repository.s3.endpoint',
  };
  const code = (err as { code?: string })?.code;
  const hint = hints[name] ?? (code ? hints[code] : undefined);
  return `${msg}${status ? ` (HTTP ${status})` : ''}${hint ? `; ${hint}` : ''}`;
}
