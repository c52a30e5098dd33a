/**
 * raw stream -> zstd -> [age] -> sha256 -> ObjectStore.put, with
 * backpressure end to end (every hop is a pipe or a stream pipeline, so a
 * slow upload slows the dump instead of filling memory). If any stage fails,
 * the put is aborted: a truncated object is never stored, even when a dying
 * producer makes zstd see a clean end of input.
 */
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InterruptedError, asBacktrackError } from '../errors.js';
import type { ObjectWriter } from '../storage/store.js';
import { createHash } from 'node:crypto';
import { readAll } from '../storage/util.js';
import { compressor, encryptor, hasher, type CodecOptions } from './stages.js';
import type { ToolProcess } from './spawn.js';
import { stageFailure } from './failure.js';

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
  /** Expected stored size (an upper bound is fine). */
  sizeHint?: number | undefined;
  /**
   * Hold the encoded object in memory up to this many bytes: an object that
   * ends within it is stored as a buffer, which the retry layer can send
   * again (a stream cannot be); a larger one goes up as a stream.
   */
  bufferUpTo?: number | undefined;
  /** A short-lived object (PutOptions.shortLock). */
  shortLock?: boolean | undefined;
}

/** Compress (and encrypt) a raw stream into the store under `key`. */
export async function uploadCompressed(raw: Readable, store: ObjectWriter, key: string, opts: UploadOptions): Promise<StoredObject> {
  let rawSize = 0;
  const counter = new Transform({
    highWaterMark: 1024 * 1024,
    transform(chunk: Buffer, _e, cb) {
      rawSize += chunk.length;
      opts.onRawBytes?.(rawSize);
      cb(null, chunk);
    },
  });
  const ac = new AbortController();
  const zstd = compressor({ ...opts.codec, signal: ac.signal });
  const feed = pipeline(raw, counter, zstd.stdin);
  feed.catch(() => undefined);
  try {
    const stored = await uploadEncoded(zstd.stdout, store, key, { ...opts, stages: [feed, zstd.done] });
    return { ...stored, rawSize };
  } catch (err) {
    ac.abort();
    throw err;
  }
}

/**
 * Store an already-compressed stream: [age] -> sha256 -> put. `stages` are
 * the promises of whatever produces the stream; if any rejects, the put is
 * aborted and nothing is stored under `key`.
 */
export async function uploadEncoded(
  compressed: Readable,
  store: ObjectWriter,
  key: string,
  opts: Omit<UploadOptions, 'onRawBytes'> & { stages?: Array<Promise<unknown>> },
): Promise<Omit<StoredObject, 'rawSize'> & { rawSize: number }> {
  // On failure, stop the producer too: a compressor nobody reads any more would block forever.
  const f = stageFailure(opts.signal, () => compressed.destroy());
  const fail = f.fail;
  const age = opts.codec.age ? encryptor(opts.codec.age, f.signal) : undefined;
  const hash = hasher();
  const middle = age ? pipeline(compressed, age.stdin).catch(fail) : Promise.resolve();
  const out = age ? age.stdout : compressed;
  out.on('error', fail);
  const hashed = out.pipe(hash.stream);
  const put = (async () => {
    let body: Readable | Buffer = hashed;
    if (opts.bufferUpTo) {
      const head = await bufferUpTo(hashed, opts.bufferUpTo, f.signal);
      if (head.ended) body = Buffer.concat(head.chunks);
      else {
        const rest = new PassThrough({ highWaterMark: 1024 * 1024 });
        for (const c of head.chunks) rest.write(c);
        hashed.pipe(rest);
        hashed.once('error', (err) => rest.destroy(err));
        body = rest;
      }
    }
    return store.put(key, body, { signal: f.signal, sizeHint: opts.sizeHint, ...(opts.shortLock ? { shortLock: true } : {}) });
  })().catch((err: unknown) => {
    fail(err);
    return undefined;
  });
  try {
    const [stored] = await Promise.all([put, middle, ...(opts.stages ?? []).map((p) => p.catch(fail)), age?.done.catch(fail)]);
    if (f.first !== undefined || !stored) throw f.first ?? new Error(`upload of ${key} failed`);
    const h = hash.result();
    return { key, size: stored.size, sha256: h.sha256, rawSize: 0 };
  } catch (err) {
    if (opts.signal?.aborted) throw new InterruptedError(`writing ${key} was interrupted; nothing was committed`, err);
    throw asBacktrackError(f.first ?? err);
  } finally {
    f.dispose();
  }
}

/**
 * Read a stream until it ends or `limit` bytes have come (then it is paused,
 * the rest unread). Settles also when the upload stops (`signal`) or the
 * stream closes without an end: a producer destroyed upstream never ends it.
 */
function bufferUpTo(stream: Readable, limit: number, signal: AbortSignal): Promise<{ chunks: Buffer[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      cleanup();
      reject(signal.reason instanceof Error ? signal.reason : new Error('the upload stopped'));
    };
    const onClose = () => {
      cleanup();
      reject(new Error('the object stream closed before its end'));
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    stream.once('close', onClose);
    const onData = (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= limit) {
        cleanup();
        stream.pause();
        resolve({ chunks, ended: false });
      }
    };
    const onEnd = () => {
      cleanup();
      resolve({ chunks, ended: true });
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

/**
 * Compress (and encrypt) a small in-memory object and store it as a buffer:
 * unlike a stream, a buffer can be sent again, so the retry layer retries
 * this put whole (the accounts object of a backup).
 */
export async function uploadSmall(raw: Buffer, store: ObjectWriter, key: string, opts: Pick<UploadOptions, 'codec' | 'signal'>): Promise<StoredObject> {
  let encoded = await through(compressor({ ...opts.codec, signal: opts.signal }), raw);
  if (opts.codec.age) encoded = await through(encryptor(opts.codec.age, opts.signal), encoded);
  const { size } = await store.put(key, encoded, opts.signal ? { signal: opts.signal } : {});
  return { key, size, sha256: createHash('sha256').update(encoded).digest('hex'), rawSize: raw.length };
}

/** Feed a buffer through a tool and collect its output (small objects only). */
async function through(tool: ToolProcess, input: Buffer): Promise<Buffer> {
  tool.stdin.end(input);
  const out = readAll(tool.stdout, 'encoded object');
  const [bytes] = await Promise.all([out, tool.done]);
  return bytes;
}
