/** `backtrack list`: backups (and leftovers) per source, like pgBackRest's info. */
import type { SourceConfig } from '../config/schema.js';
import type { Repository } from '../repository/repository.js';
import { loadChain, restorableWindows, type Gap, type RestorableWindow } from '../binlog/chain.js';
import { latestDrillByBackup } from '../repository/drills.js';
import { openRepository } from '../runtime/context.js';
import { eachSource, type Command } from './command.js';
import { ago, formatBytes, formatDuration, isoSeconds, table } from './format.js';

/** One backup as list reports it. */
export interface ListedBackup {
  id: string;
  state: 'committed';
  finishedAt: string;
  durationSeconds: number;
  bytes: number;
  rawBytes: number;
  rows: number;
  snapshot: { file: string; position: number; gtid: string } | null;
  flavor: string;
  serverVersion: string;
  /** The newest drill of this backup. */
  drill: { verdict: 'passed' | 'failed'; at: string; failedChecks: string[]; rtoSeconds: number; parallel?: number | undefined } | null;
}

/** Everything list knows about one source. */
export interface SourceListing {
  source: string;
  backups: ListedBackup[];
  leftovers: Array<{ id: string; objects: number }>;
  /** Backups whose manifest cannot be used: kept until prune --orphans. */
  damaged: Array<{ id: string; reason: string; objects: number }>;
  /** Backups the audit trail records as committed whose manifest is missing: kept until prune --orphans. */
  orphans: Array<{ id: string; committedAt: string; objects: number }>;
  /** The newest gap-free window, and any older ones. */
  window: RestorableWindow | null;
  windows: RestorableWindow[];
  binlog: { timelines: Array<{ id: string; files: number; lastTransactionTime?: string | undefined; lastArchivedAt?: string | undefined }>; gaps: Gap[] };
  /** S3 Object Lock: objects a delete marker hides (someone deleted them); reads see through to the locked version. */
  hidden: Array<{ key: string; size: number }>;
}

/** Gather the listing of one source. */
export async function listSource(repo: Repository, source: SourceConfig): Promise<SourceListing> {
  const { backups, leftovers, damaged, orphans } = await repo.listBackups(source.name);
  const timelines = await loadChain(repo, source.name);
  const drills = latestDrillByBackup(await repo.listDrillReports(source.name));
  const windows = restorableWindows(timelines, backups.map((b) => b.manifest)).sort((a, b) => (a.to < b.to ? -1 : 1));
  const hidden = await repo.hiddenObjects(source.name);
  return {
    hidden,
    window: windows[windows.length - 1] ?? null,
    windows,
    binlog: {
      timelines: timelines.map((t) => ({ id: t.id, files: t.files.length, lastTransactionTime: t.lastTransactionTime, lastArchivedAt: t.lastArchivedAt })),
      gaps: timelines.flatMap((t) => t.gaps),
    },
    source: source.name,
    backups: backups.map(({ manifest: m }) => ({
      id: m.id,
      state: 'committed',
      finishedAt: m.finishedAt,
      durationSeconds: (new Date(m.finishedAt).getTime() - new Date(m.startedAt).getTime()) / 1000,
      bytes: m.objects.reduce((s, o) => s + o.size, 0),
      rawBytes: m.objects.reduce((s, o) => s + o.rawSize, 0),
      rows: m.rowCounts.reduce((s, r) => s + r.rows, 0),
      snapshot: m.snapshot,
      flavor: m.server.flavor,
      serverVersion: m.server.version,
      drill: ((d) => (d ? { verdict: d.verdict, at: d.finishedAt, failedChecks: d.failedChecks, rtoSeconds: d.rto.seconds, parallel: d.rto.parallel } : null))(drills.get(m.id)),
    })),
    leftovers: leftovers.map((l) => ({ id: l.id, objects: l.keys.length })),
    damaged: damaged.map((d) => ({ id: d.id, reason: d.reason, objects: d.keys.length })),
    orphans: orphans.map((o) => ({ id: o.id, committedAt: o.committedAt, objects: o.keys.length })),
  };
}

