/**
 * A point-in-time restore, as a recipe: plan (backup + binlog files + exact
 * positions), check the target, show the plan, (stop for --dry-run,) load the
 * backup, replay the binlog from its snapshot point to the stop point, record
 * an audit event. The full restore's steps are reused as they are.
 */
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { asBacktrackError } from '../errors.js';
import { loadChain } from '../binlog/chain.js';
import { removeDir, replayFiles } from '../binlog/replay.js';
import { toolsFor } from '../mysql/flavor.js';
import { codecFor, toolPaths } from '../runtime/context.js';
import { audit, checkObjectsPresent, liveSourceIdentity, loadBackup, partialRestoreError, planFullRestore, restoreFull, type RestoreOptions, type RestorePlan } from './full.js';
import { planPointInTime, type PitrPlan } from './plan.js';
import { dropSchemas, inspectTarget } from './target.js';
import type { TargetPoint } from './point.js';
import type { LoadResult } from '../engines/engine.js';

/** A restore's plan: the backup part and, for point-in-time, the binlog part. */
export interface FullPlan extends RestorePlan {
  pitr?: PitrPlan | undefined;
  notes: string[];
}

export interface PointRestoreOptions extends RestoreOptions {
  point: TargetPoint;
  onPitrPlan?: (plan: FullPlan) => void;
  onReplayFile?: (i: number, total: number) => void;
}

/** Restore to a point: the newest usable backup plus binlog replay. */
export async function restoreToPoint(o: PointRestoreOptions): Promise<{ plan: FullPlan; load?: LoadResult }> {
  const started = new Date();
  const { backups } = await o.repo.listBackups(o.source.name);
  const manifests = backups.map((b) => b.manifest).filter((m) => !o.backupId || m.id === o.backupId);
  const timelines = await loadChain(o.repo, o.source.name);
  // No archived binlog at all, and the newest state was asked for: the newest backup is it.
  if (o.point.kind === 'latest' && timelines.every((t) => t.files.length === 0)) {
    const r = await restoreFull({ ...o, onPlan: (p) => o.onPitrPlan?.({ ...p, notes: ['no binlog is archived for this source: "latest" is the newest backup as it is'] }) });
    return { plan: { ...r.plan, notes: ['no binlog is archived for this source: "latest" is the newest backup as it is'] }, ...(r.load ? { load: r.load } : {}) };
  }
  await mkdir(o.cfg.workDir, { recursive: true });
  const work = await mkdtemp(path.join(o.cfg.workDir, 'restore-'));
  try {
    // 1. Plan: backup, binlog files, exact start and stop positions.
    const pitr = await planPointInTime(o.point, manifests, timelines, { store: o.repo.store, codec: codecFor(o.cfg, o.source), workDir: work, signal: o.signal, now: new Date() });
    const m = manifests.find((x) => x.id === pitr.backupId)!;
    const log = o.log.child({ source: o.source.name, job: 'restore', backupId: m.id });
    // 2. The target: reachable, not the source, empty (or forced); every backup object present.
    const facts = await inspectTarget(o.target, m, await liveSourceIdentity(o.source), o);
    await checkObjectsPresent(o.repo, m);
    const plan: FullPlan = { ...planFullRestore(m, o.target, facts, o), pitr, notes: pitr.notes };
    // 3. Show the plan; a dry run ends here.
    o.onPitrPlan?.(plan);
    if (o.dryRun) return { plan };
    try {
      // 4. Load the backup, then replay the binlog from its snapshot point to the stop point.
      if (plan.dropFirst.length) log.warn({ schemas: await dropSchemas(o.target, plan.dropFirst) }, 'dropped existing schemas on the target (--force)');
      const load = await loadBackup(o, m);
      const tools = toolPaths(o.cfg, m.server.flavor);
      await replayFiles(
        pitr.files.map((f) => ({ path: f.path, file: f.file, start: f.start, stop: f.stop })),
        { target: o.target, flavor: m.server.flavor, binlogTool: tools.binlog, client: o.cfg.tools.client ?? toolsFor(m.server.flavor).client, noBinlog: o.noBinlog, signal: o.signal, onStep: (i) => o.onReplayFile?.(i, pitr.files.length) },
      );
      log.info({ stop: pitr.stop, lastIncluded: pitr.lastIncluded }, 'point-in-time restore finished');
      await audit(o, m, plan, 'ok', started, undefined, pitrParams(pitr));
      return { plan, load };
    } catch (err) {
      const e = partialRestoreError(asBacktrackError(err), plan);
      await audit(o, m, plan, e.code === 'INTERRUPTED' ? 'interrupted' : 'failed', started, e.message, pitrParams(pitr)).catch(() => undefined);
      throw e;
    }
  } finally {
    await removeDir(work);
  }
}

function pitrParams(p: PitrPlan): Record<string, unknown> {
  return { point: p.point, stop: p.stop, lastIncluded: p.lastIncluded, binlogFiles: p.files.map((f) => f.file) };
}
