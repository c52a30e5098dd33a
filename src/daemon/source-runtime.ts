/**
 * Everything the daemon does for one source: take part in the leader
 * election, and while leader run the binlog archiver (supervised: it
 * reconnects on its own, and is never run twice: it holds the source's
 * binlog lock), the heartbeat, and the scheduled jobs through one queue.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { Config, SourceConfig } from '../config/schema.js';
import { asBacktrackError } from '../errors.js';
import { takeBackup } from '../backup/backup.js';
import { BinlogArchiver } from '../binlog/archiver.js';
import { HeartbeatWriter } from '../binlog/heartbeat.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { pruneSource } from '../prune/prune.js';
import type { Actor } from '../repository/audit.js';
import type { WritableRepository } from '../repository/repository.js';
import { sourceSpec } from '../runtime/context.js';
import { drillFailedError, runDrill } from '../verify/drill.js';
import { SourceJobs, type Job, type JobKind } from './jobs.js';
import { LeaderLock } from './leader.js';

export interface SourceRuntimeOptions {
  cfg: Config;
  source: SourceConfig;
  repo: WritableRepository;
  log: Logger;
  metrics: Metrics;
  /** Called after a job finishes (the daemon refreshes repository metrics). */
  onJobDone?: (job: Job) => void;
  /** This daemon, as a leader records itself for the others (API forwarding). */
  self?: { identity: string; url: string } | undefined;
}

export class SourceRuntime {
  readonly jobs: SourceJobs;
  readonly leader: LeaderLock;
  private archiver?: BinlogArchiver | undefined;
  private archiving?: Promise<void> | undefined;
  private heartbeat?: HeartbeatWriter | undefined;
  private tasks: Array<{ kind: JobKind; task: ScheduledTask }> = [];
  /** The archive lag the archiver last reported (seconds), and whether it streams now (as the metrics say: setArchiving). */
  lag: number | undefined;
  archiverUp = false;
  private readonly log: Logger;
  private readonly name: string;

  constructor(private readonly o: SourceRuntimeOptions) {
    this.name = o.source.name;
    this.log = o.log.child({ source: this.name });
    const m = o.metrics;
    this.jobs = new SourceJobs(this.name, (job, signal) => this.run(job, signal), {
      onStart: (j) => m.jobRunning.set({ source: this.name, job: j.kind }, 1),
      onFinish: (j) => {
        m.jobRunning.set({ source: this.name, job: j.kind }, 0);
        m.jobsTotal.inc({ source: this.name, job: j.kind, outcome: j.state });
        this.log.info({ job: j.kind, jobId: j.id, state: j.state, error: j.error }, `${j.kind} job ${j.state}`);
        o.onJobDone?.(j);
      },
      onSkip: (kind, trigger, busy) => {
        m.jobsTotal.inc({ source: this.name, job: kind, outcome: 'skipped' });
        this.log.warn({ job: kind, trigger, busyJob: busy.id, busyState: busy.state }, `${kind} skipped: one is already ${busy.state}`);
      },
    });
    this.leader = new LeaderLock({
      spec: sourceSpec(o.source),
      source: this.name,
      retryMs: o.cfg.daemon.leaderRetry,
      sessionTimeoutMs: o.cfg.daemon.lockSessionTimeout,
      log: o.log,
      onChange: (isLeader) => (isLeader ? this.becomeLeader() : this.loseLeadership()),
    });
  }

  start(): void {
    // Every series exists from the start, so "0" is never confused with "absent".
    const l = { source: this.name };
    this.o.metrics.leader.set(l, 0);
    this.o.metrics.binlogArchiverUp.set(l, 0);
    this.o.metrics.binlogLag.set(l, 0);
    for (const job of ['backup', 'drill', 'prune']) this.o.metrics.jobRunning.set({ ...l, job }, 0);
    for (const [kind, expr] of this.schedules()) {
      const task = cron.schedule(expr, () => this.scheduled(kind), { timezone: this.o.cfg.timezone, name: `${this.name}:${kind}` });
      this.tasks.push({ kind, task });
    }
    this.leader.start();
  }

