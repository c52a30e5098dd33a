/** `backtrack restore`: restore a backup (and, with --to*, replay binlogs) into a target. */
import { UsageError } from '../errors.js';
import { parseDsn } from '../mysql/dsn.js';
import { progressFor } from '../pipeline/progress.js';
import { cliActor } from '../repository/audit.js';
import { restoreFull, type RestorePlan } from '../restore/full.js';
import { restoreToPoint, type FullPlan } from '../restore/pitr.js';
import { targetPointFromFlags } from '../restore/point.js';
import { openRepository } from '../runtime/context.js';
import { segmentKey } from '../repository/repository.js';
import { bool, str, strs, oneSource, type Command } from './command.js';
import { parseRename, parseSelector } from '../restore/select.js';
import type { LoadObject } from '../engines/engine.js';
import { formatBytes, isoSeconds } from './format.js';

/** The plan as the SRE reads it before anything happens. */
export function renderPlan(p: RestorePlan | FullPlan, dryRun: boolean): string {
  const pitr = 'pitr' in p ? p.pitr : undefined;
  const notes = 'notes' in p ? p.notes : [];
  const snap = p.backup.snapshot ? `${p.backup.snapshot.file}:${p.backup.snapshot.position}${p.backup.snapshot.gtid ? ` (gtid ${p.backup.snapshot.gtid})` : ''}` : 'none';
  return [
    `Restore plan${dryRun ? ' (dry run: nothing will be changed)' : ''}`,
    `  backup     ${p.backup.id} of source ${p.source}, taken ${isoSeconds(p.backup.takenAt)} from ${p.backup.flavor} ${p.backup.version}`,
    `             ${formatBytes(p.backup.bytes)} in ${p.backup.objects.join(', ')}; snapshot point ${snap}`,
    `  target     ${p.target.dsn} (${p.target.flavor} ${p.target.version})`,
    ...(p.partial
      ? [
          `  only       ${p.partial.schemas.map(describeChosen).join('; ')}`,
          `             ${formatBytes(p.partial.bytes)} read in ${p.partial.objects.length} object(s) of ${p.backup.objects.length}`,
          ...p.partial.warnings.map((w) => `  left out   ${w}`),
        ]
      : [`  schemas    ${p.schemas.join(', ')}`]),
    ...(p.dropFirst.length ? [`  DROPS      ${p.dropFirst.join(', ')} on the target first (--force)`] : []),
    `  accounts   ${p.partial ? 'not created (a partial restore)' : p.skipUsers ? 'skipped (--skip-users)' : `${p.accounts} (created if missing; existing accounts are kept)`}`,
    '  steps      1. load the data, checking each object\'s sha256 as it streams',
    `             2. ${p.skipUsers ? '(accounts skipped)' : 'create accounts and grants'}`,
    ...(pitr ? renderPitr(pitr) : []),
    ...notes.map((n) => `  note       ${n}`),
  ].join('\n');
}

/** `shop.orders as shop_restored.orders`, `shop (whole) as shop2`. */
function describeChosen(c: NonNullable<RestorePlan['partial']>['schemas'][number]): string {
  const what = c.whole ? `${c.schema} (whole)` : c.tables.map((t) => `${c.schema}.${t}`).join(', ');
  return c.target === c.schema ? what : `${what} as ${c.target}`;
}

function renderPitr(x: NonNullable<FullPlan['pitr']>): string[] {
  const trx = (t?: { file: string; start: number; end: number; time: string; gtid?: string | undefined }) =>
    t ? `${t.time}${t.gtid ? ` gtid ${t.gtid}` : ''} (${t.file}:${t.start}..${t.end})` : 'none';
  return [
    `             3. replay the binlog (timeline ${x.timeline}) from ${x.start.file}:${x.start.offset} to ${x.stop.file}:${x.stop.offset}`,
    ...x.files.map((f) => `                ${f.file}  ${formatBytes(f.bytes)} in ${f.segments} segment(s)${f.start !== undefined ? `  from ${f.start}` : ''}${f.stop !== undefined ? `  stop at ${f.stop}` : ''}`),
    `  stops at   ${x.stopCondition}`,
    `  last in    ${trx(x.lastIncluded)}`,
    `  first out  ${trx(x.firstExcluded)}`,
    ...(x.skipped.length ? [`  skipped    ${x.skipped.map((s) => `${s.backupId} (${s.reason})`).join('; ')}`] : []),
  ];
}

