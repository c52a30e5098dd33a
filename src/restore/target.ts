/**
 * Safety checks on a restore target, before anything is written to it: it
 * must not be the source (unless forced with --force-overwrite-source), it
 * must hold no user schemas (unless --force), and its flavor must match the
 * backup's (unless --force).
 */
import type { Connection } from 'mysql2/promise';
import { TargetRefusedError } from '../errors.js';
import { closeQuietly, connect, quoteIdent, type ConnectionSpec } from '../mysql/connect.js';
import { userSchemas } from '../mysql/inventory.js';
import { sameServer, serverInfo, type ServerIdentity, type ServerInfo } from '../mysql/server.js';
import type { Manifest } from '../repository/manifest.js';
import { formatDsn } from '../mysql/dsn.js';

/** What we learned about the target. */
export interface TargetFacts {
  info: ServerInfo;
  existingSchemas: string[];
  isSource: boolean;
}

/** Flags that relax the checks. */
export interface TargetForce {
  force: boolean;
  forceOverwriteSource: boolean;
}

/**
 * Inspect the target and refuse what is unsafe. `partial`: the schemas a
 * partial restore writes (after --rename); other schemas on the target are
 * left alone, so only these must not exist (or --force), and the source
 * itself is a fine target when none of them exists there.
 */
export async function inspectTarget(spec: ConnectionSpec, manifest: Manifest, liveSource: ServerIdentity | undefined, force: TargetForce, partial?: string[]): Promise<TargetFacts> {
  const conn = await connect(spec);
  try {
    const info = await serverInfo(conn);
    const existingSchemas = (await userSchemas(conn)).filter((s) => s !== 'backtrack_scratch');
    const recorded = manifest.server.identity;
    const isSource = sameServer(info.identity, recorded) || (liveSource !== undefined && sameServer(info.identity, liveSource));
    if (partial) {
      const touched = partial.filter((s) => existingSchemas.includes(s));
      if (isSource && touched.length && !force.forceOverwriteSource) {
        throw new TargetRefusedError(
          `the target ${formatDsn(spec)} is the source server of this backup and already has ${touched.join(', ')}; restoring over live schemas destroys data. Restore beside them under a new name (--rename ${touched[0]}:${touched[0]}_restored), or pass --force-overwrite-source --force if that is really what you want`,
          { target: formatDsn(spec), existingSchemas: touched },
        );
      }
      if (touched.length && !force.force) {
        throw new TargetRefusedError(
          `the target ${formatDsn(spec)} already has ${touched.join(', ')}; a partial restore writes only into schemas that do not exist, unless --force (a schema restored whole is dropped first; chosen tables replace those of the same name). Or restore under a new name with --rename`,
          { existingSchemas: touched },
        );
      }
      checkFlavor(info, manifest, force);
      return { info, existingSchemas, isSource };
    }
    if (isSource && !force.forceOverwriteSource) {
      throw new TargetRefusedError(
        `the target ${formatDsn(spec)} is the source server of this backup (server_id ${info.identity.serverId} on ${info.identity.hostname}:${info.identity.port}); restoring over it destroys live data. Restore elsewhere, or pass --force-overwrite-source if that is really what you want`,
        { target: formatDsn(spec) },
      );
    }
    checkFlavor(info, manifest, force);
    const overlap = existingSchemas;
    if (overlap.length && !force.force) {
      throw new TargetRefusedError(
        `the target ${formatDsn(spec)} already holds user schemas (${overlap.slice(0, 8).join(', ')}${overlap.length > 8 ? ', ...' : ''}); restore into an empty server, or pass --force to drop and re-create the backup's schemas (${manifest.inventory.schemas.join(', ')}) and leave the others alone`,
        { existingSchemas: overlap },
      );
    }
    return { info, existingSchemas, isSource };
  } finally {
    await closeQuietly(conn);
  }
}

function checkFlavor(info: ServerInfo, manifest: Manifest, force: TargetForce): void {
  if (info.flavor !== manifest.server.flavor && !force.force) {
    throw new TargetRefusedError(`the backup was taken from ${manifest.server.flavor} ${manifest.server.version} but the target is ${info.flavor} ${info.version.text}; a logical dump may not load across flavors. Pass --force to try anyway`);
  }
}

/** Drop the backup's schemas on the target (only with --force). */
export async function dropSchemas(spec: ConnectionSpec, schemas: string[]): Promise<string[]> {
  const conn: Connection = await connect(spec);
  const dropped: string[] = [];
  try {
    const existing = new Set(await userSchemas(conn));
    for (const s of schemas) {
      if (!existing.has(s)) continue;
      await conn.query(`DROP DATABASE ${quoteIdent(s)}`);
      dropped.push(s);
    }
    return dropped;
  } finally {
    await closeQuietly(conn);
  }
}
