/**
 * A restore drill, as a recipe: pick the backup, check its objects, start a
 * scratch server, load the backup (checking every object's sha256 as it
 * streams), check inventory and exact row counts against the manifest,
 * optionally replay the binlog to a point and check it with the source's
 * heartbeats, measure the restore time, release the scratch server whatever
 * happened, and write the report into the repository.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import type { Config, SourceConfig } from '../config/schema.js';
import { BacktrackError, ChecksumError, NotFoundError, ScratchUnavailableError, VerificationFailedError, asBacktrackError } from '../errors.js';
import { backupTimeline, loadChain, repositorySegments } from '../binlog/chain.js';
import { checkReplayTool, removeDir, replayFiles } from '../binlog/replay.js';
import type { SegmentSource } from '../binlog/segments.js';
import type { Logger } from '../observability/logger.js';
import type { Actor } from '../repository/audit.js';
import { latestDrillByBackup, type DrillCheck, type DrillReport } from '../repository/drills.js';
import type { Manifest } from '../repository/manifest.js';
import type { Repository } from '../repository/repository.js';
import { checkObjectsPresent, liveSourceIdentity, loadBackup } from '../restore/full.js';
import { planPointInTime, type PitrPlan } from '../restore/plan.js';
import { describePoint, type TargetPoint } from '../restore/point.js';
import { codecFor, sourceSpec, toolPaths } from '../runtime/context.js';
import { isStorageFault } from '../storage/retry.js';
import { openScratch, type Scratch } from '../scratch/index.js';
import { checkInventory, checkPointInTime, checkRows } from './checks.js';

export interface DrillOptions {
  cfg: Config;
  source: SourceConfig;
  repo: Repository;
  log: Logger;
  actor: Actor;
  /** A backup id, 'latest', or 'unverified' (the newest without a passed drill). */
  backup: string;
  /** Replay the binlog to this point after loading (point-in-time drill). */
  point?: TargetPoint | undefined;
  signal?: AbortSignal | undefined;
  onStage?: (stage: string) => void;
}

/** How long a new backup's server may have no archived binlog before a point-in-time drill fails on it. */
const ARCHIVE_CATCH_UP_SECONDS = 600;

