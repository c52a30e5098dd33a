/**
 * A long-lived repository (the daemon's) reads each immutable record once:
 * listing the drill reports, the manifests and the binlog sidecars again
 * fetches only what is new or changed.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { WritableRepository } from '../../../src/repository/repository.js';
import { FsStore } from '../../../src/storage/fs.js';
import type { GetOptions } from '../../../src/storage/store.js';

class CountingStore extends FsStore {
  gets: string[] = [];
  override get(key: string, opts?: GetOptions) {
    this.gets.push(key);
    return super.get(key, opts);
  }
}

const report = (at: string) => ({
  format: 1, source: 'main', backupId: '20261126T000000Z-abcd', startedAt: at, finishedAt: at, verdict: 'passed', failedChecks: [], scratch: { mode: 'spawn', description: '' }, checks: [],
  rto: { seconds: 1, loadSeconds: 1, replaySeconds: 0, bytesRead: 0, rawBytes: 0, mibPerSecond: 0 }, actor: { kind: 'cli', name: 't' },
});

describe('the record cache of a repository', () => {
  it('reads each drill report once, and a new or changed one again', async () => {
    const store = new CountingStore(await mkdtemp(path.join(tmpdir(), 'bt-cache-')));
    const repo = new WritableRepository(store);
    await repo.writeDrillReport(report('2026-11-26T01:00:00.000Z') as never);
    await repo.writeDrillReport(report('2026-11-26T02:00:00.000Z') as never);
    expect(await repo.listDrillReports('main')).toHaveLength(2);
    expect(store.gets).toHaveLength(2);
    expect(await repo.listDrillReports('main')).toHaveLength(2);
    expect(store.gets).toHaveLength(2);
    await repo.writeDrillReport(report('2026-11-26T03:00:00.000Z') as never);
    const third = await repo.listDrillReports('main');
    expect(third.map((r) => r.finishedAt)).toEqual(['2026-11-26T01:00:00.000Z', '2026-11-26T02:00:00.000Z', '2026-11-26T03:00:00.000Z']);
    expect(store.gets).toHaveLength(3);
    // Returned records are copies: changing one does not change what the next listing returns.
    third[0]!.verdict = 'failed';
    expect((await repo.listDrillReports('main'))[0]!.verdict).toBe('passed');
  });
});
