/**
 * Small helpers on top of any ObjectStore: whole-object reads and writes for
 * the small JSON documents of the repository (manifests, sidecars, reports).
 * Large objects always go through streams, never through these.
 */
import type { Readable } from 'node:stream';
import type { ObjectStore, PutOptions } from './store.js';

/** Largest object `getBytes` will hold in memory. */
export const MAX_SMALL_OBJECT = 64 * 1024 * 1024;

/** Read a whole (small) object into memory. */
export async function getBytes(store: ObjectStore, key: string, signal?: AbortSignal): Promise<Buffer> {
  const stream = await store.get(key, signal ? { signal } : {});
  return readAll(stream, key);
}

/** Collect a stream into one Buffer, refusing anything larger than MAX_SMALL_OBJECT. */
export async function readAll(stream: Readable, what = 'stream'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += buf.length;
    if (total > MAX_SMALL_OBJECT) {
      stream.destroy();
      throw new Error(`${what} is larger than ${MAX_SMALL_OBJECT} bytes; it must be streamed, not read whole`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

/** Read and JSON-parse an object. */
export async function getJson(store: ObjectStore, key: string): Promise<unknown> {
  return JSON.parse((await getBytes(store, key)).toString('utf8')) as unknown;
}

/** Write a value as pretty JSON (atomic, like every put). */
export async function putJson(store: ObjectStore, key: string, value: unknown, opts: PutOptions = {}): Promise<void> {
  await store.put(key, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), opts);
}
