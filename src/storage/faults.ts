/**
 * Faults on purpose: an ObjectStore wrapper that makes a share of calls
 * fail the way a real store and network fail, for the fault suite
 * (test/integration/faults). Each call rolls a number from a seeded
 * generator; below `rate` it gets one of the faults its kind of call can
 * have:
 *
 *   error   the call fails before reaching the store (connection refused)
 *   lost    put/delete: the store did it, but the answer is lost (reset)
 *   slow    the call waits a little first (a slow response)
 *   reset   get: the stream breaks part way (connection reset mid-read)
 *   short   put of a stream: part of the body is sent, then the connection
 *           drops; nothing is stored
 *
 * Every fault is a transient error (code ECONNRESET), as the real ones are.
 * The same seed makes the same decisions for the same sequence of calls,
 * so a failing run can be replayed (`faults` lists what was injected).
 */
import { PassThrough, type Readable } from 'node:stream';
import type { GetOptions, IncompleteWrite, ObjectInfo, ObjectStore, PutOptions } from './store.js';

export type FaultKind = 'error' | 'lost' | 'slow' | 'reset' | 'short';

export interface FaultOptions {
  /** Share of calls that get a fault, 0..1. */
  rate: number;
  seed: number;
  /** Which faults may be injected (default: all). */
  kinds?: FaultKind[];
  /** Longest delay of a slow call, ms (default 200). */
  slowMs?: number;
}

/** One injected fault, for the report of a run. */
export interface InjectedFault {
  op: string;
  key: string;
  kind: FaultKind;
}

/** mulberry32: a small, well-known seeded generator. */
function generator(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function transient(what: string): Error {
  return Object.assign(new Error(`injected fault: ${what}`), { code: 'ECONNRESET' });
}

export class FaultyStore implements ObjectStore {
  readonly location: string;
  /** Lock operations go through unharmed: the faults are in the data path. */
  get locks() {
    return this.inner.locks;
  }
  /** Every fault injected so far, in order. */
  readonly faults: InjectedFault[] = [];
  private readonly random: () => number;

  constructor(private readonly inner: ObjectStore, private readonly o: FaultOptions) {
    this.location = inner.location;
    this.random = generator(o.seed);
  }

  /** The fault for this call, if any (only kinds that make sense for the call). */
  private roll(op: string, key: string, possible: FaultKind[]): FaultKind | undefined {
    const r = this.random();
    const allowed = possible.filter((k) => !this.o.kinds || this.o.kinds.includes(k));
    if (r >= this.o.rate || allowed.length === 0) return undefined;
    const kind = allowed[Math.floor((r / this.o.rate) * allowed.length)] as FaultKind;
    this.faults.push({ op, key, kind });
    return kind;
  }

  private async slow(): Promise<void> {
    await new Promise((r) => setTimeout(r, 10 + this.random() * (this.o.slowMs ?? 200)));
  }

  async put(key: string, body: Readable | Buffer, opts: PutOptions = {}): Promise<{ size: number }> {
    const kinds: FaultKind[] = Buffer.isBuffer(body) ? ['error', 'lost', 'slow'] : ['error', 'lost', 'slow', 'short'];
    const f = this.roll('put', key, kinds);
    if (f === 'slow') await this.slow();
    if (f === 'error') {
      // As a real store does on a failed upload: stop reading the body (the caller's put rejects).
      if (!Buffer.isBuffer(body)) body.destroy();
      throw transient(`put ${key} refused`);
    }
    if (f === 'short' && !Buffer.isBuffer(body)) return this.shortPut(key, body);
    const res = await this.inner.put(key, body, opts);
    if (f === 'lost') throw transient(`put ${key}: the answer was lost (the object is stored)`);
    return res;
  }

  /** Send part of the body into nowhere, then drop the connection: nothing is stored. */
  private async shortPut(key: string, body: Readable): Promise<never> {
    let seen = 0;
    const cut = 1 + Math.floor(this.random() * 64 * 1024);
    await new Promise<void>((resolve) => {
      body.on('data', (c: Buffer) => {
        seen += c.length;
        if (seen >= cut) resolve();
      });
      body.once('end', () => resolve());
      body.once('error', () => resolve());
    });
    body.destroy();
    throw transient(`put ${key}: the connection dropped after ${seen} bytes`);
  }

  async get(key: string, opts: GetOptions = {}): Promise<Readable> {
    const f = this.roll('get', key, ['error', 'slow', 'reset']);
    if (f === 'slow') await this.slow();
    if (f === 'error') throw transient(`get ${key} refused`);
    const stream = await this.inner.get(key, opts);
    if (f !== 'reset') return stream;
    // Pass some bytes, then break.
    const out = new PassThrough();
    const cut = Math.floor(this.random() * 16 * 1024);
    let passed = 0;
    stream.on('data', (c: Buffer) => {
      if (passed + c.length < cut) {
        passed += c.length;
        out.write(c);
        return;
      }
      out.write(c.subarray(0, Math.max(0, cut - passed)));
      stream.destroy();
      out.destroy(transient(`get ${key}: the connection was reset after ${cut} bytes`));
    });
    stream.once('end', () => out.end());
    stream.once('error', (e) => out.destroy(e));
    return out;
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const f = this.roll('head', key, ['error', 'slow']);
    if (f === 'slow') await this.slow();
    if (f === 'error') throw transient(`head ${key} refused`);
    return this.inner.head(key);
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const f = this.roll('list', prefix, ['error', 'slow']);
    if (f === 'slow') await this.slow();
    if (f === 'error') throw transient(`list ${prefix} refused`);
    return this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    const f = this.roll('delete', key, ['error', 'lost', 'slow']);
    if (f === 'slow') await this.slow();
    if (f === 'error') throw transient(`delete ${key} refused`);
    await this.inner.delete(key);
    if (f === 'lost') throw transient(`delete ${key}: the answer was lost (the object is deleted)`);
  }

  listIncomplete(prefix: string, olderThan: Date): Promise<IncompleteWrite[]> {
    return this.inner.listIncomplete(prefix, olderThan);
  }

  removeIncomplete(write: IncompleteWrite): Promise<void> {
    return this.inner.removeIncomplete(write);
  }
}
