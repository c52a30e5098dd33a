/**
 * Keeping the active binlog file's pieces bounded in number. The active
 * file goes up as a new piece every uploadInterval, and a file can stay
 * active for months on a quiet source (Backtrack never rotates the
 * source's binlog). So pieces are folded, as a log-structured merge does:
 * when `fanout` (binlog.foldPieces) pieces of one level have gathered, their byte range is
 * uploaded again as one piece of the next level (read from the local spool,
 * which holds the whole active file), checked, and only then are they
 * deleted. A file of n pieces' worth of uploads is held in at most
 * (fanout - 1) pieces per level and log_fanout(n) levels, and each byte is
 * uploaded once per level. When the file closes, the whole file replaces
 * every piece, as before.
 */
import { GtidSet, type Flavor } from '../mysql/gtid.js';
import type { Sidecar } from '../repository/sidecar.js';

/** A piece's fold level (pieces written before levels existed are level 0). */
export function levelOf(s: Sidecar): number {
  return s.level ?? 0;
}

/**
 * The run of pieces to fold next, if any: the lowest level that has
 * gathered `fanout` pieces. Pieces are in offset order, and since folds
 * only ever replace the newest run of a level, levels never increase
 * along the file: each level's pieces are contiguous.
 */
export function nextFold(pieces: Sidecar[], fanout: number): Sidecar[] | undefined {
  const levels = [...new Set(pieces.map(levelOf))].sort((a, b) => a - b);
  for (const level of levels) {
    const run = pieces.filter((p) => levelOf(p) === level);
    if (run.length >= fanout && contiguous(run)) return run.slice(0, fanout);
  }
  return undefined;
}

function contiguous(run: Sidecar[]): boolean {
  return run.every((p, i) => i === 0 || p.start <= (run[i - 1] as Sidecar).end);
}

/**
 * The sidecar facts of a run's bytes, from the run's own sidecars (no
 * re-reading): the object and archive time are the caller's to fill in.
 */
export function mergedFacts(run: Sidecar[], flavor: Flavor): Pick<Sidecar, 'start' | 'end' | 'transactions' | 'firstTransaction' | 'lastTransaction' | 'firstEventTime' | 'lastEventTime' | 'minTimestamp' | 'maxTimestamp' | 'gtids' | 'startGtids' | 'closed' | 'problems'> & { level: number } {
  const first = run[0] as Sidecar;
  const last = run[run.length - 1] as Sidecar;
  const gtids = new GtidSet(flavor);
  for (const p of run) gtids.addAll(GtidSet.parse(flavor, p.gtids));
  const times = (k: 'minTimestamp' | 'maxTimestamp') => run.map((p) => p[k]).filter((x): x is number => x !== undefined);
  const mins = times('minTimestamp');
  const maxs = times('maxTimestamp');
  const known = mins.length === run.filter((p) => p.transactions > 0).length;
  const firstTrx = run.find((p) => p.firstTransaction)?.firstTransaction;
  const lastTrx = [...run].reverse().find((p) => p.lastTransaction)?.lastTransaction;
  const firstEvent = run.find((p) => p.firstEventTime)?.firstEventTime;
  const lastEvent = [...run].reverse().find((p) => p.lastEventTime)?.lastEventTime;
  const problems = run.flatMap((p) => p.problems ?? []).slice(0, 20);
  return {
    start: first.start,
    end: last.end,
    level: Math.max(...run.map(levelOf)) + 1,
    closed: last.closed,
    transactions: run.reduce((n, p) => n + p.transactions, 0),
    ...(firstTrx ? { firstTransaction: firstTrx } : {}),
    ...(lastTrx ? { lastTransaction: lastTrx } : {}),
    ...(firstEvent ? { firstEventTime: firstEvent } : {}),
    ...(lastEvent ? { lastEventTime: lastEvent } : {}),
    ...(known && mins.length ? { minTimestamp: Math.min(...mins), maxTimestamp: Math.max(...maxs) } : {}),
    ...(problems.length ? { problems } : {}),
    gtids: gtids.toString(),
    ...(first.startGtids !== undefined ? { startGtids: first.startGtids } : {}),
  };
}
