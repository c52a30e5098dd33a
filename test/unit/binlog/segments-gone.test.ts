/**
 * A reader that listed a piece a moment before the archiver replaced it (by
 * a fold or the whole file) and deleted it reads on from what replaced it:
 * the bytes come out whole and in order. (A drill in the daemon test met
 * "piece ... is missing from the repository" this way under load.)
 */
import { randomBytes, createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { zstdCompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fileBytes } from '../../../src/binlog/segments.js';
import type { ChainFile } from '../../../src/binlog/chain.js';
import { segmentKey } from '../../../src/repository/repository.js';
import type { Sidecar } from '../../../src/repository/sidecar.js';
import { FsStore } from '../../../src/storage/fs.js';

const raw = randomBytes(10_000);

function segment(kind: 'file' | 'piece', start: number, end: number): { seg: Sidecar; body: Buffer } {
  const body = zstdCompressSync(raw.subarray(start, end));
  const name = kind === 'file' ? 'mysql-bin.000001.zst' : `${String(start).padStart(20, '0')}-${String(end).padStart(20, '0')}.zst`;
  const seg = {
    format: 1, source: 'main', timeline: 'mariadb-1-x', file: 'mysql-bin.000001', kind, start, end, closed: kind === 'file', checksum: true, transactions: 0, gtids: '',
    object: { name, size: body.length, sha256: createHash('sha256').update(body).digest('hex'), rawSize: end - start, encryption: null },
    server: { flavor: 'mariadb', serverId: 1, hostname: 'h', port: 3306 }, archivedAt: new Date().toISOString(),
  } as Sidecar;
  return { seg, body };
}

async function read(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(c);
  return Buffer.concat(parts);
}

describe('a piece replaced while it is read', () => {
  it('is read on from the whole file that replaced it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-gone-'));
    const store = new FsStore(dir);
    const a = segment('piece', 0, 4000);
    const b = segment('piece', 4000, 10_000);
    const whole = segment('file', 0, 10_000);
    // The archiver has put the whole file and deleted the second piece; the reader still lists both pieces.
    await store.put(segmentKey(a.seg), a.body);
    await store.put(segmentKey(whole.seg), whole.body);
    const listed: ChainFile = { file: 'mysql-bin.000001', index: 1, segments: [a.seg, b.seg], end: 10_000 } as unknown as ChainFile;
    const now: ChainFile = { file: 'mysql-bin.000001', index: 1, segments: [whole.seg], end: 10_000 } as unknown as ChainFile;
    const work = await mkdtemp(path.join(tmpdir(), 'bt-gone-work-'));
    const src = { store, codec: { zstd: 'zstd' }, workDir: work, reload: async () => now };
    expect((await read(fileBytes(src, listed, 0, 10_000))).equals(raw)).toBe(true);
    // From the middle too.
    expect((await read(fileBytes(src, listed, 1234, 9000))).equals(raw.subarray(1234, 9000))).toBe(true);
    // Without a way to look again, it is a missing segment, named.
    await expect(read(fileBytes({ ...src, reload: undefined }, listed, 0, 10_000))).rejects.toThrow(/mysql-bin.000001 bytes 4000..10000\) is missing from the repository/);
  });
});
