/**
 * The binlog archiver: streams a source's binary log over the replication
 * protocol (mariadb-binlog / mysqlbinlog --raw --stop-never) into a local
 * spool, and uploads it: new bytes of the active file every uploadInterval
 * as a piece, pieces folded as they gather (fold.ts), and each closed file
 * whole as soon as it closes (replacing its pieces). It never rotates the
 * source's logs.
 *
 * Exactly one archiver per source: each session takes the source's binlog
 * lock and keeps it (mysql/lock.ts acquireKeptLock) for as long as it
 * streams; a lock that cannot be kept ends the session within
 * daemon.leaderRetry, before anything more is uploaded. The CLI and the
 * daemon run this same class: the CLI exits 5 when another process holds
 * the lock (`onLockHeld: 'fail'`), the daemon waits for it (`'wait'`).
 *
 * Resuming is by the repository alone: on start (after a restart or kill -9)
 * it reads what is archived in the source's current timeline and streams
 * from that file again, uploading only the bytes after what is stored, so
 * there is no gap and no duplicate. A dropped connection or a restarted
 * source reconnects with backoff; a different server (failover) starts a new
 * timeline; a binlog purged before it was archived is recorded as a gap.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Config, SourceConfig } from '../config/schema.js';
import { ChecksumError, LockHeldError, asBacktrackError } from '../errors.js';
import { IndexBuilder, mergeIndexes, type SegmentIndex } from './segment-index.js';
import { BinlogParser, type Problem, type TransactionInfo } from '../mysql/binlog/parser.js';
import { withClientCredentials } from '../mysql/client.js';
import { closeQuietly, connect, type ConnectionSpec } from '../mysql/connect.js';
import { binlogStreamArgs } from '../mysql/flavor.js';
import { GtidSet, formatGtid, type Flavor } from '../mysql/gtid.js';
import { acquireKeptLock } from '../mysql/lock.js';
import { serverInfo, type ServerInfo } from '../mysql/server.js';
import type { Logger } from '../observability/logger.js';
import { runTool } from '../pipeline/spawn.js';
import { hasher, objectSuffix } from '../pipeline/stages.js';
import { uploadCompressed, type StoredObject } from '../pipeline/upload.js';
import { SHORT_LOCK_DAYS } from '../storage/store.js';
import { binlogKeys } from '../repository/layout.js';
import { segmentKey, type WritableRepository } from '../repository/repository.js';
import { fileIndex, timelineOf, type GapRecord, type Sidecar, type SidecarTrx } from '../repository/sidecar.js';
import { codecFor, sourceSpec, toolPaths } from '../runtime/context.js';
import { mergedFacts, nextFold } from './fold.js';
import { findStartPoint, type StartPoint } from './start-point.js';

/** What the archiver reports (metrics, tests, the daemon). */
export interface ArchiverEvents {
  onSegment?: (s: Sidecar) => void;
  onGap?: (g: GapRecord) => void;
  /** Seconds the oldest not-yet-uploaded event has waited (0 when caught up). */
  onLag?: (seconds: number) => void;
  onError?: (err: unknown) => void;
  /** The lock is held and streaming starts (true), or it ended (false). */
  onStreaming?: (streaming: boolean) => void;
}

export interface ArchiverOptions {
  cfg: Config;
  source: SourceConfig;
  repo: WritableRepository;
  log: Logger;
  events?: ArchiverEvents;
  /** When another process holds the source's binlog lock: fail (the CLI, exit 5) or wait for it (the daemon). */
  onLockHeld?: 'fail' | 'wait';
}

/** Statistics of a byte range being prepared for upload. */
interface RangeStats {
  transactions: number;
  first?: SidecarTrx | undefined;
  last?: SidecarTrx | undefined;
  gtids: GtidSet;
  firstEventTime?: number | undefined;
  lastEventTime?: number | undefined;
  minTimestamp?: number | undefined;
  maxTimestamp?: number | undefined;
  problems?: Problem[] | undefined;
  /** What find needs to pass over the segment (built as transactions come, or merged from folded pieces). */
  index?: IndexBuilder | SegmentIndex | undefined;
}

