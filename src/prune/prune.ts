/**
 * Applying retention, as a recipe: take the source's backup lock (no backup
 * runs while we delete), decide, and, unless it is a dry run, delete:
 * backups (manifest first, so a half-deleted backup is never taken for one),
 * binlog files and timelines nothing needs, and leftovers of failed backups.
 * Every deletion is an audit event.
 */
import type { Config, SourceConfig } from '../config/schema.js';
import { loadChain, type Timeline } from '../binlog/chain.js';
import { ObjectLockedError } from '../errors.js';
import { acquireLock } from '../mysql/lock.js';
import type { Logger } from '../observability/logger.js';
import type { Actor } from '../repository/audit.js';
import { latestDrillByBackup } from '../repository/drills.js';
import { binlogKeys, keys as layoutKeys } from '../repository/layout.js';
import { segmentKey, type LockPass, type Repository, type WritableRepository } from '../repository/repository.js';
import type { Sidecar } from '../repository/sidecar.js';
import { sourceSpec } from '../runtime/context.js';
import { decideRetention, type RetentionDecision } from './retention.js';

interface PruneCommon {
  cfg: Config;
  source: SourceConfig;
  log: Logger;
  actor: Actor;
  now?: Date;
  /** Also delete backups Backtrack cannot use: orphans (manifest missing) and damaged ones. */
  orphans?: boolean;
}

/** A dry run only reads; deleting needs the write role. */
export type PruneOptions = PruneCommon & ({ dryRun: true; repo: Repository } | { dryRun: false; repo: WritableRepository });

export interface PruneResult {
  decision: RetentionDecision;
  dryRun: boolean;
  deletedObjects: number;
  leftovers: string[];
  /** Orphaned and damaged backups: deleted with `orphans`, otherwise kept and listed here. */
  unusable: Array<{ id: string; kind: 'orphan' | 'damaged'; why: string; deleted: boolean }>;
  /**
   * Under S3 Object Lock: what retention no longer keeps but is still
   * locked (deleted by the first prune after the date), and the pass that
   * extended the locks of what it keeps.
   */
  locked?: Array<{ what: string; until: string }>;
  locks?: LockPass;
}

