/**
 * The checks of a drill, each with a name, a verdict and its evidence. They
 * compare the scratch server with what the manifest recorded at backup time
 * (inventory, exact row counts), and a point-in-time restore with heartbeats
 * the source wrote itself.
 */
import type { Connection } from 'mysql2/promise';
import type { SourceConfig } from '../config/schema.js';
import { HEARTBEAT_TABLE } from '../binlog/heartbeat.js';
import { closeQuietly, connect, queryOne, queryRows, quoteIdent, type ConnectionSpec } from '../mysql/connect.js';
import { diffInventory, readInventory } from '../mysql/inventory.js';
import { accountName } from '../mysql/accounts.js';
import type { DrillCheck } from '../repository/drills.js';
import type { Manifest } from '../repository/manifest.js';

/** Schemas, tables, views, routines, triggers, events and accounts equal the manifest's. */
export async function checkInventory(scratch: ConnectionSpec, m: Manifest, withAccounts = true): Promise<DrillCheck> {
  const conn = await connect(scratch);
  try {
    const actual = await readInventory(conn, m.inventory.schemas);
    const diff = diffInventory(m.inventory, actual);
    const accounts = await accountsOn(conn);
    const missingAccounts = withAccounts ? m.accounts.filter((a) => !accounts.has(a)) : [];
    const problems = [...diff, ...missingAccounts.map((a) => `account ${a} is missing`)];
    const evidence = {
      schemas: actual.schemas.length,
      tables: actual.tables.length,
      views: actual.views.length,
      routines: actual.routines.length,
      triggers: actual.triggers.length,
      events: actual.events.length,
      accounts: m.accounts.length - missingAccounts.length,
      differences: problems.slice(0, 50),
    };
    return problems.length
      ? { name: 'inventory', verdict: 'failed', message: `${problems.length} difference(s) from the manifest: ${problems.slice(0, 5).join('; ')}`, evidence }
      : { name: 'inventory', verdict: 'passed', message: `${evidence.schemas} schemas, ${evidence.tables} tables, ${evidence.views} views, ${evidence.routines} routines, ${evidence.triggers} triggers, ${evidence.events} events and ${evidence.accounts} accounts as in the manifest`, evidence };
  } finally {
    await closeQuietly(conn);
  }
}

async function accountsOn(conn: Connection): Promise<Set<string>> {
  const rows = await queryRows<{ user: string; host: string }>(conn, 'SELECT User AS user, Host AS host FROM mysql.user');
  const out = new Set<string>();
  for (const r of rows) {
    out.add(accountName(r.user, r.host));
    out.add(`role ${accountName(r.user, r.host).split('@')[0]}`);
  }
  return out;
}

/** Every table's exact row count equals the count taken from the dump. */
export async function checkRows(scratch: ConnectionSpec, m: Manifest): Promise<DrillCheck> {
  const conn = await connect(scratch);
  try {
    const mismatches: Array<{ table: string; expected: number; actual: number | string }> = [];
    let total = 0;
    for (const r of m.rowCounts) {
      const name = `${quoteIdent(r.schema)}.${quoteIdent(r.table)}`;
      let actual: number | string;
      try {
        const row = await queryOne<{ n: string }>(conn, `SELECT COUNT(*) AS n FROM ${name}${r.history ? ' FOR SYSTEM_TIME ALL' : ''}`);
        actual = Number(row?.n ?? -1);
        total += actual;
      } catch (err) {
        actual = `error: ${(err as Error).message}`;
      }
      if (actual !== r.rows) mismatches.push({ table: `${r.schema}.${r.table}`, expected: r.rows, actual });
    }
    const evidence = { tables: m.rowCounts.length, rows: total, mismatches: mismatches.slice(0, 50), checksums: 'not taken by the mysqldump engine' };
    return mismatches.length
      ? { name: 'rows', verdict: 'failed', message: `${mismatches.length} table(s) differ from the manifest's exact counts: ${mismatches.slice(0, 3).map((x) => `${x.table} has ${x.actual}, manifest says ${x.expected}`).join('; ')}`, evidence }
      : { name: 'rows', verdict: 'passed', message: `all ${m.rowCounts.length} tables hold exactly the manifest's ${total} rows`, evidence };
  } finally {
    await closeQuietly(conn);
  }
}

