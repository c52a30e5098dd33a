/**
 * The local-directory ObjectStore (the embedded default, `file:///path`).
 * Atomicity comes from write-to-temp + fsync + rename + fsync of the
 * directory: a reader sees the old object or the whole new one, and a crash
 * leaves at most a `.tmp-*` file that `list` ignores and `listIncomplete`
 * reports.
 */
import { createWriteStream, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InterruptedError, NotFoundError, StorageError } from '../errors.js';
import { validateKey, validatePrefix, type GetOptions, type IncompleteWrite, type ObjectInfo, type ObjectStore, type PutOptions } from './store.js';

const TMP = '.tmp-';

export class FsStore implements ObjectStore {
  readonly location: string;

  constructor(private readonly root: string) {
    this.location = `file://${root}`;
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...validateKey(key).split('/'));
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    const final = this.pathOf(key);
    const dir = path.dirname(final);
    const tmp = path.join(dir, `${TMP}${path.basename(final)}-${process.pid}-${randomBytes(4).toString('hex')}`);
    let size = 0;
    try {
      await mkdir(dir, { recursive: true });
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          size += chunk.length;
          opts.onProgress?.(size);
          cb(null, chunk);
        },
      });
      const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
      await pipeline(source, counter, createWriteStream(tmp, { flags: 'wx', mode: 0o640 }), opts.signal ? { signal: opts.signal } : {});
      await fsyncPath(tmp);
      await rename(tmp, final);
      await fsyncPath(dir);
      return { size };
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if (opts.signal?.aborted) throw new InterruptedError(`writing ${key} was interrupted; nothing was stored`, err);
      throw new StorageError(`cannot write ${key} to ${this.location}: ${(err as Error).message}${hintFor(err)}`, err, { key });
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      const fh = await open(file, 'r');
      return fh.createReadStream({ start: opts.start ?? 0, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (isMissing(err)) throw new NotFoundError(`object ${key} does not exist in ${this.location}`, { key });
      throw new StorageError(`cannot read ${key} from ${this.location}: ${(err as Error).message}`, err, { key });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const file = this.pathOf(key);
    try {
      const st = await stat(file);
      return st.isFile() ? { key, size: st.size, lastModified: st.mtime } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw new StorageError(`cannot stat ${key} in ${this.location}: ${(err as Error).message}`, err, { key });
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    await this.walk(prefix, (key, st, name) => {
      if (!name.startsWith(TMP)) out.push({ key, size: st.size, lastModified: st.mtime });
    });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    try {
      await unlink(file);
    } catch (err) {
      if (!isMissing(err)) throw new StorageError(`cannot delete ${key} from ${this.location}: ${(err as Error).message}`, err, { key });
      return;
    }
    await this.pruneEmptyDirs(path.dirname(file));
  }

  async listIncomplete(prefix: string, olderThan: Date): Promise<IncompleteWrite[]> {
    const out: IncompleteWrite[] = [];
    await this.walk(prefix, (key, st, name, matchKey) => {
      if (name.startsWith(TMP) && st.mtime < olderThan) out.push({ key: matchKey, handle: path.join(this.root, ...key.split('/')), started: st.mtime });
    }, true);
    return out;
  }

  async removeIncomplete(write: IncompleteWrite): Promise<void> {
    if (!path.basename(write.handle).startsWith(TMP) || !write.handle.startsWith(this.root)) {
      throw new StorageError(`refusing to remove ${write.handle}: not a temp file of ${this.location}`);
    }
    await unlink(write.handle).catch((err: unknown) => {
      if (!isMissing(err)) throw err;
    });
  }

  /** Visit every file whose key starts with prefix; `raw` keys may hold temp names. */
  private async walk(prefix: string, visit: (key: string, st: Stats, name: string, matchKey: string) => void, raw = false): Promise<void> {
    validatePrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = baseKey ? path.join(this.root, ...baseKey.split('/')) : this.root;
    const recurse = async (dir: string, keyDir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw new StorageError(`cannot list ${this.location}/${keyDir}: ${(err as Error).message}`, err);
      }
      for (const e of entries) {
        const key = keyDir ? `${keyDir}/${e.name}` : e.name;
        // A temp file is matched by the key it would have become.
        const matchKey = raw && e.name.startsWith(TMP) ? `${keyDir ? `${keyDir}/` : ''}${originalName(e.name)}` : key;
        if (!matchKey.startsWith(prefix) && !(e.isDirectory() && prefix.startsWith(`${key}/`))) continue;
        const full = path.join(dir, e.name);
        if (e.isDirectory()) await recurse(full, key);
        else if (e.isFile()) {
          const st = await stat(full).catch(() => undefined);
          if (st) visit(key, st, e.name, matchKey);
        }
      }
    };
    await recurse(start, baseKey);
  }

  private async pruneEmptyDirs(dir: string): Promise<void> {
    let cur = dir;
    while (cur.startsWith(this.root) && cur !== this.root) {
      try {
        await rmdir(cur);
      } catch {
        return; // not empty (or already gone): stop climbing
      }
      cur = path.dirname(cur);
    }
  }
}

/** `.tmp-<name>-<pid>-<hex>` back to `<name>`. */
function originalName(tmpName: string): string {
  return tmpName.slice(TMP.length).split('-').slice(0, -2).join('-');
}

async function fsyncPath(p: string): Promise<void> {
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

function hintFor(err: unknown): string {
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ENOSPC':
      return '; the repository disk is full: free space or move the repository';
    case 'EACCES':
    case 'EPERM':
      return '; Backtrack cannot write there: fix the directory permissions';
    case 'EROFS':
      return '; the repository file system is read-only';
    default:
      return '';
  }
}
