/**
 * The repository: the layout (layout.ts) on top of an ObjectStore, and the
 * only code that touches storage. It is handed out by role, like
 * pgBackRest's storageRepo()/storageRepoWrite(), and the role is a type:
 *
 *   Repository          read: list, verify, restore, check. It can read every
 *                       object and append records (audit events, drill
 *                       reports), which never change a backup or a binlog.
 *   WritableRepository  write: backup, the archiver, prune. It can also
 *                       write and delete backups and binlog segments.
 *
 * A command that holds a Repository cannot name a write: the methods are not
 * on its type, and the ObjectStore underneath is never handed out (flows
 * that stream objects get a view scoped to one backup or one source's
 * binlogs, as an ObjectReader or an ObjectWriter).
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { DamagedBackupError, NotFoundError, ObjectLockedError, StorageError } from '../errors.js';
import { ScopedStore } from '../storage/scoped.js';
import type { BucketLockStatus, ObjectInfo, ObjectReader, ObjectStore, ObjectWriter } from '../storage/store.js';
import { getBytes, getJson, putJson } from '../storage/util.js';
import { AuditEventSchema, type AuditEvent, type AuditInput } from './audit.js';
import { DrillReportSchema, type DrillReport } from './drills.js';
import { BACKUP_ID, DELETING_NAME, FORMAT_KEY, MANIFEST_NAME, REPOSITORY_FORMAT, binlogKeys, keys, parseAuditKey } from './layout.js';
import { ManifestSchema, type Manifest } from './manifest.js';
import { GapSchema, SidecarSchema, type GapRecord, type Sidecar } from './sidecar.js';

export type RepositoryRole = 'read' | 'write';

/** A committed backup as listed. */
export interface BackupEntry {
  id: string;
  manifest: Manifest;
}

/** Objects of a backup that never committed (a crash or a failure): safe to remove. */
export interface Leftover {
  id: string;
  keys: string[];
  newest: Date;
}

/** A backup whose manifest exists but cannot be used: unreadable, of the wrong shape, or not this backup's. */
export interface DamagedBackup {
  id: string;
  reason: string;
  keys: string[];
}

/**
 * A backup the audit trail records as committed whose manifest is missing:
 * its objects may be all a person has, so it is kept and shown until
 * `prune --orphans` removes it.
 */
export interface OrphanBackup {
  id: string;
  keys: string[];
  /** When the audit trail recorded its commit. */
  committedAt: string;
}

/** Every backup folder of a source, sorted into what it is. */
export interface BackupListing {
  backups: BackupEntry[];
  damaged: DamagedBackup[];
  orphans: OrphanBackup[];
  leftovers: Leftover[];
}

/** How long after its start a backup's commit is looked for in the audit trail. */
const COMMIT_WINDOW_DAYS = 7;

/** What the binlog area of a source holds: every sidecar, gap record and data object. */
export interface BinlogRecords {
  sidecars: Sidecar[];
  gaps: GapRecord[];
  /** Every segment data object present, by `segmentKey`, with its size. */
  objects: Map<string, number>;
}

/** Who leads a source, as the leader recorded it when it took the lead. */
export interface LeaderRecord {
  /** host name and process id */
  identity: string;
  /** Where its HTTP server is reached (http.advertiseUrl). */
  url: string;
  since: string;
}

/** An object a delete marker hides (someone deleted it with the repository's credentials). */
export interface HiddenObject {
  key: string;
  size: number;
}

/** What prune's lock pass did (a repository with Object Lock). */
export interface LockPass {
  /** Objects whose lock was checked. */
  checked: number;
  /** Objects whose lock was extended. */
  extended: number;
  /** Until when the extended locks run. */
  until: string;
}

const DAY_MS = 86_400_000;

/** How many parsed records a repository keeps (RecordCache). */
const MAX_CACHED_RECORDS = 50_000;

/**
 * Parsed records (sidecars, manifests, drill reports) by key, size and time.
 * They are written once and never changed, so a long-lived repository (the
 * daemon's, whose status page and metrics list the whole archive every few
 * seconds) reads each one once instead of at every listing.
 */
