/**
 * The binlog archiver: streams a source's binary log over the replication
 * protocol (mariadb-binlog / mysqlbinlog --raw --stop-never) into a local
 * spool, and uploads it: new bytes of the active file every uploadInterval
 * as a piece, each closed file whole as soon as it closes (replacing its
 * pieces). It never rotates the source's logs.
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
import { asBacktrackError } from '../errors.js';
import { BinlogParser, type TransactionInfo } from '../mysql/binlog-events.js';
import { withClientCredentials } from '../mysql/client.js';
import { closeQuietly, connect, type ConnectionSpec } from '../mysql/connect.js';
import { binlogStreamArgs } from '../mysql/flavor.js';
import { GtidSet, formatGtid, type Flavor } from '../mysql/gtid.js';
import { serverInfo, type ServerInfo } from '../mysql/server.js';
import type { Logger } from '../observability/logger.js';
import { runTool, type ToolProcess } from '../pipeline/spawn.js';
import { objectSuffix } from '../pipeline/stages.js';
import { uploadCompressed } from '../pipeline/upload.js';
import { binlogKeys } from '../repository/layout.js';
import { segmentKey, type WritableRepository } from '../repository/repository.js';
import { fileIndex, timelineOf, type GapRecord, type Sidecar, type SidecarTrx } from '../repository/sidecar.js';
import { codecFor, sourceSpec, toolPaths } from '../runtime/context.js';
import { findStartPoint } from './start-point.js';

/** What the archiver reports (metrics, tests, the daemon). */
export interface ArchiverEvents {
  onSegment?: (s: Sidecar) => void;
  onGap?: (g: GapRecord) => void;
  /** Seconds the oldest not-yet-uploaded event has waited (0 when caught up). */
  onLag?: (seconds: number) => void;
  onError?: (err: unknown) => void;
}

export interface ArchiverOptions {
  cfg: Config;
  source: SourceConfig;
  repo: WritableRepository;
  log: Logger;
  events?: ArchiverEvents;
}

/** Statistics of a byte range being prepared for upload. */
interface RangeStats {
  transactions: number;
  first?: SidecarTrx | undefined;
  last?: SidecarTrx | undefined;
  gtids: GtidSet;
  firstEventTime?: number | undefined;
  lastEventTime?: number | undefined;
}

/** One spool file being followed. */
interface Followed {
  name: string;
  parser: BinlogParser;
  /** Bytes of the spool file fed to the parser. */
  readUpTo: number;
  /** Bytes of this file already in the repository. */
  uploadedUpTo: number;
  whole: RangeStats;
  pending: RangeStats;
  /** When the first event not yet uploaded was seen (for the lag). */
  pendingSince?: number | undefined;
  /** Being replaced by the whole file in the background. */
  consolidating?: boolean;
}

const newStats = (flavor: Flavor): RangeStats => ({ transactions: 0, gtids: new GtidSet(flavor) });

/** The default replica server id: stable per source, above the usual ranges. */
export function defaultReplicaServerId(source: string): number {
  return 4_000_000_000 + (createHash('sha256').update(source).digest().readUInt32BE(0) % 200_000_000);
}

export class BinlogArchiver {
  private stopping = false;
  private stopSignal = new AbortController();
  private running?: Promise<void>;
  private child?: ToolProcess | undefined;
  private consolidation?: Promise<void> | undefined;
  private readonly spec: ConnectionSpec;
  private readonly spoolDir: string;
  private readonly log: Logger;

  constructor(private readonly o: ArchiverOptions) {
    this.spec = sourceSpec(o.source);
    this.spoolDir = o.source.binlog.spoolDir ?? path.join(o.cfg.workDir, 'spool', o.source.name);
    this.log = o.log.child({ source: o.source.name, job: 'binlog' });
  }

  /** Start archiving in the background; idempotent. */
  start(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Upload what is complete, stop streaming, and resolve when done; idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopSignal.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    let backoff = 1000;
    while (!this.stopping) {
      const began = Date.now();
      try {
        await this.session();
      } catch (err) {
        if (this.stopping) break;
        this.o.events?.onError?.(err);
        this.log.error({ err: asBacktrackError(err) }, 'binlog archiving interrupted; reconnecting');
      }
      if (this.stopping) break;
      if (Date.now() - began > 60_000) backoff = 1000;
      await sleep(backoff, this.stopSignal.signal);
      backoff = Math.min(backoff * 2, 30_000);
    }
  }

