/**
 * Planning a point-in-time restore: which backup, which binlog segments, and
 * the exact positions to start and stop at. The plan starts at the backup's
 * snapshot point and replays a prefix of the binlog from there: every
 * transaction in binlog order up to the stop condition, never a subset.
 *
 * The plan is made from the sidecars: each segment's sidecar holds its
 * byte range, first and last transaction, GTIDs and smallest and largest
 * commit time, which is enough to walk the chain segment by segment. Only
 * the segment that holds the stop point is fetched and scanned to find the
 * exact transaction (and one the sidecars cannot settle, such as a segment
 * archived before commit times were recorded). `--dry-run` fetches nothing
 * else, and the replay streams the segments later.
 *
 * Backups are tried newest first; one is usable when its snapshot point is
 * at or before the stop point (it holds no transaction the target point
 * excludes) and the chain from its snapshot to the stop point has no gap.
 */
import type { Manifest } from '../repository/manifest.js';
import type { Sidecar, SidecarTrx } from '../repository/sidecar.js';
import { BinlogGapError, BinlogUnreadableError, NotFoundError, UsageError } from '../errors.js';
import { GtidSet, formatGtid, parseGtid, type Flavor } from '../mysql/gtid.js';
import { BinlogParser, type Problem, type TransactionInfo } from '../mysql/binlog/parser.js';
import { backupTimeline, comparePoints, type ChainFile, type Gap, type LogPoint, type Timeline } from '../binlog/chain.js';
import { fileBytes, type SegmentSource } from '../binlog/segments.js';
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
  /** The archived file: the segments its bytes are read from. */
  chain: ChainFile;
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
  /** Stored bytes of the segments fetched to make the plan (the boundary segment). */
  fetchedBytes: number;
  notes: string[];
  /** Newer backups that could not be used, and why. */
  skipped: Array<{ backupId: string; reason: string }>;
}

/** Where the segments come from, and the clock (a time in the future is refused). */
export interface PlanContext {
  src: SegmentSource;
  now?: Date;
}

type Outcome = { ok: true; stop: LogPoint; lastIncluded?: PlannedTrx | undefined; firstExcluded?: PlannedTrx | undefined; notes: string[] } | { ok: false; reason: string };

/** Plan a restore to `point` from the given committed backups and archived chain. */
export async function planPointInTime(point: TargetPoint, manifests: Manifest[], timelines: Timeline[], ctx: PlanContext): Promise<PitrPlan> {
  let fetched = 0;
  const src: SegmentSource = { ...ctx.src, onFetched: (n, s) => ((fetched += n), ctx.src.onFetched?.(n, s)) };
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
      outcome = await resolve(point, m, tl, candidates, src);
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
    const plan = buildPlan(point, m, tl, outcome, skipped);
    refuseProblems(plan);
    return { ...plan, fetchedBytes: fetched };
  }
  if (lastGapError) throw lastGapError;
  throw new NotFoundError(`no backup can reach ${describePoint(point)}: ${skipped.map((s) => `${s.backupId}: ${s.reason}`).join('; ')}`, { skipped });
}

/** A segment of the walk: the part of a file's cover after the snapshot point. */
interface Step {
  f: ChainFile;
  seg: Sidecar;
  /** Where this step's transactions start to count (the snapshot, or 0). */
  after: number;
}

