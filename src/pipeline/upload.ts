/**
 * raw stream -> zstd -> [age] -> sha256 -> ObjectStore.put, with
 * backpressure end to end (every hop is a pipe or a stream pipeline, so a
 * slow upload slows the dump instead of filling memory). If any stage fails,
 * the put is aborted: a truncated object is never stored, even when a dying
 * producer makes zstd see a clean end of input.
 */
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InterruptedError, asBacktrackError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import { compressor, encryptor, hasher, type CodecOptions } from './stages.js';
import type { ToolProcess } from './spawn.js';

/** What was stored. */
export interface StoredObject {
  key: string;
  /** Bytes stored. */
  size: number;
  /** sha256 of the stored bytes. */
  sha256: string;
  /** Bytes before compression. */
  rawSize: number;
}

/** Options for one upload. */
export interface UploadOptions {
  codec: CodecOptions;
  signal?: AbortSignal | undefined;
  /** Running count of raw (uncompressed) bytes consumed. */
  onRawBytes?: (n: number) => void;
}

/** Compress (and encrypt) a raw stream into the store under `key`. */
export async function uploadCompressed(raw: Readable, store: ObjectStore, key: string, opts: UploadOptions): Promise<StoredObject> {
  const ac = new AbortController();
  const onOuterAbort = () => ac.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let firstError: unknown;
  const fail = (err: unknown) => {
    firstError ??= err;
    ac.abort(err);
  };

  let rawSize = 0;
  const counter = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _e, cb) {
      rawSize += chunk.length;
      opts.onRawBytes?.(rawSize);
      cb(null, chunk);
    },
  });
  const zstd = compressor({ ...opts.codec, signal: ac.signal });
  const age = opts.codec.age ? encryptor(opts.codec.age, ac.signal) : undefined;
  const hash = hasher();
  const tools: ToolProcess[] = age ? [zstd, age] : [zstd];

  const feed = pipeline(raw, counter, zstd.stdin).catch(fail);
  const middle = age ? pipeline(zstd.stdout, age.stdin).catch(fail) : Promise.resolve();
  const out = (age ?? zstd).stdout;
  out.on('error', fail);
  const put = store.put(key, out.pipe(hash.stream), { signal: ac.signal }).catch((err: unknown) => {
    fail(err);
    return undefined;
  });
  try {
    const [stored] = await Promise.all([put, feed, middle, ...tools.map((t) => t.done.catch(fail))]);
    if (firstError !== undefined || !stored) throw firstError ?? new Error(`upload of ${key} failed`);
    const h = hash.result();
    return { key, size: stored.size, sha256: h.sha256, rawSize };
  } catch (err) {
    if (opts.signal?.aborted) throw new InterruptedError(`writing ${key} was interrupted; nothing was committed`, err);
    throw preferRootCause(firstError ?? err);
  } finally {
    opts.signal?.removeEventListener('abort', onOuterAbort);
  }
}

/** The first failure is the cause; the aborts it triggered downstream are noise. */
function preferRootCause(err: unknown): Error {
  return asBacktrackError(err);
}
