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
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, ToolError, asBacktrackError } from '../errors.js';
import { withClientCredentials } from '../mysql/client.js';
import type { ConnectionSpec } from '../mysql/connect.js';
import { binlogReplayArgs, binlogToolMismatch, detectFlavor, identifyBinlogTool, type Flavor } from '../mysql/flavor.js';
import { runToolText } from '../pipeline/spawn.js';
import { spawnStage } from '../pipeline/linked.js';
import type { ChainFile } from './chain.js';
import { BinlogTableFilter, type TableFilter } from './filter.js';
import type { Sidecar } from '../repository/sidecar.js';
import { SegmentGoneError, describeSegment, fetchSegment, fileBytes, replacementCover, type SegmentSource } from './segments.js';

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
  /** A partial restore: replay only these tables' row changes, under their new schema names (filter.ts), without the target's binlog. */
  tables?: TableFilter | undefined;
  /** restore --skip: leave these transactions (GTIDs) out. */
  skip?: ReadonlySet<string> | undefined;
}

/**
 * The binlog tool a replay of this server's binlog will use, checked: its
 * `--version` must say it can read the flavor's events (MySQL's own
 * mysqlbinlog for a MySQL source, of the source's version or newer).
 * Returns the version line, for the plan and `check`.
 */
export async function checkReplayTool(binary: string, flavor: Flavor, serverVersion: string, signal?: AbortSignal): Promise<string> {
  const out = await runToolText(binary, ['--version'], { label: binary, signal, installHint: flavor === 'mysql' ? "install MySQL's client tools (mysql-community-client) and set tools.binlog" : 'apt-get install mariadb-client' });
  const tool = identifyBinlogTool(out);
  const why = binlogToolMismatch(tool, flavor, detectFlavor(serverVersion).version);
  if (why) throw new ConfigError(`the binlog tool ${binary} cannot replay this ${flavor === 'mysql' ? 'MySQL' : 'MariaDB'} ${serverVersion} source's binlog: ${why}`, { tool: binary, toolVersion: tool.text });
  return tool.text;
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

/**
 * One file: its bytes into a decoder whose SQL goes into the client's
 * stdin. Returns the failure, if any. Segments that meet end to start (the
 * usual case) are decoded straight into the decoder by file descriptor;
 * overlapping ones (two writers) go through segments.ts, which compares
 * and trims the overlap in Node.
 */
async function replayOne(s: ReplayStep, clientStdin: NodeJS.WritableStream, o: ReplayOptions): Promise<unknown> {
  // A filtered file has its own positions: the filter applies the plan's start and stop itself.
  const filtered = o.tables !== undefined || (o.skip?.size ?? 0) > 0;
  const args = o.tables
    ? binlogReplayArgs({ noBinlog: true, flavor: o.flavor, withoutSourceGtids: true })
    : filtered
      ? binlogReplayArgs({ noBinlog: o.noBinlog })
      : binlogReplayArgs({ start: s.start, stop: s.stop, noBinlog: o.noBinlog });
  const decoder = spawnStage({ command: o.binlogTool, args: [...args, '-'], label: `${o.binlogTool} (${s.file})` }, 'pipe', clientStdin as unknown as Writable, o.signal);
  const decoded = decoder.exit.then(() => undefined, (e: unknown) => e);
  const segs = s.chain.segments.filter((x) => s.stop === undefined || x.start < s.stop);
  const bytes = () => Readable.from(fileBytes(o.src, s.chain, 0, s.stop ?? s.chain.end));
  const feed = filtered
    ? pipeline(bytes(), new BinlogTableFilter(o.tables, { file: s.file, start: s.start, stop: s.stop, skip: o.skip }), decoder.child.stdin!)
    : tiled(segs)
      ? feedLinked(o, segs, decoder.child.stdin!, decoded)
      : pipeline(bytes(), decoder.child.stdin!);
  const fed = feed.then(
    () => undefined,
    (e: unknown) => e,
  );
  const [feedErr, decodeErr] = await Promise.all([fed, decoded]);
  if (feedErr && !isBrokenPipe(feedErr)) {
    decoder.child.kill('SIGTERM');
    return feedErr;
  }
  return decodeErr ?? feedErr;
}

/**
 * Run a partial replay's filter over every file without a target, before
 * anything is written: a statement on a chosen table in the range stops the
 * restore here, not half way. Returns the transactions kept and left out.
 */
export async function checkFilteredReplay(steps: ReplayStep[], o: Pick<ReplayOptions, 'src' | 'signal' | 'tables' | 'skip'>): Promise<{ kept: number; dropped: number; skipped: string[] }> {
  const total = { kept: 0, dropped: 0, skipped: [] as string[] };
  for (const s of steps) {
    const filter = new BinlogTableFilter(o.tables, { file: s.file, start: s.start, stop: s.stop, skip: o.skip });
    const discard = new Writable({ write: (_c, _e, cb) => cb() });
    await pipeline(Readable.from(fileBytes(o.src, s.chain, 0, s.stop ?? s.chain.end)), filter, discard, o.signal ? { signal: o.signal } : {});
    total.kept += filter.counts.kept;
    total.dropped += filter.counts.dropped;
    total.skipped.push(...filter.skipped);
  }
  return total;
}

/** Whether segments start at 0 and meet end to start (no overlap to compare). */
function tiled(segs: Sidecar[]): boolean {
  return segs.length > 0 && segs[0]!.start === 0 && segs.every((x, i) => i === 0 || x.start === segs[i - 1]!.end);
}

/**
 * Decode each segment straight into the decoder's stdin ([age -d |] zstd -d,
 * the last stage's stdout is that pipe), the next one fetched meanwhile.
 * A decoder that has reached its stop position may stop reading: a decode
 * that breaks after it is done is not a failure (the caller judges that).
 */
async function feedLinked(o: ReplayOptions, segs: Sidecar[], sink: Writable, decoded: Promise<unknown>): Promise<void> {
  let finished: { ok: boolean } | undefined;
  void decoded.then((err) => (finished = { ok: err === undefined }));
  let next: Promise<string> | undefined = fetchSegment(o.src, segs[0]!);
  try {
    for (const [i, seg] of segs.entries()) {
      let local: string;
      try {
        local = await next!;
      } catch (err) {
        // A piece replaced meanwhile (a fold, or the whole file): the rest comes from what replaced it, through Node.
        if (!(err instanceof SegmentGoneError)) throw err;
        next = undefined;
        const fresh = await replacementCover(o.src, err, seg.start);
        const stop = segs[segs.length - 1]!.end;
        await pipeline(Readable.from(fileBytes(o.src, fresh, seg.start, Math.min(stop, fresh.end))), sink, { end: false });
        return;
      }
      next = segs[i + 1] ? fetchSegment(o.src, segs[i + 1]!) : undefined;
      next?.catch(() => undefined);
      try {
        if (finished) return;
        await decodeInto(o, seg, local, sink).catch(async (err: unknown) => {
          // The decoder stopped reading at its stop position: the break is expected, not damage.
          await Promise.race([decoded, new Promise((r) => setTimeout(r, 2000))]);
          if (finished?.ok) return;
          throw err;
        });
      } finally {
        await rm(local, { force: true });
      }
    }
  } finally {
    sink.end();
    if (next) await next.then((p) => rm(p, { force: true }), () => undefined);
  }
}

/** [age -d] | zstd -d of one fetched segment, its output into `sink` by file descriptor. */
async function decodeInto(o: ReplayOptions, seg: Sidecar, local: string, sink: Writable): Promise<void> {
  const zstd = { command: o.src.codec.zstd, args: ['-q', '-d', '-c'], label: 'zstd -d', installHint: 'install zstd (apt-get install zstd)' };
  const age = o.src.codec.age;
  if (seg.object.encryption === 'age') {
    if (!age?.identityFile) throw new ToolError(`${describeSegment(o.src.store, seg)} is encrypted: set repository.encryption.identityFile to read it`);
    const dec = spawnStage({ command: age.binary, args: ['-d', '-i', age.identityFile, local], label: 'age -d' }, 'ignore', 'pipe', o.signal);
    const z = spawnStage(zstd, dec.child.stdout!, sink, o.signal);
    dec.child.stdout!.destroy();
    await Promise.all([dec.exit, z.exit]).catch((err: unknown) => {
      throw new ToolError(`${describeSegment(o.src.store, seg)} could not be decoded: ${(err as Error).message}`, err);
    });
    return;
  }
  await spawnStage({ ...zstd, args: [...zstd.args, local] }, 'ignore', sink, o.signal).exit.catch((err: unknown) => {
    throw new ToolError(`${describeSegment(o.src.store, seg)} could not be decoded: ${(err as Error).message}`, err);
  });
}

function isBrokenPipe(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/** Remove a work directory. */
export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
