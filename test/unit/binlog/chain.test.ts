import { describe, expect, it } from 'vitest';
import { buildTimeline, restorableWindows, stretchesOf } from '../../../src/binlog/chain.js';
import type { Sidecar, GapRecord } from '../../../src/repository/sidecar.js';
import { nextFileName, timelineOf } from '../../../src/repository/sidecar.js';
import type { Manifest } from '../../../src/repository/manifest.js';

const identity = { serverId: 1, hostname: 'db1', port: 3306 };
const TL = timelineOf('mariadb', identity);

function seg(file: string, kind: 'file' | 'piece', start: number, end: number, extra: Partial<Sidecar> = {}): Sidecar {
  return {
    format: 1, source: 'main', timeline: TL, file, kind, start, end, closed: kind === 'file', checksum: true, transactions: 1,
    lastTransaction: { start: start + 1, end, timestamp: 1_800_000_000 + end },
    gtids: '', object: { name: 'x', size: 10, sha256: 'a'.repeat(64), rawSize: end - start, encryption: null },
    server: { flavor: 'mariadb', ...identity }, archivedAt: '2026-11-25T00:00:00Z', ...extra,
  };
}

function manifest(id: string, file: string, position: number): Manifest {
  return { id, startedAt: '2026-11-25T00:00:00Z', snapshot: { file, position, gtid: '' }, server: { flavor: 'mariadb', version: '10.11', identity } } as unknown as Manifest;
}

describe('buildTimeline', () => {
  it('prefers a whole file over its pieces and finds no gap in a clean chain', () => {
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500), seg('b.000002', 'piece', 0, 100), seg('b.000002', 'piece', 100, 300), seg('b.000002', 'file', 0, 300)], []);
    expect(tl.files.map((f) => [f.file, f.whole, f.end])).toEqual([['b.000001', true, 500], ['b.000002', true, 300]]);
    expect(tl.gaps).toEqual([]);
  });

  it('finds a missing file, pieces that do not meet, and a file archived only part way', () => {
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500), seg('b.000003', 'piece', 0, 100), seg('b.000003', 'piece', 150, 300), seg('b.000004', 'piece', 0, 50)], []);
    expect(tl.gaps.map((g) => g.detail)).toEqual([
      'b.000002 is not in the repository',
      'bytes 100..150 of b.000003 are not in the repository',
      'b.000003 was archived only up to byte 300; its end is not in the repository',
    ]);
  });

  it('reports a GTID discontinuity between files', () => {
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500, { startGtids: '0-1-10', gtids: '0-1-12' }), seg('b.000002', 'file', 0, 300, { startGtids: '0-1-20' })], []);
    expect(tl.gaps).toHaveLength(1);
    expect(tl.gaps[0]?.reason).toBe('gtid-discontinuity');
  });

  it('keeps one gap per break, preferring the archiver\'s own record', () => {
    const rec: GapRecord = { format: 1, source: 'main', timeline: TL, reason: 'purged-before-archived', after: { file: 'b.000001', offset: 500 }, resumedAt: { file: 'b.000003', offset: 4 }, missingFiles: ['b.000002'], detail: 'b.000002 were purged', detectedAt: '2026-11-25T00:00:00Z' };
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500), seg('b.000003', 'file', 0, 300)], [rec]);
    expect(tl.gaps.map((g) => g.reason)).toEqual(['purged-before-archived']);
  });
});

describe('restorableWindows', () => {
  it('starts at the oldest backup inside the newest gap-free stretch', () => {
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500), seg('b.000003', 'file', 0, 300)], []);
    expect(stretchesOf(tl)).toHaveLength(2);
    const w = restorableWindows([tl], [manifest('20261125T000000Z-aaaa', 'b.000001', 100), manifest('20261125T010000Z-bbbb', 'b.000003', 50)]);
    expect(w.map((x) => x.fromBackup)).toEqual(['20261125T000000Z-aaaa', '20261125T010000Z-bbbb']);
  });

  it('has no window without a backup in the chain', () => {
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500)], []);
    expect(restorableWindows([tl], [])).toEqual([]);
  });
});

describe('nextFileName', () => {
  it('keeps the width of the number', () => {
    expect(nextFileName('mysql-bin.000009')).toBe('mysql-bin.000010');
    expect(nextFileName('binlog.999999')).toBe('binlog.1000000');
  });
});