/** One spool file being followed. */
interface Followed {
  name: string;
  parser: BinlogParser;
  /** Bytes of the spool file fed to the parser. */
  readUpTo: number;
  /** Bytes of this file already in the repository. */
  uploadedUpTo: number;
  /** The file's pieces in the repository, in offset order. */
  pieces: Sidecar[];
  whole: RangeStats;
  pending: RangeStats;
  /** When the first event not yet uploaded was seen (for the lag). */
  pendingSince?: number | undefined;
  /** Being replaced by the whole file in the background. */
  consolidating?: boolean;
}

/** A session's fixed facts. */
interface Session {
  info: ServerInfo;
  timeline: string;
  followed: Map<string, Followed>;
  resume: StartPoint;
  /** Aborted when the lock is lost: in-flight uploads stop, nothing more goes up. */
  lost: AbortSignal;
}

const newStats = (flavor: Flavor): RangeStats => ({ transactions: 0, gtids: new GtidSet(flavor), index: new IndexBuilder() });

/** The default replica server id: stable per source, above the usual ranges. */
export function defaultReplicaServerId(source: string): number {
  return 4_000_000_000 + (createHash('sha256').update(source).digest().readUInt32BE(0) % 200_000_000);
}

export class BinlogArchiver {
  private stopping = false;
  /** Unfolded pieces given the long Object Lock (keepPiecesLocked). */
  private readonly fullyLocked = new Set<string>();
  private stopSignal = new AbortController();
  private running?: Promise<void>;
  private consolidation?: Promise<void> | undefined;
  private readonly spec: ConnectionSpec;
  private readonly spoolDir: string;
  private readonly log: Logger;

  constructor(private readonly o: ArchiverOptions) {
    this.spec = sourceSpec(o.source);
    this.spoolDir = o.source.binlog.spoolDir ?? path.join(o.cfg.workDir, 'spool', o.source.name);
    this.log = o.log.child({ source: o.source.name, job: 'binlog' });
  }

  /**
   * Start archiving in the background; idempotent. The promise settles when
   * the archiver stops: resolved after stop(), rejected with LockHeldError
   * when another process holds the lock and `onLockHeld` is 'fail'.
   */
  start(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Upload what is complete, stop streaming, and resolve when done; idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let backoff = 1000;
    while (!this.stopping) {
      const began = Date.now();
      try {
        await this.locked();
      } catch (err) {
        if (this.stopping) break;
        if (err instanceof LockHeldError) {
          if ((this.o.onLockHeld ?? 'fail') === 'fail') throw err;
          this.log.warn({ err: err.message }, 'another process archives this source; waiting for its lock');
          await sleep(this.o.cfg.daemon.leaderRetry, this.stopSignal.signal);
          continue;
        }
        this.o.events?.onError?.(err);
        this.log.error({ err: asBacktrackError(err) }, 'binlog archiving interrupted; reconnecting');
      }
      if (this.stopping) break;
      if (Date.now() - began > 60_000) backoff = 1000;
      await sleep(backoff, this.stopSignal.signal);
      backoff = Math.min(backoff * 2, 30_000);
    }
  }

  /** One session, under the source's binlog lock, kept for as long as it streams. */
  private async locked(): Promise<void> {
    const lock = await acquireKeptLock(this.spec, this.o.source.name, 'binlog', {
      intervalMs: Math.max(100, Math.floor(this.o.cfg.daemon.leaderRetry / 2)),
      onRetaken: () => this.log.warn('the binlog lock\'s session was lost and the lock re-taken; archiving goes on'),
    });
    const lost = new AbortController();
    void lock.lost.then((err) => {
      this.log.error({ err: err.message }, 'the binlog lock could not be kept: stopping this archiver (another may hold it now)');
      lost.abort(err);
    });
    this.o.events?.onStreaming?.(true);
    try {
      await this.session(lost.signal);
    } finally {
      this.o.events?.onStreaming?.(false);
      await lock.release();
    }
    if (lost.signal.aborted) throw lost.signal.reason as Error;
  }

