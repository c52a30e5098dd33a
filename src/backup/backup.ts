/**
 * Taking a full backup, as a recipe. The manifest is written last: until it
 * exists there is no backup, and a failure at any step removes what was
 * written (and what a crash leaves is removed by the next run or prune).
 */
import type { Config, SourceConfig } from '../config/schema.js';
import { BacktrackError, ConfigError, asBacktrackError } from '../errors.js';
import { engineFor } from '../engines/index.js';
import type { DumpHooks, DumpResult } from '../engines/engine.js';
import { closeQuietly, connect, type ConnectionSpec } from '../mysql/connect.js';
import { diffInventory, readInventory, userSchemas, type Inventory } from '../mysql/inventory.js';
import { acquireLock } from '../mysql/lock.js';
import { serverInfo, type ServerInfo } from '../mysql/server.js';
import type { Logger } from '../observability/logger.js';
import type { Actor } from '../repository/audit.js';
import { newBackupId } from '../repository/layout.js';
import type { Manifest } from '../repository/manifest.js';
import type { WritableRepository } from '../repository/repository.js';
import { codecFor, defaultParallelism, sourceSpec, toolPaths } from '../runtime/context.js';

/** Options for one backup run. */
export interface BackupOptions {
  cfg: Config;
  source: SourceConfig;
  repo: WritableRepository;
  log: Logger;
  actor: Actor;
  signal?: AbortSignal | undefined;
  /** Running count of uncompressed dump bytes (progress). */
  onRawBytes?: (n: number) => void;
  /** Called once the expected size is known (progress ETA). */
  onEstimate?: (bytes: number) => void;
  /** Tests only. */
  hooks?: DumpHooks | undefined;
}

/** Take a full backup of one source; returns the committed manifest. */
export async function takeBackup(o: BackupOptions): Promise<Manifest> {
  const started = new Date();
  const id = newBackupId(started);
  const log = o.log.child({ source: o.source.name, job: 'backup', backupId: id });
  const spec = sourceSpec(o.source);
  // 1. One backup of a source at a time, across processes and hosts.
  const lock = await acquireLock(spec, o.source.name, 'backup');
  try {
    // 2. What failed runs left behind can go now that we hold the lock,
    // 3. while we read the server's facts, the schemas to dump and their inventory.
    const [removed, { server, schemas, inventory, estimate }] = await Promise.all([o.repo.removeLeftovers(o.source.name), inspectSource(spec, o.source)]);
    if (removed.length) log.info({ removed: removed.length }, 'removed leftovers of earlier failed backups');
    o.onEstimate?.(estimate);
    log.info({ schemas: schemas.length, tables: inventory.tables.length, flavor: server.flavor, version: server.version.text }, 'backup started');
    // 4. Dump, compress, upload; then check nothing changed shape meanwhile.
    const dump = await runEngine(o, id, spec, server, schemas, inventory, estimate);
    await checkInventoryUnchanged(spec, schemas, inventory);
    // 5. Commit: the manifest is the last object written.
    const manifest = buildManifest(o.source.name, id, server, started, dump, inventory);
    await commit(o, manifest);
    log.info({ size: manifest.objects.reduce((s, x) => s + x.size, 0), snapshot: manifest.snapshot }, 'backup committed');
    // 6. The audit trail records the commit (the leftover cleanup trusts it).
    await audit(o, id, 'ok', started).catch((err: unknown) => log.error({ err }, 'the backup is committed, but its audit event could not be written'));
    return manifest;
  } catch (err) {
    const e = asBacktrackError(err);
    log.error({ err: e }, 'backup failed; nothing was committed');
    if (e.code !== 'COMMIT_UNKNOWN') await o.repo.discardBackup(o.source.name, id).catch((cleanupErr: unknown) => log.warn({ err: cleanupErr }, 'could not remove the failed backup\'s objects; the next backup or prune removes them'));
    await audit(o, id, e.code === 'INTERRUPTED' ? 'interrupted' : 'failed', started, e.message).catch(() => undefined);
    throw e;
  } finally {
    await lock.release();
  }
}

/**
 * Write the manifest. A write that reports failure may still have landed
 * (a lost response): then the backup is committed, and treating it as
 * failed would delete a committed backup. So a failed commit is checked;
 * only a manifest that is certainly absent fails the backup, and when even
 * that cannot be known, the objects are kept for the next run to judge.
 */
async function commit(o: BackupOptions, manifest: Manifest): Promise<void> {
  try {
    await o.repo.commitManifest(manifest);
  } catch (err) {
    const landed = await o.repo.hasManifest(manifest.source, manifest.id).catch(() => undefined);
    if (landed === true) return;
    throw landed === false ? err : new BacktrackError(`${asBacktrackError(err).message}; whether the manifest was written is unknown, so the backup's objects are kept (the next backup judges them)`, { code: 'COMMIT_UNKNOWN', cause: err });
  }
}

