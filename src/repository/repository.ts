/**
 * The repository: the layout on top of an ObjectStore. Handed out by role,
 * like pgBackRest's storageRepo()/storageRepoWrite(): a read-only repository
 * (list, restore, verify's reads) throws on any write, so a command that
 * should not change the repository cannot.
 */
import { BacktrackError, NotFoundError, StorageError } from '../errors.js';
import type { ObjectStore } from '../storage/store.js';
import { getJson, putJson } from '../storage/util.js';
import { BACKUP_ID, FORMAT_KEY, MANIFEST_NAME, REPOSITORY_FORMAT, keys } from './layout.js';
import { ManifestSchema, type Manifest } from './manifest.js';

export type RepositoryRole = 'read' | 'write';

/** A committed backup as listed. */
export interface BackupEntry {
  id: string;
  manifest: Manifest;
}

/** Objects of a backup that never got its manifest (a crash or a failure). */
export interface Leftover {
  id: string;
  keys: string[];
  newest: Date;
}

export class Repository {
  constructor(readonly store: ObjectStore, readonly role: RepositoryRole) {}

  get location(): string {
    return this.store.location;
  }

  /** Throw unless this handle may write. */
  assertWritable(what: string): void {
    if (this.role !== 'write') throw new BacktrackError(`internal error: ${what} through a read-only repository handle`);
  }

  /** Check (read) or create (write) the format marker. */
  async init(): Promise<void> {
    const head = await this.store.head(FORMAT_KEY);
    if (head) {
      const marker = (await getJson(this.store, FORMAT_KEY)) as { format?: number };
      if (marker.format !== REPOSITORY_FORMAT) {
        throw new StorageError(`${this.location} has repository format ${String(marker.format)}, this Backtrack reads format ${REPOSITORY_FORMAT}; use a matching Backtrack version`);
      }
      return;
    }
    if (this.role === 'write') {
      await putJson(this.store, FORMAT_KEY, { format: REPOSITORY_FORMAT, createdAt: new Date().toISOString(), createdBy: 'backtrack' });
    }
  }

  /** Committed backups of a source (oldest first), and leftovers of failed ones. */
  async listBackups(source: string): Promise<{ backups: BackupEntry[]; leftovers: Leftover[] }> {
    const objects = await this.store.list(keys.backupsPrefix(source));
    const byId = new Map<string, typeof objects>();
    for (const o of objects) {
      const id = o.key.slice(keys.backupsPrefix(source).length).split('/')[0] ?? '';
      if (!BACKUP_ID.test(id)) continue;
      byId.set(id, [...(byId.get(id) ?? []), o]);
    }
    const backups: BackupEntry[] = [];
    const leftovers: Leftover[] = [];
    for (const [id, objs] of [...byId.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (objs.some((o) => o.key.endsWith(`/${MANIFEST_NAME}`))) {
        backups.push({ id, manifest: await this.readManifest(source, id) });
      } else {
        leftovers.push({ id, keys: objs.map((o) => o.key), newest: new Date(Math.max(...objs.map((o) => o.lastModified.getTime()))) });
      }
    }
    return { backups, leftovers };
  }

  /** Read and validate one manifest. */
  async readManifest(source: string, id: string): Promise<Manifest> {
    if (!BACKUP_ID.test(id)) throw new NotFoundError(`"${id}" is not a backup id (they look like 20261125T030000Z-ab12); see backtrack list`);
    const key = keys.manifest(source, id);
    let raw: unknown;
    try {
      raw = await getJson(this.store, key);
    } catch (err) {
      if (err instanceof NotFoundError) {
        throw new NotFoundError(`backup ${id} of source ${source} does not exist in ${this.location} (no committed manifest); see backtrack list`, { backupId: id });
      }
      if (err instanceof SyntaxError) throw new StorageError(`manifest ${key} is not valid JSON: ${err.message}; the backup cannot be used`, err);
      throw err;
    }
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success) {
      throw new StorageError(`manifest ${key} is damaged (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}); the backup cannot be used`);
    }
    return parsed.data;
  }

  /** Commit a backup: the manifest is the last object written. */
  async commitManifest(manifest: Manifest): Promise<void> {
    this.assertWritable('commitManifest');
    await putJson(this.store, keys.manifest(manifest.source, manifest.id), ManifestSchema.parse(manifest));
  }

  /** Delete a backup: the manifest first (it stops being a backup), then its objects. */
  async deleteBackup(source: string, id: string): Promise<string[]> {
    this.assertWritable('deleteBackup');
    await this.store.delete(keys.manifest(source, id));
    return this.deletePrefix(keys.backupPrefix(source, id));
  }

  /** Delete every object under a prefix; returns the deleted keys. */
  async deletePrefix(prefix: string): Promise<string[]> {
    this.assertWritable('deletePrefix');
    const objs = await this.store.list(prefix);
    for (const o of objs) await this.store.delete(o.key);
    return objs.map((o) => o.key);
  }

  /**
   * Remove what failed backups left: objects without a manifest and
   * incomplete uploads. Only call while holding the source's lock, so no
   * running backup's objects are taken for leftovers. `keepId` is spared.
   */
  async removeLeftovers(source: string, keepId?: string): Promise<string[]> {
    this.assertWritable('removeLeftovers');
    const removed: string[] = [];
    const { leftovers } = await this.listBackups(source);
    for (const l of leftovers) {
      if (l.id === keepId) continue;
      removed.push(...(await this.deletePrefix(keys.backupPrefix(source, l.id))));
    }
    for (const w of await this.store.listIncomplete(keys.backupsPrefix(source), new Date())) {
      if (keepId && w.key.startsWith(keys.backupPrefix(source, keepId))) continue;
      await this.store.removeIncomplete(w);
      removed.push(`${w.key} (incomplete upload)`);
    }
    return removed;
  }
}
