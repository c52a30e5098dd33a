/**
 * Replaying archived binlog files into a target. One SQL client session
 * applies every file in order (so session state such as temporary tables
 * survives a rotation, as on a replica); each file is decoded by its own
 * mariadb-binlog/mysqlbinlog reading standard input, whose output goes
 * straight into the client's stdin by file descriptor. The file's bytes
 * are streamed into the decoder from its segments (segments.ts): nothing
 * is assembled on disk, and each segment's sha256 is checked before any of
 * its bytes reach the decoder.
 */
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ToolError, asBacktrackError } from '../errors.js';
import { withClientCredentials } from '../mysql/client.js';
import type { ConnectionSpec } from '../mysql/connect.js';
import { binlogReplayArgs, type Flavor } from '../mysql/flavor.js';
import { spawnStage } from '../pipeline/linked.js';
import type { ChainFile } from './chain.js';
import { fileBytes, type SegmentSource } from './segments.js';

/** One file of a replay, with the positions to start and stop at. */
export interface ReplayStep {
  file: string;
  chain: ChainFile;
  start?: number | undefined;
  stop?: number | undefined;
}

/** Everything a replay needs. */
export interface ReplayOptions {
  src: SegmentSource;
  target: ConnectionSpec;
  flavor: Flavor;
  binlogTool: string;
  client: string;
  noBinlog: boolean;
  signal?: AbortSignal | undefined;
  onStep?: (i: number) => void;
}

/** Replay the files in order into the target through one client session. */
export async function replayFiles(steps: ReplayStep[], o: ReplayOptions): Promise<void> {
  if (steps.length === 0) return;
  await withClientCredentials(o.target, async (cred) => {
    const client = spawnStage(
      { command: o.client, args: [...cred.args, '--binary-mode', '--batch', '--max-allowed-packet=1G'], fds: cred.fds, label: `${o.client} (binlog replay)`, installHint: 'install the client tools (apt-get install mariadb-client)' },
      'pipe',
      'pipe',
      o.signal,
    );
    client.child.stdout!.resume();
    const clientDone = client.exit.then(() => undefined, (e: unknown) => e);
    let failure: unknown;
    try {
      for (const [i, s] of steps.entries()) {
        o.onStep?.(i);
        failure = await replayOne(s, client.child.stdin!, o);
        if (failure) break;
      }
    } finally {
      // End of input: the client exits; a transaction cut off by a failure is rolled back when its session ends.
      client.child.stdin!.end();
    }
    const clientErr = await clientDone;
    // A damaged or missing segment (or an interruption) is the cause; otherwise the
    // client's SQL error explains a decoder's broken pipe, not the other way round.
    if (failure && !(failure instanceof ToolError)) throw asBacktrackError(failure);
    if (clientErr) throw new ToolError(`replaying the binlog failed: ${(clientErr as Error).message}`, clientErr);
    if (failure) throw asBacktrackError(failure);
  });
}

/** One file: its bytes into a decoder whose SQL goes into the client's stdin. Returns the failure, if any. */
async function replayOne(s: ReplayStep, clientStdin: NodeJS.WritableStream, o: ReplayOptions): Promise<unknown> {
  const decoder = spawnStage(
    { command: o.binlogTool, args: [...binlogReplayArgs({ start: s.start, stop: s.stop, noBinlog: o.noBinlog }), '-'], label: `${o.binlogTool} (${s.file})` },
    'pipe',
    clientStdin as unknown as import('node:stream').Writable,
    o.signal,
  );
  const bytes = Readable.from(fileBytes({ ...o.src, workDir: o.src.workDir }, s.chain, 0, s.stop ?? s.chain.end));
  const fed = pipeline(bytes, decoder.child.stdin!).then(() => undefined, (e: unknown) => e);
  const [feedErr, decodeErr] = await Promise.all([fed, decoder.exit.then(() => undefined, (e: unknown) => e)]);
  if (feedErr && !isBrokenPipe(feedErr)) {
    decoder.child.kill('SIGTERM');
    return feedErr;
  }
  return decodeErr ?? feedErr;
}

function isBrokenPipe(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/** Remove a work directory. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
