/**
 * ObjectStore.get -> sha256 check -> [age -d] -> zstd -d -> a sink (the SQL
 * client's stdin, a file). The sha256 of the stored bytes is compared with
 * the manifest's when the object has been read to the end; a mismatch fails
 * with ChecksumError naming the object. zstd's own frame checksum usually
 * stops a damaged object even earlier, and that too names the object.
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChecksumError, InterruptedError, NotFoundError, ToolError, asBacktrackError } from '../errors.js';
import { objectUrl, type ObjectReader } from '../storage/store.js';
import { decompressor, decryptor, hasher, type CodecOptions } from './stages.js';
import { spawnLinked, type StageSpec } from './linked.js';
import { stageFailure } from './failure.js';

/** What the stored object must be. */
export interface ExpectedObject {
  key: string;
  size: number;
  sha256: string;
  encrypted: boolean;
}

export interface DownloadOptions {
  codec: Pick<CodecOptions, 'zstd' | 'age'>;
  signal?: AbortSignal | undefined;
  /** Running count of stored bytes read. */
  onBytes?: (n: number) => void;
  /** End the sink when done (default true). */
  endSink?: boolean;
}

/** Stream an object, decoded, into `sink`, checking its sha256 and size. */
export async function downloadDecompressed(store: ObjectReader, obj: ExpectedObject, sink: Writable, opts: DownloadOptions): Promise<{ rawBytes: number }> {
  const f = stageFailure(opts.signal);
  const fail = f.fail;
  let rawBytes = 0;
  try {
    const input = await openObject(store, obj.key, f.signal);
    const hash = hasher(opts.onBytes);
    const age = obj.encrypted ? decryptor(requireAge(opts.codec.age), f.signal) : undefined;
    const zstd = decompressor({ zstd: opts.codec.zstd, signal: f.signal });
    const toZstd = age ? pipeline(input, hash.stream, age.stdin).then(() => pipeline(age.stdout, zstd.stdin)) : pipeline(input, hash.stream, zstd.stdin);
    zstd.stdout.on('data', (c: Buffer) => (rawBytes += c.length));
    const toSink = pipeline(zstd.stdout, sink, { end: opts.endSink ?? true });
    await Promise.all([toZstd.catch(fail), toSink.catch(fail), zstd.done.catch(fail), age?.done.catch(fail)]);
    if (f.first !== undefined) throw f.first;
    const h = hash.result();
    if (h.sha256 !== obj.sha256 || h.bytes !== obj.size) throw mismatch(store, obj, h);
    return { rawBytes };
  } catch (err) {
    if (opts.signal?.aborted) throw new InterruptedError(`reading ${objectUrl(store, obj.key)} was interrupted`, err);
    if (err instanceof ToolError && /zstd/.test(err.message)) {
      throw new ChecksumError(`object ${objectUrl(store, obj.key)} is damaged: ${err.message}; this backup cannot be restored as stored`, { key: obj.key });
    }
    throw asBacktrackError(err);
  } finally {
    f.dispose();
  }
}

function mismatch(store: ObjectReader, obj: ExpectedObject, got: { sha256: string; bytes: number }): ChecksumError {
  return new ChecksumError(
    `object ${objectUrl(store, obj.key)} does not match its manifest: expected ${obj.size} bytes with sha256 ${obj.sha256}, read ${got.bytes} bytes with sha256 ${got.sha256}`,
    { key: obj.key, expectedSha256: obj.sha256, actualSha256: got.sha256, expectedSize: obj.size, actualSize: got.bytes },
  );
}

function requireAge(age: CodecOptions['age']): NonNullable<CodecOptions['age']> {
  if (!age) throw new ToolError('this object is encrypted (.age) but repository.encryption is not configured; set recipientsFile and identityFile');
  if (!age.identityFile) throw new ToolError('repository.encryption.identityFile is required to read encrypted objects');
  return age;
}

