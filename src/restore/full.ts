/**
 * A full restore of one backup into a target, as a recipe: pick the backup,
 * check the target, show the plan, (stop for --dry-run,) clear the backup's
 * schemas when forced, load, record an audit event. Point-in-time restores
 * (restore/pitr.ts) reuse every step and add binlog replay.
 */
import type { Config, SourceConfig } from '../config/schema.js';
import { BacktrackError, ChecksumError, NotFoundError, asBacktrackError } from '../errors.js';
import { engineFor } from '../engines/index.js';
import type { LoadObject, LoadResult } from '../engines/engine.js';
import { closeQuietly, connect, type ConnectionSpec } from '../mysql/connect.js';
import { formatDsn } from '../mysql/dsn.js';
import { serverInfo, type ServerIdentity } from '../mysql/server.js';
import type { Logger } from '../observability/logger.js';
import type { Actor } from '../repository/audit.js';
import { objectUrl } from '../storage/store.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { codecFor, defaultParallelism, sourceSpec, toolPaths } from '../runtime/context.js';
import { dropSchemas, inspectTarget, type TargetFacts, type TargetForce } from './target.js';
import { selectFromBackup, type Selection, type Selector } from './select.js';

/** The steps a restore will take, shown before it runs. */
export interface RestorePlan {
  source: string;
  backup: { id: string; takenAt: string; flavor: string; version: string; bytes: number; objects: string[]; snapshot: Manifest['snapshot'] };
  target: { dsn: string; flavor: string; version: string; existingSchemas: string[] };
  schemas: string[];
  dropFirst: string[];
  accounts: number;
  skipUsers: boolean;
  /** A partial restore (--only, --rename): what is taken, under which names, and what is left out. */
  partial?: { schemas: Selection['schemas']; objects: string[]; bytes: number; warnings: string[]; intoSource: boolean } | undefined;
}

export interface RestoreOptions extends TargetForce {
  cfg: Config;
  source: SourceConfig;
  repo: Repository;
  log: Logger;
  actor: Actor;
  target: ConnectionSpec;
  backupId?: string | undefined;
  dryRun: boolean;
  skipUsers: boolean;
  noBinlog: boolean;
  signal?: AbortSignal | undefined;
  onPlan?: (plan: RestorePlan) => void;
  onBytes?: (n: number, total: number) => void;
  /** Objects loaded at once (table-by-table backups). Default: the number of cores. */
  parallel?: number | undefined;
  onObject?: (o: LoadObject, state: 'start' | 'done') => void;
  /** A partial restore: --only selectors and --rename pairs. */
  only?: Selector[] | undefined;
  renames?: Array<{ from: string; to: string }> | undefined;
  /** Something a partial restore left out while loading (a view whose tables are missing). */
  onSkip?: (what: string) => void;
}

/** Which backup: the named one, or the newest committed. */
export async function selectBackup(repo: Repository, source: string, id: string | undefined): Promise<Manifest> {
  if (id) return repo.readManifest(source, id);
  const { backups } = await repo.listBackups(source);
  const newest = backups[backups.length - 1];
  if (!newest) throw new NotFoundError(`source ${source} has no committed backup in ${repo.location}; take one with backtrack backup`);
  return newest.manifest;
}

/**
 * The live source's identity, when it can be reached (to refuse it as a
 * target). A short timeout: on the night the source is down, the restore
 * must not wait for it (the manifest's recorded identity is checked anyway).
 */
export async function liveSourceIdentity(source: SourceConfig): Promise<ServerIdentity | undefined> {
  try {
    const conn = await connect({ ...sourceSpec(source), connectTimeoutMs: Math.min(source.mysql.connectTimeout, 2000) });
    try {
      return (await serverInfo(conn)).identity;
    } finally {
      await closeQuietly(conn);
    }
  } catch {
    return undefined;
  }
}

