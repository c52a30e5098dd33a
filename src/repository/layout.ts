/**
 * The repository layout: every key Backtrack reads or writes is built here,
 * so the documented layout (README, "The repository layout") and the code
 * cannot drift apart.
 *
 *   backtrack.json                                      format marker, written once
 *   <source>/backups/<backup-id>/<object>               engine objects (data.sql.zst[.age], users.sql.zst[.age])
 *   <source>/backups/<backup-id>/manifest.json          written last = committed
 *   <source>/binlogs/<timeline>/...                     binlog segments and gaps: binlogKeys in binlog/sidecar.ts
 *   <source>/drills/<time>-<backup-id>.json             drill reports
 *   audit/<yyyy>/<mm>/<dd>/<time>-<action>.json          append-only audit events
 */
import { randomBytes } from 'node:crypto';

/** Format version written to backtrack.json; bumped only on incompatible changes. */
export const REPOSITORY_FORMAT = 1;

export const FORMAT_KEY = 'backtrack.json';
export const MANIFEST_NAME = 'manifest.json';

/** A compact UTC timestamp that sorts as text: 20261125T030000Z. */
export function compactTime(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** Same with milliseconds, for keys that may be written several times a second. */
export function compactTimeMs(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '.$1Z');
}

/** New backup id: time-sortable plus a random suffix (20261125T030000Z-ab12). */
export function newBackupId(at: Date = new Date()): string {
  return `${compactTime(at)}-${randomBytes(2).toString('hex')}`;
}

export const BACKUP_ID = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

export const keys = {
  backupsPrefix: (source: string) => `${source}/backups/`,
  backupPrefix: (source: string, id: string) => `${source}/backups/${id}/`,
  backupObject: (source: string, id: string, name: string) => `${source}/backups/${id}/${name}`,
  manifest: (source: string, id: string) => `${source}/backups/${id}/${MANIFEST_NAME}`,
  drillsPrefix: (source: string) => `${source}/drills/`,
  drill: (source: string, at: Date, backupId: string) => `${source}/drills/${compactTime(at)}-${backupId}.json`,
  auditPrefix: () => 'audit/',
  audit: (at: Date, action: string) => {
    const iso = at.toISOString();
    return `audit/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/${compactTimeMs(at)}-${action}-${randomBytes(2).toString('hex')}.json`;
  },
};
