/**
 * A point-in-time restore, as a recipe: plan (backup + binlog files + exact
 * positions), check the target, show the plan, (stop for --dry-run,) load the
 * backup, replay the binlog from its snapshot point to the stop point, record
 * an audit event. The full restore's steps are reused as they are.
 */
import { loadChain, repositorySegments } from '../binlog/chain.js';
import { checkFilteredReplay, checkReplayTool, replayFiles } from '../binlog/replay.js';
import type { TableFilter } from '../binlog/filter.js';
import { selectFromBackup, type Selection } from './select.js';
import { laterOnSameTables, type Match } from '../binlog/find.js';
import type { SegmentSource } from '../binlog/segments.js';
import { NotFoundError } from '../errors.js';
import { formatGtid, parseGtid, type Flavor } from '../mysql/gtid.js';
import { codecFor, toolPaths, withWorkDir } from '../runtime/context.js';
import { applyRestore, prepareRestore, restoreFull, type RestoreOptions, type RestorePlan } from './full.js';
import { planPointInTime, type PitrPlan } from './plan.js';
import type { TargetPoint } from './point.js';
import type { LoadResult } from '../engines/engine.js';

/** A restore's plan: the backup part and, for point-in-time, the binlog part. */
export interface FullPlan extends RestorePlan {
  pitr?: PitrPlan | undefined;
  notes: string[];
}

export interface PointRestoreOptions extends RestoreOptions {
  point: TargetPoint;
  /** restore --skip: GTIDs of transactions to leave out of the replay. */
  skip?: string[] | undefined;
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
    if (o.skip?.length) throw new NotFoundError(`--skip ${o.skip.join(', ')}: no binlog is archived for this source, so there is no transaction to leave out`);
    const notes = ['no binlog is archived for this source: "latest" is the newest backup as it is'];
    const r = await restoreFull({ ...o, onPlan: (p) => o.onPitrPlan?.({ ...p, notes }) });
    return { plan: { ...r.plan, notes }, ...(r.load ? { load: r.load } : {}) };
  }
  return withWorkDir(o.cfg, 'restore', async (work) => {
    // 1. Plan: backup, binlog files, exact start and stop positions.
    const src = repositorySegments(o.repo, o.source.name, codecFor(o.cfg, o.source), work, o.signal);
    const pitr = await planPointInTime(o.point, manifests, timelines, { src, now: new Date() });
    const m = manifests.find((x) => x.id === pitr.backupId)!;
    // 2. The replay tool fits the source (MySQL's own mysqlbinlog for MySQL), the target checked and every backup object present.
    const tools = toolPaths(o.cfg, m.server.flavor);
    if (pitr.files.length > 0) pitr.notes.push(`the binlog is replayed with ${tools.binlog} (${await checkReplayTool(tools.binlog, m.server.flavor, m.server.version, o.signal)})`);
    // A partial restore replays only the chosen tables' row changes; a statement on them in the range stops it here, before any write.
    const sel = selectFromBackup(m, o.only ?? [], o.renames ?? []);
    const tables = sel ? tableFilter(sel) : undefined;
    const skip = await planSkips(o, m.server.flavor, pitr, src);
    if ((tables || skip) && pitr.files.length > 0) {
      const n = await checkFilteredReplay(pitr.files, { src, tables, skip, signal: o.signal });
      if (tables) pitr.notes.push(`only the chosen tables' row changes are replayed (${n.kept} transaction(s) touch them, ${n.dropped - n.skipped.length} others left out), into ${[...new Set(tables.tables.values())].join(', ')}, without writing the target's binary log and without the source's GTIDs`);
    }
    const plan: FullPlan = { ...(await prepareRestore(o, m)), pitr, notes: pitr.notes };
    // 3. Show the plan; a dry run ends here.
    o.onPitrPlan?.(plan);
    if (o.dryRun) return { plan };
    // 4. Load the backup, then replay the binlog from its snapshot point to the stop point.
    const replay = () =>
      replayFiles(pitr.files, { src, target: o.target, flavor: m.server.flavor, binlogTool: tools.binlog, client: tools.client, noBinlog: o.noBinlog, signal: o.signal, tables, skip, onStep: (i) => o.onReplayFile?.(i, pitr.files.length) });
    const load = await applyRestore(o, m, plan, started, replay, { ...pitrParams(pitr), ...(skip ? { skip: [...skip] } : {}) });
    return { plan, load };
  });
}

/**
 * restore --skip: every GTID must be a transaction in the replay range; the
 * plan names each with its tables, and every later transaction in the range
 * that changes one of those tables (it may fail, or differ, without it).
 */
async function planSkips(o: PointRestoreOptions, flavor: Flavor, pitr: PitrPlan, src: SegmentSource): Promise<Set<string> | undefined> {
  if (!o.skip?.length) return undefined;
  const wanted = new Set(o.skip.map((g) => formatGtid(parseGtid(flavor, g))));
  const found = await laterOnSameTables(pitr.files, flavor, wanted, src);
  const missing = [...wanted].filter((g) => !found.skipped.some((x) => x.gtid === g));
  if (missing.length) {
    throw new NotFoundError(`--skip ${missing.join(', ')}: not a transaction of the replay range (${pitr.start.file}:${pitr.start.offset} to ${pitr.stop.file}:${pitr.stop.offset}); backtrack find --gtid shows where a GTID is`, { missing });
  }
  const name = (x: Match) => `${x.gtid} (${x.file}:${x.start}, ${x.time}${x.tables.length ? `, ${x.tables.map((t) => `${t.schema}.${t.table}`).join(' ')}` : ''})`;
  pitr.notes.push(`left out (--skip): ${found.skipped.map(name).join('; ')}`);
  if (found.later.length) {
    pitr.notes.push(`${found.later.length} later transaction(s) change the same tables and may fail or come out different without it: ${found.later.slice(0, 20).map(name).join('; ')}${found.later.length > 20 ? '; ...' : ''}. If one fails, the restore stops with its error`);
  }
  return wanted;
}

/** The tables a partial replay keeps, and the schema each goes into. */
function tableFilter(sel: Selection): TableFilter {
  const tables = new Map<string, string>();
  for (const c of sel.schemas) for (const t of c.tables) tables.set(`${c.schema}\u0000${t}`, c.target);
  return { tables, schemas: new Map(sel.schemas.filter((c) => c.whole).map((c) => [c.schema, c.target])) };
}

function pitrParams(p: PitrPlan): Record<string, unknown> {
  return { point: p.point, stop: p.stop, lastIncluded: p.lastIncluded, binlogFiles: p.files.map((f) => f.file) };
}