/** Fail before any change when an object is missing or has the wrong size. */
export async function checkObjectsPresent(repo: Repository, m: Manifest, only?: Manifest['objects']): Promise<void> {
  const objects = repo.backupObjects(m.source, m.id);
  for (const x of only ?? m.objects) {
    const info = await objects.head(x.name);
    const key = objectUrl(objects, x.name);
    if (!info) throw new NotFoundError(`object ${key} is missing from the repository; backup ${m.id} cannot be restored (nothing was changed on the target)`, { key });
    if (info.size !== x.size) {
      throw new ChecksumError(`object ${key} is ${info.size} bytes but its manifest says ${x.size}; backup ${m.id} is damaged (nothing was changed on the target)`, { key });
    }
  }
}

/** Build the plan from the manifest and the target's facts. */
export function planFullRestore(m: Manifest, target: ConnectionSpec, facts: TargetFacts, o: Pick<RestoreOptions, 'force' | 'skipUsers'>, sel?: Selection): RestorePlan {
  if (sel) {
    const whole = sel.schemas.filter((x) => x.whole).map((x) => x.target);
    return {
      source: m.source,
      backup: { id: m.id, takenAt: m.finishedAt, flavor: m.server.flavor, version: m.server.version, bytes: m.objects.reduce((s, x) => s + x.size, 0), objects: m.objects.map((x) => x.name), snapshot: m.snapshot },
      target: { dsn: formatDsn(target), flavor: facts.info.flavor, version: facts.info.version.text, existingSchemas: facts.existingSchemas },
      schemas: sel.schemas.map((x) => x.target),
      dropFirst: o.force ? whole.filter((s) => facts.existingSchemas.includes(s)) : [],
      accounts: 0,
      skipUsers: true,
      partial: {
        schemas: sel.schemas,
        objects: sel.objects.map((x) => x.name),
        bytes: sel.objects.reduce((s, x) => s + x.size, 0),
        warnings: [...sel.warnings, ...(facts.isSource ? ["the target is the source itself: the restore is kept out of its binary log (nothing of it is archived or replicated, and the source's GTID position does not move)"] : [])],
        intoSource: facts.isSource,
      },
    };
  }
  return {
    source: m.source,
    backup: { id: m.id, takenAt: m.finishedAt, flavor: m.server.flavor, version: m.server.version, bytes: m.objects.reduce((s, x) => s + x.size, 0), objects: m.objects.map((x) => x.name), snapshot: m.snapshot },
    target: { dsn: formatDsn(target), flavor: facts.info.flavor, version: facts.info.version.text, existingSchemas: facts.existingSchemas },
    schemas: m.inventory.schemas,
    dropFirst: o.force ? m.inventory.schemas.filter((s) => facts.existingSchemas.includes(s)) : [],
    accounts: m.accounts.length,
    skipUsers: o.skipUsers,
  };
}

/** Load a backup's objects into the target (no checks: callers checked). */
export async function loadBackup(o: RestoreOptions, m: Manifest): Promise<LoadResult> {
  const sel = selectFromBackup(m, o.only ?? [], o.renames ?? []);
  const objects = sel?.objects ?? m.objects;
  const total = objects.reduce((s, x) => s + x.size, 0);
  return engineFor(m.engine.name).load({
    target: o.target,
    store: o.repo.backupObjects(m.source, m.id),
    selection: sel,
    onSkip: o.onSkip,
    objects: objects.map((x) => ({ key: x.name, role: x.role, schema: x.schema, table: x.table, chunk: x.chunk, rows: x.rows, size: x.size, sha256: x.sha256, encrypted: x.encryption === 'age', rawSize: x.rawSize })),
    format: m.format,
    parallel: o.parallel ?? defaultParallelism(),
    codec: codecFor(o.cfg, o.source),
    client: toolPaths(o.cfg, m.server.flavor).client,
    skipUsers: o.skipUsers || sel !== undefined,
    noBinlog: o.noBinlog,
    signal: o.signal,
    onBytes: (n) => o.onBytes?.(n, total),
    onObject: o.onObject,
  });
}

