/**
 * Planning a point-in-time restore: which backup, which binlog segments, and
 * the exact positions to start and stop at. The plan starts at the backup's
 * snapshot point and replays a prefix of the binlog from there: every
 * transaction in binlog order up to the stop condition, never a subset.
 *
 * Backups are tried newest first; one is usable when its snapshot point is at
 * or before the stop point (it holds no transaction the target point
 * excludes) and the chain from its snapshot to the stop point has no gap.
 * Finding the exact stop point means reading the archived binlog itself, so
 * the files the plan needs are downloaded (sha256-checked) into a work
 * directory here and replayed from there.
 */
import type { Manifest } from '../repository/manifest.js';
import { BinlogGapError, NotFoundError, UsageError } from '../errors.js';
import { GtidSet, formatGtid, type Flavor } from '../mysql/gtid.js';
import type { TransactionInfo } from '../mysql/binlog-events.js';
import type { ObjectReader } from '../storage/store.js';
import type { CodecOptions } from '../pipeline/stages.js';
import { backupTimeline, comparePoints, type ChainFile, type Gap, type LogPoint, type Timeline } from '../binlog/chain.js';
import { materializeFile, scanFile } from '../binlog/replay.js';
import { describePoint, parseGtidTarget, type TargetPoint } from './point.js';

/** A transaction as the plan shows it. */
export interface PlannedTrx {
  file: string;
  start: number;
  end: number;
  time: string;
  gtid?: string | undefined;
}

/** One binlog file to replay, with its positions. */
export interface ReplayFile {
  file: string;
  path: string;
  segments: number;
  bytes: number;
  start?: number | undefined;
  stop?: number | undefined;
}

/** What a point-in-time restore will do. */
export interface PitrPlan {
  point: TargetPoint;
  stopCondition: string;
  backupId: string;
  timeline: string;
  start: LogPoint;
  stop: LogPoint;
  lastIncluded?: PlannedTrx | undefined;
  firstExcluded?: PlannedTrx | undefined;
  files: ReplayFile[];
  replayBytes: number;
  notes: string[];
  /** Newer backups that could not be used, and why. */
  skipped: Array<{ backupId: string; reason: string }>;
}

interface PlanContext {
  /** The source's binlog segments (Repository.binlogObjects). */
  store: ObjectReader;
  codec: Pick<CodecOptions, 'zstd' | 'age'>;
  workDir: string;
  signal?: AbortSignal | undefined;
  now?: Date;
  /** Local copies of archived files, by timeline/file. */
  cache: Map<string, string>;
}

type Outcome = { ok: true; stop: LogPoint; lastIncluded?: PlannedTrx | undefined; firstExcluded?: PlannedTrx | undefined; notes: string[] } | { ok: false; reason: string };

/** Plan a restore to `point` from the given committed backups and archived chain. */
export async function planPointInTime(
  point: TargetPoint,
  manifests: Manifest[],
  timelines: Timeline[],
  ctx: Omit<PlanContext, 'cache'>,
): Promise<PitrPlan> {
  const c: PlanContext = { ...ctx, cache: new Map() };
  const candidates = manifests.filter((m) => m.snapshot).sort((a, b) => (a.id < b.id ? 1 : -1));
  if (candidates.length === 0) throw new NotFoundError('no committed backup with a snapshot point exists; take a backup first (point-in-time restores start from one)');
  if (point.kind === 'time' && ctx.now && point.seconds > Math.floor(ctx.now.getTime() / 1000) + 1) {
    throw new UsageError(`--to ${point.text} is in the future (now is ${ctx.now.toISOString()})`);
  }
  const skipped: PitrPlan['skipped'] = [];
  let lastGapError: BinlogGapError | undefined;
  for (const [i, m] of candidates.entries()) {
    const tl = timelines.find((t) => t.id === backupTimeline(m));
    if (!tl) {
      skipped.push({ backupId: m.id, reason: 'no binlog is archived for the server it was taken on' });
      continue;
    }
    if (point.kind === 'time' && i < candidates.length - 1 && Date.parse(m.startedAt) / 1000 - point.seconds > 5) {
      skipped.push({ backupId: m.id, reason: 'taken after the target time' });
      continue;
    }
    let outcome: Outcome;
    try {
      outcome = await resolve(point, m, tl, c);
    } catch (err) {
      if (err instanceof BinlogGapError) {
        lastGapError ??= err;
        skipped.push({ backupId: m.id, reason: err.message });
        continue;
      }
      throw err;
    }
    if (!outcome.ok) {
      skipped.push({ backupId: m.id, reason: outcome.reason });
      continue;
    }
    return buildPlan(point, m, tl, outcome, skipped, c);
  }
  if (lastGapError) throw lastGapError;
  throw new NotFoundError(`no backup can reach ${describePoint(point)}: ${skipped.map((s) => `${s.backupId}: ${s.reason}`).join('; ')}`, { skipped });
}

