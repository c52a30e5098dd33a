/** `backtrack verify`: run a restore drill now and print its report. */
import { UsageError } from '../errors.js';
import { cliActor } from '../repository/audit.js';
import type { DrillReport } from '../repository/drills.js';
import { parseTime, type TargetPoint } from '../restore/point.js';
import { openRepository } from '../runtime/context.js';
import { drillFailedError, runDrill } from '../verify/drill.js';
import { bool, str, oneSource, type Command } from './command.js';
import { formatBytes, formatDuration } from './format.js';

/** The report as an SRE reads it. */
export function renderReport(r: DrillReport): string {
  const mark = { passed: 'ok  ', failed: 'FAIL', skipped: 'skip' } as const;
  return [
    `drill of backup ${r.backupId} (source ${r.source}): ${r.verdict.toUpperCase()}`,
    `  scratch   ${r.scratch.mode}: ${r.scratch.description}`,
    ...(r.target ? [`  point     ${String(r.target.stopCondition)}`] : []),
    ...r.checks.map((c) => `  ${mark[c.verdict]}  ${c.name.padEnd(13)} ${c.message}`),
    `  RTO       ${formatDuration(r.rto.seconds * 1000)} for ${formatBytes(r.rto.rawBytes)} of SQL (${r.rto.mibPerSecond.toFixed(1)} MiB/s${r.rto.parallel ? `, loaded over ${r.rto.parallel} session(s)` : ''})`,
  ].join('\n');
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'run a restore drill now: restore into a scratch server and check it',
  usage: 'backtrack verify [--source NAME] [--backup ID | --latest] [--to TIME | --to latest] [--json]',
  source: 'one',
  options: {
    backup: { type: 'string', arg: 'ID', description: 'the backup to drill' },
    latest: { type: 'boolean', description: 'drill the newest backup (the default)' },
    to: { type: 'string', arg: 'TIME', description: 'also replay the binlog to TIME (ISO 8601, no offset = UTC) or "latest", and check that point' },
  },
  details: 'Checks: integrity (objects and sha256), load (no SQL error), inventory (schemas, tables, views, routines, triggers, events, accounts), rows (exact counts from the dump), point-in-time (with --to, checked with the source\'s heartbeats), timing (the measured RTO). A failed drill exits 3 and names the failed checks; a drill that cannot start its scratch server exits 7.',
  async run(ctx) {
    const source = oneSource(ctx);
    if (str(ctx, 'backup') && bool(ctx, 'latest')) throw new UsageError('give --backup ID or --latest, not both');
    const to = str(ctx, 'to');
    const point: TargetPoint | undefined = to === undefined ? undefined : to === 'latest' ? { kind: 'latest' } : parseTime(to);
    const repo = await openRepository(ctx.cfg, 'write', ctx.log, ctx.signal);
    const report = await runDrill({ cfg: ctx.cfg, source, repo, log: ctx.log, actor: cliActor(), backup: str(ctx, 'backup') ?? 'latest', point, signal: ctx.signal, onStage: (s) => ctx.log.info(`drill: ${s}`) });
    const failed = report.verdict === 'failed';
    return {
      exitCode: failed ? drillFailedError(report).exitCode : 0,
      json: report,
      text: `${renderReport(report)}${failed ? `\n\n${drillFailedError(report).message}` : ''}`,
    };
  },
};
