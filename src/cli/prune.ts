/** `backtrack prune`: apply retention now, or show what it would delete. */
import { pruneSource, type PruneResult } from '../prune/prune.js';
import { cliActor } from '../repository/audit.js';
import { openRepository } from '../runtime/context.js';
import { bool, eachSource, type Command } from './command.js';

function render(source: string, r: PruneResult, orphans: boolean): string {
  const d = r.decision;
  return [
    `source ${source}: ${r.dryRun ? 'would delete' : 'deleted'} ${d.remove.length} backup(s), ${d.removeBinlogs.length} binlog file(s), ${d.removeTimelines.length} timeline(s); keeps ${d.keep.length} backup(s)`,
    ...d.keep.map((k) => `  keep    ${k.id}  (${k.reasons.join('; ')})`),
    ...d.remove.map((k) => `  ${r.dryRun ? 'would delete' : 'DELETED'} ${k.id}  (${k.reason})`),
    ...d.removeBinlogs.map((b) => `  ${r.dryRun ? 'would delete' : 'DELETED'} binlog ${b.timeline}/${b.file}  (${b.reason})`),
    ...d.removeTimelines.map((t) => `  ${r.dryRun ? 'would delete' : 'DELETED'} timeline ${t.timeline}  (${t.reason})`),
    ...r.unusable.map((u) => `  ${u.deleted ? 'DELETED' : r.dryRun && orphans ? 'would delete' : 'kept'} ${u.kind} backup ${u.id}  (${u.why})${u.deleted || orphans ? '' : '; --orphans deletes it'}`),
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
