import { describe, expect, it } from 'vitest';
import { buildTimeline, restorableWindows, stretchesOf } from '../../../src/binlog/chain.js';
import { segmentKey } from '../../../src/repository/repository.js';
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

describe('buildTimeline with the objects present', () => {
  /** A piece with its own object name, as the archiver names them. */
  const piece = (file: string, start: number, end: number, extra: Partial<Sidecar> = {}) =>
    seg(file, 'piece', start, end, { object: { name: `${String(start).padStart(20, '0')}-${String(end).padStart(20, '0')}.zst`, size: 10, sha256: 'a'.repeat(64), rawSize: end - start, encryption: null }, ...extra });
  const present = (...segs: Sidecar[]) => new Map(segs.map((s) => [segmentKey(s), s.object.size]));

  it('reads overlapping pieces of two writers as one chain, without a gap', () => {
    // Writer 1: 0..100, 100..200; writer 2 (started from 100): 100..150, 150..260.
    const segs = [piece('b.000001', 0, 100), piece('b.000001', 100, 200), piece('b.000001', 100, 150), piece('b.000001', 150, 260)];
    const tl = buildTimeline(TL, segs, [], present(...segs));
    expect(tl.gaps).toEqual([]);
    expect(tl.files[0]?.end).toBe(260);
    expect(tl.files[0]?.segments.map((x) => [x.start, x.end])).toEqual([[0, 100], [100, 200], [150, 260]]);
  });

  it('takes a piece whose object is missing for a gap that names it, and never bridges it', () => {
    const segs = [piece('b.000001', 0, 100), piece('b.000001', 100, 200), piece('b.000001', 200, 300)];
    const tl = buildTimeline(TL, segs, [], present(segs[0]!, segs[2]!));
    expect(tl.gaps).toHaveLength(1);
    expect(tl.gaps[0]).toMatchObject({ reason: 'missing-segment', before: { file: 'b.000001', offset: 100 }, after: { file: 'b.000001', offset: 200 } });
    expect(tl.gaps[0]?.detail).toMatch(/bytes 100\.\.200 of b\.000001 are not usable: the object of .*00000000000000000100-00000000000000000200\.zst \(missing\)/);
  });

  it('takes a missing last piece for a gap at the end of the chain', () => {
    const segs = [seg('b.000001', 'file', 0, 500), piece('b.000002', 0, 100), piece('b.000002', 100, 180)];
    const tl = buildTimeline(TL, segs, [], present(segs[0]!, segs[1]!));
    expect(tl.gaps.map((g) => [g.before, g.after])).toEqual([[{ file: 'b.000002', offset: 100 }, { file: 'b.000002', offset: 180 }]]);
    expect(stretchesOf(tl).slice(-1)[0]?.to).toEqual({ file: 'b.000002', offset: 100 });
  });

  it('reads a file from its pieces when its whole object is missing, and calls a file with nothing usable missing', () => {
    const whole = seg('b.000001', 'file', 0, 500, { object: { name: 'b.000001.zst', size: 10, sha256: 'a'.repeat(64), rawSize: 500, encryption: null } });
    const p1 = piece('b.000001', 0, 500);
    const mid = seg('b.000002', 'file', 0, 300, { object: { name: 'b.000002.zst', size: 10, sha256: 'a'.repeat(64), rawSize: 300, encryption: null } });
    const last = seg('b.000003', 'file', 0, 50, { object: { name: 'b.000003.zst', size: 10, sha256: 'a'.repeat(64), rawSize: 50, encryption: null } });
    const tl = buildTimeline(TL, [whole, p1, mid, last], [], present(p1, last));
    expect(tl.files.map((f) => [f.file, f.whole])).toEqual([['b.000001', false], ['b.000003', true]]);
    expect(tl.gaps).toHaveLength(1);
    expect(tl.gaps[0]?.detail).toMatch(/b\.000002 is not in the repository \(bytes 0\.\.300 of b\.000002 are not usable: the object of .*b\.000002\.zst \(missing\)\)/);
  });

  it('takes an object of the wrong size for unusable', () => {
    const p = piece('b.000001', 0, 100);
    const tl = buildTimeline(TL, [p, piece('b.000001', 100, 200)], [], new Map([[segmentKey(p), 3], [segmentKey(piece('b.000001', 100, 200)), 10]]));
    expect(tl.gaps[0]?.detail).toMatch(/3 bytes, its sidecar says 10/);
  });
});

describe('restorableWindows', () => {
  it('never ends before it starts on a source idle since its backup', () => {
    const tl = buildTimeline(TL, [seg('b.000001', 'file', 0, 500)], []);
    const m = { ...manifest('20261125T000000Z-aaaa', 'b.000001', 500), startedAt: '2030-01-01T00:00:00.000Z' } as Manifest;
    const [w] = restorableWindows([tl], [m]);
    expect(w).toMatchObject({ from: '2030-01-01T00:00:00.000Z', to: '2030-01-01T00:00:00.000Z' });
  });

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
