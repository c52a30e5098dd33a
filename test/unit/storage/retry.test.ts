import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InterruptedError, NotFoundError } from '../../../src/errors.js';
import { FsStore } from '../../../src/storage/fs.js';
import { RetryStore } from '../../../src/storage/retry.js';
import { S3Store } from '../../../src/storage/s3.js';
import type { GetOptions, ObjectStore } from '../../../src/storage/store.js';
import { readAll } from '../../../src/storage/util.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const reset = () => Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });

/** An inner store whose calls fail as scripted: `failures[op]` calls fail before one succeeds. */
function scripted(failures: Record<string, number>, data = Buffer.from('0123456789abcdefghij')) {
  const calls: Record<string, number> = {};
  const gets: Array<number | undefined> = [];
  const fail = (op: string) => {
    calls[op] = (calls[op] ?? 0) + 1;
    if ((failures[op] ?? 0) >= calls[op]) throw reset();
  };
  const store = {
    location: 'mem://',
    async put(_k: string, body: Readable | Buffer) {
      fail('put');
      return { size: Buffer.isBuffer(body) ? body.length : 0 };
    },
    async get(_k: string, opts: GetOptions = {}) {
      fail('get');
      gets.push(opts.start);
      return Readable.from([data.subarray(opts.start ?? 0)]);
    },
    async head() {
      fail('head');
      return undefined;
    },
    async list() {
      fail('list');
      return [];
    },
    async delete() {
      fail('delete');
    },
    async listIncomplete() {
      return [];
    },
    async removeIncomplete() {},
  } satisfies ObjectStore;
  return { store, calls, gets };
}

const quick = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

describe('RetryStore', () => {
  it('retries a transient failure of every replayable call, and gives up after `attempts`', async () => {
    const ok = scripted({ head: 2, list: 2, delete: 2, put: 2 });
    const r = new RetryStore(ok.store, quick);
    await r.head('k');
    await r.list('p/');
    await r.delete('k');
    await r.put('k', Buffer.from('x'));
    expect(ok.calls).toMatchObject({ head: 3, list: 3, delete: 3, put: 3 });
    const bad = scripted({ head: 3 });
    await expect(new RetryStore(bad.store, quick).head('k')).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(bad.calls.head).toBe(3);
  });

  it('does not retry what is not transient, nor a put of a stream (it cannot be replayed)', async () => {
    const s = scripted({ put: 1 });
    const r = new RetryStore({ ...s.store, head: async () => { throw new NotFoundError('gone'); } }, quick);
    await expect(r.head('k')).rejects.toBeInstanceOf(NotFoundError);
    await expect(r.put('k', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(s.calls.put).toBe(1);
  });

  it('resumes a read that breaks part way from the byte it reached, and the bytes come out whole', async () => {
    const data = Buffer.from('0123456789abcdefghij');
    let opens = 0;
    const inner = scripted({}, data);
    inner.store.get = async (_k: string, opts: GetOptions = {}) => {
      opens++;
      const start = opts.start ?? 0;
      // The first two opens break after 5 bytes.
      if (opens <= 2) {
        return new Readable({
          read() {
            this.push(data.subarray(start, start + 5));
            this.destroy(reset());
          },
        });
      }
      return Readable.from([data.subarray(start)]);
    };
    const got = await readAll(await new RetryStore(inner.store, { ...quick, attempts: 5 }).get('k'));
    expect(got.toString()).toBe(data.toString());
    expect(opens).toBe(3);
  });

  it('gives up on a read that keeps breaking, with the error', async () => {
    const inner = scripted({});
    inner.store.get = async () => new Readable({ read() { this.destroy(reset()); } });
    await expect(readAll(await new RetryStore(inner.store, quick).get('k'))).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it("ends a backoff sleep at once when the store's signal is aborted", async () => {
    const ac = new AbortController();
    const s = scripted({ list: 10 });
    const r = new RetryStore(s.store, { attempts: 10, baseDelayMs: 60_000, signal: ac.signal });
    const started = Date.now();
    const p = r.list('p/');
    setTimeout(() => ac.abort(), 50);
    await expect(p).rejects.toBeInstanceOf(InterruptedError);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('backs off exponentially, with jitter in the upper half, up to the cap', () => {
    const r = new RetryStore(scripted({}).store, { attempts: 10, baseDelayMs: 100, maxDelayMs: 1000, random: () => 1 });
    expect([1, 2, 3, 4, 5, 6].map((a) => r.delayFor(a))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const low = new RetryStore(scripted({}).store, { attempts: 10, baseDelayMs: 100, random: () => 0 });
    expect(low.delayFor(3)).toBe(200);
  });

  it('with S3, makes exactly `attempts` requests: the SDK does not retry underneath', async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    process.env.AWS_ACCESS_KEY_ID ??= 'x';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'x';
    const s3 = new S3Store({ bucket: 'bkt', prefix: '', endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, partSize: 5, queueSize: 1, maxAttempts: 3 });
    try {
      await expect(new RetryStore(s3, quick).list('x/')).rejects.toBeTruthy();
      expect(requests).toBe(3);
    } finally {
      s3.destroy();
      server.close();
    }
  });

  it('resumes a real file read from an offset', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-retry-'));
    const fs = new FsStore(dir);
    await fs.put('a/b', Buffer.from('hello world'));
    expect((await readAll(await new RetryStore(fs, quick).get('a/b', { start: 6 }))).toString()).toBe('world');
  });
});
