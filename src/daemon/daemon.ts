/**
 * The daemon: one process protecting every configured source. A small
 * facade, start() and stop(), both idempotent (like graphile-worker's):
 * start opens the repository, the HTTP server and one SourceRuntime per
 * source; stop stops taking jobs, aborts running ones cleanly, uploads the
 * active binlog segments, releases locks and scratch servers, and closes
 * the HTTP server.
 */
import os from 'node:os';
import type { Config } from '../config/schema.js';
import { readApiTokens } from '../config/secrets.js';
import { asBacktrackError } from '../errors.js';
import { loadChain, restorableWindows } from '../binlog/chain.js';
import { HttpServer, type ApiBackend } from '../http/server.js';
import { closeQuietly, connect } from '../mysql/connect.js';
import type { Logger } from '../observability/logger.js';
import { createMetrics, type Metrics } from '../observability/metrics.js';
import { latestDrillByBackup } from '../repository/drills.js';
import type { WritableRepository } from '../repository/repository.js';
import { openRepository, sourceSpec } from '../runtime/context.js';
import { SourceRuntime } from './source-runtime.js';
import { sourceStatus, type StatusDocument } from './status.js';

/** How long one status document serves the status pages. */
const STATUS_CACHE_MS = 3000;

export interface DaemonOptions {
  cfg: Config;
  log: Logger;
  /** Override http.listen (tests use port 0). */
  listen?: string;
}

export class Daemon {
  readonly metrics: Metrics = createMetrics();
  private repo?: WritableRepository;
  private http?: HttpServer;
  private sources: SourceRuntime[] = [];
  private refreshTimer?: NodeJS.Timeout;
  private starting?: Promise<{ port: number }>;
  private stopping?: Promise<void>;
  private statusCache?: { at: number; doc: Promise<StatusDocument> } | undefined;
  /** This daemon as the leader records itself (identity, advertised URL). */
  private self?: { identity: string; url: string };

  constructor(private readonly o: DaemonOptions) {}

  /** Start everything; resolves with the HTTP port. Idempotent. */
  start(): Promise<{ port: number }> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Stop everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStart(): Promise<{ port: number }> {
    const { cfg, log } = this.o;
    this.metrics.up.set(1);
    this.metrics.configSources.set(cfg.sources.length);
    this.repo = await openRepository(cfg, 'write', log);
    const tokens = cfg.http.tokenFile ? readApiTokens(cfg.http.tokenFile) : [];
    this.http = new HttpServer({ listen: this.o.listen ?? cfg.http.listen, tokens, protectMetrics: cfg.http.protectMetrics, backend: this.backend(), log });
    const addr = await this.http.start();
    this.self = { identity: `${os.hostname()}:${process.pid}`, url: advertisedUrl(cfg.http.advertiseUrl, this.o.listen ?? cfg.http.listen, addr.port) };
    this.sources = cfg.sources.map((source) => new SourceRuntime({ cfg, source, repo: this.repo!, log, metrics: this.metrics, self: this.self, onJobDone: (job) => void this.refresh(job.source) }));
    for (const s of this.sources) s.start();
    await this.refresh();
    this.refreshTimer = setInterval(() => void this.refresh(), cfg.daemon.refreshInterval);
    log.info({ port: addr.port, sources: cfg.sources.map((s) => s.name), api: tokens.length > 0 }, 'daemon started');
    return { port: addr.port };
  }