/** Find the stop point for one backup, or say why it cannot be used. */
async function resolve(point: TargetPoint, m: Manifest, tl: Timeline, c: PlanContext): Promise<Outcome> {
  const snap = m.snapshot!;
  const P: LogPoint = { file: snap.file, offset: snap.position };
  const startIdx = tl.files.findIndex((f) => f.file === snap.file);
  if (startIdx < 0) return { ok: false, reason: `its snapshot file ${snap.file} is not archived` };
  const cond = condition(point, tl.flavor, snap.gtid);
  // 1. The backup must not already hold a transaction the point excludes
  //    (only a time or a GTID can exclude what a backup holds).
  if (point.kind === 'position') {
    const cmp = comparePoints({ file: point.file, offset: point.position }, P);
    if (cmp < 0) return { ok: false, reason: `its snapshot point ${P.file}:${P.offset} is after ${point.file}:${point.position}` };
    if (cmp === 0) return { ok: true, stop: P, notes: ['the backup itself ends exactly at the target: no binlog to replay'] };
  }
  if (point.kind === 'time' || point.kind === 'gtid') {
    const pre = await checkBeforeSnapshot(cond, tl.files[startIdx] as ChainFile, P, tl, c);
    if (pre) return pre;
  }
  if (cond.done()) return { ok: true, stop: P, notes: ['the backup itself ends exactly at the target: no binlog to replay'] };
  // 2. Walk forward from the snapshot point until the condition stops us, or a gap does.
  const gap = nextGap(tl, P);
  let last: PlannedTrx | undefined;
  for (let i = startIdx; i < tl.files.length; i++) {
    const f = tl.files[i] as ChainFile;
    // Never read past the gap: what follows it cannot be replayed from this backup.
    if (gap?.before && comparePoints({ file: f.file, offset: 0 }, { file: gap.before.file, offset: 0 }) > 0) break;
    const local = await localFile(f, tl, c);
    let hit: Outcome | undefined;
    await scanFile(local, tl.flavor, (t) => {
      if (f.file === P.file && t.start < P.offset) return false;
      const trx = planned(f.file, t);
      const verdict = cond.step(trx, t);
      if (verdict === 'include') {
        last = trx;
        return false;
      }
      if (verdict === 'include-and-stop') {
        last = trx;
        hit = { ok: true, stop: { file: f.file, offset: t.end }, lastIncluded: trx, notes: [] };
        return true;
      }
      hit = verdict.stopBefore
        ? { ok: true, stop: { file: f.file, offset: t.start }, lastIncluded: last, firstExcluded: trx, notes: [] }
        : { ok: false, reason: verdict.error };
      return true;
    });
    if (hit) return hit;
  }
  return endOfChain(point, P, last, gap, tl, m);
}

/** The stop rule for each kind of point, fed one transaction at a time. */
interface Condition {
  /** Before the snapshot: does this transaction make the backup too new? */
  tooNew(t: TransactionInfo): string | undefined;
  step(trx: PlannedTrx, t: TransactionInfo): 'include' | 'include-and-stop' | { stopBefore: true } | { stopBefore: false; error: string };
  /** Already satisfied (at the snapshot point)? */
  done(): boolean;
}

function condition(point: TargetPoint, flavor: Flavor, snapshotGtid: string): Condition {
  switch (point.kind) {
    case 'time':
      return {
        tooNew: (t) => (t.timestamp > point.seconds ? `it holds a transaction committed at ${iso(t.timestamp)}, after the target time` : undefined),
        step: (_trx, t) => (t.timestamp > point.seconds ? { stopBefore: true } : 'include'),
        done: () => false,
      };
    case 'latest':
      return { tooNew: () => undefined, step: () => 'include', done: () => false };
    case 'position':
      return {
        tooNew: () => undefined,
        step: (trx) => {
          const cmp = comparePoints({ file: trx.file, offset: trx.end }, { file: point.file, offset: point.position });
          if (cmp < 0) return 'include';
          if (cmp === 0) return 'include-and-stop';
          if (trx.file === point.file && trx.start === point.position) return { stopBefore: true };
          return { stopBefore: false, error: `${point.file}:${point.position} is not a transaction boundary; the nearest are ${point.file}:${trx.start} and ${trx.file}:${trx.end}` };
        },
        done: () => false,
      };
    case 'gtid': {
      const target = parseGtidTarget(point.text, flavor);
      const reached = GtidSet.parse(flavor, snapshotGtid);
      return {
        tooNew: (t) => (t.gtid && !target.contains(t.gtid) ? `it already holds ${formatGtid(t.gtid)}, which is after ${point.text}` : undefined),
        step: (trx, t) => {
          if (reached.containsAll(target)) return { stopBefore: true };
          if (!t.gtid) return 'include';
          if (!target.contains(t.gtid)) {
            return { stopBefore: false, error: `transaction ${formatGtid(t.gtid)} (${trx.file}:${trx.start}) comes before all of ${point.text} in the binlog but is not part of it: the set is not a prefix of the log and cannot be stopped at exactly` };
          }
          reached.add(t.gtid);
          return reached.containsAll(target) ? 'include-and-stop' : 'include';
        },
        done: () => reached.containsAll(target) && (target.flavor !== 'mariadb' || sameMariaPosition(reached, target)),
      };
    }
  }
}