/** Find the stop point for one backup, or say why it cannot be used. */
async function resolve(point: TargetPoint, m: Manifest, tl: Timeline, all: Manifest[], src: SegmentSource): Promise<Outcome> {
  const snap = m.snapshot!;
  const P: LogPoint = { file: snap.file, offset: snap.position };
  const startIdx = tl.files.findIndex((f) => f.file === snap.file);
  if (startIdx < 0) return { ok: false, reason: `its snapshot file ${snap.file} is not archived` };
  const snapFile = tl.files[startIdx] as ChainFile;
  if ((snapFile.segments[0]?.start ?? 0) > 0) return { ok: false, reason: `the start of its snapshot file ${snap.file} is not archived` };
  if (point.kind === 'position') {
    const cmp = comparePoints({ file: point.file, offset: point.position }, P);
    if (cmp < 0) return { ok: false, reason: `its snapshot point ${P.file}:${P.offset} is after ${point.file}:${point.position}` };
    if (cmp === 0) return { ok: true, stop: P, notes: ['the backup itself ends exactly at the target: no binlog to replay'] };
  }
  const cond = condition(point, tl.flavor, snap.gtid);
  // 1. The backup must not already hold a transaction the point excludes.
  const tooNew = await holdsExcluded(point, cond, m, tl, startIdx, P, src);
  if (tooNew) return { ok: false, reason: tooNew };
  if (cond.done()) return { ok: true, stop: P, notes: ['the backup itself ends exactly at the target: no binlog to replay'] };
  // 2. Walk the segments after the snapshot, from their sidecars, until one holds the stop point or a gap comes.
  const gap = nextGap(tl, P);
  let last: PlannedTrx | undefined;
  for (let i = startIdx; i < tl.files.length; i++) {
    const f = tl.files[i] as ChainFile;
    if (gap?.before && comparePoints({ file: f.file, offset: 0 }, { file: gap.before.file, offset: 0 }) > 0) break;
    for (const seg of f.segments) {
      const step: Step = { f, seg, after: f.file === P.file ? P.offset : 0 };
      if (seg.end <= step.after) continue;
      if (gap?.before && comparePoints({ file: f.file, offset: seg.start }, gap.before) >= 0) break;
      const quick = cond.fromSidecar(step);
      if (quick === 'include') {
        last = lastAfter(step) ?? last;
        continue;
      }
      if (quick !== 'scan') return quick;
      // The sidecar cannot settle it: read this file's transactions from here.
      const hit = await scanFrom(step, cond, last, gap, src);
      if (hit.outcome) return hit.outcome;
      last = hit.last;
      break; // the scan read the rest of the file
    }
  }
  return endOfChain(point, P, last, gap, tl, m, all);
}

/** The stop rule for each kind of point: per segment from its sidecar, and per transaction when scanned. */
interface Condition {
  /** Before the snapshot (scanned): does this transaction make the backup too new? */
  tooNew(t: TransactionInfo): string | undefined;
  /** From a segment's sidecar: all of it is in, or it must be scanned (or the plan is decided). */
  fromSidecar(s: Step): 'include' | 'scan' | Outcome;
  /** One scanned transaction. */
  step(trx: PlannedTrx, t: TransactionInfo): 'include' | 'include-and-stop' | { stopBefore: true } | { stopBefore: false; error: string };
  /** Already satisfied at the snapshot point? */
  done(): boolean;
}

