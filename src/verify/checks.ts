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

/** The newest heartbeat at or before a point in time, on a server (undefined: no table / no beat). */
async function newestBeat(spec: ConnectionSpec, source: SourceConfig, atOrBeforeSec?: number): Promise<{ newest?: string | undefined; count: number } | undefined> {
  const conn = await connect(spec);
  try {
    await conn.query("SET time_zone = '+00:00'");
    const table = `${quoteIdent(source.verify.heartbeat.schema)}.${quoteIdent(HEARTBEAT_TABLE)}`;
    const where = atOrBeforeSec === undefined ? '' : ` WHERE beat_at < FROM_UNIXTIME(${atOrBeforeSec + 1})`;
    const window = atOrBeforeSec === undefined ? '' : ` AND beat_at >= FROM_UNIXTIME(${atOrBeforeSec - 60})`;
    const row = await queryOne<{ newest: string | null; n: string }>(conn, `SELECT MAX(beat_at) AS newest, (SELECT COUNT(*) FROM ${table}${where}${where ? window : ''}) AS n FROM ${table}${where}`);
    return { newest: row?.newest ?? undefined, count: Number(row?.n ?? 0) };
  } catch {
    return undefined;
  } finally {
    await closeQuietly(conn);
  }
}

/**
 * After replay to `pointSec`: the restored heartbeats must end exactly where
 * the live source's heartbeats say the point is (the newest beat at or
 * before it, and the same number of beats in the minute before it).
 */
export async function checkPointInTime(scratch: ConnectionSpec, sourceSpec: ConnectionSpec, source: SourceConfig, pointSec: number, replay: Record<string, unknown>): Promise<DrillCheck> {
  if (!source.verify.heartbeat.enabled) {
    return { name: 'point-in-time', verdict: 'passed', message: 'the binlog replayed cleanly to the point (heartbeat disabled: the recovered point itself was not checked; enable verify.heartbeat)', evidence: { ...replay, heartbeat: 'disabled' } };
  }
  const restored = await newestBeat(scratch, source, pointSec + 1_000_000);
  const restoredAt = await newestBeat(scratch, source, pointSec);
  const expected = await newestBeat(sourceSpec, source, pointSec);
  const evidence = { ...replay, point: new Date(pointSec * 1000).toISOString(), restoredNewestBeat: restored?.newest, expectedNewestBeat: expected?.newest, restoredBeatsInLastMinute: restoredAt?.count, expectedBeatsInLastMinute: expected?.count };
  if (!restored?.newest) return { name: 'point-in-time', verdict: 'failed', message: 'the restored data holds no heartbeat at all (is the heartbeat writer running on the source?)', evidence };
  if (Math.floor(Date.parse(`${restored.newest}Z`) / 1000) > pointSec) {
    return { name: 'point-in-time', verdict: 'failed', message: `the restore went past the point: it holds a heartbeat written at ${restored.newest}Z, after ${evidence.point}`, evidence };
  }
  if (expected?.newest !== undefined) {
    if (expected.newest !== restored.newest || expected.count !== restoredAt?.count) {
      return { name: 'point-in-time', verdict: 'failed', message: `the restore stops at heartbeat ${restored.newest}Z, but the source's newest heartbeat at or before the point is ${expected.newest}Z`, evidence };
    }
    return { name: 'point-in-time', verdict: 'passed', message: `the restored data ends at the source's own heartbeat ${restored.newest}Z, the newest at or before ${evidence.point} (${expected.count} beats in the minute before it, all present)`, evidence };
  }
  const age = pointSec - Math.floor(Date.parse(`${restored.newest}Z`) / 1000);
  const limit = Math.ceil(source.verify.heartbeat.interval / 1000) + 2;
  return age <= limit
    ? { name: 'point-in-time', verdict: 'passed', message: `the newest restored heartbeat (${restored.newest}Z) is ${age}s before the point (source unreachable: checked against the heartbeat interval)`, evidence }
    : { name: 'point-in-time', verdict: 'failed', message: `the newest restored heartbeat is ${age}s before the point, more than the heartbeat interval allows (${limit}s)`, evidence };
}
