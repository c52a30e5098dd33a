/**
 * Drill reports: what a restore drill found, written next to the backups
 * (`<source>/drills/<time>-<backup-id>.json`), one object per drill, never
 * rewritten. `list` shows each backup's newest verdict; the daemon picks the
 * newest backup without a passed drill for its next drill.
 */
import { z } from 'zod';
import { getJson, putJson } from '../storage/util.js';
import { keys } from './layout.js';
import type { Repository } from './repository.js';

export const CheckSchema = z.object({
  name: z.enum(['integrity', 'load', 'inventory', 'rows', 'point-in-time', 'timing']),
  verdict: z.enum(['passed', 'failed', 'skipped']),
  message: z.string(),
  evidence: z.record(z.string(), z.unknown()).default({}),
});
export type DrillCheck = z.infer<typeof CheckSchema>;

export const DrillReportSchema = z.object({
  format: z.literal(1),
  source: z.string(),
  backupId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  verdict: z.enum(['passed', 'failed']),
  failedChecks: z.array(z.string()),
  scratch: z.object({ mode: z.string(), description: z.string() }),
  target: z.record(z.string(), z.unknown()).optional(),
  checks: z.array(CheckSchema),
  /** The measured recovery time of this backup (load + replay), and its rate. */
  rto: z.object({ seconds: z.number(), loadSeconds: z.number(), replaySeconds: z.number(), bytesRead: z.number(), rawBytes: z.number(), mibPerSecond: z.number() }),
  actor: z.object({ kind: z.string(), name: z.string() }),
});
export type DrillReport = z.infer<typeof DrillReportSchema>;

/** Store a report; returns its key. */
export async function writeDrillReport(repo: Repository, r: DrillReport): Promise<string> {
  const key = keys.drill(r.source, new Date(r.finishedAt), r.backupId);
  await putJson(repo.store, key, DrillReportSchema.parse(r));
  return key;
}

/** Every drill report of a source, oldest first. */
export async function listDrillReports(repo: Repository, source: string): Promise<DrillReport[]> {
  const out: DrillReport[] = [];
  for (const o of await repo.store.list(keys.drillsPrefix(source))) {
    if (!o.key.endsWith('.json')) continue;
    const parsed = DrillReportSchema.safeParse(await getJson(repo.store, o.key).catch(() => undefined));
    if (parsed.success) out.push(parsed.data);
  }
  return out.sort((a, b) => (a.finishedAt < b.finishedAt ? -1 : 1));
}

/** The newest report per backup id. */
export function latestDrillByBackup(reports: DrillReport[]): Map<string, DrillReport> {
  const m = new Map<string, DrillReport>();
  for (const r of reports) m.set(r.backupId, r);
  return m;
}