function condition(point: TargetPoint, flavor: Flavor, snapshotGtid: string): Condition {
  switch (point.kind) {
    case 'time':
      return {
        tooNew: (t) => (t.timestamp > point.seconds ? `it holds a transaction committed at ${iso(t.timestamp)}, after the target time` : undefined),
        fromSidecar: ({ seg }) => (seg.maxTimestamp !== undefined && seg.maxTimestamp <= point.seconds ? 'include' : 'scan'),
        step: (_trx, t) => (t.timestamp > point.seconds ? { stopBefore: true } : 'include'),
        done: () => false,
      };
    case 'latest':
      return { tooNew: () => undefined, fromSidecar: () => 'include', step: () => 'include', done: () => false };
    case 'position': {
      const target = { file: point.file, offset: point.position };
      return {
        tooNew: () => undefined,
        fromSidecar: ({ f, seg }) => {
          if (comparePoints({ file: f.file, offset: seg.end }, target) < 0) return 'include';
          const lastTrx = seg.lastTransaction;
          if (f.file === point.file && lastTrx?.end === point.position) return { ok: true, stop: target, lastIncluded: planned(f.file, lastTrx), notes: [] };
          return 'scan';
        },
        step: (trx) => {
          const cmp = comparePoints({ file: trx.file, offset: trx.end }, target);
          if (cmp < 0) return 'include';
          if (cmp === 0) return 'include-and-stop';
          if (trx.file === point.file && trx.start === point.position) return { stopBefore: true };
          return { stopBefore: false, error: `${point.file}:${point.position} is not a transaction boundary; the nearest are ${point.file}:${trx.start} and ${trx.file}:${trx.end}` };
        },
        done: () => false,
      };
    }
    case 'before': {
      const one = point.gtid ? parseGtid(flavor, point.gtid) : undefined;
      const isIt = (trx: PlannedTrx, t: TransactionInfo) => (one ? t.gtid !== undefined && formatGtid(t.gtid) === formatGtid(one) : trx.file === point.file && trx.start === point.position);
      return {
        tooNew: () => undefined,
        fromSidecar: ({ f, seg }) => {
          if (one) return GtidSet.parse(flavor, seg.gtids).contains(one) ? 'scan' : 'include';
          return comparePoints({ file: f.file, offset: seg.end }, { file: point.file as string, offset: point.position as number }) <= 0 ? 'include' : 'scan';
        },
        step: (trx, t) => {
          if (isIt(trx, t)) return { stopBefore: true };
          if (!one && trx.file === point.file && trx.start > (point.position as number)) {
            return { stopBefore: false, error: `${point.file}:${point.position} is not the start of a transaction; the nearest starts are ${point.file}:${trx.start} and the ones before it (backtrack find lists them)` };
          }
          return 'include';
        },
        done: () => false,
      };
    }
    case 'gtid': {
      const target = parseGtidTarget(point.text, flavor);
      const reached = GtidSet.parse(flavor, snapshotGtid);
      return {
        tooNew: (t) => (t.gtid && !target.contains(t.gtid) ? `it already holds ${formatGtid(t.gtid)}, which is after ${point.text}` : undefined),
        fromSidecar: ({ seg }) => {
          const in_ = GtidSet.parse(flavor, seg.gtids);
          // Every transaction of the segment is part of the target, and the target is not complete yet: all of it is in.
          if (target.containsAll(in_) && !new GtidSet(flavor).addAll(reached).addAll(in_).containsAll(target)) {
            reached.addAll(in_);
            return 'include';
          }
          return 'scan';
        },
        step: (trx, t) => {
          if (reached.containsAll(target)) return { stopBefore: true };
          if (!t.gtid) return 'include';
          if (!target.contains(t.gtid)) {
            return { stopBefore: false, error: `transaction ${formatGtid(t.gtid)} (${trx.file}:${trx.start}) comes before all of ${point.text} in the binlog but is not part of it: the set is not a prefix of the log and cannot be stopped at exactly` };
          }
          reached.add(t.gtid);
          return reached.containsAll(target) ? 'include-and-stop' : 'include';
        },
        done: () => reached.containsAll(target) && (target.flavor !== 'mariadb' || target.containsAll(reached)),
      };
    }
  }
}

/**
 * Does the backup hold a transaction the point excludes? A GTID target is
 * decided by the snapshot's GTID set; a time by the commit times of the
 * transactions archived before the snapshot point in its file (from the
 * sidecars; the segment around the snapshot is scanned only when its
 * sidecar cannot tell).
 */
async function holdsExcluded(point: TargetPoint, cond: Condition, m: Manifest, tl: Timeline, startIdx: number, P: LogPoint, src: SegmentSource): Promise<string | undefined> {
  if (point.kind === 'gtid') {
    const target = parseGtidTarget(point.text, tl.flavor);
    const held = GtidSet.parse(tl.flavor, m.snapshot!.gtid);
    for (const g of held.toString() ? held.toString().split(',') : []) {
      if (tl.flavor === 'mariadb' && !target.contains(parseGtid('mariadb', g))) return `it already holds ${g}, which is after ${point.text}`;
    }
    if (tl.flavor === 'mysql' && !target.containsAll(held)) return `its snapshot GTID set ${held.toString()} holds transactions that are not part of ${point.text}`;
    return undefined;
  }
  if (point.kind === 'before') {
    // The backup already holds the transaction: its GTID is in the snapshot's set, or it starts before the snapshot point.
    if (point.gtid) return GtidSet.parse(tl.flavor, m.snapshot!.gtid).contains(parseGtid(tl.flavor, point.gtid)) ? `it already holds ${point.gtid}` : undefined;
    return comparePoints({ file: point.file as string, offset: point.position as number }, P) < 0 ? `its snapshot point ${P.file}:${P.offset} is after ${point.file}:${point.position}` : undefined;
  }
  if (point.kind !== 'time') return undefined;
  const f = tl.files[startIdx] as ChainFile;
  const before = f.segments.filter((s) => s.start < P.offset);
  if (before.every((s) => s.maxTimestamp !== undefined && (s.end <= P.offset || s.maxTimestamp <= point.seconds))) {
    const over = before.find((s) => (s.maxTimestamp as number) > point.seconds);
    return over ? `it holds a transaction committed at ${iso(over.maxTimestamp as number)}, after the target time` : undefined;
  }
  let reason: string | undefined;
  // Events it cannot read before the snapshot are in the backup already: they do not matter here.
  const parser = new BinlogParser(tl.flavor, {
    name: f.file,
    onTransaction: (t) => {
      if (t.end <= P.offset) reason ??= cond.tooNew(t);
    },
  });
  for await (const chunk of fileBytes(src, f, 0, P.offset)) {
    parser.push(chunk);
    if (reason) break;
  }
  return reason;
}

