/**
 * The shape of the status document (GET /api/v1/status): plain types with no
 * imports, shared by the daemon (status.ts) and the status page (src/ui/),
 * which is type-checked for the browser.
 */
export interface SourceStatus {
  name: string;
  /** This daemon leads the source now. */
  leading: boolean;
  ledBy: { identity: string; url: string; since: string } | null;
  /** The span the timeline shows: the oldest backup (or window) to now. */
  span: { from: string; to: string };
  windows: Array<{ timeline: string; from: string; to: string; fromBackup: string }>;
  backups: Array<{ id: string; at: string; bytes: number; drill: { verdict: 'passed' | 'failed'; at: string } | null }>;
  drills: Array<{ backupId: string; at: string; verdict: 'passed' | 'failed'; failedChecks: string[] }>;
  gaps: Array<{ timeline: string; detail: string; from: string | null; to: string | null }>;
  archive: { enabled: boolean; streaming: boolean; lagSeconds: number | null; newestEvent: string | null };
  /** The newest point a passed point-in-time drill recovered. */
  provenPoint: { at: string; backupId: string; drilledAt: string } | null;
  lastDrill: {
    backupId: string;
    startedAt: string;
    finishedAt: string;
    verdict: 'passed' | 'failed';
    failedChecks: string[];
    rto: { seconds: number; loadSeconds: number; replaySeconds: number; bytesRead: number; rawBytes: number; mibPerSecond: number; parallel?: number | undefined };
    checks: Array<{ name: string; verdict: string; message: string }>;
  } | null;
  next: Record<'backup' | 'drill' | 'prune', string | null>;
  /** Damaged or orphaned backups, and objects hidden by delete markers: things a person must look at. */
  problems: string[];
}

export interface StatusDocument {
  generatedAt: string;
  daemon: { identity: string; url: string } | null;
  sources: SourceStatus[];
}