  /** Stop taking jobs, abort the running one, upload the active binlog segment, release locks. */
  async stop(): Promise<void> {
    for (const t of this.tasks) await t.task.stop();
    this.tasks = [];
    await this.jobs.close();
    await this.stopLeaderWork();
    await this.leader.stop();
  }

  /** When each scheduled job runs next (null: not scheduled). */
  nextRuns(): Record<'backup' | 'drill' | 'prune', string | null> {
    const next = (kind: JobKind) => this.tasks.find((t) => t.kind === kind)?.task.getNextRun()?.toISOString() ?? null;
    return { backup: next('backup'), drill: next('drill'), prune: next('prune') };
  }

  /** Submit a job as the API does. */
  trigger(kind: JobKind, actor: string): { job: Job } | { busy: Job } | { notLeader: true } {
    if (!this.leader.isLeader) return { notLeader: true };
    return this.jobs.submit(kind, 'api', actor);
  }

  private schedules(): Array<[JobKind, string]> {
    const s = this.o.source;
    const out: Array<[JobKind, string]> = [];
    if (s.backup.schedule) out.push(['backup', s.backup.schedule]);
    if (s.verify.schedule) out.push(['drill', s.verify.schedule]);
    if (s.prune.schedule) out.push(['prune', s.prune.schedule]);
    return out;
  }

  private scheduled(kind: JobKind): void {
    if (!this.leader.isLeader) return;
    this.jobs.submit(kind, 'schedule', 'schedule');
  }

  private async becomeLeader(): Promise<void> {
    this.o.metrics.leader.set({ source: this.name }, 1);
    if (this.o.self) {
      // The other daemons forward API requests for this source here.
      await this.o.repo.recordLeader(this.name, { ...this.o.self, since: new Date().toISOString() }).catch((err: unknown) => this.log.warn({ err }, 'could not record the leadership in the repository; other daemons answer API requests for this source with 503'));
    }
    const s = this.o.source;
    if (s.verify.heartbeat.enabled) {
      this.heartbeat = new HeartbeatWriter(sourceSpec(s), s, this.log);
      await this.heartbeat.start().catch((err: unknown) => this.log.error({ err }, 'heartbeat could not start (needs CREATE, INSERT, DELETE, SELECT on its schema)'));
    }
    if (s.binlog.enabled) await this.startArchiver();
    if (this.o.cfg.daemon.catchUp) await this.catchUp().catch((err: unknown) => this.log.warn({ err }, 'could not check for missed runs'));
  }

  private async loseLeadership(): Promise<void> {
    this.o.metrics.leader.set({ source: this.name }, 0);
    await this.jobs.cancelAll();
    await this.stopLeaderWork();
  }

  private async startArchiver(): Promise<void> {
    const m = this.o.metrics;
    this.archiver = new BinlogArchiver({
      cfg: this.o.cfg,
      source: this.o.source,
      repo: this.o.repo,
      log: this.o.log,
      // The archiver takes and keeps the source's binlog lock; while another
      // process (a CLI archiver) holds it, this one waits.
      onLockHeld: 'wait',
      events: {
        onSegment: (seg) => {
          this.setArchiving(true);
          m.binlogSegments.inc({ source: this.name });
          // The window itself is the daemon's refresh's to compute (it needs a backup to start).
          if (seg.lastTransaction) m.binlogLastEvent.set({ source: this.name }, seg.lastTransaction.timestamp);
        },
        onLag: (s) => {
          this.setArchiving(true, s);
        },
        onGap: () => m.binlogGapsDetected.inc({ source: this.name }),
        onError: () => this.setArchiving(false),
        onStreaming: (on) => this.setArchiving(on),
      },
    });
    this.archiving = this.archiver.start().catch((err: unknown) => this.log.error({ err: asBacktrackError(err) }, 'binlog archiver stopped'));
  }

