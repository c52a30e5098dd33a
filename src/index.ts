/**
 * Backtrack as a library, without the CLI: the flows (backup, restore,
 * point-in-time restore, drill, prune, binlog archiving), the daemon, the
 * config loader, the errors with their exit codes, and the storage contract.
 * package.json's `main` and `types` point here.
 */
export { loadConfig, parseConfig, selectSource } from './config/load.js';
export type { Config, SourceConfig } from './config/schema.js';
export * from './errors.js';
export { createLogger, silentLogger, type Logger } from './observability/logger.js';
export { openRepository } from './runtime/context.js';
export { takeBackup, type BackupOptions } from './backup/backup.js';
export { restoreFull, type RestoreOptions, type RestorePlan } from './restore/full.js';
export { restoreToPoint, type PointRestoreOptions, type FullPlan } from './restore/pitr.js';
export { parseTime, targetPointFromFlags, type TargetPoint } from './restore/point.js';
export { runDrill, type DrillOptions } from './verify/drill.js';
export { pruneSource, type PruneOptions } from './prune/prune.js';
export { BinlogArchiver, type ArchiverOptions } from './binlog/archiver.js';
export { Daemon, type DaemonOptions } from './daemon/daemon.js';
export type { ObjectStore, ObjectInfo, PutOptions, GetOptions } from './storage/store.js';
export type { Manifest } from './repository/manifest.js';