/** Heartbeats written in [from, to) seconds on a server: how many, and the newest (undefined: no table). */
async function beats(spec: ConnectionSpec, source: SourceConfig, fromSec: number, toSec: number): Promise<{ newest?: string | undefined; count: number } | undefined> {
  const conn = await connect(spec);
  try {
    await conn.query("SET time_zone = '+00:00'");
    const table = `${quoteIdent(source.verify.heartbeat.schema)}.${quoteIdent(HEARTBEAT_TABLE)}`;
    const row = await queryOne<{ newest: string | null; n: string }>(conn, `SELECT MAX(beat_at) AS newest, COUNT(*) AS n FROM ${table} WHERE beat_at >= FROM_UNIXTIME(?) AND beat_at < FROM_UNIXTIME(?)`, [fromSec, toSec]);
    return { newest: row?.newest ?? undefined, count: Number(row?.n ?? 0) };
  } catch {
    return undefined;
  } finally {
    await closeQuietly(conn);
  }
}

/**
 * Transactions reach the binlog in commit order, stamped with their start
 * time, so near the end of a replay the stamps are not in order: a beat
 * started a moment before the last replayed transaction may commit after it.
 * Beats this close to the end are not compared.
 */
const COMMIT_MARGIN_SECONDS = 5;

/**
 * After a replay that stopped at `pointSec` (a target time; undefined: the
 * end of the archive) whose last replayed transaction is stamped `lastSec`:
 * every heartbeat the live source wrote in the minute before that (except
 * the last COMMIT_MARGIN_SECONDS) must be in the restored data, and no
 * restored heartbeat may be later than a target time.
 */
export async function checkPointInTime(scratch: ConnectionSpec, sourceSpec: ConnectionSpec, source: SourceConfig, pointSec: number | undefined, lastSec: number, replay: Record<string, unknown>): Promise<DrillCheck> {
  if (!source.verify.heartbeat.enabled) {
    return { name: 'point-in-time', verdict: 'passed', message: 'the binlog replayed cleanly to the point (heartbeat disabled: the recovered point itself was not checked; enable verify.heartbeat)', evidence: { ...replay, heartbeat: 'disabled' } };
  }
  const to = lastSec - COMMIT_MARGIN_SECONDS;
  const from = to - 60;
  const [restored, expected, after] = await Promise.all([
    beats(scratch, source, from, to),
    beats(sourceSpec, source, from, to),
    pointSec === undefined ? Promise.resolve({ count: 0 }) : beats(scratch, source, pointSec + 1, 2 ** 31 - 1),
  ]);
  const evidence = {
    ...replay,
    point: pointSec === undefined ? 'the end of the archive' : new Date(pointSec * 1000).toISOString(),
    lastReplayed: new Date(lastSec * 1000).toISOString(),
    compared: `${new Date(from * 1000).toISOString()} to ${new Date(to * 1000).toISOString()}`,
    restoredBeats: restored,
    expectedBeats: expected,
    restoredBeatsAfterPoint: after?.count,
  };
  if (!restored) return { name: 'point-in-time', verdict: 'failed', message: `the restored data has no ${source.verify.heartbeat.schema}.${HEARTBEAT_TABLE} table (is the heartbeat writer running, and is its schema backed up?)`, evidence };
  if ((after?.count ?? 0) > 0) {
    return { name: 'point-in-time', verdict: 'failed', message: `the restore went past the point: it holds ${after?.count} heartbeat(s) written after ${evidence.point}`, evidence };
  }
  if (expected) {
    if (expected.count !== restored.count || expected.newest !== restored.newest) {
      return { name: 'point-in-time', verdict: 'failed', message: `the source wrote ${expected.count} heartbeat(s) from ${evidence.compared} (the minute ending ${COMMIT_MARGIN_SECONDS}s before the last replayed transaction, ${evidence.lastReplayed}; newest ${expected.newest ?? 'none'}), the restore holds ${restored.count} (newest ${restored.newest ?? 'none'})`, evidence };
    }
    if (expected.count === 0) return { name: 'point-in-time', verdict: 'passed', message: `the binlog replayed cleanly; the source wrote no heartbeat from ${evidence.compared}, so the point could not be cross-checked`, evidence };
    return { name: 'point-in-time', verdict: 'passed', message: `the restored data holds exactly the ${expected.count} heartbeat(s) the source wrote from ${evidence.compared} (newest ${restored.newest}Z)${pointSec === undefined ? '' : `, and none after ${evidence.point}`}`, evidence };
  }
  return { name: 'point-in-time', verdict: 'passed', message: `the replay stopped before the point (no restored heartbeat after ${evidence.point}); the source is unreachable, so the beats before it were not cross-checked`, evidence };
}