/** The last transaction of a step that lies after the snapshot, from its sidecar. */
function lastAfter(s: Step): PlannedTrx | undefined {
  const t = s.seg.lastTransaction;
  return t && t.start >= s.after ? planned(s.f.file, t) : undefined;
}

/**
 * Scan a file from the nearest transaction boundary at or before the step's
 * segment to the stop point (or the end of the file, or the gap).
 */
async function scanFrom(s: Step, cond: Condition, last: PlannedTrx | undefined, gap: Gap | undefined, src: SegmentSource): Promise<{ outcome?: Outcome; last?: PlannedTrx | undefined }> {
  const from = boundaryBefore(s);
  const until = gap?.before?.file === s.f.file ? gap.before.offset : s.f.end;
  let outcome: Outcome | undefined;
  // Events that cannot be read are collected, not thrown: only those before the stop point matter.
  const problems: Problem[] = [];
  const parser = new BinlogParser(s.f.segments[0]?.server.flavor ?? 'mariadb', {
    name: s.f.file,
    onProblem: (p) => problems.push(p),
    startOffset: from,
    ...(from === 0 ? {} : { checksum: s.seg.checksum }),
    onTransaction: (t) => {
      if (outcome || t.start < s.after || t.end > until) return;
      const trx = planned(s.f.file, t);
      const verdict = cond.step(trx, t);
      if (verdict === 'include') last = trx;
      else if (verdict === 'include-and-stop') {
        last = trx;
        outcome = { ok: true, stop: { file: s.f.file, offset: t.end }, lastIncluded: trx, notes: [] };
      } else if (verdict.stopBefore) outcome = { ok: true, stop: { file: s.f.file, offset: t.start }, lastIncluded: last, firstExcluded: trx, notes: [] };
      else outcome = { ok: false, reason: verdict.error };
    },
  });
  for await (const chunk of fileBytes(src, s.f, from, until)) {
    parser.push(chunk);
    if (outcome) break;
  }
  const stop = outcome?.ok ? outcome.stop.offset : Infinity;
  const blocking = problems.find((p) => p.pos >= s.after && p.pos < stop);
  if (blocking) throw new BinlogUnreadableError(`cannot replay ${s.f.file} past offset ${blocking.pos}: ${blocking.message}`, { file: s.f.file, offset: blocking.pos, type: blocking.type, kind: blocking.kind });
  return outcome ? { outcome } : { last };
}

/** A transaction boundary at or before the step's segment: the snapshot, an earlier segment's last transaction end, or the file's start. */
function boundaryBefore(s: Step): number {
  if (s.after >= s.seg.start) return s.after;
  let best = s.after;
  for (const x of s.f.segments) {
    const end = x.lastTransaction?.end;
    if (x.end <= s.seg.start && end !== undefined && end <= s.seg.start && end > best) best = end;
  }
  return best;
}

function nextGap(tl: Timeline, from: LogPoint): Gap | undefined {
  return tl.gaps.filter((g) => g.before && comparePoints(g.before, from) >= 0).sort((a, b) => comparePoints(a.before!, b.before!))[0];
}

