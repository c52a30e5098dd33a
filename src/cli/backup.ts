/** `backtrack backup`: take a full backup now. */
import { takeBackup } from '../backup/backup.js';
import { progressFor } from '../pipeline/progress.js';
import { cliActor } from '../repository/audit.js';
import { openRepository } from '../runtime/context.js';
import { oneSource, type Command } from './command.js';
import { formatBytes, formatDuration, isoSeconds } from './format.js';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'take a full backup now',
  usage: 'backtrack backup [--source NAME] [--json]',
  source: 'one',
  options: {
  },
  details: 'The backup is committed by its manifest, written last: an interrupted or failed backup leaves nothing that list or restore would take for a backup.',
  async run(ctx) {
    const source = oneSource(ctx);
    const repo = await openRepository(ctx.cfg, 'write', ctx.log, ctx.signal);
    const progress = progressFor(`backup ${source.name}`, ctx.json);
    const m = await takeBackup({
      cfg: ctx.cfg,
      source,
      repo,
      log: ctx.log,
      actor: cliActor(),
      signal: ctx.signal,
      onRawBytes: (n) => progress.update(n),
      onEstimate: (n) => progress.setTotal(n > 0 ? n : undefined),
    });
    progress.done();
    const size = m.objects.reduce((s, o) => s + o.size, 0);
    const raw = m.objects.reduce((s, o) => s + o.rawSize, 0);
    const secs = (new Date(m.finishedAt).getTime() - new Date(m.startedAt).getTime()) / 1000;
    const rows = m.rowCounts.reduce((s, r) => s + r.rows, 0);
    return {
      json: { ok: true, backup: summary(m, size, raw, secs, rows) },
      text: [
        `backup ${m.id} of source ${m.source} committed`,
        `  stored      ${formatBytes(size)} (${formatBytes(raw)} of SQL) in ${m.objects.length} objects at ${repo.location}`,
        `  took        ${formatDuration(secs * 1000)}`,
        `  contents    ${m.inventory.schemas.length} schemas, ${m.inventory.tables.length} tables, ${rows} rows, ${m.accounts.length} accounts`,
        `  snapshot    ${m.snapshot ? `${m.snapshot.file}:${m.snapshot.position}${m.snapshot.gtid ? ` gtid ${m.snapshot.gtid}` : ''}` : 'none (no binary log on the source)'}`,
        `  finished    ${isoSeconds(m.finishedAt)}`,
      ].join('\n'),
    };
  },
};

function summary(m: import('../repository/manifest.js').Manifest, size: number, raw: number, secs: number, rows: number) {
  return { id: m.id, source: m.source, startedAt: m.startedAt, finishedAt: m.finishedAt, durationSeconds: secs, bytes: size, rawBytes: raw, rows, snapshot: m.snapshot, objects: m.objects };
}
