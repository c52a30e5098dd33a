/**
 * The audit trail: one append-only JSON object per event (who did what to
 * which source or target, with which parameters, and how it ended). Written
 * under a new key every time, never rewritten, so it works under S3 Object
 * Lock.
 */
import os from 'node:os';
import { z } from 'zod';
import { getJson, putJson } from '../storage/util.js';
import { keys } from './layout.js';
import type { Repository } from './repository.js';

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

/** Append one event. */
export async function appendAudit(repo: Repository, event: AuditInput): Promise<void> {
  const at = event.at ?? new Date();
  const full = AuditEventSchema.parse({ ...event, at: at.toISOString(), host: os.hostname(), pid: process.pid });
  // Audit writes go through the store directly: even read-role commands
  // (restore reads the repository) must be able to record what they did.
  await putJson(repo.store, keys.audit(at, event.action), full);
}

/** Events at or after `since`, oldest first. */
export async function listAudit(repo: Repository, since?: Date): Promise<AuditEvent[]> {
  const objs = await repo.store.list(keys.auditPrefix());
  const out: AuditEvent[] = [];
  for (const o of objs) {
    if (since && o.lastModified < since && !keyOnOrAfter(o.key, since)) continue;
    const parsed = AuditEventSchema.safeParse(await getJson(repo.store, o.key));
    if (parsed.success && (!since || new Date(parsed.data.at) >= since)) out.push(parsed.data);
  }
  return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
}

function keyOnOrAfter(key: string, since: Date): boolean {
  const day = since.toISOString().slice(0, 10).replace(/-/g, '/');
  return key.slice('audit/'.length, 'audit/'.length + 10) >= day;
}