function endOfChain(point: TargetPoint, P: LogPoint, last: PlannedTrx | undefined, gap: Gap | undefined, tl: Timeline, m: Manifest, all: Manifest[]): Outcome {
  const endPoint: LogPoint = last ? { file: last.file, offset: last.end } : P;
  const lastTime = last?.time ?? m.startedAt;
  if (gap) {
    const wanted = describePoint(point);
    const later = all
      .filter((x) => x.snapshot && backupTimeline(x) === tl.id && gap.after && comparePoints({ file: x.snapshot.file, offset: x.snapshot.position }, gap.after) >= 0)
      .sort((a, b) => (a.id < b.id ? -1 : 1))[0];
    const afterGap = later ? `after the gap, the nearest restorable point is backup ${later.id} (taken ${later.startedAt}) and anything archived after it` : 'after the gap, only a backup taken after it can be the start: take one now (backtrack backup)';
    throw new BinlogGapError(
      `cannot restore to ${wanted}: the binlog of timeline ${tl.id} has a gap after ${gap.before?.file}:${gap.before?.offset} (${gap.detail}). The nearest restorable point before the gap is ${lastTime} (${endPoint.file}:${endPoint.offset}); ${afterGap}`,
      { gap, nearestBefore: { time: lastTime, ...endPoint }, ...(later ? { nearestAfter: { backupId: later.id, time: later.startedAt } } : {}) },
    );
  }
  if (point.kind === 'gtid' || point.kind === 'before') return { ok: false, reason: `${point.text} is not in the archived binlog after its snapshot (the archive ends at ${lastTime}; backtrack find lists what is there)` };
  if (point.kind === 'position') return { ok: false, reason: `${point.file}:${point.position} is not in the archived binlog after its snapshot (the archive ends at ${endPoint.file}:${endPoint.offset})` };
  const notes: string[] = [];
  if (point.kind === 'time') notes.push(`no archived transaction is stamped after the target time; the newest archived transaction is at ${lastTime}, so the restore ends there (anything the source committed later and has not yet archived is not included)`);
  return { ok: true, stop: endPoint, lastIncluded: last, notes };
}

function planned(file: string, t: TransactionInfo | SidecarTrx): PlannedTrx {
  const gtid = typeof t.gtid === 'string' ? t.gtid : t.gtid ? formatGtid(t.gtid) : undefined;
  return { file, start: t.start, end: t.end, time: iso(t.timestamp), ...(gtid ? { gtid } : {}) };
}

function iso(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A replay cannot pass an event the archiver could not read (an unknown
 * type, damaged bytes, an incident): the sidecars of the segments replayed
 * record them, and the plan is refused with the first one and the last
 * point before it that can be restored to.
 */
function refuseProblems(plan: Omit<PitrPlan, 'fetchedBytes'>): void {
  for (const f of plan.files) {
    const from = f.start ?? 0;
    const to = f.stop ?? Infinity;
    for (const seg of f.chain.segments) {
      const p = (seg.problems ?? []).filter((x) => x.pos >= from && x.pos < to).sort((a, b) => a.pos - b.pos)[0];
      if (!p) continue;
      // A boundary before it the sidecars know (the snapshot point at the latest).
      const known = f.chain.segments.flatMap((x) => [x.firstTransaction, x.lastTransaction]).filter((t): t is SidecarTrx => t !== undefined && t.end <= p.pos && t.end >= from);
      const best = known.sort((a, b) => b.end - a.end)[0];
      const before = best ? `--to-position ${f.file}:${best.end} (committed ${iso(best.timestamp)})` : 'a --to time or --to-position before it';
      throw new BinlogUnreadableError(
        `cannot replay ${f.file} past offset ${p.pos}: ${p.message}. A restore can stop before it, for example ${before}`,
        { file: f.file, offset: p.pos, type: p.type, kind: p.kind },
      );
    }
  }
}

function buildPlan(point: TargetPoint, m: Manifest, tl: Timeline, o: Outcome & { ok: true }, skipped: PitrPlan['skipped']): Omit<PitrPlan, 'fetchedBytes'> {
  const start: LogPoint = { file: m.snapshot!.file, offset: m.snapshot!.position };
  const files: ReplayFile[] = [];
  if (comparePoints(o.stop, start) > 0) {
    for (const f of tl.files) {
      if (comparePoints({ file: f.file, offset: 0 }, { file: start.file, offset: 0 }) < 0) continue;
      if (comparePoints({ file: f.file, offset: 0 }, { file: o.stop.file, offset: 0 }) > 0) break;
      const stop = f.file === o.stop.file ? o.stop.offset : undefined;
      const used = f.segments.filter((s) => stop === undefined || s.start < stop);
      files.push({
        file: f.file,
        chain: f,
        segments: used.length,
        bytes: used.reduce((s, x) => s + x.object.size, 0),
        start: f.file === start.file ? start.offset : undefined,
        stop,
      });
    }
  }
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
    notes: [...o.notes],
    skipped,
  };
}
