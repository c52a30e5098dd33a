/**
 * The S3 store with repository.s3.objectLock, through the Object Lock
 * emulator in front of s3rver (test/helpers/object-lock-proxy.ts), with the
 * real AWS SDK: writes carry a lock and a checksum (multipart too), a
 * deletion goes by version id and is refused, deleting nothing, while a
 * version is locked, locks are extended and never shortened, and objects
 * hidden by a delete marker someone else wrote are listed as hidden and read
 * through.
 */
import { Readable } from 'node:stream';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ObjectLockedError } from '../../../src/errors.js';
import { S3Store } from '../../../src/storage/s3.js';
import { readAll } from '../../../src/storage/util.js';
import { ObjectLockProxy } from '../../helpers/object-lock-proxy.js';
import { startS3, type S3Sandbox } from '../../helpers/s3.js';

const DAY = 86_400_000;
let s3: S3Sandbox;
let proxy: ObjectLockProxy;
let store: S3Store;
let other: S3Client;

beforeAll(async () => {
  s3 = await startS3();
  proxy = new ObjectLockProxy({ backend: s3.client, dataBucket: 'lockdata', bucket: 'locked', objectLock: true });
  const endpoint = await proxy.start();
  store = new S3Store({ bucket: 'locked', prefix: 'repo', endpoint, region: 'us-east-1', forcePathStyle: true, partSize: 5, queueSize: 2, objectLock: { mode: 'COMPLIANCE', minRetainDays: 3 } });
  other = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
});
afterAll(async () => {
  store?.destroy();
  other?.destroy();
  await proxy?.stop();
  await s3?.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('an S3 repository with Object Lock', () => {
  it('writes every object locked, with a checksum, a short lock on request, multipart included', async () => {
    const t0 = Date.now();
    await store.put('a/one', Buffer.from('one'));
    await store.put('a/short', Buffer.from('short'), { shortLock: true });
    const big = Buffer.alloc(12 * 1024 * 1024, 7);
    await store.put('a/big', Readable.from([big.subarray(0, 6e6), big.subarray(6e6)]));
    expect(proxy.missingChecksum).toEqual([]);
    const until = (k: string) => proxy.newestObject(`repo/${k}`)!.retainUntil!.getTime();
    expect(until('a/one')).toBeGreaterThanOrEqual(t0 + 3 * DAY);
    expect(until('a/one')).toBeLessThan(Date.now() + 3 * DAY + 1000);
    expect(until('a/short')).toBeLessThan(Date.now() + 1 * DAY + 1000);
    expect(until('a/big')).toBeGreaterThanOrEqual(t0 + 3 * DAY);
    expect(proxy.newestObject('repo/a/big')!.mode).toBe('COMPLIANCE');
    expect((await readAll(await store.get('a/big'))).equals(big)).toBe(true);
    expect(await store.locks!.retainUntil('a/one')).toEqual(new Date(until('a/one')));
  });

  it('refuses to delete a locked object, deleting nothing, and deletes every version by id once the lock ran out', async () => {
    await store.put('b/x', Buffer.from('v1'));
    await expect(store.delete('b/x')).rejects.toBeInstanceOf(ObjectLockedError);
    await expect(store.delete('b/x')).rejects.toThrow(/locked until \d{4}-.*it can be deleted after that/);
    expect(proxy.versions.get('repo/b/x')).toHaveLength(1);
    expect((await store.list('b/')).map((o) => o.key)).toEqual(['b/x']);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 3 * DAY + 60_000);
    await store.delete('b/x');
    // No delete marker is left: the key is gone, versions and all.
    expect(proxy.versions.has('repo/b/x')).toBe(false);
    expect(await store.list('b/')).toEqual([]);
    await store.delete('b/x');
  });

  it('extends a lock, never shortens one', async () => {
    await store.put('c/x', Buffer.from('x'));
    const before = proxy.newestObject('repo/c/x')!.retainUntil!;
    expect(await store.locks!.extend('c/x', new Date(before.getTime() - DAY))).toBe('unchanged');
    expect(await store.locks!.extend('c/x', new Date(before.getTime() + 10 * DAY))).toBe('extended');
    expect(proxy.newestObject('repo/c/x')!.retainUntil!.getTime()).toBe(before.getTime() + 10 * DAY);
  });

  it('lists an object someone hid under a delete marker as hidden, and reads through it', async () => {
    await store.put('d/x', Buffer.from('still here'));
    await store.put('d/y', Buffer.from('visible'));
    await other.send(new DeleteObjectCommand({ Bucket: 'locked', Key: 'repo/d/x' }));
    const listed = await store.list('d/');
    expect(listed.map((o) => [o.key, !!o.hidden])).toEqual([['d/x', true], ['d/y', false]]);
    expect((await readAll(await store.get('d/x'))).toString()).toBe('still here');
    expect((await readAll(await store.get('d/x', { start: 6 }))).toString()).toBe('here');
    expect(await store.head('d/x')).toMatchObject({ key: 'd/x', size: 10, hidden: true });
    // The lock of the hidden data can still be extended.
    expect(await store.locks!.extend('d/x', new Date(Date.now() + 30 * DAY))).toBe('extended');
    expect(await store.bucketStatus()).toEqual({ versioning: 'Enabled', objectLock: true });
  });
});