/** Run one drill; resolves with the report (verdict passed or failed), throws when it cannot run. */
export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const started = new Date();
  const signal = AbortSignal.any([o.signal ?? new AbortController().signal, AbortSignal.timeout(o.source.verify.timeout)]);
  // 1. The backup to prove.
  const m = await pickBackup(o);
  const log = o.log.child({ source: o.source.name, job: 'drill', backupId: m.id });
  const checks: DrillCheck[] = [];
  const rto: DrillReport['rto'] = { seconds: 0, loadSeconds: 0, replaySeconds: 0, bytesRead: 0, rawBytes: 0, mibPerSecond: 0 };
  let target: Record<string, unknown> | undefined;
  // 2. Every object present at its size, before anything starts.
  try {
    await checkObjectsPresent(o.repo, m);
  } catch (err) {
    checks.push(integrityFailed(err));
    return finish(o, m, started, checks, rto, { mode: o.source.verify.scratch.mode, description: 'not started: the backup is incomplete' }, target, log);
  }
  await mkdir(o.cfg.workDir, { recursive: true });
  const work = await mkdtemp(path.join(o.cfg.workDir, 'drill-'));
  let scratch: Scratch | undefined;
  try {
    // 3. Plan the replay first: a gap fails the point-in-time check without a server.
    // A replay tool that cannot read this source's binlog is a setup error, not a verdict on the backup.
    if (o.point) await checkReplayTool(toolPaths(o.cfg, m.server.flavor).binlog, m.server.flavor, m.server.version, signal);
    let pitr: PitrPlan | undefined;
    const timelines = o.point ? await loadChain(o.repo, o.source.name) : [];
    const ageSeconds = (Date.now() - Date.parse(m.finishedAt)) / 1000;
    if (o.point && m.snapshot && !timelines.some((t) => t.id === backupTimeline(m)) && ageSeconds < ARCHIVE_CATCH_UP_SECONDS) {
      // A backup taken moments ago (a fresh daemon's first one): the archiver has not uploaded its server's binlog yet. Not a verdict.
      checks.push({ name: 'point-in-time', verdict: 'skipped', message: `not judged: no binlog of this backup's server is archived yet (the backup finished ${Math.round(ageSeconds)}s ago and the archiver has not caught up); the next drill judges it. After ${ARCHIVE_CATCH_UP_SECONDS / 60} minutes this is a failure`, evidence: { ageSeconds } });
    } else if (o.point) {
      try {
        pitr = await planPointInTime(o.point, [m], timelines, { src: segmentSource(o, work, signal), now: new Date() });
        target = { point: o.point, stopCondition: describePoint(o.point), stop: pitr.stop, lastIncluded: pitr.lastIncluded };
      } catch (err) {
        if (isStorageFault(err)) throw couldNotJudge(err);
        checks.push({ name: 'point-in-time', verdict: 'failed', message: `the binlog cannot be replayed to the point: ${asBacktrackError(err).message}`, evidence: { code: asBacktrackError(err).code } });
      }
    }
    // 4. A scratch server (cannot start: an error of its own, not a verdict on the backup).
    o.onStage?.('starting the scratch server');
    scratch = await openScratch({ cfg: o.cfg, source: o.source, flavor: m.server.flavor, version: m.server.version, schemas: m.inventory.schemas, sourceIdentity: await liveSourceIdentity(o.source), signal });
    // 5. Load, checking every object's sha256 as it streams.
    o.onStage?.('loading the backup');
    const t0 = Date.now();
    const loaded = await loadInto(o, m, scratch, signal, checks);
    rto.loadSeconds = (Date.now() - t0) / 1000;
    if (loaded) {
      rto.bytesRead = loaded.bytesRead;
      rto.rawBytes = loaded.rawBytes;
      rto.parallel = loaded.parallel ?? 1;
      // 6. What was loaded equals what was backed up.
      o.onStage?.('checking inventory and row counts');
      checks.push(await checkInventory(scratch.spec, m, scratch.mode === 'spawn'));
      checks.push(await checkRows(scratch.spec, m));
      // 7. Point in time: replay, then check the point with the source's heartbeats.
      if (pitr) {
        o.onStage?.('replaying the binlog');
        const t1 = Date.now();
        checks.push(await replayAndCheck(o, m, scratch, pitr, work, signal));
        rto.replaySeconds = (Date.now() - t1) / 1000;
      }
    }
  } catch (err) {
    if (err instanceof ScratchUnavailableError || signal.aborted) throw timeoutOr(err, o, signal);
    throw err;
  } finally {
    await scratch?.release().catch((err: unknown) => log.error({ err }, 'could not release the scratch server'));
    await removeDir(work);
  }
  rto.seconds = rto.loadSeconds + rto.replaySeconds;
  rto.mibPerSecond = rto.seconds > 0 ? rto.rawBytes / 1048576 / rto.seconds : 0;
  checks.push({ name: 'timing', verdict: 'passed', message: `restored in ${rto.seconds.toFixed(1)}s (load ${rto.loadSeconds.toFixed(1)}s${rto.parallel ? ` over ${rto.parallel} session(s)` : ''}, replay ${rto.replaySeconds.toFixed(1)}s), ${rto.mibPerSecond.toFixed(1)} MiB/s of SQL`, evidence: { ...rto } });
  return finish(o, m, started, checks, rto, { mode: scratch?.mode ?? o.source.verify.scratch.mode, description: scratch?.description ?? '' }, target, log);
}

async function pickBackup(o: DrillOptions): Promise<Manifest> {
  const { backups } = await o.repo.listBackups(o.source.name);
  if (backups.length === 0) throw new NotFoundError(`source ${o.source.name} has no committed backup to drill; take one with backtrack backup`);
  if (o.backup === 'latest') return (backups[backups.length - 1] as { manifest: Manifest }).manifest;
  if (o.backup === 'unverified') {
    const drilled = latestDrillByBackup(await o.repo.listDrillReports(o.source.name));
    const pending = backups.filter((b) => drilled.get(b.id)?.verdict !== 'passed');
    return (pending[pending.length - 1] ?? backups[backups.length - 1])!.manifest;
  }
  return o.repo.readManifest(o.source.name, o.backup);
}

function integrityFailed(err: unknown): DrillCheck {
  const e = asBacktrackError(err);
  return { name: 'integrity', verdict: 'failed', message: e.message, evidence: { code: e.code, ...e.details } };
}

async function loadInto(o: DrillOptions, m: Manifest, scratch: Scratch, signal: AbortSignal, checks: DrillCheck[]) {
  try {
    // On a shared scratch server, accounts are not created (they are server-wide).
    const r = await loadBackup({ ...restoreLike(o), skipUsers: scratch.mode === 'server', target: scratch.spec, signal }, m);
    checks.push({ name: 'integrity', verdict: 'passed', message: `${m.objects.length} objects read to the end, sizes and sha256 as in the manifest`, evidence: { objects: m.objects.map((x) => ({ name: x.name, size: x.size, sha256: x.sha256 })) } });
    checks.push({ name: 'load', verdict: 'passed', message: `the restore ran to the end with no SQL error (${r.warnings} warning(s))`, evidence: { warnings: r.warnings, warningSamples: r.warningSamples } });
    return r;
  } catch (err) {
    if (signal.aborted) throw err;
    if (isStorageFault(err)) throw couldNotJudge(err);
    const e = asBacktrackError(err);
    if (e instanceof ChecksumError || e.code === 'NOT_FOUND') {
      checks.push(integrityFailed(e));
      checks.push({ name: 'load', verdict: 'skipped', message: 'not judged: an object is damaged', evidence: {} });
    } else {
      checks.push({ name: 'integrity', verdict: 'skipped', message: 'not judged: the load stopped before every object was read', evidence: {} });
      checks.push({ name: 'load', verdict: 'failed', message: e.message, evidence: { code: e.code, ...e.details } });
    }
    checks.push({ name: 'inventory', verdict: 'skipped', message: 'not judged: the load did not finish', evidence: {} });
    checks.push({ name: 'rows', verdict: 'skipped', message: 'not judged: the load did not finish', evidence: {} });
    return undefined;
  }
}