  /** One connection's worth of archiving: decide where to start, stream, upload. */
  private async session(lost: AbortSignal): Promise<void> {
    const info = await this.inspect();
    const timeline = timelineOf(info.flavor, info.identity);
    const resume = await this.startPoint(timeline);
    await rm(this.spoolDir, { recursive: true, force: true });
    await mkdir(this.spoolDir, { recursive: true });
    this.log.info({ timeline, file: resume.file, resumeAt: resume.uploadedUpTo }, 'binlog archiving started');
    const tool = toolPaths(this.o.cfg, info.flavor).binlog;
    const replicaId = this.o.source.binlog.replicaServerId ?? defaultReplicaServerId(this.o.source.name);
    await withClientCredentials(this.spec, async (cred) => {
      const child = runTool(tool, [...cred.args, ...binlogStreamArgs(info.flavor, this.spoolDir, resume.file, replicaId)], { fds: cred.fds, label: tool, stdin: 'ignore' });
      child.stdout.resume();
      let exited = false;
      const exit = child.done.then(
        () => (exited = true),
        (err: unknown) => {
          exited = true;
          throw err;
        },
      );
      exit.catch(() => undefined);
      const s: Session = { info, timeline, followed: new Map(), resume, lost };
      try {
        // Passes run at a fixed rate (not "interval after the last pass"), so
        // an upload's own time does not add to the recovery point lag.
        while (!this.stopping && !exited && !lost.aborted) {
          const began = Date.now();
          await this.pass(s);
          this.log.debug({ passMs: Date.now() - began }, 'archiver pass');
          const wait = Math.max(0, this.o.source.binlog.uploadInterval - (Date.now() - began));
          await Promise.race([sleep(wait, AbortSignal.any([this.stopSignal.signal, lost])), exit.catch(() => undefined)]);
        }
        // Whatever is complete goes up before we let go (on stop, and after the
        // stream died), unless the lock is gone: then another archiver owns it.
        if (!lost.aborted) {
          await this.pass(s);
          await this.consolidation;
        }
      } finally {
        await this.consolidation?.catch(() => undefined);
        child.kill();
        await child.done.catch(() => undefined);
      }
      if (!lost.aborted) await exit; // a stream that died is an error (reconnect with backoff)
    });
  }

  private async inspect(): Promise<ServerInfo> {
    const conn = await connect(this.spec);
    try {
      const info = await serverInfo(conn);
      if (!info.logBin) throw new Error(`source ${this.o.source.name} has log_bin=OFF: there is no binary log to archive; enable it in the server config`);
      return info;
    } finally {
      await closeQuietly(conn);
    }
  }

  /** Where to stream from (recording a gap or a failover on the way). */
  private async startPoint(timeline: string): Promise<StartPoint> {
    return findStartPoint({
      spec: this.spec,
      repo: this.o.repo,
      source: this.o.source.name,
      timeline,
      onGap: (g) => {
        this.log.error({ gap: g }, `binlog gap: ${g.detail}`);
        this.o.events?.onGap?.(g);
      },
    });
  }

  /**
   * Read what the stream wrote since the last pass and upload what is
   * complete. A failed upload ends the pass, not the session: nothing moved
   * forward, so the next pass uploads the same bytes again, re-read from the
   * spool (files stay in order: a later file waits for an earlier one).
   */
  private async pass(s: Session): Promise<void> {
    const names = (await readdir(this.spoolDir)).filter((n) => !n.startsWith('.')).sort((a, b) => fileIndex(a) - fileIndex(b));
    let lag = 0;
    for (const [i, name] of names.entries()) {
      if (s.lost.aborted) return;
      let f = s.followed.get(name);
      if (!f) {
        const resumed = name === s.resume.file;
        f = this.follow(name, s.info.flavor, resumed ? s.resume.uploadedUpTo : 0, resumed ? s.resume.pieces : []);
        s.followed.set(name, f);
      }
      if (f.consolidating) continue;
      await this.readNew(f);
      if (f.pendingSince !== undefined) lag = Math.max(lag, (Date.now() - f.pendingSince) / 1000);
      try {
        await this.upload(s, f, i < names.length - 1);
      } catch (err) {
        if (s.lost.aborted) return;
        this.o.events?.onError?.(err);
        this.log.warn({ file: f.name, err: asBacktrackError(err).message }, 'could not upload binlog bytes; the next pass tries again');
        break;
      }
    }
    this.o.events?.onLag?.(lag);
  }

