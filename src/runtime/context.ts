/**
 * Wiring from a validated config to the objects the flows need: the
 * repository in a given role, codec settings, connection specs, tool paths.
 * Commands and the daemon build these here, so every flow opens things the
 * same way.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import type { Config, SourceConfig } from '../config/schema.js';
import { specFromConfig, type ConnectionSpec } from '../mysql/connect.js';
import { toolsFor, type Flavor } from '../mysql/flavor.js';
import type { CodecOptions } from '../pipeline/stages.js';
import { Repository, WritableRepository, type RepositoryRole } from '../repository/repository.js';
import { openStore } from '../storage/open.js';
import type { Logger } from '../observability/logger.js';

/**
 * Open the repository in a role: 'read' gives a Repository, 'write' a
 * WritableRepository (the type says what a command may do). `init` checks
 * (or, writing, creates) the format marker.
 */
export async function openRepository(cfg: Config, role: 'read', log?: Logger, signal?: AbortSignal): Promise<Repository>;
export async function openRepository(cfg: Config, role: 'write', log?: Logger, signal?: AbortSignal): Promise<WritableRepository>;
export async function openRepository(cfg: Config, role: RepositoryRole, log?: Logger, signal?: AbortSignal): Promise<Repository | WritableRepository>;
export async function openRepository(cfg: Config, role: RepositoryRole, log?: Logger, signal?: AbortSignal): Promise<Repository | WritableRepository> {
  const store = await openStore(cfg.repository, {
    signal,
    onRetry: (r) => log?.warn({ op: r.op, key: r.key, attempt: r.attempt, delayMs: r.delayMs, error: (r.error as Error)?.message }, 'repository request failed; retrying'),
  });
  const repo = role === 'write' ? new WritableRepository(store) : new Repository(store);
  await repo.init();
  return repo;
}

/** Compression/encryption settings for a source's objects. */
export function codecFor(cfg: Config, source?: SourceConfig): CodecOptions {
  const enc = cfg.repository.encryption;
  return {
    zstd: cfg.tools.zstd,
    level: source?.backup.compressionLevel ?? 3,
    threads: source?.backup.compressionThreads ?? 0,
    age: enc ? { binary: cfg.tools.age, recipientsFile: enc.recipientsFile, identityFile: enc.identityFile } : undefined,
  };
}

/** The source's connection, with its password read now. */
export function sourceSpec(source: SourceConfig): ConnectionSpec {
  return specFromConfig(source.mysql, `source ${source.name}`);
}

/** Tool paths for a flavor, honouring the config's overrides. */
export function toolPaths(cfg: Config, flavor: Flavor): { dump: string; client: string; binlog: string } {
  const d = toolsFor(flavor);
  return { dump: cfg.tools.dump ?? d.dump, client: cfg.tools.client ?? d.client, binlog: cfg.tools.binlog ?? d.binlog };
}

/** Sessions to run at once when not configured: one per core. */
export function defaultParallelism(): number {
  return Math.max(1, availableParallelism());
}

/** Run `fn` with a private directory under the configured work directory, removed after. */
export async function withWorkDir<T>(cfg: Config, prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  await mkdir(cfg.workDir, { recursive: true });
  const dir = await mkdtemp(path.join(cfg.workDir, `${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
