/**
 * The audit trail: one append-only JSON object per event (who did what to
 * which source or target, with which parameters, and how it ended). Written
 * under a new key every time, never rewritten, so it works under S3 Object
 * Lock. Repository.appendAudit/listAudit do the I/O.
 */
import os from 'node:os';
import { z } from 'zod';

export const AuditEventSchema = z.object({
  at: z.string(),
  action: z.string(),
  actor: z.object({ kind: z.enum(['cli', 'api', 'schedule']), name: z.string() }),
  host: z.string(),
  pid: z.number(),
  source: z.string().optional(),
  target: z.string().optional(),
  backupId: z.string().optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  outcome: z.enum(['ok', 'failed', 'refused', 'interrupted']),
  error: z.string().optional(),
  durationSeconds: z.number().optional(),
});

export type AuditEvent = z.infer<typeof AuditEventSchema>;
/** What a caller supplies; the rest is filled in. */
export type AuditInput = Omit<z.input<typeof AuditEventSchema>, 'at' | 'host' | 'pid'> & { at?: Date };

/** Who is acting: the OS user for the CLI, a token name for the API, or the schedule. */
export type Actor = AuditEvent['actor'];

/** The CLI's actor: the OS user (SUDO_USER when run through sudo). */
export function cliActor(): Actor {
  let name = process.env.SUDO_USER ?? '';
  if (!name) {
    try {
      name = os.userInfo().username;
    } catch {
      name = process.env.USER ?? 'unknown';
    }
  }
  return { kind: 'cli', name };
}
