/**
 * The one storage suite: every ObjectStore backend runs these tests and must
 * pass them to land. A backend's own test file only supplies a factory.
 */
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectStore } from '../../../src/storage/store.js';
import { getBytes, readAll } from '../../../src/storage/util.js';
import { InterruptedError, NotFoundError, UsageError } from '../../../src/errors.js';

export interface StoreUnderTest {
  store: ObjectStore;
  /** Leave a crash leftover (a write that never completed) under key; undefined when the backend cannot list them. */
  leaveIncomplete?: (key: string) => Promise<void>;
  cleanup(): Promise<void>;
}

/** A stream of `total` pseudo-random bytes in chunks, with its sha256. */
function bigBody(total: number): { stream: Readable; sha: string } {
  const data = randomBytes(total);
  const chunks: Buffer[] = [];
  for (let off = 0; off < total; off += 256 * 1024) chunks.push(data.subarray(off, off + 256 * 1024));
  return { stream: Readable.from(chunks), sha: createHash('sha256').update(data).digest('hex') };
}

/** A body that yields some bytes, then fails like a dying producer. */
function failingBody(after: number): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(randomBytes(after));
      } else this.destroy(new Error('producer died'));
    },
  });
}

export function storageSuite(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let t: StoreUnderTest;
    beforeEach(async () => {
      t = await factory();
    });
    afterEach(async () => {
      await t.cleanup();
    });

    it('stores a buffer and reads the same bytes back', async () => {
      const res = await t.store.put('a/b/small.json', Buffer.from('{"x":1}'));
      expect(res.size).toBe(7);
      expect((await getBytes(t.store, 'a/b/small.json')).toString()).toBe('{"x":1}');
    });

    it('streams an object larger than a multipart part and keeps every byte', async () => {
      const body = bigBody(12 * 1024 * 1024 + 123);
      let progress = 0;
      const res = await t.store.put('big/object.bin', body.stream, { onProgress: (n) => (progress = n) });
      expect(res.size).toBe(12 * 1024 * 1024 + 123);
      expect(progress).toBe(res.size);
      const hash = createHash('sha256');
      for await (const chunk of await t.store.get('big/object.bin')) hash.update(chunk as Buffer);
      expect(hash.digest('hex')).toBe(body.sha);
      expect((await t.store.head('big/object.bin'))?.size).toBe(res.size);
    });

    it('overwrites an existing key with the whole new object', async () => {
      await t.store.put('k/over', Buffer.from('first version'));
      await t.store.put('k/over', Buffer.from('second'));
      expect((await getBytes(t.store, 'k/over')).toString()).toBe('second');
    });

    it('rejects get of a missing key with NotFoundError before any stream exists', async () => {
      await expect(t.store.get('no/such/key')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('answers head of a missing key with undefined and of a present key with its size', async () => {
      expect(await t.store.head('no/such/key')).toBeUndefined();
      await t.store.put('h/one', Buffer.alloc(1000, 1));
      const info = await t.store.head('h/one');
      expect(info?.size).toBe(1000);
      expect(info?.lastModified).toBeInstanceOf(Date);
    });

    it('lists by plain string prefix, sorted by key', async () => {
      for (const k of ['p/b/2', 'p/a/1', 'p/ab', 'q/x', 'p/a/0']) await t.store.put(k, Buffer.from(k));
      expect((await t.store.list('p/a')).map((o) => o.key)).toEqual(['p/a/0', 'p/a/1', 'p/ab']);
      expect((await t.store.list('p/')).map((o) => o.key)).toEqual(['p/a/0', 'p/a/1', 'p/ab', 'p/b/2']);
      expect(await t.store.list('nothing/')).toEqual([]);
    });

    it('deletes idempotently', async () => {
      await t.store.put('d/x', Buffer.from('x'));
      await t.store.delete('d/x');
      await t.store.delete('d/x');
      expect(await t.store.head('d/x')).toBeUndefined();
      expect(await t.store.list('d/')).toEqual([]);
    });

    it('leaves nothing visible when the body stream fails part way', async () => {
      await expect(t.store.put('f/broken', failingBody(6 * 1024 * 1024))).rejects.toThrow(/producer died|cannot write/);
      expect(await t.store.head('f/broken')).toBeUndefined();
      expect(await t.store.list('f/')).toEqual([]);
    });

    it('keeps the previous object intact when an overwrite fails', async () => {
      await t.store.put('f/keep', Buffer.from('good'));
      await expect(t.store.put('f/keep', failingBody(1024))).rejects.toThrow();
      expect((await getBytes(t.store, 'f/keep')).toString()).toBe('good');
    });

    it('rejects an aborted put with InterruptedError and stores nothing', async () => {
      const ac = new AbortController();
      const slow = new Readable({
        read() {
          setTimeout(() => this.push(Buffer.alloc(64 * 1024)), 5);
        },
      });
      setTimeout(() => ac.abort(), 100);
      await expect(t.store.put('f/aborted', slow, { signal: ac.signal })).rejects.toBeInstanceOf(InterruptedError);
      expect(await t.store.head('f/aborted')).toBeUndefined();
    });

    it('reads from a byte offset', async () => {
      await t.store.put('r/off', Buffer.from('0123456789'));
      expect((await readAll(await t.store.get('r/off', { start: 4 }))).toString()).toBe('456789');
    });

    it('refuses keys and listing prefixes that could escape the repository, for every operation', async () => {
      for (const bad of ['/abs', 'a/../b', 'a//b', '', 'a/./b', 'a/.tmp-x', '../etc/passwd', '..']) {
        await expect(t.store.put(bad, Buffer.from('x'))).rejects.toBeInstanceOf(UsageError);
        await expect(t.store.get(bad)).rejects.toBeInstanceOf(UsageError);
        await expect(t.store.head(bad)).rejects.toBeInstanceOf(UsageError);
        await expect(t.store.delete(bad)).rejects.toBeInstanceOf(UsageError);
      }
      for (const bad of ['../', '..', '../../etc/backups/', 'main/../../', '/etc/', 'a//b/']) {
        await expect(t.store.list(bad)).rejects.toBeInstanceOf(UsageError);
        await expect(t.store.listIncomplete(bad, new Date())).rejects.toBeInstanceOf(UsageError);
      }
      // A prefix may still end part way through a segment.
      await t.store.put('p/q/object-1', Buffer.from('x'));
      expect((await t.store.list('p/q/obj')).map((o) => o.key)).toEqual(['p/q/object-1']);
      expect((await t.store.list('')).map((o) => o.key)).toContain('p/q/object-1');
    });

    it('reports crash leftovers as incomplete writes, never as objects, and removes them', async (ctx) => {
      if (!t.leaveIncomplete) ctx.skip();
      await t.leaveIncomplete?.('i/half-written.bin');
      expect(await t.store.list('i/')).toEqual([]);
      const found = await t.store.listIncomplete('i/', new Date(Date.now() + 60_000));
      expect(found.map((w) => w.key)).toEqual(['i/half-written.bin']);
      expect(await t.store.listIncomplete('i/', new Date(0))).toEqual([]);
      await t.store.removeIncomplete(found[0]!);
      expect(await t.store.listIncomplete('i/', new Date(Date.now() + 60_000))).toEqual([]);
    });
  });
}
