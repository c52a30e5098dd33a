/**
 * Which backups and binlog files retention keeps, and why: a pure function of
 * the repository's contents, the policy and the time, so it is tested
 * directly. Rules (a backup is kept if any rule keeps it):
 *   keepLast N       the newest N backups
 *   keepDaily N      the newest backup of each of the newest N days that have one
 *   keepWeekly N     the same per ISO week; keepMonthly per month (UTC)
 *   keepWithin D     every backup newer than now - D, and the newest older one,
 *                    which point-in-time recovery to (now - D) starts from
 *   drilled          the newest backup that passed a drill is never deleted
 * Binlog files are kept from the oldest kept backup's snapshot file on (per
 * timeline); older files, and timelines no kept backup starts in, go.
 */
import type { RetentionConfig } from '../config/schema.js';
import type { Timeline } from '../binlog/chain.js';
import { backupTimeline } from '../binlog/chain.js';
import type { Manifest } from '../repository/manifest.js';

export interface RetentionInput {
  backups: Manifest[];
  /** Ids of backups whose newest drill passed. */
  drilledOk: Set<string>;
  timelines: Timeline[];
  policy: RetentionConfig;
  now: Date;
}

export interface RetentionDecision {
  keep: Array<{ id: string; reasons: string[] }>;
  remove: Array<{ id: string; reason: string }>;
  /** Binlog files (whole or pieces) to delete, per timeline. */
  removeBinlogs: Array<{ timeline: string; file: string; reason: string }>;
  /** Timelines to delete entirely (with their gap records). */
  removeTimelines: Array<{ timeline: string; reason: string }>;
}

const DAY = 86_400_000;

function dayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}
function monthKey(d: Date): string {
  return d.toISOString().slice(0, 7);
}
/** ISO 8601 week, e.g. 2026-W48. */
export function weekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dow);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / DAY + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** Decide what to keep and what to delete. */
export function decideRetention(i: RetentionInput): RetentionDecision {
  const newestFirst = [...i.backups].sort((a, b) => (a.id < b.id ? 1 : -1));
  const reasons = new Map<string, string[]>(newestFirst.map((m) => [m.id, []]));
  const add = (id: string, why: string) => reasons.get(id)?.push(why);
  newestFirst.slice(0, i.policy.keepLast).forEach((m, n) => add(m.id, `one of the newest ${i.policy.keepLast} (#${n + 1})`));
  const bucketed = (n: number, key: (d: Date) => string, label: string) => {
    const seen = new Set<string>();
    for (const m of newestFirst) {
      const k = key(new Date(m.finishedAt));
      if (seen.has(k)) continue;
      if (seen.size >= n) break;
      seen.add(k);
      add(m.id, `${label} ${k}`);
    }
  };
  bucketed(i.policy.keepDaily, dayKey, 'newest of day');
  bucketed(i.policy.keepWeekly, weekKey, 'newest of week');
  bucketed(i.policy.keepMonthly, monthKey, 'newest of month');
  if (i.policy.keepWithin !== undefined) {
    const edge = i.now.getTime() - i.policy.keepWithin;
    const within = newestFirst.filter((m) => Date.parse(m.finishedAt) >= edge);
    within.forEach((m) => add(m.id, `within keepWithin`));
    const base = newestFirst.find((m) => Date.parse(m.finishedAt) < edge);
    if (base) add(base.id, 'start of the keepWithin recovery window');
  }
  const drilled = newestFirst.find((m) => i.drilledOk.has(m.id));
  if (drilled) add(drilled.id, 'newest backup that passed a drill');

  const keep = newestFirst.filter((m) => (reasons.get(m.id) ?? []).length > 0).map((m) => ({ id: m.id, reasons: reasons.get(m.id) ?? [] }));
  const remove = newestFirst.filter((m) => (reasons.get(m.id) ?? []).length === 0).map((m) => ({ id: m.id, reason: 'matched no keep rule' }));
  const kept = i.backups.filter((m) => keep.some((k) => k.id === m.id));
  return { keep, remove, ...binlogRetention(i.timelines, kept, i.backups.length) };
}

function binlogRetention(timelines: Timeline[], kept: Manifest[], totalBackups: number): Pick<RetentionDecision, 'removeBinlogs' | 'removeTimelines'> {
  const removeBinlogs: RetentionDecision['removeBinlogs'] = [];
  const removeTimelines: RetentionDecision['removeTimelines'] = [];
  const newest = [...timelines].sort((a, b) => ((a.lastArchivedAt ?? '') < (b.lastArchivedAt ?? '') ? 1 : -1))[0];
  for (const tl of timelines) {
    const starts = kept.filter((m) => m.snapshot && backupTimeline(m) === tl.id).map((m) => m.snapshot!.file);
    if (starts.length === 0) {
      // The live timeline is kept while no backup exists at all (a new installation).
      if (tl.id === newest?.id && (totalBackups === 0 || kept.length === 0)) continue;
      if (tl.id !== newest?.id) removeTimelines.push({ timeline: tl.id, reason: 'no kept backup starts in this timeline' });
      else for (const f of tl.files) removeBinlogs.push({ timeline: tl.id, file: f.file, reason: 'no kept backup starts in this timeline' });
      continue;
    }
    const oldest = starts.map((f) => tl.files.find((x) => x.file === f)?.index ?? Infinity).reduce((a, b) => Math.min(a, b), Infinity);
    for (const f of tl.files) {
      if (f.index < oldest) removeBinlogs.push({ timeline: tl.id, file: f.file, reason: 'older than the oldest kept backup\'s snapshot point' });
    }
  }
  return { removeBinlogs, removeTimelines };
}
