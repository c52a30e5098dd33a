/**
 * The status document behind the daemon's status page (`GET /api/v1/status`):
 * per source, the restorable windows over the retention period, each backup
 * with its newest drill verdict, the drills, the binlog gaps, the archive
 * lag now, the newest point a passed point-in-time drill recovered, the last
 * drill's report, the next scheduled jobs and who leads the source. Read
 * only; everything comes from the repository and this daemon's runtime.
 */
import type { SourceConfig } from '../config/schema.js';
import { loadChain, restorableWindows } from '../binlog/chain.js';
import { latestDrillByBackup, type DrillReport } from '../repository/drills.js';
import type { Repository } from '../repository/repository.js';
import type { SourceStatus } from './status-document.js';

export type { SourceStatus, StatusDocument } from './status-document.js';

/** What the daemon knows about a source besides the repository. */
export interface SourceRuntimeInfo {
  leading: boolean;
  lagSeconds: number | undefined;
  streaming: boolean;
  next: Record<'backup' | 'drill' | 'prune', string | null>;
}

/** The newest point a passed drill's point-in-time check recovered (its last replayed transaction). */
export function provenPoint(reports: DrillReport[]): SourceStatus['provenPoint'] {
  let best: SourceStatus['provenPoint'] = null;
  for (const r of reports) {
    if (r.verdict !== 'passed') continue;
    const pit = r.checks.find((c) => c.name === 'point-in-time' && c.verdict === 'passed');
    const at = typeof pit?.evidence.lastReplayed === 'string' ? pit.evidence.lastReplayed : undefined;
    if (at && (!best || at > best.at)) best = { at, backupId: r.backupId, drilledAt: r.finishedAt };
  }
  return best;
}

export async function sourceStatus(repo: Repository, source: SourceConfig, rt: SourceRuntimeInfo, now = new Date()): Promise<SourceStatus> {
  const [{ backups, damaged, orphans }, timelines, reports, ledBy, hidden] = await Promise.all([
    repo.listBackups(source.name),
    loadChain(repo, source.name),
    repo.listDrillReports(source.name),
    repo.currentLeader(source.name).catch(() => undefined),
    repo.hiddenObjects(source.name),
  ]);
  const manifests = backups.map((b) => b.manifest);
  const windows = restorableWindows(timelines, manifests).sort((a, b) => (a.from < b.from ? -1 : 1));
  const byBackup = latestDrillByBackup(reports);
  const last = reports[reports.length - 1];
  const newestEvent = timelines.map((t) => t.lastTransactionTime).filter((x): x is string => !!x).sort().pop() ?? null;
  const earliest = [...manifests.map((m) => m.startedAt), ...windows.map((w) => w.from)].sort()[0];
  const gapTime = (p: { time?: string | undefined } | undefined) => p?.time ?? null;
  return {
    name: source.name,
    leading: rt.leading,
    ledBy: ledBy ?? null,
    span: { from: earliest ?? now.toISOString(), to: now.toISOString() },
    windows: windows.map((w) => ({ timeline: w.timeline, from: w.from, to: w.to, fromBackup: w.fromBackup })),
    backups: manifests.map((m) => {
      const d = byBackup.get(m.id);
      return { id: m.id, at: m.finishedAt, bytes: m.objects.reduce((a, o) => a + o.size, 0), drill: d ? { verdict: d.verdict, at: d.finishedAt } : null };
    }),
    drills: reports.map((r) => ({ backupId: r.backupId, at: r.finishedAt, verdict: r.verdict, failedChecks: r.failedChecks })),
    gaps: timelines.flatMap((t) => t.gaps.map((g) => ({ timeline: g.timeline, detail: g.detail, from: gapTime(g.before), to: gapTime(g.after) }))),
    archive: { enabled: source.binlog.enabled, streaming: rt.streaming, lagSeconds: rt.lagSeconds ?? null, newestEvent },
    provenPoint: provenPoint(reports),
    lastDrill: last
      ? { backupId: last.backupId, startedAt: last.startedAt, finishedAt: last.finishedAt, verdict: last.verdict, failedChecks: last.failedChecks, rto: last.rto, checks: last.checks.map((c) => ({ name: c.name, verdict: c.verdict, message: c.message })) }
      : null,
    next: rt.next,
    problems: [
      ...damaged.map((d) => `damaged backup ${d.id}: ${d.reason}`),
      ...orphans.map((o) => `orphan backup ${o.id}: committed ${o.committedAt}, manifest missing`),
      ...(hidden.length ? [`${hidden.length} object(s) hidden by delete markers someone else wrote (e.g. ${hidden[0]!.key})`] : []),
    ],
  };
}
