import { describe, expect, it } from 'vitest';
import { decideRetention, weekKey } from '../../../src/prune/retention.js';
import { buildTimeline } from '../../../src/binlog/chain.js';
import { timelineOf, type Sidecar } from '../../../src/repository/sidecar.js';
import type { Manifest } from '../../../src/repository/manifest.js';
import type { RetentionConfig } from '../../../src/config/schema.js';

const identity = { serverId: 1, hostname: 'db1', port: 3306 };
const TL = timelineOf('mariadb', identity);
const NOW = new Date('2026-11-25T12:00:00Z');

/** A backup finished at `iso`, with its snapshot in binlog file `file`. */
function backup(iso: string, file = 'b.000001'): Manifest {
  const d = new Date(iso);
  const id = `${d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-${Math.random().toString(16).slice(2, 6)}`;
  return { id, startedAt: iso, finishedAt: iso, snapshot: { file, position: 100, gtid: '' }, server: { flavor: 'mariadb', version: '10.11', identity } } as unknown as Manifest;
}

const policy = (p: Partial<RetentionConfig>): RetentionConfig => ({ keepLast: 1, keepDaily: 0, keepWeekly: 0, keepMonthly: 0, ...p });
const none = new Set<string>();
const run = (backups: Manifest[], p: Partial<RetentionConfig>, drilled = none, timelines = [] as ReturnType<typeof buildTimeline>[]) =>
  decideRetention({ backups, drilledOk: drilled, timelines, policy: policy(p), now: NOW });
const kept = (r: ReturnType<typeof run>, all: Manifest[]) => r.keep.map((k) => all.findIndex((m) => m.id === k.id)).sort((a, b) => a - b);

describe('decideRetention', () => {
  // Two backups a day for ten days: index 0 oldest.
  const days = Array.from({ length: 20 }, (_, i) => backup(new Date(Date.UTC(2026, 10, 16 + Math.floor(i / 2), i % 2 ? 15 : 3)).toISOString()));

  it('keeps the newest N with keepLast', () => {
    expect(kept(run(days, { keepLast: 3 }), days)).toEqual([17, 18, 19]);
  });

  it('keeps the newest backup of each of the newest N days with keepDaily', () => {
    expect(kept(run(days, { keepLast: 1, keepDaily: 3 }), days)).toEqual([15, 17, 19]);
  });

  it('buckets by ISO week and by month', () => {
    expect(weekKey(new Date('2026-11-16T00:00:00Z'))).toBe('2026-W47');
    expect(weekKey(new Date('2027-01-01T00:00:00Z'))).toBe('2026-W53');
    const months = [backup('2026-08-10T00:00:00Z'), backup('2026-09-10T00:00:00Z'), backup('2026-09-20T00:00:00Z'), backup('2026-11-01T00:00:00Z')];
    expect(kept(run(months, { keepLast: 1, keepMonthly: 2 }), months)).toEqual([2, 3]);
  });

  it('keeps everything within keepWithin plus the one backup older than its edge', () => {
    const r = run(days, { keepLast: 1, keepWithin: 2 * 86_400_000 });
    // NOW is 11-25 12:00: the edge is 11-23 12:00; within: 11-23 15:00 (15), 11-24 (16,17), 11-25 (18,19); base: 11-23 03:00 (14).
    expect(kept(r, days)).toEqual([14, 15, 16, 17, 18, 19]);
    expect(r.keep.find((k) => k.id === days[14]!.id)?.reasons).toContain('start of the keepWithin recovery window');
  });

  it('never deletes the newest backup that passed a drill', () => {
    const r = run(days, { keepLast: 2 }, new Set([days[5]!.id, days[3]!.id]));
    expect(kept(r, days)).toEqual([5, 18, 19]);
    expect(r.remove.map((x) => x.reason)).toContain('matched no keep rule');
  });

  it('keeps binlog files from the oldest kept snapshot file on, and drops older ones', () => {
    const seg = (file: string): Sidecar => ({ format: 1, source: 'main', timeline: TL, file, kind: 'file', start: 0, end: 500, closed: true, checksum: true, transactions: 1, gtids: '', object: { name: 'x', size: 1, sha256: 'a'.repeat(64), rawSize: 1, encryption: null }, server: { flavor: 'mariadb', ...identity }, archivedAt: '2026-11-25T00:00:00Z' });
    const tl = buildTimeline(TL, ['b.000001', 'b.000002', 'b.000003', 'b.000004'].map(seg), []);
    const bs = [backup('2026-11-20T00:00:00Z', 'b.000001'), backup('2026-11-22T00:00:00Z', 'b.000003'), backup('2026-11-24T00:00:00Z', 'b.000004')];
    const r = decideRetention({ backups: bs, drilledOk: none, timelines: [tl], policy: policy({ keepLast: 2 }), now: NOW });
    expect(r.remove.map((x) => x.id)).toEqual([bs[0]!.id]);
    expect(r.removeBinlogs.map((b) => b.file)).toEqual(['b.000001', 'b.000002']);
  });
});