  /** Whether the archiver streams (and its lag): the metrics and the status page from one place. */
  private setArchiving(up: boolean, lag?: number): void {
    this.archiverUp = up;
    this.o.metrics.binlogArchiverUp.set({ source: this.name }, up ? 1 : 0);
    if (lag !== undefined) {
      this.lag = lag;
      this.o.metrics.binlogLag.set({ source: this.name }, lag);
    }
  }

  private async stopLeaderWork(): Promise<void> {
    await this.archiver?.stop();
    await this.archiving;
    this.archiver = undefined;
    this.archiving = undefined;
    this.setArchiving(false);
    this.lag = undefined;
    await this.heartbeat?.stop();
    this.heartbeat = undefined;
  }

  /**
   * The missed-run rule: when the newest success of a scheduled backup or
   * drill is older than the schedule's period (the time between its next
   * two runs), run it once now instead of waiting for the next tick.
   */
  private async catchUp(): Promise<void> {
    const now = Date.now();
    const period = (expr: string) => {
      const t = cron.createTask(expr, () => undefined, { timezone: this.o.cfg.timezone });
      const [a, b] = t.getNextRuns(2);
      void t.destroy();
      return a && b ? b.getTime() - a.getTime() : Infinity;
    };
    const s = this.o.source;
    if (s.backup.schedule) {
      const { backups } = await this.o.repo.listBackups(this.name);
      const last = backups[backups.length - 1]?.manifest.finishedAt;
      if (!last || now - Date.parse(last) > period(s.backup.schedule)) this.jobs.submit('backup', 'catch-up', 'schedule');
    }
    if (s.verify.schedule) {
      const reports = await this.o.repo.listDrillReports(this.name);
      const last = [...reports].reverse().find((r) => r.verdict === 'passed')?.finishedAt;
      if (!last || now - Date.parse(last) > period(s.verify.schedule)) this.jobs.submit('drill', 'catch-up', 'schedule');
    }
  }

  private actor(job: Job): Actor {
    return job.trigger === 'api' ? { kind: 'api', name: job.actor } : { kind: 'schedule', name: job.trigger };
  }

  /**
   * Run one job: the recipe for its kind. Counters of failures are kept
   * here; gauges that describe the repository (last backup, last drill) are
   * set by the daemon's refresh, which runs when a job ends.
   */
  private async run(job: Job, signal: AbortSignal): Promise<unknown> {
    const { cfg, source, repo, log } = this.o;
    const m = this.o.metrics;
    const l = { source: this.name };
    if (job.kind === 'backup') {
      try {
        const man = await takeBackup({ cfg, source, repo, log, actor: this.actor(job), signal });
        return { backupId: man.id, durationSeconds: (Date.parse(man.finishedAt) - Date.parse(man.startedAt)) / 1000 };
      } catch (err) {
        m.backupFailures.inc({ ...l, reason: asBacktrackError(err).code });
        m.backupLastFailure.set(l, Date.now() / 1000);
        throw err;
      }
    }
    if (job.kind === 'drill') {
      const point = source.verify.pointInTime && source.binlog.enabled ? ({ kind: 'latest' } as const) : undefined;
      let report;
      try {
        report = await runDrill({ cfg, source, repo, log, actor: this.actor(job), backup: 'unverified', point, signal });
      } catch (err) {
        if (!signal.aborted) m.drillErrors.inc(l);
        throw err;
      }
      for (const c of report.failedChecks) m.drillFailures.inc({ ...l, check: c });
      if (report.verdict === 'failed') throw drillFailedError(report);
      return { backupId: report.backupId, verdict: report.verdict, rtoSeconds: report.rto.seconds };
    }
    const r = await pruneSource({ cfg, source, repo, log, actor: this.actor(job), dryRun: false });
    m.pruneDeleted.inc({ ...l, kind: 'backups' }, r.decision.remove.length);
    m.pruneDeleted.inc({ ...l, kind: 'binlogs' }, r.decision.removeBinlogs.length);
    return { deletedBackups: r.decision.remove.map((x) => x.id), deletedBinlogFiles: r.decision.removeBinlogs.length, deletedObjects: r.deletedObjects };
  }
}