/** Open an object of a backup; a missing one says the backup cannot be restored. */
async function openObject(store: ObjectReader, key: string, signal: AbortSignal) {
  try {
    return await store.get(key, { signal });
  } catch (err) {
    if (err instanceof NotFoundError) throw new NotFoundError(`object ${objectUrl(store, key)} is missing from the repository; this backup cannot be restored`, { key });
    throw err;
  }
}

/** Copy an object's stored bytes into `sink` (not ended), checking its sha256 and size. */
export async function fetchVerified(store: ObjectReader, obj: Omit<ExpectedObject, 'encrypted'>, sink: Writable, signal?: AbortSignal): Promise<void> {
  const hash = hasher();
  const input = await store.get(obj.key, signal ? { signal } : {});
  await pipeline(input, hash.stream, sink, { end: false });
  const h = hash.result();
  if (h.sha256 !== obj.sha256 || h.bytes !== obj.size) throw mismatch(store, { ...obj, encrypted: false }, h);
}

/** A program that consumes the decoded bytes (the SQL client). */
export interface Consumer {
  command: string;
  args: string[];
  label: string;
  installHint?: string;
  /** File descriptors it inherits from fd 3 on (client credentials). */
  fds?: number[];
  /** Called with the consumer's stdout (to read warnings). */
  onStdout?: (stdout: NodeJS.ReadableStream) => void;
}

/**
 * Stream an object, decoded, into a program: ObjectStore.get -> sha256 (in
 * Node) -> [age -d] -> zstd -d -> consumer, the last hops linked by file
 * descriptors so the decoded bytes never pass through Node. The consumer's
 * own failure (an SQL error) is reported as such; zstd's or age's as a
 * damaged object; a sha256 or size mismatch as ChecksumError.
 */
export async function downloadInto(store: ObjectReader, obj: ExpectedObject, consumer: Consumer, opts: Omit<DownloadOptions, 'endSink'>): Promise<void> {
  const f = stageFailure(opts.signal);
  try {
    const stages: StageSpec[] = [];
    if (obj.encrypted) {
      const age = requireAge(opts.codec.age);
      stages.push({ command: age.binary, args: ['-d', '-i', age.identityFile as string], label: 'age -d' });
    }
    stages.push({ command: opts.codec.zstd, args: ['-q', '-d', '-c'], label: 'zstd -d', installHint: 'install zstd (apt-get install zstd)' });
    stages.push(consumer);
    const input = await openObject(store, obj.key, f.signal);
    const chain = spawnLinked(stages, f.signal);
    if (consumer.onStdout) consumer.onStdout(chain.stdout);
    else chain.stdout.resume();
    const hash = hasher(opts.onBytes);
    const feed = pipeline(input, hash.stream, chain.stdin).then(
      () => undefined,
      (err: unknown) => err,
    );
    const results = await Promise.all([feed, ...chain.exits.map((p) => p.then(() => undefined, (e: unknown) => e))]);
    const [feedErr, ...stageErrs] = results;
    const consumerErr = stageErrs[stageErrs.length - 1];
    // A decoder that died writing into a consumer that had already failed (SIGPIPE, EPIPE) is the consumer's failure, not damage.
    const brokenPipe = (e: unknown) => /SIGPIPE|Broken pipe|EPIPE|write error/i.test(String((e as Error)?.message ?? e));
    const decodeErr = stageErrs.slice(0, -1).find((e) => e !== undefined && !(consumerErr !== undefined && brokenPipe(e)));
    if (opts.signal?.aborted) throw new InterruptedError(`reading ${objectUrl(store, obj.key)} was interrupted`, feedErr ?? decodeErr ?? consumerErr);
    if (decodeErr) throw new ChecksumError(`object ${objectUrl(store, obj.key)} is damaged: ${(decodeErr as Error).message}; this backup cannot be restored as stored`, { key: obj.key });
    if (!feedErr) {
      const h = hash.result();
      if (h.sha256 !== obj.sha256 || h.bytes !== obj.size) throw mismatch(store, obj, h);
    }
    if (consumerErr) throw asBacktrackError(consumerErr);
    if (feedErr) throw asBacktrackError(feedErr);
  } finally {
    f.dispose();
  }
}