  /** What one pass uploads of one file: new bytes as a piece (folding), or the closed file whole. */
  private async upload(s: Session, f: Followed, followedByAnother: boolean): Promise<void> {
    await this.keepPiecesLocked(f);
    const complete = (f.parser.facts.closedBy !== undefined && f.parser.boundary === f.readUpTo) || followedByAnother;
    if (complete && f.uploadedUpTo <= 4) {
      // Catching up on a file nothing of which is archived: one object, in order.
      await this.consolidate(s, f);
      return;
    }
    // New bytes first, as a piece: this is what keeps the recovery point lag low.
    if (f.parser.boundary > Math.max(f.uploadedUpTo, 4)) {
      await this.uploadPiece(s, f);
      if (!complete) await this.fold(s, f);
    }
    // A closed file's pieces are then replaced by the whole file, in the
    // background: a 1 GiB rotation must not hold up the next pieces.
    if (complete && !this.consolidation) {
      f.consolidating = true;
      const file = f;
      this.consolidation = this.consolidate(s, file)
        .catch((err: unknown) => {
          file.consolidating = false;
          this.log.warn({ file: file.name, err }, 'could not replace the pieces of a closed binlog file; its pieces stay, and it is retried');
        })
        .finally(() => (this.consolidation = undefined));
    }
  }

  /** Upload a complete file whole, then drop its pieces and its spool copy. */
  private async consolidate(s: Session, f: Followed): Promise<void> {
    await this.uploadWhole(s, f);
    s.followed.delete(f.name);
    await rm(path.join(this.spoolDir, f.name), { force: true });
  }

  private follow(name: string, flavor: Flavor, uploadedUpTo: number, pieces: Sidecar[]): Followed {
    const f: Followed = { name, readUpTo: 0, uploadedUpTo, pieces: [...pieces], whole: newStats(flavor), pending: newStats(flavor), parser: undefined as unknown as BinlogParser };
    f.parser = new BinlogParser(flavor, {
      name,
      // Tables, row counts and statement texts: the segment index find uses.
      detail: true,
      onProblem: (p) => {
        for (const st of p.pos >= f.uploadedUpTo ? [f.whole, f.pending] : [f.whole]) addProblem(st, p);
        this.log.warn({ file: name, offset: p.pos, type: p.type, kind: p.kind }, p.message);
      },
      onEvent: (e) => {
        for (const st of e.end > f.uploadedUpTo ? [f.whole, f.pending] : [f.whole]) {
          st.firstEventTime ??= e.timestamp;
          st.lastEventTime = e.timestamp;
        }
        if (e.end > f.uploadedUpTo) f.pendingSince ??= Date.now();
      },
      onTransaction: (t) => {
        addTrx(f.whole, t);
        if (t.end > f.uploadedUpTo) addTrx(f.pending, t);
      },
    });
    return f;
  }