async function inspectSource(spec: ConnectionSpec, source: SourceConfig): Promise<{ server: ServerInfo; schemas: string[]; inventory: Inventory; estimate: number }> {
  const conn = await connect(spec);
  try {
    const server = await serverInfo(conn);
    const all = await userSchemas(conn);
    const wanted = source.backup.databases ?? all;
    const unknown = wanted.filter((s) => !all.includes(s));
    if (unknown.length) throw new ConfigError(`sources.${source.name}.backup.databases names schemas the server does not have: ${unknown.join(', ')}`);
    const schemas = wanted.filter((s) => !source.backup.excludeDatabases.includes(s));
    if (schemas.length === 0) throw new BacktrackError(`source ${source.name} has no schemas to back up (after backup.databases/excludeDatabases)`, { code: 'NOTHING_TO_BACK_UP' });
    const inventory = await readInventory(conn, schemas);
    const [rows] = await conn.query(
      `SELECT COALESCE(SUM(DATA_LENGTH), 0) AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${schemas.map(() => '?').join(',')})`,
      schemas,
    );
    return { server, schemas, inventory, estimate: Number((rows as Array<{ bytes: string }>)[0]?.bytes ?? 0) };
  } finally {
    await closeQuietly(conn);
  }
}

async function runEngine(o: BackupOptions, id: string, spec: ConnectionSpec, server: ServerInfo, schemas: string[], inventory: Inventory, estimate: number): Promise<DumpResult> {
  return engineFor(o.source.backup.engine).dump({
    source: spec,
    server,
    schemas,
    inventory,
    objects: o.repo.backupWriter(o.source.name, id),
    codec: { ...codecFor(o.cfg, o.source), signal: o.signal },
    includeUsers: o.source.backup.users,
    tools: { dump: toolPaths(o.cfg, server.flavor).dump },
    extraArgs: o.source.backup.extraDumpArgs,
    signal: o.signal,
    onRawBytes: o.onRawBytes,
    sizeHint: estimate,
    layout: o.source.backup.layout,
    parallelism: o.source.backup.parallelism ?? defaultParallelism(),
    chunkSize: o.source.backup.chunkSize,
    maxSessions: o.source.backup.maxSessions,
    lockTimeoutMs: o.source.backup.lockTimeout,
    hooks: o.hooks,
  });
}

async function checkInventoryUnchanged(spec: ConnectionSpec, schemas: string[], before: Inventory): Promise<void> {
  const conn = await connect(spec);
  try {
    const diff = diffInventory(before, await readInventory(conn, schemas));
    if (diff.length) {
      throw new BacktrackError(`the schema changed while the backup ran (${diff.slice(0, 5).join('; ')}); the backup was not committed: run it again`, { code: 'DDL_DURING_BACKUP' });
    }
  } finally {
    await closeQuietly(conn);
  }
}

function buildManifest(source: string, id: string, server: ServerInfo, started: Date, dump: DumpResult, inventory: Inventory): Manifest {
  return {
    format: dump.format,
    id,
    source,
    engine: { name: 'mysqldump', tool: dump.tool, toolVersion: dump.toolVersion, args: dump.args },
    server: {
      flavor: server.flavor,
      version: server.version.text,
      identity: { ...(server.identity.serverUuid ? { serverUuid: server.identity.serverUuid } : {}), serverId: server.identity.serverId, hostname: server.identity.hostname, port: server.identity.port },
    },
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    snapshot: dump.snapshot,
    objects: dump.objects.map((x) => ({
      name: x.name,
      role: x.role,
      ...(x.schema !== undefined ? { schema: x.schema } : {}),
      ...(x.table !== undefined ? { table: x.table } : {}),
      ...(x.chunk ? { chunk: x.chunk } : {}),
      ...(x.rows !== undefined ? { rows: x.rows } : {}),
      size: x.size,
      sha256: x.sha256,
      rawSize: x.rawSize,
      compression: 'zstd',
      encryption: x.name.endsWith('.age') ? 'age' : null,
    })),
    inventory,
    rowCounts: dump.rowCounts,
    accounts: dump.accounts,
    ...(dump.parallel ? { parallel: dump.parallel } : {}),
    notes: dump.notes,
  };
}

async function audit(o: BackupOptions, id: string, outcome: 'ok' | 'failed' | 'interrupted', started: Date, error?: string): Promise<void> {
  await o.repo.appendAudit({
    action: 'backup',
    actor: o.actor,
    source: o.source.name,
    backupId: id,
    outcome,
    ...(error ? { error } : {}),
    durationSeconds: (Date.now() - started.getTime()) / 1000,
  });
}
