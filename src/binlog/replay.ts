/**
 * Getting archived binlog files back, and replaying them. A file is
 * materialized locally from its segments (the whole file, or its pieces
 * concatenated), each segment's sha256 checked against its sidecar; then
 * mariadb-binlog/mysqlbinlog turns it into SQL between exact positions, and
 * one SQL client session applies all files in order (so session state such
 * as temporary tables survives a rotation, as on a replica).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ChecksumError, NotFoundError, ToolError, asBacktrackError } from '../errors.js';
import { BinlogParser, type TransactionInfo } from '../mysql/binlog-events.js';
import { withClientCredentials } from '../mysql/client.js';
import type { ConnectionSpec } from '../mysql/connect.js';
import { binlogReplayArgs, type Flavor } from '../mysql/flavor.js';
import { downloadDecompressed, fetchVerified } from '../pipeline/download.js';
import { runToolText } from '../pipeline/spawn.js';
import { spawnLinked } from '../pipeline/linked.js';
import type { CodecOptions } from '../pipeline/stages.js';
import { segmentKey } from '../repository/repository.js';
import { objectUrl, type ObjectReader } from '../storage/store.js';
import type { ChainFile } from './chain.js';

/** Download and decode one archived binlog file into `dir`; returns its path. */
export async function materializeFile(store: ObjectReader, f: ChainFile, dir: string, codec: Pick<CodecOptions, 'zstd' | 'age'>, signal?: AbortSignal): Promise<string> {
  await mkdir(dir, { recursive: true });
  const out = path.join(dir, f.file);
  const first = f.segments[0];
  if (!first || first.start !== 0) throw new NotFoundError(`the start of binlog ${f.file} is not in the repository; it cannot be replayed`);
  const named = (seg: (typeof f.segments)[number], err: unknown): Error => {
    const key = objectUrl(store, segmentKey(seg));
    if (err instanceof ChecksumError) return new ChecksumError(`binlog segment ${key} (${f.file} bytes ${seg.start}..${seg.end}) is damaged: ${err.message}; replay stopped before using it`, { key, file: f.file });
    if (err instanceof NotFoundError) return new NotFoundError(`binlog segment ${key} (${f.file} bytes ${seg.start}..${seg.end}) is missing from the repository`, { key });
    return err as Error;
  };
  if (f.segments.some((seg) => seg.object.encryption === 'age')) {
    // Each encrypted segment is its own age stream: decode them one by one.
    const sink = createWriteStream(out);
    try {
      for (const seg of f.segments) {
        const key = segmentKey(seg);
        await downloadDecompressed(store, { key, size: seg.object.size, sha256: seg.object.sha256, encrypted: true }, sink, { codec, signal, endSink: false }).catch((err: unknown) => {
          throw named(seg, err);
        });
      }
    } finally {
      await new Promise<void>((resolve) => sink.end(resolve));
    }
    return out;
  }
  // zstd frames concatenate: fetch every segment (checking each one's sha256
  // before anything uses it) into one compressed file, then one zstd -d.
  const packed = `${out}.zst`;
  const sink = createWriteStream(packed);
  try {
    for (const seg of f.segments) {
      const key = segmentKey(seg);
      await fetchVerified(store, { key, size: seg.object.size, sha256: seg.object.sha256 }, sink, signal).catch((err: unknown) => {
        throw named(seg, err);
      });
    }
  } finally {
    await new Promise<void>((resolve) => sink.end(resolve));
  }
  try {
    await runToolText(codec.zstd, ['-q', '-d', '-f', packed, '-o', out], { label: 'zstd -d', signal });
  } catch (err) {
    throw new ChecksumError(`binlog ${f.file} could not be decompressed from its segments: ${(err as Error).message}`, { file: f.file });
  } finally {
    await rm(packed, { force: true });
  }
  return out;
}

/** Feed a local binlog file to a parser; `onTrx` returning true stops the scan early. */
export async function scanFile(file: string, flavor: Flavor, onTrx: (t: TransactionInfo) => boolean | void): Promise<{ checksum: boolean; boundary: number }> {
  let stop = false;
  const parser = new BinlogParser(flavor, {
    onTransaction: (t) => {
      if (!stop && onTrx(t) === true) stop = true;
    },
  });
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) {
    parser.push(chunk as Buffer);
    if (stop) {
      stream.destroy();
      break;
    }
  }
  return { checksum: parser.facts.checksum, boundary: parser.boundary };
}

/** One file of a replay, with the positions to start and stop at. */
export interface ReplayStep {
  path: string;
  file: string;
  start?: number | undefined;
  stop?: number | undefined;
}

/**
 * Replay files in order into the target: one mariadb-binlog/mysqlbinlog over
 * all the files (its --start-position applies to the first, --stop-position
 * to the last) piped by file descriptor into one client session, so session
 * state such as temporary tables survives a rotation, as on a replica.
 */
export async function replayFiles(steps: ReplayStep[], o: { target: ConnectionSpec; flavor: Flavor; binlogTool: string; client: string; noBinlog: boolean; signal?: AbortSignal | undefined; onStep?: (i: number) => void }): Promise<void> {
  if (steps.length === 0) return;
  const first = steps[0] as ReplayStep;
  const last = steps[steps.length - 1] as ReplayStep;
  await withClientCredentials(o.target, async (cred) => {
    o.onStep?.(0);
    const chain = spawnLinked(
      [
        { command: o.binlogTool, args: [...binlogReplayArgs({ start: first.start, stop: last.stop, noBinlog: o.noBinlog }), ...steps.map((s) => s.path)], label: o.binlogTool },
        { command: o.client, args: [...cred.args, '--binary-mode', '--batch', '--max-allowed-packet=1G'], fds: cred.fds, label: `${o.client} (binlog replay)`, installHint: 'install the client tools (apt-get install mariadb-client)' },
      ],
      o.signal,
    );
    chain.stdin.end();
    chain.stdout.resume();
    const [decoder, client] = await Promise.all(chain.exits.map((p) => p.then(() => undefined, (e: unknown) => e)));
    // The client's SQL error explains the decoder's broken pipe, not the other way round.
    if (client) throw new ToolError(`replaying the binlog failed: ${(client as Error).message}`, client);
    if (decoder) throw asBacktrackError(decoder);
  });
}

/** Remove a work directory. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
