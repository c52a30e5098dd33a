/** `backtrack find`: find the accident in the archived binlog (a DROP, a DELETE without WHERE, ...). */
import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import { loadChain, repositorySegments } from '../binlog/chain.js';
import { findTransactions, parseKinds, type Match } from '../binlog/find.js';
import { parseSelector } from '../restore/select.js';
import { codecFor, openRepository, withWorkDir } from '../runtime/context.js';
import { bool, str, strs, oneSource, type Command } from './command.js';
import { formatBytes } from './format.js';

/** --since/--until: an ISO time, or a duration back from now (2h, 7d). */
function parseWhen(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const d = parseDuration(v);
  const t = d !== undefined ? Date.now() - d : Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) throw new UsageError(`--${flag} "${v}" is neither a time (2026-11-25T14:00:00Z; no offset = UTC) nor a duration back from now (2h, 7d)`);
  return Math.floor(t / 1000);
}

function renderMatch(m: Match): string {
  const rows = m.tables.map((t) => {
    const n = [t.deleted ? `${t.deleted} deleted` : '', t.updated ? `${t.updated} updated` : '', t.inserted ? `${t.inserted} inserted` : ''].filter(Boolean).join(', ');
    return `    ${t.schema}.${t.table}${n ? `: ${n}${t.counted ? '' : ' (some rows not counted)'}` : ''}`;
  });
  const sql = m.statements.slice(0, 3).map((s) => `    SQL  ${s.replace(/\s+/g, ' ').slice(0, 300)}`);
  return [
    `${m.time}  ${m.kinds.map((k) => k.toUpperCase()).join('+') || 'OTHER'}  ${m.gtid ? `gtid ${m.gtid}  ` : ''}${m.file}:${m.start}`,
    ...rows,
    ...sql,
    ...(m.textMissing ? ['    (no statement text in the binlog for these row changes)'] : []),
    `    just before it: backtrack restore --before ${m.gtid ?? `${m.file}:${m.start}`} --target ... [--only ${m.tables[0] ? `${m.tables[0].schema}.${m.tables[0].table} --rename ${m.tables[0].schema}:${m.tables[0].schema}_before` : 'SCHEMA.TABLE'}]`,
  ].join('\n');
}

export const findCommand: Command = {
  name: 'find',
  summary: 'find transactions in the archived binlog: the DROP, the DELETE without WHERE',
  usage: 'backtrack find [--table DB.TABLE]... [--statement KIND]... [--min-rows N] [--gtid GTID] [--grep TEXT] [--since TIME] [--until TIME] [--limit N] [--json]',
  source: 'one',
  options: {
    table: { type: 'string', multiple: true, arg: 'DB[.TABLE]', description: 'transactions that touch this table (repeatable; the selector syntax of restore --only: * globs, backtick quoting)' },
    statement: { type: 'string', multiple: true, arg: 'KIND', description: 'drop, truncate, alter, rename, create, delete, update, insert, or ddl / dml (repeatable)' },
    'min-rows': { type: 'string', arg: 'N', description: 'transactions that changed at least N rows of one table' },
    gtid: { type: 'string', arg: 'GTID', description: 'the transaction with this GTID' },
    grep: { type: 'string', arg: 'TEXT', description: 'transactions whose statement text holds TEXT (case-insensitive)' },
    since: { type: 'string', arg: 'TIME', description: 'from this time (ISO 8601, no offset = UTC) or this long ago (2h, 7d); default: everything archived' },
    until: { type: 'string', arg: 'TIME', description: 'up to this time, or this long ago' },
    limit: { type: 'string', arg: 'N', description: 'show the newest N matches (default 20)' },
    'full-scan': { type: 'boolean', description: 'read every archived file, ignoring the segment indexes (to compare)' },
  },
  details: [
    'Newest first. For each match: time, kinds, GTID, file:position of its start, the tables it changed with rows deleted/updated/inserted, and its SQL',
    'where the server wrote it (MariaDB binlog_annotate_row_events, MySQL binlog_rows_query_log_events; DDL always has its text).',
    'Then: backtrack restore --before <GTID or FILE:POS> stops right before it (add --only and --rename to bring one table back beside the live one).',
  ].join('\n'),
  async run(ctx) {
    const source = oneSource(ctx);
    const limitText = str(ctx, 'limit') ?? '20';
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 100000) throw new UsageError(`--limit must be a whole number from 1 to 100000, not "${limitText}"`);
    const minText = str(ctx, 'min-rows');
    if (minText !== undefined && !/^\d+$/.test(minText)) throw new UsageError(`--min-rows must be a whole number, not "${minText}"`);
    const grep = str(ctx, 'grep');
    if (grep !== undefined && !grep.trim()) throw new UsageError('--grep needs some text');
    const since = parseWhen('since', str(ctx, 'since'));
    const until = parseWhen('until', str(ctx, 'until'));
    if (since !== undefined && until !== undefined && since > until) throw new UsageError('--since is after --until');
    const q = {
      tables: strs(ctx, 'table').map((t) => parseSelector(t)),
      kinds: parseKinds(strs(ctx, 'statement')),
      minRows: minText === undefined ? undefined : Number(minText),
      gtid: str(ctx, 'gtid'),
      grep,
      since,
      until,
      limit: Number(limitText),
      fullScan: bool(ctx, 'full-scan'),
    };
    const repo = await openRepository(ctx.cfg, 'read', ctx.log, ctx.signal);
    const timelines = await loadChain(repo, source.name);
    return withWorkDir(ctx.cfg, 'find', async (work) => {
      const tty = !ctx.json && process.stderr.isTTY;
      const r = await findTransactions(timelines, q, repositorySegments(repo, source.name, codecFor(ctx.cfg, source), work, ctx.signal), (file, bytes) => {
        if (tty) process.stderr.write(`\rsearched ${file} (${formatBytes(bytes)})   `);
      });
      if (tty) process.stderr.write('\n');
      const missing = r.matches.some((m) => m.textMissing);
      const notes = [
        ...(missing ? ['some row changes have no statement text: turn on binlog_annotate_row_events (MariaDB, on by default) or binlog_rows_query_log_events (MySQL) to see the SQL next time'] : []),
        ...r.gaps.map((g) => `the archive has a gap in this range (timeline ${g.timeline}, after ${g.before?.file ?? '?'}:${g.before?.offset ?? '?'}${g.before?.time ? ` at ${g.before.time}` : ''}): ${g.detail}; transactions in it cannot be searched`),
      ];
      const summary = `${r.matches.length} match(es)${r.more ? ` (and ${r.more} older ones; raise --limit)` : ''}, newest first; searched ${formatBytes(r.scanned.bytes)} of binlog in ${r.scanned.files} file(s), ${r.scanned.transactions} transaction(s), in ${r.scanned.seconds.toFixed(1)}s${r.scanned.skippedByIndex.files ? `; ${r.scanned.skippedByIndex.files} file(s) (${formatBytes(r.scanned.skippedByIndex.bytes)}) passed over by their index` : ''}`;
      return {
        json: { source: source.name, matches: r.matches, more: r.more, scanned: r.scanned, gaps: r.gaps, notes },
        text: [summary, ...notes.map((n) => `note: ${n}`), ...(r.matches.length ? ['', r.matches.map(renderMatch).join('\n\n')] : [])].join('\n'),
      };
    });
  },
};