/** Apply retention to one source. */
export async function pruneSource(o: PruneOptions): Promise<PruneResult> {
  const log = o.log.child({ source: o.source.name, job: 'prune' });
  const lock = o.dryRun ? undefined : await acquireLock(sourceSpec(o.source), o.source.name, 'backup');
  try {
    // 1. What there is, and what the policy keeps.
    const { backups, orphans, damaged } = await o.repo.listBackups(o.source.name);
    const unusable: PruneResult['unusable'] = [
      ...orphans.map((x) => ({ id: x.id, kind: 'orphan' as const, why: `committed ${x.committedAt}, manifest missing`, deleted: false })),
      ...damaged.map((x) => ({ id: x.id, kind: 'damaged' as const, why: x.reason, deleted: false })),
    ];
    const drills = latestDrillByBackup(await o.repo.listDrillReports(o.source.name));
    const timelines = await loadChain(o.repo, o.source.name);
    const drilledOk = new Set([...drills.values()].filter((d) => d.verdict === 'passed').map((d) => d.backupId));
    const decision = decideRetention({ backups: backups.map((b) => b.manifest), drilledOk, timelines, policy: o.cfg.retention, now: o.now ?? new Date() });
    if (o.dryRun) return { decision, dryRun: true, deletedObjects: 0, leftovers: [], unusable };
    const repo = o.repo;
    let deleted = 0;
    const locked: Array<{ what: string; until: string }> = [];
    /** A deletion Object Lock still refuses is reported, and tried again by the next prune: never a failure. */
    const unlessLocked = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof ObjectLockedError)) throw err;
        const until = String(err.details.retainUntil ?? '');
        locked.push({ what, until });
        log.info({ what, until }, 'not deleted yet: still under Object Lock');
        return undefined;
      }
    };
    // 2. Backups: the manifest goes first.
    for (const r of decision.remove) {
      const keys = await unlessLocked(`backup ${r.id}`, () => repo.deleteBackup(o.source.name, r.id, r.reason));
      if (!keys) continue;
      deleted += keys.length + 1;
      await audit(o, 'delete-backup', { backupId: r.id, reason: r.reason, objects: keys.length + 1 });
      log.info({ backupId: r.id, reason: r.reason }, 'deleted backup');
    }
    // 3. Binlog files and whole timelines nothing needs any more.
    for (const b of decision.removeBinlogs) {
      // The file, its sidecar, and any pieces: everything named "<file>.".
      const keys = await unlessLocked(`binlog ${b.timeline}/${b.file}`, () => repo.deleteBinlogFile(o.source.name, b.timeline, b.file));
      if (!keys) continue;
      deleted += keys.length;
      await audit(o, 'delete-binlog', { timeline: b.timeline, file: b.file, reason: b.reason, objects: keys.length });
    }
    for (const t of decision.removeTimelines) {
      const keys = await unlessLocked(`timeline ${t.timeline}`, () => repo.deleteTimeline(o.source.name, t.timeline));
      if (!keys) continue;
      deleted += keys.length;
      await audit(o, 'delete-timeline', { timeline: t.timeline, reason: t.reason, objects: keys.length });
    }
    // 4. Leftovers of failed backups (we hold the backup lock); locked ones stay leftovers until their date.
    const leftovers = await repo.removeLeftovers(o.source.name);
    if (leftovers.length) await audit(o, 'delete-leftovers', { objects: leftovers.length });
    // 5. Orphaned and damaged backups only when asked: they may be all a person has.
    if (o.orphans) {
      for (const u of unusable) {
        const keys = await unlessLocked(`${u.kind} backup ${u.id}`, () => repo.deleteBackup(o.source.name, u.id, `${u.kind}: ${u.why}`));
        if (!keys) continue;
        deleted += keys.length;
        u.deleted = true;
        await audit(o, `delete-${u.kind}`, { backupId: u.id, reason: u.why, objects: keys.length });
        log.info({ backupId: u.id, kind: u.kind }, `deleted ${u.kind} backup`);
      }
    }
    // 6. Pieces the whole file or a fold already covers (under Object Lock they
    // outlive their replacement until their short lock runs out): delete the
    // ones no longer locked. Only pieces with a sidecar inside a covering
    // segment: an object without a sidecar may be an upload in flight.
    const swept = await sweepCoveredPieces(repo, o.source.name, timelines);
    if (swept) log.info({ pieces: swept }, 'deleted binlog pieces a whole file or a fold covers');
    // 7. Object Lock: what retention keeps stays locked minRetainDays ahead
    // (kept, orphaned and damaged backups; the binlog but the files going and
    // the pieces the whole file or a fold already covers, whose short lock runs out).
    const going = [...decision.removeBinlogs.map((b) => binlogKeys.fileObjectsPrefix(o.source.name, b.timeline, b.file)), ...decision.removeTimelines.map((t) => binlogKeys.timelinePrefix(o.source.name, t.timeline))];
    const covered = new Set(timelines.flatMap((tl) => tl.files.flatMap((f) => f.segments.flatMap((sg) => [binlogKeys.segmentObject(sg), binlogKeys.sidecar(sg)]))));
    const keptBackups = [...decision.keep.map((k) => k.id), ...unusable.filter((u) => !u.deleted).map((u) => u.id)];
    const locks = await repo.extendLocks([...keptBackups.map((id) => layoutKeys.backupPrefix(o.source.name, id)), binlogKeys.prefix(o.source.name)], (key) => {
      if (going.some((g) => key.startsWith(g))) return true;
      return key.includes('.partial/') && !covered.has(key);
    });
    if (locks) log.info({ checked: locks.checked, extended: locks.extended, until: locks.until, stillLocked: locked.length }, 'Object Lock extended for what retention keeps');
    log.info({ deleted, kept: decision.keep.length }, 'retention applied');
    return { decision, dryRun: false, deletedObjects: deleted + leftovers.length + swept * 2, leftovers, unusable, ...(locks ? { locked, locks } : {}) };
  } finally {
    await lock?.release();
  }
}

/** How old a covering segment must be before prune deletes the pieces it covers. */
const SETTLED_MS = 10 * 60_000;

/** Delete piece segments (sidecar, then object) that lie inside a settled segment of their file's cover; returns how many went. */
async function sweepCoveredPieces(repo: WritableRepository, source: string, timelines: Timeline[]): Promise<number> {
  const cover = new Map<string, Sidecar[]>();
  for (const tl of timelines) for (const f of tl.files) cover.set(`${tl.id}/${f.file}`, f.segments);
  const inCover = new Set([...cover.values()].flat().map((sg) => segmentKey(sg)));
  let swept = 0;
  const now = Date.now();
  for (const s of (await repo.listBinlogRecords(source)).sidecars) {
    if (s.kind !== 'piece' || inCover.has(segmentKey(s))) continue;
    // The covering segment must be settled: the archiver reads a fold back and checks it before it deletes the pieces itself.
    const covering = (cover.get(`${s.timeline}/${s.file}`) ?? []).some((c) => (c.kind === 'file' || (c.start <= s.start && c.end >= s.end)) && now - Date.parse(c.archivedAt) > SETTLED_MS);
    if (covering && (await repo.deleteSegment(s))) swept++;
  }
  return swept;
}

async function audit(o: PruneOptions, action: string, params: Record<string, unknown>): Promise<void> {
  await o.repo.appendAudit({ action, actor: o.actor, source: o.source.name, ...(typeof params.backupId === 'string' ? { backupId: params.backupId } : {}), params, outcome: 'ok' });
}
