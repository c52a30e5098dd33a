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
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
  type StorageClass,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { InterruptedError, NotFoundError, StorageError } from '../errors.js';
import { validateKey, validatePrefix, type GetOptions, type IncompleteWrite, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

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
}

export class S3Store implements ObjectStore {
  readonly location: string;
  private readonly client: S3Client;
  /** For the parts of streamed uploads only: the SDK retries each part. */
  private readonly partClient: S3Client;
  private readonly prefix: string;

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
    try {
      const res = await this.client.send(
        new GetObjectCommand({ Bucket: this.opts.bucket, Key: full, ...(opts.start ? { Range: `bytes=${opts.start}-` } : {}) }),
        opts.signal ? { abortSignal: opts.signal } : {},
      );
      return res.Body as Readable;
    } catch (err) {
      if (isNotFound(err)) throw new NotFoundError(`object ${key} does not exist in ${this.location}`, { key }, err);
      if (statusOf(err) === 416) return Readable.from([]);
      throw new StorageError(`cannot read ${key} from ${this.location}: ${describe(err)}`, err, { key });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const full = this.full(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: full }));
      return { key, size: res.ContentLength ?? 0, lastModified: res.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new StorageError(`cannot stat ${key} in ${this.location}: ${describe(err)}`, err, { key });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
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
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const full = this.full(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: full }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw new StorageError(`cannot delete ${key} from ${this.location}: ${describe(err)}`, err, { key });
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