/** MariaDB: the snapshot position equals the target exactly (no later GTID in it). */
function sameMariaPosition(reached: GtidSet, target: GtidSet): boolean {
  return target.containsAll(reached);
}

async function checkBeforeSnapshot(cond: Condition, f: ChainFile, P: LogPoint, tl: Timeline, c: PlanContext): Promise<Outcome | undefined> {
  let reason: string | undefined;
  const local = await localFile(f, tl, c);
  await scanFile(local, tl.flavor, (t) => {
    if (t.end > P.offset) return true;
    reason = cond.tooNew(t);
    return reason !== undefined;
  });
  return reason ? { ok: false, reason } : undefined;
}

function nextGap(tl: Timeline, from: LogPoint): Gap | undefined {
  return tl.gaps.filter((g) => g.before && comparePoints(g.before, from) >= 0).sort((a, b) => comparePoints(a.before!, b.before!))[0];
}

function endOfChain(point: TargetPoint, P: LogPoint, last: PlannedTrx | undefined, gap: Gap | undefined, tl: Timeline, m: Manifest): Outcome {
  const endPoint: LogPoint = last ? { file: last.file, offset: last.end } : P;
  const lastTime = last?.time ?? m.startedAt;
  if (gap) {
    const wanted = describePoint(point);
    throw new BinlogGapError(
      `cannot restore to ${wanted}: the binlog of timeline ${tl.id} has a gap after ${gap.before?.file}:${gap.before?.offset} (${gap.detail}). The nearest restorable point before the gap is ${lastTime} (${endPoint.file}:${endPoint.offset}); after the gap, only a backup taken after it can be the start`,
      { gap, nearestBefore: { time: lastTime, ...endPoint } },
    );
  }
  if (point.kind === 'gtid') return { ok: false, reason: `${point.text} is not in the archived binlog after its snapshot (the archive ends at ${lastTime})` };
  if (point.kind === 'position') return { ok: false, reason: `${point.file}:${point.position} is not in the archived binlog after its snapshot (the archive ends at ${endPoint.file}:${endPoint.offset})` };
  const notes: string[] = [];
  if (point.kind === 'time') notes.push(`no archived transaction is stamped after the target time; the newest archived transaction is at ${lastTime}, so the restore ends there (anything the source committed later and has not yet archived is not included)`);
  return { ok: true, stop: endPoint, lastIncluded: last, notes };
}

async function localFile(f: ChainFile, tl: Timeline, c: PlanContext): Promise<string> {
  const k = `${tl.id}/${f.file}`;
  const have = c.cache.get(k);
  if (have) return have;
  const p = await materializeFile(c.store, f, `${c.workDir}/${tl.id}`, c.codec, c.signal);
  c.cache.set(k, p);
  return p;
}

function planned(file: string, t: TransactionInfo): PlannedTrx {
  return { file, start: t.start, end: t.end, time: iso(t.timestamp), ...(t.gtid ? { gtid: formatGtid(t.gtid) } : {}) };
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

async function buildPlan(point: TargetPoint, m: Manifest, tl: Timeline, o: Outcome & { ok: true }, skipped: PitrPlan['skipped'], c: PlanContext): Promise<PitrPlan> {
  const start: LogPoint = { file: m.snapshot!.file, offset: m.snapshot!.position };
  const files: ReplayFile[] = [];
  if (comparePoints(o.stop, start) > 0) {
    for (const f of tl.files) {
      if (comparePoints({ file: f.file, offset: 0 }, { file: start.file, offset: 0 }) < 0) continue;
      if (comparePoints({ file: f.file, offset: 0 }, { file: o.stop.file, offset: 0 }) > 0) break;
      files.push({
        file: f.file,
        path: await localFile(f, tl, c),
        segments: f.segments.length,
        bytes: f.segments.reduce((s, x) => s + x.object.size, 0),
        start: f.file === start.file ? start.offset : undefined,
        stop: f.file === o.stop.file ? o.stop.offset : undefined,
      });
    }
  }
  const notes = [...o.notes];
  return {
    point,
    stopCondition: describePoint(point),
    backupId: m.id,
    timeline: tl.id,
    start,
    stop: o.stop,
    lastIncluded: o.lastIncluded,
    firstExcluded: o.firstExcluded,
    files,
    replayBytes: files.reduce((s, f) => s + f.bytes, 0),
    notes,
    skipped,
  };
}