/** The human rendering of one source's listing. */
export function renderListing(l: SourceListing, now = new Date()): string {
  const lines = [`source: ${l.source}`];
  if (l.backups.length === 0) lines.push('  no backups yet');
  else {
    const rows = l.backups.map((b) => [
      b.id,
      'ok',
      `${isoSeconds(b.finishedAt)} (${ago(b.finishedAt, now)})`,
      formatBytes(b.bytes),
      formatDuration(b.durationSeconds * 1000),
      b.snapshot ? `${b.snapshot.file}:${b.snapshot.position}` : '-',
      b.drill ? `${b.drill.verdict === 'passed' ? 'passed' : `FAILED (${b.drill.failedChecks.join(', ')})`} ${ago(b.drill.at, now)}, RTO ${formatDuration(b.drill.rtoSeconds * 1000)}${b.drill.parallel ? ` (${b.drill.parallel} session${b.drill.parallel === 1 ? '' : 's'})` : ''}` : 'never drilled',
    ]);
    lines.push(table(['  backup', 'state', 'finished', 'size', 'took', 'snapshot', 'last drill'], rows.map((r) => [`  ${r[0]}`, ...r.slice(1)])));
  }
  if (l.window) lines.push(`  restorable window: ${isoSeconds(l.window.from)} .. ${isoSeconds(l.window.to)} (from backup ${l.window.fromBackup}, any second in between)`);
  else lines.push(`  restorable window: none${l.backups.length ? ' (no binlog archived after a backup\'s snapshot point; run the archiver: backtrack binlog or the daemon)' : ''}`);
  for (const w of l.windows.slice(0, -1)) lines.push(`  older window:      ${isoSeconds(w.from)} .. ${isoSeconds(w.to)} (from backup ${w.fromBackup})`);
  for (const t of l.binlog.timelines) lines.push(`  binlog timeline ${t.id}: ${t.files} file(s), newest transaction ${t.lastTransactionTime ? `${isoSeconds(t.lastTransactionTime)} (${ago(t.lastTransactionTime, now)})` : 'none'}`);
  for (const g of l.binlog.gaps) lines.push(`  GAP in ${g.timeline}: ${g.detail}${g.before ? ` (after ${g.before.file}:${g.before.offset})` : ''}`);
  for (const d of l.damaged) lines.push(`  DAMAGED backup ${d.id}: ${d.reason}`);
  if (l.hidden.length) {
    lines.push(`  HIDDEN: ${l.hidden.length} object(s) carry a delete marker that Backtrack did not write: someone deleted them with the repository's credentials. Object Lock kept their data, and Backtrack reads through the markers; remove the markers to unhide them (README, "Immutable repositories"):`);
    for (const h of l.hidden.slice(0, 10)) lines.push(`    ${h.key}`);
    if (l.hidden.length > 10) lines.push(`    ... and ${l.hidden.length - 10} more (--json lists all)`);
  }
  for (const o of l.orphans) {
    lines.push(`  ORPHAN backup ${o.id}: committed ${isoSeconds(o.committedAt)} (audit trail), but its manifest is missing; its ${o.objects} object(s) are kept (restore by hand, see README), remove with backtrack prune --orphans`);
  }
  if (l.leftovers.length) {
    lines.push(`  note: ${l.leftovers.length} failed backup(s) left objects without a manifest (${l.leftovers.map((x) => x.id).join(', ')}); they are not backups and are removed by the next backup or prune`);
  }
  return lines.join('\n');
}

export const listCommand: Command = {
  name: 'list',
  summary: 'backups, drills and the restorable window, per source',
  usage: 'backtrack list [--source NAME] [--json]',
  source: 'each',
  options: {
  },
  async run(ctx) {
    const sources = eachSource(ctx);
    const repo = await openRepository(ctx.cfg, 'read', ctx.log, ctx.signal);
    const listings: SourceListing[] = [];
    for (const s of sources) listings.push(await listSource(repo, s));
    return {
      json: { repository: repo.location, sources: listings },
      text: [`repository: ${repo.location}`, ...listings.map((l) => renderListing(l))].join('\n\n'),
    };
  },
};
