/**
 * Where a drill restores to. `spawn` (the default) starts a throwaway server
 * of the backup's flavor and major version on a free loopback port and
 * removes it afterwards, whatever happens; `server` uses a configured server,
 * refuses it if it is the source, and touches only the schemas it restores.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config, SourceConfig } from '../config/schema.js';
import { ScratchUnavailableError } from '../errors.js';
import { closeQuietly, connect, quoteIdent, specFromConfig, type ConnectionSpec } from '../mysql/connect.js';
import { detectFlavor, toolsFor, type Flavor } from '../mysql/flavor.js';
import { sameServer, serverInfo, type ServerIdentity } from '../mysql/server.js';
import { runToolText } from '../pipeline/spawn.js';
import { findBinary, spawnServer } from './spawn.js';

/** A scratch server ready for one drill. */
export interface Scratch {
  mode: 'spawn' | 'server';
  spec: ConnectionSpec;
  /** What it is, for the report ("mariadbd 10.11.6 on 127.0.0.1:41234"). */
  description: string;
  version: string;
  /** Stop and remove it (spawn), or drop the drill's schemas (server). Idempotent. */
  release(): Promise<void>;
}

export interface ScratchRequest {
  cfg: Config;
  source: SourceConfig;
  flavor: Flavor;
  /** The backup's server version text; the scratch must have the same major version. */
  version: string;
  /** Schemas the drill will create (server mode drops them first and after). */
  schemas: string[];
  /** The source's identity, to refuse it as a scratch server. */
  sourceIdentity?: ServerIdentity | undefined;
  signal?: AbortSignal | undefined;
}

/** Get a scratch server for a drill; ScratchUnavailableError when none can be had. */
export async function openScratch(r: ScratchRequest): Promise<Scratch> {
  const sc = r.source.verify.scratch;
  return sc.mode === 'spawn' ? spawnScratch(r, sc) : serverScratch(r, specFromConfig(sc.connection, 'scratch server'));
}

function majorOf(version: string): string {
  const { version: v } = detectFlavor(version);
  return `${v.major}.${v.minor}`;
}

async function spawnScratch(r: ScratchRequest, sc: Extract<SourceConfig['verify']['scratch'], { mode: 'spawn' }>): Promise<Scratch> {
  const binary = sc.serverBinary ?? findBinary([toolsFor(r.flavor).server]);
  if (!binary) throw new ScratchUnavailableError(`no ${toolsFor(r.flavor).server} found for a ${r.flavor} drill; install the server package or set verify.scratch.serverBinary`);
  const versionText = await runToolText(binary, ['--version'], { label: binary }).catch((err: unknown) => {
    throw new ScratchUnavailableError(`cannot run ${binary} --version: ${(err as Error).message}`, err);
  });
  const m = /Ver\s+(\S+)/.exec(versionText);
  const scratchVersion = m?.[1] ?? '';
  const scratchFlavor = /mariadb/i.test(versionText) ? 'mariadb' : 'mysql';
  if (scratchFlavor !== r.flavor || majorOf(scratchVersion) !== majorOf(r.version)) {
    throw new ScratchUnavailableError(`the scratch server ${binary} is ${scratchFlavor} ${scratchVersion}, but the backup is from ${r.flavor} ${r.version}; a drill needs the same flavor and major version (set verify.scratch.serverBinary)`);
  }
  const base = path.join(r.cfg.workDir, 'scratch');
  await mkdir(base, { recursive: true });
  const server = await spawnServer({ profile: 'scratch', baseDir: base, serverBinary: binary, startTimeoutMs: sc.startTimeout, bufferPoolSize: sc.bufferPoolSize, signal: r.signal });
  return {
    mode: 'spawn',
    spec: server.spec,
    description: `${path.basename(binary)} ${scratchVersion} on 127.0.0.1:${server.port} (datadir ${server.datadir})`,
    version: scratchVersion,
    release: () => server.stop(),
  };
}

async function serverScratch(r: ScratchRequest, spec: ConnectionSpec): Promise<Scratch> {
  let conn;
  try {
    conn = await connect(spec);
  } catch (err) {
    throw new ScratchUnavailableError(`the configured scratch server cannot be reached: ${(err as Error).message}`, err);
  }
  try {
    const info = await serverInfo(conn);
    if (r.sourceIdentity && sameServer(info.identity, r.sourceIdentity)) {
      throw new ScratchUnavailableError(`verify.scratch points at the source itself (server_id ${info.identity.serverId} on ${info.identity.hostname}:${info.identity.port}); a drill never restores into the source`);
    }
    if (info.flavor !== r.flavor || majorOf(info.version.text) !== majorOf(r.version)) {
      throw new ScratchUnavailableError(`the scratch server is ${info.flavor} ${info.version.text}, but the backup is from ${r.flavor} ${r.version}; use a server of the same flavor and major version`);
    }
    await dropAll(conn, r.schemas);
    return {
      mode: 'server',
      spec,
      description: `${info.flavor} ${info.version.text} at ${spec.host}:${spec.port}`,
      version: info.version.text,
      release: async () => {
        const c = await connect(spec);
        try {
          await dropAll(c, r.schemas);
        } finally {
          await closeQuietly(c);
        }
      },
    };
  } finally {
    await closeQuietly(conn);
  }
}

async function dropAll(conn: Awaited<ReturnType<typeof connect>>, schemas: string[]): Promise<void> {
  for (const s of schemas) await conn.query(`DROP DATABASE IF EXISTS ${quoteIdent(s)}`);
}