  private async readNew(f: Followed): Promise<void> {
    const file = path.join(this.spoolDir, f.name);
    const size = (await stat(file)).size;
    if (size <= f.readUpTo) return;
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(1024 * 1024);
      while (f.readUpTo < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - f.readUpTo), f.readUpTo);
        if (bytesRead === 0) break;
        f.parser.push(buf.subarray(0, bytesRead));
        f.readUpTo += bytesRead;
      }
    } finally {
      await fh.close();
    }
  }

  private async uploadPiece(s: Session, f: Followed): Promise<void> {
    const start = Math.max(f.uploadedUpTo, 0);
    const end = f.parser.boundary;
    const closed = f.parser.facts.closedBy !== undefined;
    const sidecar = await this.putSegment(s, f, 'piece', start, end, f.pending, closed, 0);
    f.pieces.push(sidecar);
    f.uploadedUpTo = end;
    f.pending = newStats(s.info.flavor);
    f.pendingSince = undefined;
  }

  /**
   * Fold the file's pieces while a level has gathered enough (fold.ts): the
   * run's bytes go up again as one piece, which is read back and checked
   * before the run's pieces are deleted.
   */
  private async fold(s: Session, f: Followed): Promise<void> {
    const fanout = this.o.source.binlog.foldPieces;
    for (let run = nextFold(f.pieces, fanout); run; run = nextFold(f.pieces, fanout)) {
      const facts = mergedFacts(run, s.info.flavor);
      const stats: RangeStats = { transactions: facts.transactions, first: facts.firstTransaction, last: facts.lastTransaction, gtids: GtidSet.parse(s.info.flavor, facts.gtids), minTimestamp: facts.minTimestamp, maxTimestamp: facts.maxTimestamp, firstEventTime: isoSeconds(facts.firstEventTime), lastEventTime: isoSeconds(facts.lastEventTime), problems: facts.problems, index: mergeIndexes(run.map((p) => p.index)) };
      const folded = await this.putSegment(s, f, 'piece', facts.start, facts.end, stats, facts.closed, facts.level);
      await this.verifyStored(folded);
      for (const p of run) await this.o.repo.deleteSegment(p);
      const at = f.pieces.indexOf(run[0] as Sidecar);
      f.pieces.splice(at, run.length, folded);
      this.log.debug({ file: f.name, level: facts.level, pieces: run.length, start: facts.start, end: facts.end }, 'folded binlog pieces');
    }
  }

  /**
   * Under Object Lock a piece has a short lock: the whole file carries the
   * long one, and a piece that is folded or replaced within hours can be
   * deleted a day later. A piece that stays in the file's cover for half of
   * its short lock (a quiet source, a long-lived file) is the only copy of
   * its bytes for longer: it gets the long lock, once.
   */
  private async keepPiecesLocked(f: Followed): Promise<void> {
    const lock = this.o.repo.objectLock;
    if (!lock) return;
    const due = Date.now() - (SHORT_LOCK_DAYS * 86_400_000) / 2;
    for (const p of f.pieces) {
      const key = segmentKey(p);
      if (this.fullyLocked.has(key) || Date.parse(p.archivedAt) > due) continue;
      await this.o.repo.lockSegmentFully(p);
      this.fullyLocked.add(key);
    }
  }

  /** Read a stored segment back and compare it with what was uploaded. */
  private async verifyStored(s: Sidecar): Promise<void> {
    const h = hasher();
    const input = await this.o.repo.binlogObjects(this.o.source.name).get(segmentKey(s));
    for await (const chunk of input.pipe(h.stream)) void chunk;
    const got = h.result();
    if (got.sha256 !== s.object.sha256 || got.bytes !== s.object.size) {
      throw new ChecksumError(`the folded piece ${segmentKey(s)} read back differs from what was uploaded; its pieces are kept`, { key: segmentKey(s) });
    }
  }

  private async uploadWhole(s: Session, f: Followed): Promise<void> {
    // A file the server left without a rotate or stop event (a crash) ends at
    // its last complete event; a torn event after it was never committed.
    const end = f.parser.boundary;
    if (end < f.readUpTo) this.log.warn({ file: f.name, end, size: f.readUpTo }, 'binlog file ends with an incomplete event (server crash); archived up to the last complete event');
    await this.putSegment(s, f, 'file', 0, end, f.whole, f.parser.facts.closedBy !== undefined, undefined);
    // The whole file is stored: its pieces are redundant now.
    await this.o.repo.deletePieces(this.o.source.name, s.timeline, f.name);
    f.uploadedUpTo = end;
    f.pieces = [];
    this.log.info({ file: f.name, bytes: end, transactions: f.whole.transactions }, 'binlog file archived');
  }

  /** Upload a byte range of a spool file, then its sidecar (a sidecar always has its object). */
  private async putSegment(s: Session, f: Followed, kind: 'file' | 'piece', start: number, end: number, st: RangeStats, closed: boolean, level: number | undefined): Promise<Sidecar> {
    const name = binlogKeys.segmentName(kind, f.name, start, end, objectSuffix(!!this.o.cfg.repository.encryption));
    // A piece is short-lived (folded, then replaced by the whole file): a short lock; one that stays gets the long lock (keepPiecesLocked).
    const stored = await this.uploadRange(s, f.name, kind, start, end, name, kind === 'piece');
    const sidecar = this.sidecar(s, f, kind, start, end, st, name, stored, closed);
    if (level !== undefined && kind === 'piece') sidecar.level = level;
    if (start === 0 && f.parser.facts.startGtids) sidecar.startGtids = f.parser.facts.startGtids.toString();
    await this.o.repo.putSidecar(sidecar);
    this.o.events?.onSegment?.(sidecar);
    return sidecar;
  }

  private async uploadRange(s: Session, file: string, kind: 'file' | 'piece', start: number, end: number, objectName: string, shortLock: boolean): Promise<StoredObject> {
    const raw = createReadStream(path.join(this.spoolDir, file), { start, end: end - 1, highWaterMark: 1024 * 1024 });
    const key = segmentKey({ source: this.o.source.name, timeline: s.timeline, file, kind, object: { name: objectName } });
    return uploadCompressed(raw, this.o.repo.binlogWriter(this.o.source.name), key, { codec: codecFor(this.o.cfg, this.o.source), signal: s.lost, shortLock });
  }

  private sidecar(s: Session, f: Followed, kind: 'file' | 'piece', start: number, end: number, st: RangeStats, objectName: string, stored: StoredObject, closed: boolean): Sidecar {
    const iso = (x?: number) => (x === undefined ? undefined : new Date(x * 1000).toISOString());
    return {
      format: 1,
      source: this.o.source.name,
      timeline: s.timeline,
      file: f.name,
      kind,
      start,
      end,
      closed,
      ...(f.parser.facts.nextFile ? { nextFile: f.parser.facts.nextFile } : {}),
      checksum: f.parser.facts.checksum,
      firstEventTime: iso(st.firstEventTime),
      lastEventTime: iso(st.lastEventTime),
      transactions: st.transactions,
      firstTransaction: st.first,
      lastTransaction: st.last,
      ...(st.minTimestamp !== undefined ? { minTimestamp: st.minTimestamp, maxTimestamp: st.maxTimestamp } : {}),
      ...(st.problems?.length ? { problems: st.problems } : {}),
      gtids: st.gtids.toString(),
      ...(st.index ? { index: st.index instanceof IndexBuilder ? st.index.build() : st.index } : {}),
      object: { name: objectName, size: stored.size, sha256: stored.sha256, rawSize: stored.rawSize, encryption: this.o.cfg.repository.encryption ? 'age' : null },
      server: { flavor: s.info.flavor, serverId: s.info.identity.serverId, hostname: s.info.identity.hostname, port: s.info.identity.port, ...(s.info.identity.serverUuid ? { serverUuid: s.info.identity.serverUuid } : {}) },
      archivedAt: new Date().toISOString(),
    };
  }
}

/** Problems kept per segment sidecar (the log has every one). */
const PROBLEMS_PER_SEGMENT = 20;

function addProblem(s: RangeStats, p: Problem): void {
  s.problems ??= [];
  if (s.problems.length < PROBLEMS_PER_SEGMENT) s.problems.push(p);
}

function addTrx(s: RangeStats, t: TransactionInfo): void {
  const trx: SidecarTrx = { start: t.start, end: t.end, timestamp: t.timestamp, ...(t.gtid ? { gtid: formatGtid(t.gtid) } : {}) };
  s.transactions++;
  s.first ??= trx;
  s.last = trx;
  s.minTimestamp = Math.min(s.minTimestamp ?? t.timestamp, t.timestamp);
  s.maxTimestamp = Math.max(s.maxTimestamp ?? t.timestamp, t.timestamp);
  if (t.gtid) s.gtids.add(t.gtid);
  if (s.index instanceof IndexBuilder) s.index.add(t);
}

/** An ISO time back to Unix seconds (sidecars keep event times as ISO text). */
function isoSeconds(t: string | undefined): number | undefined {
  return t === undefined ? undefined : Math.floor(Date.parse(t) / 1000);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
