/** `backtrack prune`: apply retention now, or show what it would delete. */
import { pruneSource, type PruneResult } from '../prune/prune.js';
import { cliActor } from '../repository/audit.js';
import { openRepository } from '../runtime/context.js';
import { bool, eachSource, type Command } from './command.js';

function render(source: string, r: PruneResult, orphans: boolean): string {
  const d = r.decision;
  const locked = new Map((r.locked ?? []).map((l) => [l.what, l.until]));
  const fate = (what: string) => (r.dryRun ? 'would delete' : locked.has(what) ? `LOCKED until ${locked.get(what)} (deleted by the first prune after that):` : 'DELETED');
  const gone = (whats: string[]) => whats.filter((w) => !locked.has(w)).length;
  return [
    `source ${source}: ${r.dryRun ? 'would delete' : 'deleted'} ${r.dryRun ? d.remove.length : gone(d.remove.map((k) => `backup ${k.id}`))} backup(s), ${r.dryRun ? d.removeBinlogs.length : gone(d.removeBinlogs.map((b) => `binlog ${b.timeline}/${b.file}`))} binlog file(s), ${r.dryRun ? d.removeTimelines.length : gone(d.removeTimelines.map((t) => `timeline ${t.timeline}`))} timeline(s); keeps ${d.keep.length} backup(s)`,
    ...d.keep.map((k) => `  keep    ${k.id}  (${k.reasons.join('; ')})`),
    ...d.remove.map((k) => `  ${fate(`backup ${k.id}`)} ${k.id}  (${k.reason})`),
    ...d.removeBinlogs.map((b) => `  ${fate(`binlog ${b.timeline}/${b.file}`)} binlog ${b.timeline}/${b.file}  (${b.reason})`),
    ...d.removeTimelines.map((t) => `  ${fate(`timeline ${t.timeline}`)} timeline ${t.timeline}  (${t.reason})`),
    ...r.unusable.map((u) => `  ${u.deleted ? 'DELETED' : locked.has(`${u.kind} backup ${u.id}`) ? `LOCKED until ${locked.get(`${u.kind} backup ${u.id}`)}:` : r.dryRun && orphans ? 'would delete' : 'kept'} ${u.kind} backup ${u.id}  (${u.why})${u.deleted || orphans ? '' : '; --orphans deletes it'}`),
    ...(r.locks ? [`  Object Lock: ${r.locks.extended} of ${r.locks.checked} kept object(s) extended to ${r.locks.until}`] : []),
  ].join('\n');
}

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'apply retention: delete backups and binlog files no rule keeps',
  usage: 'backtrack prune [--source NAME] [--dry-run] [--orphans] [--json]',
  source: 'each',
  dryRun: 'list what would be deleted and why; delete nothing',
  options: {
    orphans: { type: 'boolean', description: 'also delete backups Backtrack cannot use: orphans (committed, manifest missing) and damaged ones; without it they are kept' },
  },
  details: 'Rules: retention.keepLast, keepDaily, keepWeekly, keepMonthly, keepWithin; the newest backup that passed a drill is always kept. Binlog files go only where no kept backup and no part of the kept recovery window needs them. Each deletion is an audit event. Backups Backtrack cannot use (a damaged manifest, or an orphan: committed according to the audit trail, manifest missing) are never deleted by retention; --orphans deletes them.',
  async run(ctx) {
    const sources = eachSource(ctx);
    const dryRun = bool(ctx, 'dry-run');
    const orphans = bool(ctx, 'orphans');
    const common = { cfg: ctx.cfg, log: ctx.log, actor: cliActor(), orphans };
    const out: Array<{ source: string; result: PruneResult }> = [];
    if (dryRun) {
      const repo = await openRepository(ctx.cfg, 'read', ctx.log, ctx.signal);
      for (const source of sources) out.push({ source: source.name, result: await pruneSource({ ...common, source, repo, dryRun: true }) });
    } else {
      const repo = await openRepository(ctx.cfg, 'write', ctx.log, ctx.signal);
      for (const source of sources) out.push({ source: source.name, result: await pruneSource({ ...common, source, repo, dryRun: false }) });
    }
    return { json: { dryRun, sources: out.map((o) => ({ source: o.source, ...o.result })) }, text: out.map((o) => render(o.source, o.result, orphans)).join('\n\n') };
  },
};
