/**
 * Reading archived binlog files back: the raw bytes of one file, in order,
 * streamed from the segments that cover it (chain.ts), without ever
 * assembling the file on disk. Each segment is fetched into the work
 * directory (compressed, so small), its size and sha256 checked against its
 * sidecar before any of its bytes are used, then decoded (age, zstd) as a
 * stream and removed; the next segment is fetched while one is decoded.
 * Local disk use is therefore about two compressed segments, whatever the
 * length of the range.
 *
 * Where two segments overlap (two writers once archived the same bytes),
 * the overlapping bytes of the later one are compared with the earlier
 * one's and skipped; if they differ, that is real damage, and the error
 * names both segments.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { ChecksumError, NotFoundError, ToolError, asBacktrackError } from '../errors.js';
import { segmentKey } from '../repository/repository.js';
import type { Sidecar } from '../repository/sidecar.js';
import { hasher, type CodecOptions } from '../pipeline/stages.js';
import { spawnLinked, type StageSpec } from '../pipeline/linked.js';
import { objectUrl, type ObjectReader } from '../storage/store.js';
import type { ChainFile } from './chain.js';

/** Where segments come from and where they are staged. */
export interface SegmentSource {
  /** The source's binlog objects (Repository.binlogObjects). */
  store: ObjectReader;
  codec: Pick<CodecOptions, 'zstd' | 'age'>;
  /** A private directory for the segments being read. */
  workDir: string;
  signal?: AbortSignal | undefined;
  /** Called with the stored bytes of each segment fetched (dry-run and bench accounting). */
  onFetched?: (bytes: number, segment: Sidecar) => void;
  /**
   * The file's cover as the repository holds it now. The archiver replaces
   * pieces by folded pieces and by the whole file, then deletes them: a
   * reader that listed a piece a moment before can find it gone, and reads
   * on from the segments that replaced it.
   */
  reload?: ((seg: Sidecar) => Promise<ChainFile | undefined>) | undefined;
}

/** A piece that was there when the chain was read, and is gone now (replaced by a fold or the whole file). */
export class SegmentGoneError extends NotFoundError {
  constructor(message: string, readonly segment: Sidecar) {
    super(message, { key: segmentKey(segment) });
  }
}

/**
 * Where to read on after a piece vanished: the file's cover now, which must
 * reach `from` (the bytes already read stay as they were).
 */
export async function replacementCover(src: SegmentSource, gone: SegmentGoneError, from: number): Promise<ChainFile> {
  const fresh = await src.reload?.(gone.segment);
  if (!fresh || !fresh.segments.some((x) => x.start <= from && x.end > from)) throw gone;
  return fresh;
}

/** The largest overlap between two segments that is compared in memory. */
const MAX_OVERLAP = 256 * 1024 * 1024;

/** A segment's name in messages: its location and the byte range of the file it holds. */
export function describeSegment(store: ObjectReader, s: Sidecar): string {
  return `binlog segment ${objectUrl(store, segmentKey(s))} (${s.file} bytes ${s.start}..${s.end})`;
}

/**
 * The raw bytes [from, to) of an archived file, in order. `from` must be 0
 * or lie inside the cover; the generator's `return()` (a `break` in the
 * consumer) stops every decoder and removes the staged segments.
 */
export async function* fileBytes(src: SegmentSource, f: ChainFile, from = 0, to = f.end): AsyncGenerator<Buffer> {
  let pos = from;
  let chain = f;
  for (let attempt = 0; ; attempt++) {
    try {
      for await (const chunk of fileBytesOnce(src, chain, pos, to)) {
        pos += chunk.length;
        yield chunk;
      }
      return;
    } catch (err) {
      // A piece replaced meanwhile: read on, from where we are, in what replaced it.
      if (!(err instanceof SegmentGoneError) || attempt >= 3) throw err;
      chain = await replacementCover(src, err, pos);
    }
  }
}

async function* fileBytesOnce(src: SegmentSource, f: ChainFile, from: number, to: number): AsyncGenerator<Buffer> {
  const segs = f.segments.filter((s) => s.end > from && s.start < to);
  if (segs.length === 0) return;
  const first = segs[0] as Sidecar;
  if (first.start > from) throw new NotFoundError(`bytes ${from}..${first.start} of binlog ${f.file} are not in the repository; it cannot be read from ${from}`, { file: f.file });
  await mkdir(src.workDir, { recursive: true });
  let next: Promise<string> | undefined = fetchSegment(src, first);
  next.catch(() => undefined);
  let pos = from;
  let tail: { from: number; chunks: Buffer[] } | undefined;
  try {
    for (const [i, seg] of segs.entries()) {
      const local = await (next as Promise<string>);
      const after = segs[i + 1];
      // Fetch the next segment while this one is decoded.
      next = after ? fetchSegment(src, after) : undefined;
      next?.catch(() => undefined);
      if (seg.start > pos) throw new NotFoundError(`bytes ${pos}..${seg.start} of binlog ${f.file} are not in the repository`, { file: f.file });
      // Keep what the next segment will overlap, to compare it there.
      const keepFrom = after && after.start < seg.end ? after.start : undefined;
      if (keepFrom !== undefined && seg.end - keepFrom > MAX_OVERLAP) {
        throw new ChecksumError(`${describeSegment(src.store, after!)} overlaps ${describeSegment(src.store, seg)} by ${seg.end - keepFrom} bytes, more than can be compared; remove one of them after checking which is right`, { file: f.file });
      }
      const overlap = tail;
      const kept: Buffer[] = [];
      let at = seg.start;
      try {
        for await (const chunk of decode(src, seg, local)) {
          const buf = chunk as Buffer;
          const chunkEnd = at + buf.length;
          if (overlap && at < pos) compareOverlap(src, overlap, buf, at, pos, segs[i - 1] as Sidecar, seg);
          if (keepFrom !== undefined && chunkEnd > keepFrom) kept.push(buf.subarray(Math.max(0, keepFrom - at)));
          const lo = Math.max(at, pos);
          const hi = Math.min(chunkEnd, to);
          if (hi > lo) {
            yield buf.subarray(lo - at, hi - at);
            pos = hi;
          }
          at = chunkEnd;
          if (at >= to && keepFrom === undefined) break;
        }
      } finally {
        await rm(local, { force: true });
      }
      if (at < Math.min(seg.end, to)) throw new ChecksumError(`${describeSegment(src.store, seg)} decodes to ${at - seg.start} bytes, its sidecar says ${seg.end - seg.start}; it is damaged`, { file: f.file });
      tail = keepFrom !== undefined ? { from: keepFrom, chunks: kept } : undefined;
      if (pos >= to) return;
    }
  } finally {
    // A segment fetched ahead and never used.
    if (next) await next.then((p) => rm(p, { force: true }), () => undefined);
  }
}

