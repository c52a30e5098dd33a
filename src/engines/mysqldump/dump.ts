/**
 * Taking a backup with mariadb-dump / mysqldump: spawn the tool with the
 * flavor's flags, scan the SQL as it passes (row counts, snapshot point),
 * compress and upload it; then the accounts as a second, small object.
 * Every table the dump created is checked against the inventory read before
 * it, so DDL during the dump fails the backup instead of hiding in it.
 */
import { BacktrackError, ToolError } from '../../errors.js';
import { withClientCredentials } from '../../mysql/client.js';
import { dumpFlags, toolsFor } from '../../mysql/flavor.js';
import { dumpAccounts } from '../../mysql/accounts.js';
import { closeQuietly, connect } from '../../mysql/connect.js';
import { runTool, runToolText } from '../../pipeline/spawn.js';
import { objectSuffix } from '../../pipeline/stages.js';
import { uploadCompressed, uploadSmall } from '../../pipeline/upload.js';
import type { DumpContext, DumpResult, EngineObject } from '../engine.js';
import { DumpScanner, type DumpFacts } from './scanner.js';
import { dumpTables } from './parallel.js';

const INSTALL_HINT = 'install the client tools (apt-get install mariadb-client, or mysql-client for MySQL)';

/** Run the dump and store its objects: table by table (format 2), or as one stream (format 1). */
export async function dumpWithMysqldump(ctx: DumpContext): Promise<DumpResult> {
  return ctx.layout === 'tables' ? dumpTables(ctx) : dumpStream(ctx);
}

/** The one-stream dump (format 1). */
async function dumpStream(ctx: DumpContext): Promise<DumpResult> {
  const tool = ctx.tools.dump ?? toolsFor(ctx.server.flavor).dump;
  // Independent work runs alongside the dump: the tool's version and the accounts.
  const toolVersion = runToolText(tool, ['--version'], { label: tool, installHint: INSTALL_HINT }).then((v) => v.trim());
  toolVersion.catch(() => undefined);
  const suffix = objectSuffix(ctx.codec.age !== undefined);
  const accounts = ctx.includeUsers ? dumpAccountsObject(ctx, suffix) : Promise.resolve(undefined);
  accounts.catch(() => undefined);
  const hasVersioned = ctx.inventory.tables.some((t) => t.type === 'SYSTEM VERSIONED');
  let flags = dumpFlags({ flavor: ctx.server.flavor, version: ctx.server.version, gtidMode: ctx.server.gtidMode, hasSystemVersioned: hasVersioned });
  if (!ctx.server.logBin) flags = flags.filter((f) => !/^--(master|source)-data|^--gtid$|^--set-gtid-purged/.test(f));
  if (ctx.server.flavor === 'mysql') flags.push('--no-tablespaces');
  const args = [...flags, ...ctx.extraArgs, '--databases', ...ctx.schemas];

  const scanner = new DumpScanner(ctx.onRawBytes);
  const dataName = `data.sql${suffix}`;
  // If the data dump fails, the concurrent accounts upload must settle before
  // the caller removes the backup's objects, or it could land after the cleanup.
  const data = await withClientCredentials(ctx.source, async (cred) => {
    // The dump is relayed through Node, which scans it on the way to zstd.
    // (Linking dump | tee | zstd by file descriptors, with Node reading a tap,
    // measured slower with the real dump tool: see the notes in scripts/bench.mjs.)
    const dump = runTool(tool, [...cred.args, ...args], { fds: cred.fds, signal: ctx.signal, label: tool, installHint: INSTALL_HINT });
    const raw = dump.stdout.pipe(scanner);
    dump.stdout.once('error', (err) => scanner.destroy(err));
    const stored = await uploadCompressed(raw, ctx.objects, dataName, { codec: ctx.codec, signal: ctx.signal, sizeHint: ctx.sizeHint });
    await dump.done;
    return stored;
  }).catch(async (err: unknown) => {
    await accounts.catch(() => undefined);
    await toolVersion.catch(() => undefined);
    throw err;
  });
  const facts = scanner.facts;
  checkDumpComplete(facts, tool);
  const objects: EngineObject[] = [{ ...data, name: dataName, role: 'data' }];
  const users = await accounts;
  if (users) objects.push(users.object);

  return {
    format: 1,
    tool,
    toolVersion: await toolVersion,
    args,
    objects,
    snapshot: snapshotOf(facts, ctx.server.logBin, tool),
    rowCounts: rowCountsOf(ctx, facts, hasVersioned && args.includes('--dump-history')),
    accounts: users?.accounts ?? [],
    notes: ctx.server.logBin ? [] : ['the source has no binary log: this backup has no snapshot point and cannot anchor point-in-time recovery'],
  };
}

/** The accounts, roles and grants as a second, small object. */
export async function dumpAccountsObject(ctx: DumpContext, suffix: string): Promise<{ accounts: string[]; object: EngineObject }> {
  const conn = await connect(ctx.source);
  try {
    const dumped = await dumpAccounts(conn, ctx.server);
    const name = `users.sql${suffix}`;
    const stored = await uploadSmall(Buffer.from(dumped.sql), ctx.objects, name, { codec: ctx.codec, signal: ctx.signal });
    return { accounts: dumped.accounts, object: { ...stored, name, role: 'users' } };
  } finally {
    await closeQuietly(conn);
  }
}

function checkDumpComplete(facts: DumpFacts, tool: string): void {
  if (!facts.completed) {
    throw new ToolError(`${tool} exited successfully but its output has no "Dump completed" line: the dump is incomplete; the backup was not committed`);
  }
}

function snapshotOf(facts: DumpFacts, logBin: boolean, tool: string): DumpResult['snapshot'] {
  if (!logBin) return null;
  const s = facts.snapshot;
  if (s.file === undefined || s.position === undefined) {
    throw new ToolError(`${tool} did not print the binlog coordinates (CHANGE MASTER/SOURCE comment); the snapshot point is unknown, so the backup was not committed`);
  }
  return { file: s.file, position: s.position, gtid: s.gtid ?? '' };
}

/** Row counts for every base table, from the scan; DDL during the dump is an error. */
function rowCountsOf(ctx: DumpContext, facts: DumpFacts, history: boolean): DumpResult['rowCounts'] {
  const expected = ctx.inventory.tables.filter((t) => t.type !== 'SEQUENCE');
  const expectedKeys = new Set(expected.map((t) => `${t.schema}\u0000${t.name}`));
  const missing = expected.filter((t) => !facts.tablesCreated.has(`${t.schema}\u0000${t.name}`));
  const extra = [...facts.tablesCreated].filter((k) => !expectedKeys.has(k));
  if (missing.length || extra.length) {
    const names = [...missing.map((t) => `${t.schema}.${t.name} (dropped)`), ...extra.map((k) => `${k.replace('\u0000', '.')} (created)`)];
    throw new BacktrackError(`tables changed while the backup ran: ${names.slice(0, 10).join(', ')}; DDL during a dump makes it inconsistent for those tables, so the backup was not committed: run it again`, {
      code: 'DDL_DURING_BACKUP',
    });
  }
  return expected.map((t) => ({
    schema: t.schema,
    table: t.name,
    rows: facts.rows.get(`${t.schema}\u0000${t.name}`) ?? 0,
    history: history && t.type === 'SYSTEM VERSIONED',
  }));
}