/** The plan as --json prints it: each binlog file with the segment objects the replay reads. */
export function planJson(p: RestorePlan | FullPlan): unknown {
  const pitr = 'pitr' in p ? p.pitr : undefined;
  if (!pitr) return p;
  const files = pitr.files.map(({ chain, ...f }) => ({ ...f, objects: chain.segments.filter((s) => f.stop === undefined || s.start < f.stop).map((s) => segmentKey(s)) }));
  return { ...p, pitr: { ...pitr, files } };
}

/** --parallel N: 1..64 sessions. */
function parseParallel(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 64) throw new UsageError(`--parallel must be a whole number from 1 to 64, not "${v}"`);
  return Number(v);
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a backup into a target server',
  usage: 'backtrack restore --target DSN [--backup ID] [--to TIME | --to-gtid SET | --to-position FILE:POS | --before GTID|FILE:POS] [--only SCHEMA[.TABLE]]... [--rename OLD:NEW]... [--dry-run] [--force] [--json]',
  source: 'one',
  dryRun: 'print the plan and stop',
  options: {
    target: { type: 'string', arg: 'DSN', description: 'server to restore into: mysql://user@host:port' },
    'target-password-file': { type: 'string', arg: 'FILE', description: 'file with the target password (or set BACKTRACK_TARGET_PASSWORD)' },
    backup: { type: 'string', arg: 'ID', description: 'backup to restore; alone it means that backup as it is, with --to* the backup to start from' },
    to: { type: 'string', arg: 'TIME', description: 'point in time, ISO 8601 (no offset = UTC), or "latest"' },
    'to-gtid': { type: 'string', arg: 'SET', description: 'stop after this GTID (set) has been applied' },
    'to-position': { type: 'string', arg: 'FILE:POS', description: 'stop at this binlog position (a transaction boundary)' },
    skip: { type: 'string', multiple: true, arg: 'GTID', description: 'replay to the point but leave this transaction out (repeatable); the plan lists later transactions on the same tables' },
    before: { type: 'string', arg: 'GTID|FILE:POS', description: 'stop right before this transaction (an accident backtrack find found): it and everything after it are left out' },
    force: { type: 'boolean', description: 'restore into a target that has user schemas: the backup\'s schemas are dropped first' },
    'force-overwrite-source': { type: 'boolean', description: 'allow the target to be the source server itself' },
    'skip-users': { type: 'boolean', description: 'do not create accounts and grants' },
    'no-binlog': { type: 'boolean', description: 'do not write the restore into the target\'s binary log' },
    parallel: { type: 'string', arg: 'N', description: 'tables loaded at once, each in its own session (table-by-table backups; default: the number of cores)' },
    only: { type: 'string', multiple: true, arg: 'SCHEMA[.TABLE]', description: 'restore only this schema or table (repeatable; * and ? glob; `a.b`.t quotes a name with a dot); with a point in time, only its row changes are replayed' },
    rename: { type: 'string', multiple: true, arg: 'OLD:NEW', description: 'restore schema OLD as NEW (repeatable), for example beside the live one on the source itself' },
  },
  details: [
    'Without --backup and --to*, restores the newest archived transaction ("latest"): the newest usable backup plus binlog replay.',
    'With --backup alone, restores that backup as it is. With --to TIME, every transaction committed at or before TIME is restored',
    '(binlog timestamps are whole seconds; replay stops before the first transaction stamped after TIME\'s second).',
    'Each object\'s sha256 is checked as it streams; a mismatch stops the restore and names the object. A restore that fails part way says so: the target then holds a partial restore.',
    'With --only and --rename (table-by-table backups), only the chosen schemas and tables are downloaded and loaded; schemas that exist on the target are refused unless --force,',
    'and a schema that does not exist on the target may be written even on the source server itself (restore a table beside the live one with --rename shop:shop_restored).',
  ].join('\n'),
  async run(ctx) {
    const dsn = str(ctx, 'target');
    if (!dsn) throw new UsageError('restore needs --target mysql://user@host:port (the server to restore into)');
    const source = oneSource(ctx);
    const target = parseDsn(dsn, { passwordFile: str(ctx, 'target-password-file') });
    const repo = await openRepository(ctx.cfg, 'read', ctx.log, ctx.signal);
    const dryRun = bool(ctx, 'dry-run');
    const progress = progressFor('restore', ctx.json);
    const parallel = parseParallel(str(ctx, 'parallel'));
    const loading = new Set<string>();
    let loaded = 0;
    const pointFlags = { to: str(ctx, 'to'), toGtid: str(ctx, 'to-gtid'), toPosition: str(ctx, 'to-position'), before: str(ctx, 'before') };
    const only = strs(ctx, 'only').map(parseSelector);
    const renames = strs(ctx, 'rename').map(parseRename);
    const skipped: string[] = [];
    const wantsPoint = Object.values(pointFlags).some((v) => v !== undefined) || str(ctx, 'backup') === undefined || strs(ctx, 'skip').length > 0;
    const common = {
      cfg: ctx.cfg,
      source,
      repo,
      log: ctx.log,
      actor: cliActor(),
      target,
      backupId: str(ctx, 'backup'),
      dryRun,
      force: bool(ctx, 'force'),
      forceOverwriteSource: bool(ctx, 'force-overwrite-source'),
      skipUsers: bool(ctx, 'skip-users'),
      noBinlog: bool(ctx, 'no-binlog'),
      signal: ctx.signal,
      onBytes: (n: number, total: number) => {
        progress.setTotal(total);
        progress.update(n);
      },
      parallel,
      only,
      renames,
      onSkip: (w: string) => {
        skipped.push(w);
        ctx.log.warn({ skipped: w }, 'left out of the partial restore');
      },
      onObject: (o: LoadObject, state: 'start' | 'done') => {
        if (o.role !== 'table') return;
        const name = `${o.schema}.${o.table}${o.chunk ? `#${o.chunk.index + 1}` : ''}`;
        if (state === 'start') loading.add(name);
        else {
          loading.delete(name);
          loaded++;
        }
        progress.setDetail?.(`${loaded} table object(s) loaded; loading ${[...loading].join(', ')}`);
      },
    };
    const result = wantsPoint
      ? await restoreToPoint({
          ...common,
          point: targetPointFromFlags(pointFlags),
          skip: strs(ctx, 'skip'),
          onPitrPlan: (p) => ctx.say(renderPlan(p, dryRun)),
          onReplayFile: (_i, total) => {
            progress.done();
            if (!ctx.json && process.stderr.isTTY) process.stderr.write(`replaying the binlog: ${total} file(s)...\n`);
          },
        })
      : await restoreFull({ ...common, onPlan: (p) => ctx.say(renderPlan(p, dryRun)) });
    if (!dryRun) progress.done();
    const pitr = 'pitr' in result.plan ? (result.plan as FullPlan).pitr : undefined;
    return {
      json: { ok: true, dryRun, plan: planJson(result.plan), ...(result.load ? { bytesRead: result.load.bytesRead, rawBytes: result.load.rawBytes } : {}), ...(result.plan.partial ? { skipped } : {}) },
      text: dryRun
        ? ''
        : `${skipped.map((w) => `\nwarning: ${w}`).join('')}\nrestored ${result.plan.partial ? `${result.plan.partial.schemas.map(describeChosen).join(', ')} from ` : ''}backup ${result.plan.backup.id} into ${result.plan.target.dsn}: ${formatBytes(result.load?.rawBytes ?? 0)} of SQL applied, every object's sha256 verified${pitr ? `; binlog replayed to ${pitr.stop.file}:${pitr.stop.offset}${pitr.lastIncluded ? ` (last transaction ${pitr.lastIncluded.time}${pitr.lastIncluded.gtid ? `, gtid ${pitr.lastIncluded.gtid}` : ''})` : ''}` : ''}`,
    };
  },
};