  private async doStop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await Promise.all(this.sources.map((s) => s.stop().catch((err: unknown) => this.o.log.error({ err }, 'stopping a source failed'))));
    await this.http?.stop();
    this.metrics.up.set(0);
    this.o.log.info('daemon stopped');
  }

  /** Recompute what the repository says (window, gaps, sizes, last successes), for one source or all. */
  private async refresh(only?: string): Promise<void> {
    const repo = this.repo;
    if (!repo) return;
    for (const s of this.o.cfg.sources.filter((x) => !only || x.name === only)) {
      const l = { source: s.name };
      try {
        const { backups, damaged, orphans } = await repo.listBackups(s.name);
        const manifests = backups.map((b) => b.manifest);
        this.metrics.backupsUnusable.set({ ...l, kind: 'damaged' }, damaged.length);
        this.metrics.backupsUnusable.set({ ...l, kind: 'orphan' }, orphans.length);
        if (repo.objectLock) this.metrics.hiddenObjects.set(l, (await repo.hiddenObjects(s.name)).length);
        const timelines = await loadChain(repo, s.name);
        const windows = restorableWindows(timelines, manifests).sort((a, b) => (a.to < b.to ? -1 : 1));
        const w = windows[windows.length - 1];
        this.metrics.windowStart.set(l, w ? Date.parse(w.from) / 1000 : 0);
        this.metrics.windowEnd.set(l, w ? Date.parse(w.to) / 1000 : 0);
        this.metrics.binlogGaps.set(l, timelines.reduce((n, t) => n + t.gaps.length, 0));
        this.metrics.backupsKept.set(l, manifests.length);
        const newest = manifests[manifests.length - 1];
        if (newest) {
          this.metrics.backupLastSuccess.set(l, Date.parse(newest.finishedAt) / 1000);
          this.metrics.backupLastDuration.set(l, (Date.parse(newest.finishedAt) - Date.parse(newest.startedAt)) / 1000);
          this.metrics.backupLastSize.set(l, newest.objects.reduce((a, x) => a + x.size, 0));
          this.metrics.backupLastLockHeld.set(l, newest.parallel?.lock?.heldSeconds ?? 0);
        }
        const last = timelines.map((t) => t.lastTransactionTime).filter(Boolean).sort().slice(-1)[0];
        if (last) this.metrics.binlogLastEvent.set(l, Date.parse(last) / 1000);
        const reports = await repo.listDrillReports(s.name);
        const lastDrill = reports[reports.length - 1];
        if (lastDrill) {
          this.metrics.drillLastTimestamp.set(l, Date.parse(lastDrill.finishedAt) / 1000);
          this.metrics.drillLastVerdict.set(l, lastDrill.verdict === 'passed' ? 1 : 0);
          this.metrics.drillRestoreSeconds.set(l, lastDrill.rto.seconds);
        }
        const lastPass = [...reports].reverse().find((r) => r.verdict === 'passed');
        if (lastPass) this.metrics.drillLastSuccess.set(l, Date.parse(lastPass.finishedAt) / 1000);
        for (const [kind, bytes] of Object.entries(await repo.usage(s.name))) this.metrics.repositoryBytes.set({ ...l, kind }, bytes);
      } catch (err) {
        this.o.log.warn({ source: s.name, error: asBacktrackError(err).message }, 'could not refresh repository metrics');
      }
    }
  }

  private backend(): ApiBackend {
    const find = (name: string) => this.sources[this.o.cfg.sources.findIndex((c) => c.name === name)];
    return {
      registry: this.metrics.registry,
      ready: () => this.ready(),
      hasSource: (name) => this.o.cfg.sources.some((s) => s.name === name),
      sources: async () => ({
        self: this.self,
        sources: await Promise.all(
          this.o.cfg.sources.map(async (s, i) => ({
            name: s.name,
            leader: this.sources[i]?.leader.isLeader ?? false,
            ledBy: (await this.repo!.currentLeader(s.name).catch(() => undefined)) ?? null,
            schedules: { backup: s.backup.schedule ?? null, drill: s.verify.schedule ?? null, prune: s.prune.schedule ?? null },
            binlog: s.binlog.enabled,
          })),
        ),
      }),
      backups: async (source) => {
        const { backups, damaged, orphans } = await this.repo!.listBackups(source);
        const drills = latestDrillByBackup(await this.repo!.listDrillReports(source));
        return { source, damaged: damaged.map((d) => ({ id: d.id, reason: d.reason })), orphans: orphans.map((o) => ({ id: o.id, committedAt: o.committedAt })), backups: backups.map(({ manifest: m }) => ({ id: m.id, startedAt: m.startedAt, finishedAt: m.finishedAt, bytes: m.objects.reduce((a, x) => a + x.size, 0), snapshot: m.snapshot, drill: drills.get(m.id) ? { verdict: drills.get(m.id)!.verdict, at: drills.get(m.id)!.finishedAt } : null })) };
      },
      drills: async (source) => ({ source, drills: await this.repo!.listDrillReports(source) }),
      window: async (source) => {
        const { backups } = await this.repo!.listBackups(source);
        const timelines = await loadChain(this.repo!, source);
        return { source, windows: restorableWindows(timelines, backups.map((b) => b.manifest)), gaps: timelines.flatMap((t) => t.gaps) };
      },
      trigger: (source, kind, actor) => {
        const rt = find(source);
        if (!rt) return { status: 404, body: { error: `no source ${source}` } };
        const r = rt.trigger(kind, actor);
        if ('notLeader' in r) return { status: 503, body: { error: `this daemon is not the leader for ${source}; another daemon runs its jobs` } };
        if ('busy' in r) return { status: 409, body: { error: `a ${kind} of ${source} is already ${r.busy.state}`, job: r.busy } };
        return { status: 202, body: { job: r.job } };
      },
      job: (id) => this.sources.map((s) => s.jobs.get(id)).find(Boolean),
      // One document serves every open page for a few seconds: the page polls every 5 s, per tab.
      status: () => {
        if (this.statusCache && Date.now() - this.statusCache.at < STATUS_CACHE_MS) return this.statusCache.doc;
        const doc = this.buildStatus();
        this.statusCache = { at: Date.now(), doc };
        doc.catch(() => (this.statusCache = undefined));
        return doc;
      },
      self: () => this.self,
      leading: (source) => find(source)?.leader.isLeader ?? false,
      leaderOf: (source) => this.repo!.currentLeader(source),
      // Job ids start with their source's name (jobs.ts); the longest name that fits.
      jobSource: (id) => this.o.cfg.sources.map((s) => s.name).filter((n) => id.startsWith(`${n}-`)).sort((a, b) => b.length - a.length)[0],
    };
  }

  private async buildStatus(): Promise<StatusDocument> {
    return {
      generatedAt: new Date().toISOString(),
      daemon: this.self ?? null,
      sources: await Promise.all(
        this.o.cfg.sources.map((s, i) => {
          const rt = this.sources[i];
          return sourceStatus(this.repo!, s, { leading: rt?.leader.isLeader ?? false, lagSeconds: rt?.lag, streaming: rt?.archiverUp ?? false, next: rt?.nextRuns() ?? { backup: null, drill: null, prune: null } });
        }),
      ),
    };
  }

  /** Ready when the repository and every source answer. */
  private async ready(): Promise<{ ready: boolean; [k: string]: unknown }> {
    const repository = await this.repo!.ping().then(
      () => ({ ok: true }),
      (err: unknown) => ({ ok: false, error: asBacktrackError(err).message }),
    );
    const sources: Record<string, unknown> = {};
    for (const [i, s] of this.o.cfg.sources.entries()) {
      try {
        const c = await connect({ ...sourceSpec(s), connectTimeoutMs: 3000 });
        await c.query('SELECT 1');
        await closeQuietly(c);
        sources[s.name] = { ok: true, leader: this.sources[i]?.leader.isLeader ?? false };
      } catch (err) {
        sources[s.name] = { ok: false, error: asBacktrackError(err).message };
      }
    }
    const ready = repository.ok && Object.values(sources).every((x) => (x as { ok: boolean }).ok);
    return { ready, config: { ok: true, sources: this.o.cfg.sources.length }, repository, sources };
  }
}

/** Where other daemons reach this one: http.advertiseUrl, else the host name (for 0.0.0.0/::) or the listen host, with the bound port. */
export function advertisedUrl(configured: string | undefined, listen: string, port: number): string {
  if (configured) return configured.replace(/\/+$/, '');
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
  const name = host === '0.0.0.0' || host === '::' || host === '' ? os.hostname() : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}
