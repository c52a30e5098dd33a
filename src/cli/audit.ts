/** `backtrack audit`: who backed up, restored, drilled or deleted what, and when. */
import { UsageError } from '../errors.js';
import { parseDuration } from '../config/duration.js';
import { openRepository } from '../runtime/context.js';
import { str, type Command } from './command.js';
import { table } from './format.js';

export const auditCommand: Command = {
  name: 'audit',
  summary: 'list audit events (backups, restores, drills, deletions, API calls)',
  usage: 'backtrack audit [--since TIME | --since 7d] [--json]',
  options: {
    since: { type: 'string', arg: 'TIME', description: 'only events at or after TIME (ISO 8601) or within a duration (e.g. 24h, 7d)' },
  },
  async run(ctx) {
    const s = str(ctx, 'since');
    let since: Date | undefined;
    if (s) {
      const d = parseDuration(s);
      since = d !== undefined ? new Date(Date.now() - d) : new Date(s);
      if (Number.isNaN(since.getTime())) throw new UsageError(`--since "${s}" is neither a time (2026-11-25T00:00:00Z) nor a duration (24h, 7d)`);
    }
    const repo = await openRepository(ctx.cfg, 'read', ctx.log, ctx.signal);
    const events = await repo.listAudit(since);
    const rows = events.map((e) => [e.at.replace(/\.\d{3}Z$/, 'Z'), e.action, `${e.actor.kind}:${e.actor.name}`, e.source ?? '', e.backupId ?? e.target ?? '', e.outcome, e.error ? e.error.slice(0, 80) : '']);
    return { json: { events }, text: events.length ? table(['time', 'action', 'who', 'source', 'backup/target', 'outcome', 'error'], rows) : 'no audit events' };
  },
};
