/**
 * The repository layout: every key Backtrack reads or writes is built here,
 * so the documented layout (README, "The repository layout") and the code
 * cannot drift apart.
 *
 *   backtrack.json                                      format marker, written once
 *   <source>/backups/<backup-id>/<object>               engine objects (data.sql.zst[.age], users.sql.zst[.age])
 *   <source>/backups/<backup-id>/manifest.json          written last = committed
 *   <source>/backups/<backup-id>/deleting.json          while a deletion runs (first in, last out)
 *   <source>/binlogs/<timeline>/<file>.zst[.age]        a closed binlog file, whole; <file>.json its sidecar
 *   <source>/binlogs/<timeline>/<file>.partial/<start>-<end>.zst[.age] + .json   pieces of the active file
 *        (pieces written before start-end names: <start>.zst[.age] + <start>.json, still read)
 *   <source>/binlogs/<timeline>/gaps/<time>-<file>.json  recorded gaps
 *   <source>/drills/<time>-<backup-id>.json             drill reports
 *   <source>/leader/<time>-<rand>.json                  who leads the source (the newest), written by a new leader
 *   audit/<yyyy>/<mm>/<dd>/<time>-<action>.json          append-only audit events
 */
import { randomBytes } from 'node:crypto';

/** Format version written to backtrack.json; bumped only on incompatible changes. */
export const REPOSITORY_FORMAT = 1;

export const FORMAT_KEY = 'backtrack.json';
export const MANIFEST_NAME = 'manifest.json';
/** Written first when a backup is deleted on purpose, removed last: a folder holding it is being deleted. */
export const DELETING_NAME = 'deleting.json';

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

/** What an audit key says about itself: the action, and for new keys the backup id and outcome. */
export function parseAuditKey(key: string): { action: string; backupId?: string; outcome?: string } | undefined {
  const m = /\/\d{8}T\d{6}\.\d{3}Z-(.+)-[0-9a-f]{4}(?:\.(\d{8}T\d{6}Z-[0-9a-f]{4})\.([a-z]+))?\.json$/.exec(key);
  if (!m) return undefined;
  return { action: m[1] as string, ...(m[2] ? { backupId: m[2], outcome: m[3] as string } : {}) };
}

export const keys = {
  backupsPrefix: (source: string) => `${source}/backups/`,
  backupPrefix: (source: string, id: string) => `${source}/backups/${id}/`,
  backupObject: (source: string, id: string, name: string) => `${source}/backups/${id}/${name}`,
  manifest: (source: string, id: string) => `${source}/backups/${id}/${MANIFEST_NAME}`,
  drillsPrefix: (source: string) => `${source}/drills/`,
  leaderPrefix: (source: string) => `${source}/leader/`,
  leader: (source: string, at: Date) => `${source}/leader/${compactTimeMs(at)}-${randomBytes(2).toString('hex')}.json`,
  drill: (source: string, at: Date, backupId: string) => `${source}/drills/${compactTime(at)}-${backupId}.json`,
  auditPrefix: () => 'audit/',
  auditDay: (day: Date) => {
    const iso = day.toISOString();
    return `audit/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso.slice(8, 10)}/`;
  },
  /**
   * An audit event's key. Events about a backup also carry its id and the
   * outcome in the name (`...-backup-1a2b.<backup-id>.ok.json`), so "was
   * this backup ever committed?" is answered by a listing.
   */
  audit: (at: Date, action: string, about?: { backupId?: string | undefined; outcome: string }) => {
    const tail = about?.backupId ? `.${about.backupId}.${about.outcome}` : '';
    return `${keys.auditDay(at)}${compactTimeMs(at)}-${action}-${randomBytes(2).toString('hex')}${tail}.json`;
  },
};

function pad(n: number): string {
  return String(n).padStart(20, '0');
}

/** Binlog segments, their sidecars and gap records (see sidecar.ts). */
export const binlogKeys = {
  prefix: (source: string) => `${source}/binlogs/`,
  timelinePrefix: (source: string, tl: string) => `${source}/binlogs/${tl}/`,
  file: (source: string, tl: string, file: string, suffix: string) => `${source}/binlogs/${tl}/${file}${suffix}`,
  fileSidecar: (source: string, tl: string, file: string) => `${source}/binlogs/${tl}/${file}.json`,
  /** Everything stored for one binlog file: the whole file, its sidecar, its pieces. */
  fileObjectsPrefix: (source: string, tl: string, file: string) => `${source}/binlogs/${tl}/${file}.`,
  piecesPrefix: (source: string, tl: string, file: string) => `${source}/binlogs/${tl}/${file}.partial/`,
  gap: (source: string, tl: string, at: Date, file: string) => `${source}/binlogs/${tl}/gaps/${compactTimeMs(at)}-${file}.json`,
  /**
   * Name of a segment's data object: the binlog file's name, or a piece's
   * byte range. A piece names both ends, so two writers of one file can
   * never overwrite each other's pieces.
   */
  segmentName: (kind: 'file' | 'piece', file: string, start: number, end: number, suffix: string) => (kind === 'file' ? `${file}${suffix}` : `${pad(start)}-${pad(end)}${suffix}`),
  /** Key of a segment's data object, from its sidecar's fields. */
  segmentObject: (s: { source: string; timeline: string; file: string; kind: 'file' | 'piece'; object: { name: string } }) =>
    s.kind === 'file' ? `${s.source}/binlogs/${s.timeline}/${s.object.name}` : `${s.source}/binlogs/${s.timeline}/${s.file}.partial/${s.object.name}`,
  /** Key of a segment's sidecar: its object's key with `.json` for the codec suffix. */
  sidecar: (s: { source: string; timeline: string; file: string; kind: 'file' | 'piece'; object: { name: string } }) => binlogKeys.segmentObject(s).replace(/\.zst(\.age)?$/, '.json'),
};