class RecordCache {
  private readonly map = new Map<string, { size: number; mtime: number; value: unknown }>();

  async get(o: ObjectInfo, read: () => Promise<unknown>): Promise<unknown> {
    const hit = this.map.get(o.key);
    if (hit && hit.size === o.size && hit.mtime === o.lastModified.getTime()) return hit.value;
    const value = await read();
    if (this.map.size >= MAX_CACHED_RECORDS) this.map.delete(this.map.keys().next().value as string);
    this.map.set(o.key, { size: o.size, mtime: o.lastModified.getTime(), value });
    return value;
  }
}

/** The read role. */
export class Repository {
  readonly role: RepositoryRole = 'read';
  private readonly records = new RecordCache();

  constructor(protected readonly store: ObjectStore) {}

  get location(): string {
    return this.store.location;
  }

  /** Check the format marker (a new, empty repository has none yet). */
  async init(): Promise<void> {
    const head = await this.store.head(FORMAT_KEY);
    if (!head) return;
    const marker = (await getJson(this.store, FORMAT_KEY)) as { format?: number };
    if (marker.format !== REPOSITORY_FORMAT) {
      throw new StorageError(`${this.location} has repository format ${String(marker.format)}, this Backtrack reads format ${REPOSITORY_FORMAT}; use a matching Backtrack version`);
    }
  }

  /** The Object Lock settings when the repository locks what it writes (S3 with repository.s3.objectLock). */
  get objectLock(): { mode: string; minRetainDays: number } | undefined {
    const l = this.store.locks;
    return l && { mode: l.mode, minRetainDays: l.minRetainDays };
  }

  /** The bucket's versioning and Object Lock settings, on an S3 repository (for check); undefined elsewhere. */
  async bucketLockStatus(): Promise<BucketLockStatus | undefined> {
    return this.store.location.startsWith('s3://') ? this.store.bucketStatus?.() : undefined;
  }

  /**
   * Objects under a source (or the whole repository) that a delete marker
   * hides while a locked version is still there: Backtrack never leaves
   * markers (it deletes versions by id), so these were deleted by someone
   * else with the repository's credentials. Reads see through them.
   */
  async hiddenObjects(source?: string): Promise<HiddenObject[]> {
    if (!this.store.locks) return [];
    return (await this.store.list(source ? `${source}/` : '')).filter((o) => o.hidden).map((o) => ({ key: o.key, size: o.size }));
  }

  /** Whether the repository answers (the daemon's readiness). */
  async ping(): Promise<void> {
    await this.store.head(FORMAT_KEY);
  }

  // ---- backups -------------------------------------------------------