function segmentSource(o: DrillOptions, work: string, signal: AbortSignal): SegmentSource {
  return repositorySegments(o.repo, o.source.name, codecFor(o.cfg, o.source), work, signal);
}

async function replayAndCheck(o: DrillOptions, m: Manifest, scratch: Scratch, pitr: PitrPlan, work: string, signal: AbortSignal): Promise<DrillCheck> {
  const tools = toolPaths(o.cfg, m.server.flavor);
  const evidence = { backupId: pitr.backupId, start: pitr.start, stop: pitr.stop, files: pitr.files.map((f) => f.file), lastIncluded: pitr.lastIncluded };
  try {
    await replayFiles(pitr.files, {
      src: segmentSource(o, work, signal),
      target: scratch.spec,
      flavor: m.server.flavor,
      binlogTool: tools.binlog,
      client: tools.client,
      noBinlog: false,
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    if (isStorageFault(err)) throw couldNotJudge(err);
    return { name: 'point-in-time', verdict: 'failed', message: `the binlog replay failed: ${asBacktrackError(err).message}`, evidence };
  }
  const lastSec = pitr.lastIncluded ? Math.floor(Date.parse(pitr.lastIncluded.time) / 1000) : Math.floor(Date.parse(m.startedAt) / 1000);
  // Only a target time bounds the restored beats; the end of the archive does not (see checkPointInTime).
  const pointSec = pitr.point.kind === 'time' ? pitr.point.seconds : undefined;
  return checkPointInTime(scratch.spec, sourceSpec(o.source), o.source, pointSec, lastSec, evidence);
}

/** The repository failed under the drill: it says nothing about the backup, so the drill errors instead of failing it. */
function couldNotJudge(err: unknown): BacktrackError {
  return new BacktrackError(`the drill could not read the repository (${asBacktrackError(err).message}); the backup was not judged: run the drill again`, { code: 'DRILL_STORAGE', cause: err });
}

function restoreLike(o: DrillOptions) {
  return { cfg: o.cfg, source: o.source, repo: o.repo, log: o.log, actor: o.actor, dryRun: false, skipUsers: false, noBinlog: false, force: true, forceOverwriteSource: false };
}

function timeoutOr(err: unknown, o: DrillOptions, signal: AbortSignal): BacktrackError {
  if (signal.aborted && !o.signal?.aborted) return new BacktrackError(`the drill took longer than verify.timeout (${o.source.verify.timeout / 1000}s) and was stopped`, { code: 'DRILL_TIMEOUT', cause: err });
  return asBacktrackError(err);
}

async function finish(o: DrillOptions, m: Manifest, started: Date, checks: DrillCheck[], rto: DrillReport['rto'], scratch: DrillReport['scratch'], target: Record<string, unknown> | undefined, log: Logger): Promise<DrillReport> {
  const failed = checks.filter((c) => c.verdict === 'failed').map((c) => c.name);
  const report: DrillReport = {
    format: 1,
    source: o.source.name,
    backupId: m.id,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    verdict: failed.length ? 'failed' : 'passed',
    failedChecks: failed,
    scratch,
    ...(target ? { target } : {}),
    checks,
    rto,
    actor: o.actor,
  };
  await o.repo.writeDrillReport(report);
  await o.repo.appendAudit({ action: 'drill', actor: o.actor, source: o.source.name, backupId: m.id, params: { point: o.point ?? null }, outcome: failed.length ? 'failed' : 'ok', ...(failed.length ? { error: `failed checks: ${failed.join(', ')}` } : {}), durationSeconds: (Date.now() - started.getTime()) / 1000 });
  if (failed.length) log.error({ failedChecks: failed }, 'drill failed');
  else log.info({ rtoSeconds: rto.seconds }, 'drill passed');
  return report;
}

/** The error a failed drill's command exits with. */
export function drillFailedError(r: DrillReport): VerificationFailedError {
  const why = r.checks.filter((c) => c.verdict === 'failed').map((c) => `${c.name}: ${c.message}`);
  return new VerificationFailedError(`drill of backup ${r.backupId} FAILED (${r.failedChecks.join(', ')}): ${why.join(' | ')}`, { backupId: r.backupId, failedChecks: r.failedChecks });
}
