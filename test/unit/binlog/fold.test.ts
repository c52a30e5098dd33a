import { describe, expect, it } from 'vitest';
import { levelOf, mergedFacts, nextFold } from '../../../src/binlog/fold.js';
import type { Sidecar } from '../../../src/repository/sidecar.js';

function piece(start: number, end: number, n: number, level = 0): Sidecar {
  return {
    format: 1, source: 'main', timeline: 'tl', file: 'b.000001', kind: 'piece', start, end, closed: false, checksum: true, level,
    transactions: 1, firstTransaction: { start, end, timestamp: 1_800_000_000 + n, gtid: `0-1-${n}` }, lastTransaction: { start, end, timestamp: 1_800_000_000 + n, gtid: `0-1-${n}` },
    minTimestamp: 1_800_000_000 + n, maxTimestamp: 1_800_000_000 + n, gtids: `0-1-${n}`,
    object: { name: 'x', size: 1, sha256: 'a'.repeat(64), rawSize: end - start, encryption: null }, server: { flavor: 'mariadb', serverId: 1, hostname: 'h', port: 1 }, archivedAt: '2026-11-25T00:00:00Z',
  };
}

/** Append pieces as the archiver does, folding after each; returns the most pieces ever held at once. */
function simulate(appends: number, fanout: number): { peak: number; final: Sidecar[]; uploads: number } {
  let pieces: Sidecar[] = [];
  let peak = 0;
  let uploads = 0;
  for (let n = 0; n < appends; n++) {
    pieces.push(piece(n * 100, (n + 1) * 100, n + 1));
    uploads++;
    for (let run = nextFold(pieces, fanout); run; run = nextFold(pieces, fanout)) {
      const f = mergedFacts(run, 'mariadb');
      const folded = { ...run[0]!, ...f };
      uploads++;
      const at = pieces.indexOf(run[0]!);
      pieces = [...pieces.slice(0, at), folded, ...pieces.slice(at + run.length)];
    }
    // While a fold runs, its new piece and the run it replaces exist together.
    peak = Math.max(peak, pieces.length + 1);
  }
  return { peak, final: pieces, uploads };
}

describe('folding the active file\'s pieces', () => {
  it('holds a simulated day of 5s pieces (17280) in a bounded number of pieces, covering every byte once', () => {
    const day = simulate(17_280, 16);
    // 17280 = 4*16^3 + 3*16^2 + 8*16: at most 15 pieces per level, 4 levels.
    expect(day.final).toHaveLength(4 + 3 + 8);
    expect(day.peak).toBeLessThanOrEqual(61);
    expect(day.final[0]?.start).toBe(0);
    for (let i = 1; i < day.final.length; i++) expect(day.final[i]?.start).toBe(day.final[i - 1]?.end);
    expect(day.final[day.final.length - 1]?.end).toBe(17_280 * 100);
    // Each byte goes up once per level: the uploads stay a small multiple of the pieces.
    expect(day.uploads).toBeLessThan(17_280 * 1.1);
  });

  it('folds the lowest level first and keeps levels falling along the file', () => {
    const { final } = simulate(16 * 16 + 5, 16);
    expect(final.map(levelOf)).toEqual([2, 0, 0, 0, 0, 0]);
  });

  it('merges a run\'s facts from its sidecars: transactions, first and last, times and GTIDs', () => {
    const run = [piece(0, 100, 1), piece(100, 200, 2), piece(200, 300, 3)];
    const f = mergedFacts(run, 'mariadb');
    expect(f).toMatchObject({ start: 0, end: 300, level: 1, transactions: 3, minTimestamp: 1_800_000_001, maxTimestamp: 1_800_000_003, gtids: '0-1-3' });
    expect(f.firstTransaction?.gtid).toBe('0-1-1');
    expect(f.lastTransaction?.gtid).toBe('0-1-3');
  });

  it('leaves the commit times unknown when a piece written before they were recorded is in the run', () => {
    const old = { ...piece(100, 200, 2) };
    delete old.minTimestamp;
    delete old.maxTimestamp;
    expect(mergedFacts([piece(0, 100, 1), old], 'mariadb').maxTimestamp).toBeUndefined();
  });
});