/** The overlapping bytes of `seg` (this chunk's part of them) must equal what `prev` held there. */
function compareOverlap(src: SegmentSource, tail: { from: number; chunks: Buffer[] }, chunk: Buffer, at: number, pos: number, prev: Sidecar, seg: Sidecar): void {
  const upto = Math.min(at + chunk.length, pos);
  const held = Buffer.concat(tail.chunks);
  const mine = chunk.subarray(0, upto - at);
  const theirs = held.subarray(at - tail.from, upto - tail.from);
  if (!mine.equals(theirs)) {
    throw new ChecksumError(
      `${describeSegment(src.store, seg)} and ${describeSegment(src.store, prev)} overlap at bytes ${seg.start}..${prev.end} but hold different bytes there: the repository is damaged (two writers wrote different data for one file); neither is used past the overlap`,
      { file: seg.file },
    );
  }
}

/** Fetch one segment into the work directory, checking its size and sha256; returns the local path. */
export async function fetchSegment(src: SegmentSource, seg: Sidecar): Promise<string> {
  const local = path.join(src.workDir, `seg-${randomBytes(6).toString('hex')}`);
  const hash = hasher();
  try {
    let input: Readable;
    try {
      input = await src.store.get(segmentKey(seg), src.signal ? { signal: src.signal } : {});
    } catch (err) {
      if (err instanceof NotFoundError) {
        const message = `${describeSegment(src.store, seg)} is missing from the repository`;
        if (seg.kind === 'piece' && src.reload) throw new SegmentGoneError(message, seg);
        throw new NotFoundError(message, { key: segmentKey(seg) });
      }
      throw err;
    }
    await pipeline(input, hash.stream, createWriteStream(local), src.signal ? { signal: src.signal } : {});
    const h = hash.result();
    if (h.sha256 !== seg.object.sha256 || h.bytes !== seg.object.size) {
      throw new ChecksumError(
        `${describeSegment(src.store, seg)} is damaged: expected ${seg.object.size} bytes with sha256 ${seg.object.sha256}, read ${h.bytes} bytes with sha256 ${h.sha256}; nothing of it was used`,
        { key: segmentKey(seg), file: seg.file },
      );
    }
    src.onFetched?.(h.bytes, seg);
    return local;
  } catch (err) {
    await rm(local, { force: true });
    throw err instanceof SegmentGoneError ? err : asBacktrackError(err);
  }
}

/** Decode a fetched (verified) segment: [age -d] then zstd -d, streamed; stopping early kills both. */
async function* decode(src: SegmentSource, seg: Sidecar, local: string): AsyncGenerator<Buffer> {
  const stages: StageSpec[] = [];
  if (seg.object.encryption === 'age') {
    const age = src.codec.age;
    if (!age?.identityFile) throw new ToolError(`${describeSegment(src.store, seg)} is encrypted: set repository.encryption.identityFile to read it`);
    stages.push({ command: age.binary, args: ['-d', '-i', age.identityFile, local], label: 'age -d', installHint: 'install age (apt-get install age)' });
  }
  const zstdArgs = ['-q', '-d', '-c', ...(stages.length ? [] : [local])];
  stages.push({ command: src.codec.zstd, args: zstdArgs, label: 'zstd -d', installHint: 'install zstd (apt-get install zstd)' });
  const chain = spawnLinked(stages, src.signal);
  chain.stdin.end();
  let finished = false;
  try {
    for await (const chunk of chain.stdout) yield chunk as Buffer;
    const errs = (await Promise.all(chain.exits.map((p) => p.then(() => undefined, (e: unknown) => e)))).filter(Boolean);
    if (errs.length) throw new ChecksumError(`${describeSegment(src.store, seg)} could not be decoded: ${(errs[0] as Error).message}`, { file: seg.file });
    finished = true;
  } finally {
    if (!finished) {
      chain.kill();
      await Promise.all(chain.exits.map((p) => p.catch(() => undefined)));
    }
  }
}
