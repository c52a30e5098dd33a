/**
 * The point a restore stops at, as the SRE writes it on the command line:
 * --to TIME, --to-gtid SET, --to-position FILE:POS, or nothing (latest).
 *
 * TIME is ISO 8601. A time without an offset is read as UTC (and the plan
 * says so). Binary log timestamps have whole-second resolution, so TIME is
 * compared at that resolution: the restore replays, in binlog order, every
 * transaction up to the first one whose commit event is stamped after TIME's
 * second, and stops there.
 */
import { UsageError } from '../errors.js';
import { GtidSet, type Flavor } from '../mysql/gtid.js';

export type TargetPoint =
  | { kind: 'time'; time: Date; seconds: number; text: string; assumedUtc: boolean; truncated: boolean }
  | { kind: 'gtid'; text: string }
  | { kind: 'position'; file: string; position: number }
  /** --before: stop right before one transaction, named by its GTID or by FILE:POS of its start. */
  | { kind: 'before'; text: string; gtid?: string; file?: string; position?: number }
  | { kind: 'latest' };

/** Parse --to TIME. */
export function parseTime(text: string): TargetPoint & { kind: 'time' } {
  const t = text.trim();
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(t);
  if (!m) throw new UsageError(`--to "${text}" is not an ISO 8601 time; write e.g. 2026-11-25T14:30:00Z or 2026-11-25 14:30:00+01:00 (no offset = UTC)`);
  checkCalendar(text, m[1] as string, m[2]);
  const assumedUtc = !m[3];
  const iso = `${m[1]}T${m[2] ?? '00:00:00'}${m[3] ? m[3].replace(/^([+-]\d{2})(\d{2})$/, '$1:$2') : 'Z'}`;
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) throw new UsageError(`--to "${text}" is not a valid time`);
  const seconds = Math.floor(time.getTime() / 1000);
  return { kind: 'time', time, seconds, text: t, assumedUtc, truncated: time.getTime() % 1000 !== 0 };
}

/** Refuse a date that does not exist (2026-02-30 would otherwise roll over to March 2). */
function checkCalendar(text: string, date: string, time: string | undefined): void {
  const [y, mo, d] = date.split('-').map(Number) as [number, number, number];
  const [h = 0, mi = 0, sec = 0] = (time ?? '').split(':').map(Number);
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  const problem =
    mo < 1 || mo > 12 ? `month ${mo} does not exist` :
    d < 1 || d > daysInMonth ? `${date.slice(0, 7)} has no day ${d} (it has ${daysInMonth})` :
    h > 23 ? `hour ${h} does not exist (0..23)` :
    mi > 59 ? `minute ${mi} does not exist (0..59)` :
    sec >= 60 ? `second ${sec} does not exist (0..59)` : undefined;
  if (problem) throw new UsageError(`--to "${text}" is not a real time: ${problem}`);
}

/** Parse --to-position FILE:POS. */
export function parsePosition(text: string): TargetPoint & { kind: 'position' } {
  const m = /^(.+):(\d+)$/.exec(text.trim());
  if (!m) throw new UsageError(`--to-position "${text}" must be FILE:POS, e.g. mysql-bin.000042:1234`);
  return { kind: 'position', file: m[1] as string, position: Number(m[2]) };
}

/** Parse --before GTID | FILE:POS (a GTID is told apart by its shape: d-s-n, or uuid[:tag]:n). */
export function parseBefore(text: string): TargetPoint & { kind: 'before' } {
  const t = text.trim();
  if (/^\d+-\d+-\d+$/.test(t) || /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:[a-z_][a-z0-9_]{0,31})?:\d+$/i.test(t)) return { kind: 'before', text: t, gtid: t };
  const m = /^(.+):(\d+)$/.exec(t);
  if (!m) throw new UsageError(`--before "${text}" must be one GTID (0-1-42, or uuid:42) or FILE:POS of a transaction's start (backtrack find prints both)`);
  return { kind: 'before', text: t, file: m[1] as string, position: Number(m[2]) };
}

/** Parse --to-gtid SET for a flavor (validated early, with the flavor's expected form). */
export function parseGtidTarget(text: string, flavor: Flavor): GtidSet {
  const set = GtidSet.parse(flavor, text);
  if (set.isEmpty()) throw new UsageError('--to-gtid needs at least one GTID');
  return set;
}

/** The point from the command-line flags (at most one may be given). */
export function targetPointFromFlags(f: { to?: string | undefined; toGtid?: string | undefined; toPosition?: string | undefined; before?: string | undefined }): TargetPoint {
  const given = [f.to, f.toGtid, f.toPosition, f.before].filter((x) => x !== undefined);
  if (given.length > 1) throw new UsageError('give only one of --to, --to-gtid, --to-position, --before');
  if (f.before !== undefined) return parseBefore(f.before);
  if (f.to !== undefined) return f.to === 'latest' ? { kind: 'latest' } : parseTime(f.to);
  if (f.toGtid !== undefined) return { kind: 'gtid', text: f.toGtid };
  if (f.toPosition !== undefined) return parsePosition(f.toPosition);
  return { kind: 'latest' };
}

/** The stop condition in words, for the plan. */
export function describePoint(p: TargetPoint): string {
  switch (p.kind) {
    case 'time':
      return `every transaction committed at or before ${p.time.toISOString().replace(/\.\d{3}Z$/, 'Z')}${p.assumedUtc ? ' (no offset given: read as UTC)' : ''}${p.truncated ? ' (binlog timestamps are whole seconds: compared at the second)' : ''}`;
    case 'gtid':
      return `every transaction up to and including GTID ${p.text}`;
    case 'position':
      return `every transaction up to ${p.file}:${p.position}`;
    case 'before':
      return `every transaction before ${p.gtid ? `GTID ${p.gtid}` : `the one that starts at ${p.file}:${p.position}`} (it and everything after it are left out)`;
    case 'latest':
      return 'the newest archived transaction';
  }
}