/** Restore a full backup. Returns the plan (and the load result unless dry-run). */
export async function restoreFull(o: RestoreOptions): Promise<{ plan: RestorePlan; load?: LoadResult }> {
  const started = new Date();
  // 1. The backup: named, or the newest committed one.
  const m = await selectBackup(o.repo, o.source.name, o.backupId);
  // 2. The target checked and every object present; the plan.
  const plan = await prepareRestore(o, m);
  // 3. Show the plan; a dry run ends here.
  o.onPlan?.(plan);
  if (o.dryRun) return { plan };
  // 4. Drop (when forced) and load.
  return { plan, load: await applyRestore(o, m, plan, started) };
}

/**
 * What every restore checks before it writes anything: the target is
 * reachable, not the source, empty (or forced); every object of the backup
 * is in the repository at its recorded size. Returns the plan.
 */
export async function prepareRestore(o: RestoreOptions, m: Manifest): Promise<RestorePlan> {
  const sel = selectFromBackup(m, o.only ?? [], o.renames ?? []);
  const facts = await inspectTarget(o.target, m, await liveSourceIdentity(o.source), o, sel?.schemas.map((x) => x.target));
  await checkObjectsPresent(o.repo, m, sel?.objects);
  return planFullRestore(m, o.target, facts, o, sel);
}

/**
 * What every restore writes: when forced, the backup's schemas are dropped
 * first so nothing stale survives; the backup is loaded (sha256 checked as
 * it streams); then `after` (the binlog replay of a point-in-time restore).
 * The outcome is audited, and a failure says the target holds a partial restore.
 */
export async function applyRestore(o: RestoreOptions, m: Manifest, plan: RestorePlan, started: Date, after?: () => Promise<void>, auditParams: Record<string, unknown> = {}): Promise<LoadResult> {
  const log = o.log.child({ source: o.source.name, job: 'restore', backupId: m.id });
  try {
    if (plan.dropFirst.length) log.warn({ schemas: await dropSchemas(o.target, plan.dropFirst) }, 'dropped existing schemas on the target (--force)');
    // A partial restore beside live data on the source stays out of its binlog (and so out of the archive and the replicas).
    const load = await loadBackup(plan.partial?.intoSource ? { ...o, noBinlog: true } : o, m);
    await after?.();
    log.info({ bytes: load.bytesRead, target: plan.target.dsn }, 'restore finished');
    await audit(o, m, plan, 'ok', started, undefined, auditParams);
    return load;
  } catch (err) {
    const e = partialRestoreError(asBacktrackError(err), plan);
    await audit(o, m, plan, e.code === 'INTERRUPTED' ? 'interrupted' : 'failed', started, e.message, auditParams).catch(() => undefined);
    throw e;
  }
}

/** A failed load leaves the target part-restored: the error must say so, and what to do. */
export function partialRestoreError(e: BacktrackError, plan: RestorePlan): BacktrackError {
  const note = `The target ${plan.target.dsn} now holds a PARTIAL restore of backup ${plan.backup.id} (schemas ${plan.schemas.join(', ')}): do not use it. Fix the cause, then run the restore again with --force (it drops ${plan.partial ? 'the schemas restored whole, and replaces the chosen tables' : 'those schemas'} first).`;
  return new BacktrackError(`${e.message}\n${note}`, { code: e.code, exitCode: e.exitCode, cause: e, details: { ...e.details, partialRestore: true, target: plan.target.dsn } });
}

/** Record a restore in the audit trail. */
export async function audit(o: RestoreOptions, m: Manifest, plan: RestorePlan, outcome: 'ok' | 'failed' | 'interrupted', started: Date, error?: string, extra: Record<string, unknown> = {}): Promise<void> {
  await o.repo.appendAudit({
    action: 'restore',
    actor: o.actor,
    source: m.source,
    backupId: m.id,
    target: plan.target.dsn,
    params: { force: o.force, forceOverwriteSource: o.forceOverwriteSource, skipUsers: o.skipUsers, droppedSchemas: plan.dropFirst, ...(plan.partial ? { only: (o.only ?? []).map((x) => x.text), renames: o.renames ?? [], objects: plan.partial.objects } : {}), ...extra },
    outcome,
    ...(error ? { error } : {}),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
  });
}