  /**
   * Every backup folder of a source, oldest first: committed backups, and
   * the ones that are not (damaged manifests, orphans, leftovers). One bad
   * folder never stops the listing of the others.
   */
  async listBackups(source: string): Promise<BackupListing> {
    const prefix = keys.backupsPrefix(source);
    const byId = new Map<string, ObjectInfo[]>();
    for (const o of await this.store.list(prefix)) {
      const id = o.key.slice(prefix.length).split('/')[0] ?? '';
      if (BACKUP_ID.test(id)) byId.set(id, [...(byId.get(id) ?? []), o]);
    }
    const out: BackupListing = { backups: [], damaged: [], orphans: [], leftovers: [] };
    const unmanifested: Array<[string, ObjectInfo[]]> = [];
    for (const [id, objs] of [...byId.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (!objs.some((o) => o.key.endsWith(`/${MANIFEST_NAME}`)) || objs.some((o) => o.key.endsWith(`/${DELETING_NAME}`))) {
        unmanifested.push([id, objs]);
        continue;
      }
      try {
        out.backups.push({ id, manifest: await this.readManifest(source, id, objs.find((o) => o.key.endsWith(`/${MANIFEST_NAME}`))) });
      } catch (err) {
        if (!(err instanceof DamagedBackupError)) throw err;
        out.damaged.push({ id, reason: err.message, keys: objs.map((o) => o.key) });
      }
    }
    const deleting = (objs: ObjectInfo[]) => objs.some((o) => o.key.endsWith(`/${DELETING_NAME}`));
    const committed = await this.committedBackups(source, unmanifested.filter(([, objs]) => !deleting(objs)).map(([id]) => id));
    for (const [id, objs] of unmanifested) {
      const at = deleting(objs) ? undefined : committed.get(id);
      if (at) out.orphans.push({ id, keys: objs.map((o) => o.key), committedAt: at });
      else out.leftovers.push({ id, keys: objs.map((o) => o.key), newest: new Date(Math.max(...objs.map((o) => o.lastModified.getTime()))) });
    }
    return out;
  }

  /**
   * Read and validate one manifest. A manifest that is not JSON, not of the
   * manifest's shape, or about another backup is DamagedBackupError (exit 3);
   * a missing one NotFoundError; a failing repository StorageError.
   */
  async readManifest(source: string, id: string, listed?: ObjectInfo): Promise<Manifest> {
    if (!BACKUP_ID.test(id)) throw new NotFoundError(`"${id}" is not a backup id (they look like 20261125T030000Z-ab12); see backtrack list`);
    const key = keys.manifest(source, id);
    const damaged = (why: string) => new DamagedBackupError(`backup ${id} of source ${source} is damaged: its manifest ${key} ${why}; Backtrack cannot use it (its objects are kept: see "restore by hand" in README, or remove it with backtrack prune --orphans)`, { backupId: id, key });
    let raw: unknown;
    try {
      const read = async () => JSON.parse((await getBytes(this.store, key)).toString('utf8')) as unknown;
      raw = listed ? await this.records.get(listed, read) : await read();
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new NotFoundError(`backup ${id} of source ${source} does not exist in ${this.location} (no committed manifest); see backtrack list`, { backupId: id });
      }
      if (err instanceof SyntaxError) throw damaged(`is not valid JSON (${err.message})`);
      throw err;
    }
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw damaged(`does not have the manifest's shape (${issue?.path.join('.') || '(top level)'}: ${issue?.message})`);
    }
    if (parsed.data.id !== id || parsed.data.source !== source) throw damaged(`describes backup ${parsed.data.id} of source ${parsed.data.source}, not this one`);
    return parsed.data;
  }

  /**
   * Which of these backup ids the audit trail records as committed, and
   * when. A backup's commit is audited when it ends, within days of its id's
   * time; the days after each id are listed (new audit keys name the backup
   * and the outcome; older ones are read).
   */
  async committedBackups(source: string, ids: string[]): Promise<Map<string, string>> {
    const found = new Map<string, string>();
    if (ids.length === 0) return found;
    const days = new Set<string>();
    for (const id of ids) {
      const start = Date.parse(`${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T00:00:00Z`);
      for (let d = 0; d <= COMMIT_WINDOW_DAYS && start + d * 86_400_000 <= Date.now(); d++) days.add(keys.auditDay(new Date(start + d * 86_400_000)));
    }
    const wanted = new Set(ids);
    for (const day of days) {
      for (const o of await this.store.list(day)) {
        const k = parseAuditKey(o.key);
        if (!k || k.action !== 'backup' || (k.backupId && (!wanted.has(k.backupId) || k.outcome !== 'ok'))) continue;
        const ev = AuditEventSchema.safeParse(await getJson(this.store, o.key).catch(() => undefined));
        if (ev.success && ev.data.outcome === 'ok' && ev.data.source === source && ev.data.backupId && wanted.has(ev.data.backupId)) found.set(ev.data.backupId, ev.data.at);
      }
    }
    return found;
  }

  /** Whether a backup's manifest exists (a commit that reported failure may have landed). */
  async hasManifest(source: string, id: string): Promise<boolean> {
    return (await this.store.head(keys.manifest(source, id))) !== undefined;
  }

  /** The objects of one backup, by name (data.sql.zst, users.sql.zst), read-only. */
  backupObjects(source: string, id: string): ObjectReader {
    return new ScopedStore(this.store, keys.backupPrefix(source, id));
  }

  // ---- binlogs -------------------------------------------------------

  /**
   * Every sidecar, gap record and data object of a source's archived binlog
   * (one listing): the chain is built from the objects and the sidecars
   * together, so a sidecar whose object is gone is seen. A sidecar deleted
   * between the listing and its read (a consolidation) is skipped; one that
   * is not JSON or not a sidecar is skipped too (its segment then shows as a
   * gap: the bytes are not usable).
   */
  async listBinlogRecords(source: string): Promise<BinlogRecords> {
    const prefix = binlogKeys.prefix(source);
    const objs = await this.store.list(prefix);
    const out: BinlogRecords = { sidecars: [], gaps: [], objects: new Map() };
    for (const o of objs) {
      if (!o.key.endsWith('.json')) {
        out.objects.set(o.key.slice(prefix.length), o.size);
        continue;
      }
      const raw = await this.records.get(o, () => getJson(this.store, o.key)).catch((err: unknown) => {
        if (err instanceof NotFoundError || err instanceof SyntaxError) return undefined;
        throw err;
      });
      if (o.key.includes('/gaps/')) {
        const g = GapSchema.safeParse(raw);
        if (g.success) out.gaps.push(g.data);
      } else {
        const s = SidecarSchema.safeParse(raw);
        if (s.success) out.sidecars.push(s.data);
      }
    }
    return out;
  }

  /** A source's binlog segments for reading; keys are `segmentKey(sidecar)`. */
  binlogObjects(source: string): ObjectReader {
    return new ScopedStore(this.store, binlogKeys.prefix(source));
  }

  // ---- records: append-only, allowed to every role -------------------

  /** Append one audit event (a new object every time, never rewritten). */
  async appendAudit(event: AuditInput): Promise<void> {
    const at = event.at ?? new Date();
    const full = AuditEventSchema.parse({ ...event, at: at.toISOString(), host: os.hostname(), pid: process.pid });
    await putJson(this.store, keys.audit(at, event.action, { backupId: full.backupId, outcome: full.outcome }), full);
  }

  /** Audit events at or after `since`, oldest first. */
  async listAudit(since?: Date): Promise<AuditEvent[]> {
    const objs = await this.store.list(keys.auditPrefix());
    const out: AuditEvent[] = [];
    for (const o of objs) {
      if (since && o.lastModified < since && !auditKeyOnOrAfter(o.key, since)) continue;
      const parsed = AuditEventSchema.safeParse(await getJson(this.store, o.key));
      if (parsed.success && (!since || new Date(parsed.data.at) >= since)) out.push(parsed.data);
    }
    return out.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  /** Store a drill report; returns its key. */
  async writeDrillReport(r: DrillReport): Promise<string> {
    const key = keys.drill(r.source, new Date(r.finishedAt), r.backupId);
    await putJson(this.store, key, DrillReportSchema.parse(r));
    return key;
  }

  /** Every drill report of a source, oldest first. */
  async listDrillReports(source: string): Promise<DrillReport[]> {
    const out: DrillReport[] = [];
    for (const o of await this.store.list(keys.drillsPrefix(source))) {
      if (!o.key.endsWith('.json')) continue;
      const parsed = DrillReportSchema.safeParse(await this.records.get(o, () => getJson(this.store, o.key)).catch(() => undefined));
      if (parsed.success) out.push(parsed.data);
    }
    return out.sort((a, b) => (a.finishedAt < b.finishedAt ? -1 : 1));
  }

  // ---- leadership ----------------------------------------------------

  /** The newest leader record of a source (undefined when none was written or it is unreadable). */
  async currentLeader(source: string): Promise<LeaderRecord | undefined> {
    const newest = (await this.store.list(keys.leaderPrefix(source))).filter((o) => o.key.endsWith('.json')).sort((a, b) => (a.key < b.key ? -1 : 1)).pop();
    if (!newest) return undefined;
    const r = (await getJson(this.store, newest.key).catch(() => undefined)) as Partial<LeaderRecord> | undefined;
    // Only an http(s) URL is a daemon's address; anything else is not followed.
    return r && typeof r.identity === 'string' && typeof r.url === 'string' && /^https?:\/\/[^\s/]+$/.test(r.url) && typeof r.since === 'string' ? { identity: r.identity, url: r.url, since: r.since } : undefined;
  }

  // ---- housekeeping --------------------------------------------------

  /** Bytes stored per kind for a source (metrics). */
  async usage(source: string): Promise<Record<'backups' | 'binlogs' | 'drills', number>> {
    const sum = async (prefix: string) => (await this.store.list(prefix)).reduce((a, x) => a + x.size, 0);
    return { backups: await sum(keys.backupsPrefix(source)), binlogs: await sum(binlogKeys.prefix(source)), drills: await sum(keys.drillsPrefix(source)) };
  }

  /** Delete an object unless Object Lock still holds it (false then). */
  protected async deleteIfUnlocked(key: string): Promise<boolean> {
    try {
      await this.store.delete(key);
      return true;
    } catch (err) {
      if (err instanceof ObjectLockedError) return false;
      throw err;
    }
  }

  /**
   * Prove the repository takes writes (`backtrack check`): a probe object is
   * written, read back and deleted. The one write outside the records.
   */
  async probeWritable(): Promise<void> {
    // Earlier probes a lock kept (the lock is short) go first; a probe of a check running now elsewhere is left alone.
    for (const o of await this.store.list('check-probes/')) if (Date.now() - o.lastModified.getTime() > 10 * 60_000) await this.deleteIfUnlocked(o.key);
    const key = `check-probes/${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const body = Buffer.from('backtrack write probe');
    await this.store.put(key, body, { shortLock: true });
    try {
      const back = await getBytes(this.store, key);
      if (!back.equals(body)) throw new StorageError(`${this.location}: the probe object read back differs from what was written`);
    } finally {
      // Under Object Lock the probe stays until its short lock runs out (a later check removes it).
      await this.store.delete(key).catch((err: unknown) => {
        if (!(err instanceof ObjectLockedError)) throw err;
      });
    }
  }
}

/** The write role: backups, binlog segments and deletions. */
export class WritableRepository extends Repository {
  override readonly role: RepositoryRole = 'write';

  /** Check, or create, the format marker. */
  override async init(): Promise<void> {
    if (await this.store.head(FORMAT_KEY)) return super.init();
    await putJson(this.store, FORMAT_KEY, { format: REPOSITORY_FORMAT, createdAt: new Date().toISOString(), createdBy: 'backtrack' });
  }

  // ---- backups -------------------------------------------------------

  /** Where a backup's engine objects go, by name. */
  backupWriter(source: string, id: string): ObjectWriter {
    return new ScopedStore(this.store, keys.backupPrefix(source, id));
  }

  /** Commit a backup: the manifest is the last object written. */
  async commitManifest(manifest: Manifest): Promise<void> {
    await putJson(this.store, keys.manifest(manifest.source, manifest.id), ManifestSchema.parse(manifest));
  }

  /**
   * Delete a backup on purpose (retention, prune --orphans). A `deleting.json`
   * marker goes first, then the manifest (it stops being a backup), the
   * objects, and the marker last: a deletion cut off half way leaves a folder
   * the marker names as being deleted (a leftover, finished by the next
   * cleanup), never an orphan or a backup with objects missing.
   */
  async deleteBackup(source: string, id: string, why: string): Promise<string[]> {
    const prefix = keys.backupPrefix(source, id);
    await this.refuseLocked(prefix, `backup ${id}`);
    await putJson(this.store, keys.backupObject(source, id, DELETING_NAME), { deletingSince: new Date().toISOString(), why }, { shortLock: true });
    await this.store.delete(keys.manifest(source, id));
    const objs = (await this.store.list(prefix)).filter((o) => !o.key.endsWith(`/${DELETING_NAME}`));
    for (const o of objs) await this.store.delete(o.key);
    // Under Object Lock the marker's own short lock may keep it a while: the folder is then a leftover the next cleanup finishes.
    await this.deleteIfUnlocked(keys.backupObject(source, id, DELETING_NAME));
    return objs.map((o) => o.key);
  }

  /** Delete the objects a failed backup run wrote (it never committed); locked ones stay for a later cleanup. */
  async discardBackup(source: string, id: string): Promise<string[]> {
    return this.deleteUnlocked(keys.backupPrefix(source, id));
  }

  /**
   * Remove what failed backups left: objects without a manifest and
   * incomplete uploads. Only call while holding the source's lock, so no
   * running backup's objects are taken for leftovers. `keepId` is spared.
   */
  async removeLeftovers(source: string, keepId?: string): Promise<string[]> {
    const removed: string[] = [];
    const { leftovers } = await this.listBackups(source);
    for (const l of leftovers) {
      if (l.id === keepId) continue;
      // Under Object Lock a leftover goes once its lock has run out: until then it stays a leftover.
      removed.push(...(await this.deleteUnlocked(keys.backupPrefix(source, l.id))));
    }
    for (const w of await this.store.listIncomplete(keys.backupsPrefix(source), new Date())) {
      if (keepId && w.key.startsWith(keys.backupPrefix(source, keepId))) continue;
      await this.store.removeIncomplete(w);
      removed.push(`${w.key} (incomplete upload)`);
    }
    return removed;
  }

  // ---- leadership ----------------------------------------------------

  /** Record that this daemon now leads the source (a new key: never a rewrite), and remove older records. */
  async recordLeader(source: string, r: LeaderRecord): Promise<void> {
    const key = keys.leader(source, new Date(r.since));
    await putJson(this.store, key, r, { shortLock: true });
    for (const o of await this.store.list(keys.leaderPrefix(source))) if (o.key < key) await this.deleteIfUnlocked(o.key);
  }

  // ---- binlogs -------------------------------------------------------

  /** Where a source's binlog segments go; keys are `segmentKey(...)`. */
  binlogWriter(source: string): ObjectWriter {
    return new ScopedStore(this.store, binlogKeys.prefix(source));
  }

  /** Store a segment's sidecar (after its object: a sidecar always has its object). */
  async putSidecar(s: Sidecar): Promise<void> {
    // A piece is short-lived, like its object: a short lock.
    await putJson(this.store, binlogKeys.sidecar(s), SidecarSchema.parse(s), s.kind === 'piece' ? { shortLock: true } : {});
  }

  /**
   * Delete one segment that something else now covers: its sidecar first (so
   * no reader takes the object for usable), then its object. Under Object
   * Lock a segment still locked stays (false): what covers it is read
   * instead, and the file's deletion by prune takes it later.
   */
  async deleteSegment(s: Sidecar): Promise<boolean> {
    try {
      await this.store.delete(binlogKeys.sidecar(s));
      await this.store.delete(binlogKeys.segmentObject(s));
      return true;
    } catch (err) {
      if (err instanceof ObjectLockedError) return false;
      throw err;
    }
  }

  /** Keep a segment (object and sidecar) locked for the full minRetainDays from now (a piece that stays unfolded). */
  async lockSegmentFully(s: Sidecar): Promise<void> {
    const l = this.store.locks;
    if (!l) return;
    const until = new Date(Date.now() + l.minRetainDays * DAY_MS);
    await l.extend(binlogKeys.segmentObject(s), until);
    await l.extend(binlogKeys.sidecar(s), until);
  }

  /**
   * Delete the pieces of one binlog file (its whole file is stored):
   * sidecars first, then the objects, including objects whose sidecar was
   * never written (an archiver killed in between).
   */
  async deletePieces(source: string, timeline: string, file: string): Promise<string[]> {
    const objs = await this.store.list(binlogKeys.piecesPrefix(source, timeline, file));
    const ordered = [...objs.filter((o) => o.key.endsWith('.json')), ...objs.filter((o) => !o.key.endsWith('.json'))];
    const deleted: string[] = [];
    for (const o of ordered) {
      // Under Object Lock, pieces still locked stay beside the whole file (which readers prefer) until prune deletes the file.
      if (await this.deleteIfUnlocked(o.key)) deleted.push(o.key);
    }
    return deleted;
  }

  /** Delete a data object that has no sidecar (an archiver killed between the two writes); a locked one stays. */
  async deleteStraySegmentObject(source: string, key: string): Promise<void> {
    await this.deleteIfUnlocked(`${binlogKeys.prefix(source)}${key}`);
  }

  /** Record a gap (append-only, like everything). */
  async recordGap(g: GapRecord): Promise<void> {
    await putJson(this.store, binlogKeys.gap(g.source, g.timeline, new Date(g.detectedAt), g.after?.file ?? 'start'), GapSchema.parse(g));
  }

  /** Delete everything stored for one binlog file: the whole file, its sidecar, its pieces (ObjectLockedError, deleting nothing, while one is locked). */
  async deleteBinlogFile(source: string, timeline: string, file: string): Promise<string[]> {
    const prefix = binlogKeys.fileObjectsPrefix(source, timeline, file);
    await this.refuseLocked(prefix, `binlog file ${timeline}/${file}`);
    return this.deletePrefix(prefix);
  }

  /** Delete a whole timeline with its gap records (ObjectLockedError, deleting nothing, while one is locked). */
  async deleteTimeline(source: string, timeline: string): Promise<string[]> {
    const prefix = binlogKeys.timelinePrefix(source, timeline);
    await this.refuseLocked(prefix, `timeline ${timeline}`);
    return this.deletePrefix(prefix);
  }

  /**
   * Extend the Object Lock of every object under `prefixes` but those in
   * `except` to minRetainDays from now, where less than minRetainDays less a
   * day (less half, when minRetainDays is 1) is left: a daily pass extends
   * each object about every other day. A repository without Object Lock
   * does nothing.
   */
  async extendLocks(prefixes: string[], except: (key: string) => boolean): Promise<LockPass | undefined> {
    const l = this.store.locks;
    if (!l) return undefined;
    const now = Date.now();
    const until = new Date(now + l.minRetainDays * DAY_MS);
    // Extend what has less than minRetainDays less a day (half of it, for short locks) left.
    const slack = Math.min(DAY_MS, (l.minRetainDays * DAY_MS) / 2);
    const pass: LockPass = { checked: 0, extended: 0, until: until.toISOString() };
    for (const prefix of prefixes) {
      for (const o of await this.store.list(prefix)) {
        if (except(o.key)) continue;
        pass.checked++;
        if ((await l.extend(o.key, until, new Date(until.getTime() - slack))) === 'extended') pass.extended++;
      }
    }
    return pass;
  }

  /** Delete every object under a prefix; returns the deleted keys. */
  private async deletePrefix(prefix: string): Promise<string[]> {
    const objs = await this.store.list(prefix);
    for (const o of objs) await this.store.delete(o.key);
    return objs.map((o) => o.key);
  }

  /** Delete what under a prefix is not locked; returns the deleted keys. */
  private async deleteUnlocked(prefix: string): Promise<string[]> {
    const deleted: string[] = [];
    for (const o of await this.store.list(prefix)) if (await this.deleteIfUnlocked(o.key)) deleted.push(o.key);
    return deleted;
  }

  /** Under Object Lock: ObjectLockedError naming the latest date while any object under the prefix is locked. */
  private async refuseLocked(prefix: string, what: string): Promise<void> {
    const l = this.store.locks;
    if (!l) return;
    const now = Date.now();
    let latest: Date | undefined;
    for (const o of await this.store.list(prefix)) {
      const until = await l.retainUntil(o.key);
      if (until && until.getTime() > now && (!latest || until > latest)) latest = until;
    }
    if (latest) throw new ObjectLockedError(`${what} is locked until ${latest.toISOString()} (S3 Object Lock, ${l.mode}); it is deleted by the first prune after that`, { key: prefix, retainUntil: latest.toISOString() });
  }
}

/** A segment's key relative to the source's binlog area (binlogObjects/binlogWriter). */
export function segmentKey(s: { source: string; timeline: string; file: string; kind: 'file' | 'piece'; object: { name: string } }): string {
  return binlogKeys.segmentObject(s).slice(binlogKeys.prefix(s.source).length);
}

function auditKeyOnOrAfter(key: string, since: Date): boolean {
  const day = since.toISOString().slice(0, 10).replace(/-/g, '/');
  return key.slice('audit/'.length, 'audit/'.length + 10) >= day;
}
