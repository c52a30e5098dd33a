/**
 * A view of a store under one prefix: keys given to it are relative to the
 * prefix, and it cannot name anything outside it (keys are validated, so
 * '..' cannot climb out). The repository hands these out, typed as an
 * ObjectReader or an ObjectWriter, so a flow that loads one backup can read
 * that backup's objects and nothing else.
 */
import type { Readable } from 'node:stream';
import { validateKey, type GetOptions, type ObjectInfo, type ObjectReader, type ObjectStore, type ObjectWriter, type PutOptions } from './store.js';

export class ScopedStore implements ObjectReader, ObjectWriter {
  readonly location: string;

  constructor(private readonly inner: ObjectStore, private readonly prefix: string) {
    if (prefix && !prefix.endsWith('/')) throw new Error(`internal error: scope prefix "${prefix}" must end with '/'`);
    this.location = `${inner.location}/${prefix.replace(/\/$/, '')}`;
  }

  /** The full key of a relative one. */
  full(key: string): string {
    return `${this.prefix}${validateKey(key)}`;
  }

  put(key: string, body: Readable | Buffer, opts?: PutOptions): Promise<{ size: number }> {
    return this.inner.put(this.full(key), body, opts);
  }

  get(key: string, opts?: GetOptions): Promise<Readable> {
    return this.inner.get(this.full(key), opts);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const info = await this.inner.head(this.full(key));
    return info && { ...info, key };
  }
}
