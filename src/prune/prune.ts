/**
 * Applying retention, as a recipe: take the source's backup lock (no backup
 * runs while we delete), decide, and, unless it is a dry run, delete:
 * backups (manifest first, so a half-deleted backup is never taken for one),
 * binlog files and timelines nothing needs, and leftovers of failed backups.
 * Every deletion is an audit event.
 */
import type { Config, SourceConfig } from '../config/schema.js';
import { loadChain } from '../binlog/chain.js';
import { acquireLock } from '../mysql/lock.js';
import type { Logger } from '../observability/logger.js';
import type { Actor } from '../repository/audit.js';
import { latestDrillByBackup } from '../repository/drills.js';
import type { Repository, WritableRepository } from '../repository/repository.js';
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
    // 2. Backups: the manifest goes first.
    for (const r of decision.remove) {
      const keys = await repo.deleteBackup(o.source.name, r.id, r.reason);
      deleted += keys.length + 1;
      await audit(o, 'delete-backup', { backupId: r.id, reason: r.reason, objects: keys.length + 1 });
      log.info({ backupId: r.id, reason: r.reason }, 'deleted backup');
    }
    // 3. Binlog files and whole timelines nothing needs any more.
    for (const b of decision.removeBinlogs) {
      // The file, its sidecar, and any pieces: everything named "<file>.".
      const keys = await repo.deleteBinlogFile(o.source.name, b.timeline, b.file);
      deleted += keys.length;
      await audit(o, 'delete-binlog', { timeline: b.timeline, file: b.file, reason: b.reason, objects: keys.length });
    }
    for (const t of decision.removeTimelines) {
      const keys = await repo.deleteTimeline(o.source.name, t.timeline);
      deleted += keys.length;
      await audit(o, 'delete-timeline', { timeline: t.timeline, reason: t.reason, objects: keys.length });
    }
    // 4. Leftovers of failed backups (we hold the backup lock).
    const leftovers = await repo.removeLeftovers(o.source.name);
    if (leftovers.length) await audit(o, 'delete-leftovers', { objects: leftovers.length });
    // 5. Orphaned and damaged backups only when asked: they may be all a person has.
    if (o.orphans) {
      for (const u of unusable) {
        const keys = await repo.deleteBackup(o.source.name, u.id, `${u.kind}: ${u.why}`);
        deleted += keys.length;
        u.deleted = true;
        await audit(o, `delete-${u.kind}`, { backupId: u.id, reason: u.why, objects: keys.length });
        log.info({ backupId: u.id, kind: u.kind }, `deleted ${u.kind} backup`);
      }
    }
    log.info({ deleted, kept: decision.keep.length }, 'retention applied');
    return { decision, dryRun: false, deletedObjects: deleted + leftovers.length, leftovers, unusable };
  } finally {
    await lock?.release();
  }
}

async function audit(o: PruneOptions, action: string, params: Record<string, unknown>): Promise<void> {
  await o.repo.appendAudit({ action, actor: o.actor, source: o.source.name, ...(typeof params.backupId === 'string' ? { backupId: params.backupId } : {}), params, outcome: 'ok' });
}