  /** One connection's worth of archiving: decide where to start, stream, upload. */
  private async session(): Promise<void> {
    const info = await this.inspect();
    const timeline = timelineOf(info.flavor, info.identity);
    const start = await this.startPoint(info, timeline);
    await rm(this.spoolDir, { recursive: true, force: true });
    await mkdir(this.spoolDir, { recursive: true });
    this.log.info({ timeline, file: start.file, resumeAt: start.uploadedUpTo }, 'binlog archiving started');
    const tool = toolPaths(this.o.cfg, info.flavor).binlog;
    const replicaId = this.o.source.binlog.replicaServerId ?? defaultReplicaServerId(this.o.source.name);
    await withClientCredentials(this.spec, async (cred) => {
      const child = runTool(tool, [...cred.args, ...binlogStreamArgs(info.flavor, this.spoolDir, start.file, replicaId)], { fds: cred.fds, label: tool, stdin: 'ignore' });
      this.child = child;
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
      const followed = new Map<string, Followed>();
      const ctx = { info, timeline, followed, resume: start };
      try {
        // Passes run at a fixed rate (not "interval after the last pass"), so
        // an upload's own time does not add to the recovery point lag.
        while (!this.stopping && !exited) {
          const began = Date.now();
          await this.pass(ctx);
          this.log.debug({ passMs: Date.now() - began }, 'archiver pass');
          const wait = Math.max(0, this.o.source.binlog.uploadInterval - (Date.now() - began));
          await Promise.race([sleep(wait, this.stopSignal.signal), exit.catch(() => undefined)]);
        }
        // Whatever is complete goes up before we let go: on stop, and after the stream died.
        await this.pass(ctx);
        await this.consolidation;
      } finally {
        await this.consolidation?.catch(() => undefined);
        child.kill();
        await child.done.catch(() => undefined);
        this.child = undefined;
      }
      await exit; // a stream that died is an error (reconnect with backoff)
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
  private async startPoint(info: ServerInfo, timeline: string): Promise<{ file: string; uploadedUpTo: number }> {
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

  /** Read what the stream wrote since the last pass and upload what is complete. */
  private async pass(ctx: { info: ServerInfo; timeline: string; followed: Map<string, Followed>; resume: { file: string; uploadedUpTo: number } }): Promise<void> {
    const names = (await readdir(this.spoolDir)).filter((n) => !n.startsWith('.')).sort((a, b) => fileIndex(a) - fileIndex(b));
    let lag = 0;
    for (const [i, name] of names.entries()) {
      let f = ctx.followed.get(name);
      if (!f) {
        const uploadedUpTo = name === ctx.resume.file ? ctx.resume.uploadedUpTo : 0;
        f = this.follow(name, ctx.info.flavor, uploadedUpTo);
        ctx.followed.set(name, f);
      }
      if (f.consolidating) continue;
      await this.readNew(f);
      const complete = (f.parser.facts.closedBy !== undefined && f.parser.boundary === f.readUpTo) || i < names.length - 1;
      if (complete && f.uploadedUpTo <= 4) {
        // Catching up on a file nothing of which is archived: one object, in order.
        await this.consolidate(ctx, f);
        continue;
      }
      // New bytes first, as a piece: this is what keeps the recovery point lag low.
      if (f.parser.boundary > Math.max(f.uploadedUpTo, 4)) await this.uploadPiece(ctx, f);
      if (f.pendingSince !== undefined) lag = Math.max(lag, (Date.now() - f.pendingSince) / 1000);
      // A closed file's pieces are then replaced by the whole file, in the
      // background: a 1 GiB rotation must not hold up the next pieces.
      if (complete && !this.consolidation) {
        f.consolidating = true;
        const file = f;
        this.consolidation = this.consolidate(ctx, file)
          .catch((err: unknown) => {
            file.consolidating = false;
            this.log.warn({ file: file.name, err }, 'could not replace the pieces of a closed binlog file; its pieces stay, and it is retried');
          })
          .finally(() => (this.consolidation = undefined));
      }
    }
    this.o.events?.onLag?.(lag);
  }

  /** Upload a complete file whole, then drop its pieces and its spool copy. */
  private async consolidate(ctx: { info: ServerInfo; timeline: string; followed: Map<string, Followed> }, f: Followed): Promise<void> {
    await this.uploadWhole(ctx, f);
    ctx.followed.delete(f.name);
    await rm(path.join(this.spoolDir, f.name), { force: true });
  }

  private follow(name: string, flavor: Flavor, uploadedUpTo: number): Followed {
    const f: Followed = { name, readUpTo: 0, uploadedUpTo, whole: newStats(flavor), pending: newStats(flavor), parser: undefined as unknown as BinlogParser };
    f.parser = new BinlogParser(flavor, {
      onEvent: (e) => {
        for (const s of e.end > f.uploadedUpTo ? [f.whole, f.pending] : [f.whole]) {
          s.firstEventTime ??= e.timestamp;
          s.lastEventTime = e.timestamp;
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

  private async uploadPiece(ctx: { info: ServerInfo; timeline: string }, f: Followed): Promise<void> {
    const start = Math.max(f.uploadedUpTo, 0);
    const end = f.parser.boundary;
    const suffix = objectSuffix(!!this.o.cfg.repository.encryption);
    const name = binlogKeys.segmentName('piece', f.name, start, suffix);
    const stored = await this.uploadRange(ctx, f.name, 'piece', start, end, name);
    const sidecar = this.sidecar(ctx, f, 'piece', start, end, f.pending, name, stored, false);
    if (start === 0 && f.parser.facts.startGtids) sidecar.startGtids = f.parser.facts.startGtids.toString();
    await this.o.repo.putSidecar(sidecar);
    f.uploadedUpTo = end;
    f.pending = newStats(ctx.info.flavor);
    f.pendingSince = undefined;
    this.o.events?.onSegment?.(sidecar);
  }

  private async uploadWhole(ctx: { info: ServerInfo; timeline: string }, f: Followed): Promise<void> {
    const suffix = objectSuffix(!!this.o.cfg.repository.encryption);
    const name = binlogKeys.segmentName('file', f.name, 0, suffix);
    // A file the server left without a rotate or stop event (a crash) ends at
    // its last complete event; a torn event after it was never committed.
    const end = f.parser.boundary;
    if (end < f.readUpTo) this.log.warn({ file: f.name, end, size: f.readUpTo }, 'binlog file ends with an incomplete event (server crash); archived up to the last complete event');
    const stored = await this.uploadRange(ctx, f.name, 'file', 0, end, name);
    const sidecar = this.sidecar(ctx, f, 'file', 0, end, f.whole, name, stored, f.parser.facts.closedBy !== undefined);
    sidecar.startGtids = f.parser.facts.startGtids?.toString();
    await this.o.repo.putSidecar(sidecar);
    // The whole file is stored: its pieces are redundant now.
    await this.o.repo.deletePieces(this.o.source.name, ctx.timeline, f.name);
    f.uploadedUpTo = end;
    this.log.info({ file: f.name, bytes: end, transactions: f.whole.transactions }, 'binlog file archived');
    this.o.events?.onSegment?.(sidecar);
  }

  private async uploadRange(ctx: { timeline: string }, file: string, kind: 'file' | 'piece', start: number, end: number, objectName: string) {
    const raw = createReadStream(path.join(this.spoolDir, file), { start, end: end - 1, highWaterMark: 1024 * 1024 });
    const key = segmentKey({ source: this.o.source.name, timeline: ctx.timeline, file, kind, object: { name: objectName } });
    return uploadCompressed(raw, this.o.repo.binlogWriter(this.o.source.name), key, { codec: codecFor(this.o.cfg, this.o.source) });
  }

  private sidecar(ctx: { info: ServerInfo; timeline: string }, f: Followed, kind: 'file' | 'piece', start: number, end: number, st: RangeStats, objectName: string, stored: { size: number; sha256: string; rawSize: number }, closed: boolean): Sidecar {
    const iso = (s?: number) => (s === undefined ? undefined : new Date(s * 1000).toISOString());
    return {
      format: 1,
      source: this.o.source.name,
      timeline: ctx.timeline,
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
      gtids: st.gtids.toString(),
      object: { name: objectName, size: stored.size, sha256: stored.sha256, rawSize: stored.rawSize, encryption: this.o.cfg.repository.encryption ? 'age' : null },
      server: { flavor: ctx.info.flavor, serverId: ctx.info.identity.serverId, hostname: ctx.info.identity.hostname, port: ctx.info.identity.port, ...(ctx.info.identity.serverUuid ? { serverUuid: ctx.info.identity.serverUuid } : {}) },
      archivedAt: new Date().toISOString(),
    };
  }
}

function addTrx(s: RangeStats, t: TransactionInfo): void {
  const trx: SidecarTrx = { start: t.start, end: t.end, timestamp: t.timestamp, ...(t.gtid ? { gtid: formatGtid(t.gtid) } : {}) };
  s.transactions++;
  s.first ??= trx;
  s.last = trx;
  if (t.gtid) s.gtids.add(t.gtid);
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
