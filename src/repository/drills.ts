/**
 * Drill reports: what a restore drill found, written next to the backups
 * (`<source>/drills/<time>-<backup-id>.json`), one object per drill, never
 * rewritten. `list` shows each backup's newest verdict; the daemon picks the
 * newest backup without a passed drill for its next drill.
 */
import { z } from 'zod';

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
  rto: z.object({ seconds: z.number(), loadSeconds: z.number(), replaySeconds: z.number(), bytesRead: z.number(), rawBytes: z.number(), mibPerSecond: z.number(), parallel: z.number().int().positive().optional() }),
  actor: z.object({ kind: z.string(), name: z.string() }),
});
export type DrillReport = z.infer<typeof DrillReportSchema>;

/** The newest report per backup id. */
export function latestDrillByBackup(reports: DrillReport[]): Map<string, DrillReport> {
  const m = new Map<string, DrillReport>();
  for (const r of reports) m.set(r.backupId, r);
  return m;
}
