/**
 * Faults on purpose: backup, the binlog archiver, a drill, a point-in-time
 * restore and prune, all run through a repository whose store fails a share
 * of its calls (FaultyStore: refused calls, lost answers, slow answers,
 * reads reset part way, uploads cut short) under the retry layer, as
 * production runs it. After every step the same repository is read through
 * a clean store and must hold: every operation either succeeded with its
 * data intact or failed cleanly, and nothing committed was ever lost.
 *
 * The rate and the seed are in the suite's name; BACKTRACK_FAULT_RATE and
 * BACKTRACK_FAULT_SEED replay another run.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../../../src/backup/backup.js';
import { BinlogArchiver } from '../../../src/binlog/archiver.js';
import { loadChain } from '../../../src/binlog/chain.js';
import { parseDsn } from '../../../src/mysql/dsn.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { pruneSource } from '../../../src/prune/prune.js';
import type { Manifest } from '../../../src/repository/manifest.js';
import { Repository, WritableRepository } from '../../../src/repository/repository.js';
import { restoreToPoint } from '../../../src/restore/pitr.js';
import { FaultyStore } from '../../../src/storage/faults.js';
import { FsStore } from '../../../src/storage/fs.js';
import { RetryStore } from '../../../src/storage/retry.js';
import { runDrill } from '../../../src/verify/drill.js';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { WORKLOAD_SCHEMA, Workload, idsOn, sleep } from '../../helpers/workload.js';
import { waitFor } from '../../helpers/wait.js';

/** The runs CI makes: a light and a heavy rate (BACKTRACK_FAULT_RATE/SEED replay one run instead). */
const RUNS: Array<[number, number]> = process.env.BACKTRACK_FAULT_SEED
  ? [[Number(process.env.BACKTRACK_FAULT_RATE ?? 0.1), Number(process.env.BACKTRACK_FAULT_SEED)]]
  : [[0.1, 20261125], [0.3, 7]];

for (const [RATE, SEED] of RUNS) faultSuite(RATE, SEED);

function faultSuite(RATE: number, SEED: number): void {
  describe(`with faults injected at rate ${RATE}, seed ${SEED}`, () => {
  let source: TestServer;
  let t: TestConfig;
  let faulty: FaultyStore;
  let repo: WritableRepository;
  let clean: Repository;
  let work: Workload;
  let archiver: BinlogArchiver;
  let archiving: Promise<void>;
  const log = silentLogger();
  const actor = { kind: 'cli' as const, name: 'fault-suite' };
  const outcomes: string[] = [];

  beforeAll(async () => {
    source = await startMariaDB();
    await source.source(`${WORKLOAD_SCHEMA} CREATE DATABASE shop; USE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(40)); INSERT INTO shop.items SELECT seq, MD5(seq) FROM seq_1_to_20000;`);
    const account = await source.createBacktrackUser();
    t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms', foldPieces: 4 } }, top: { retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 0 } } });
    const root = new URL(t.cfg.repository.url).pathname;
    faulty = new FaultyStore(new FsStore(root), { rate: RATE, seed: SEED, slowMs: 50 });
    repo = new WritableRepository(new RetryStore(faulty, { attempts: 5, baseDelayMs: 5, maxDelayMs: 50 }));
    clean = new Repository(new FsStore(root));
    await repo.init();
    work = new Workload(source);
    archiver = new BinlogArchiver({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, onLockHeld: 'fail' });
    archiving = archiver.start();
    archiving.catch(() => undefined);
    work.start(20);
  });

  afterAll(async () => {
    await archiver?.stop();
    await work?.close();
    await source?.stop();
    // The report of the run: what was injected, and how each operation ended.
    const kinds = faulty ? Object.entries(faulty.faults.reduce<Record<string, number>>((a, f) => ((a[f.kind] = (a[f.kind] ?? 0) + 1), a), {})) : [];
    console.log(`fault suite rate ${RATE} seed ${SEED}: ${faulty?.faults.length ?? 0} faults injected (${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}); ${outcomes.join('; ')}`);
  });

  /** Every committed backup, read through the clean store, with each object's bytes checked against its manifest. */
  async function intactBackups(): Promise<Manifest[]> {
    const { backups } = await clean.listBackups('main');
    const root = new URL(t.cfg.repository.url).pathname;
    for (const { manifest: m } of backups) {
      for (const o of m.objects) {
        const bytes = await readFile(path.join(root, 'main', 'backups', m.id, o.name));
        expect(createHash('sha256').update(bytes).digest('hex'), `${m.id}/${o.name}`).toBe(o.sha256);
      }
    }
    return backups.map((b) => b.manifest);
  }

  /** Committed backups never go missing (until prune removes them on purpose). */
  let committed = new Set<string>();
  async function nothingLost(): Promise<void> {
    const now = new Set((await intactBackups()).map((m) => m.id));
    for (const id of committed) expect(now.has(id), `committed backup ${id} was lost`).toBe(true);
    committed = now;
    const gaps = (await loadChain(clean, 'main')).flatMap((tl) => tl.gaps);
    expect(gaps, 'the binlog chain has a gap').toEqual([]);
  }

  describe('each operation', () => {
    it('backups either commit intact objects or commit nothing, and never lose an earlier one', async () => {
      let ok = 0;
      for (let i = 0; i < 5; i++) {
        try {
          const m = await takeBackup({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor });
          ok++;
          expect((await intactBackups()).map((x) => x.id)).toContain(m.id);
        } catch (err) {
          // A failed backup commits nothing: no manifest of it anywhere.
          expect((err as Error).message).toBeTruthy();
        }
        await nothingLost();
      }
      outcomes.push(`backups: ${ok} of 5 committed`);
      // The retry layer absorbs most faults: most backups go through.
      expect(ok).toBeGreaterThanOrEqual(2);
    });

    it('the archiver keeps the chain whole: no gap, and every written row is archived', async () => {
      await sleep(1500);
      await work.stop();
      const last = work.rows[work.rows.length - 1]!;
      await waitFor(async () => (await loadChain(clean, 'main')).some((tl) => tl.files.some((f) => f.segments.some((s) => s.lastTransaction?.gtid === last.gtid))), 'the last row to be archived through the faults', 60_000, 300);
      await nothingLost();
    });

    it('a drill either passes or cannot run: faults never make it judge a good backup failed', async () => {
      let verdict = 'error';
      try {
        const r = await runDrill({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, backup: 'latest', point: { kind: 'latest' } });
        verdict = r.verdict;
        expect(r.failedChecks).toEqual([]);
      } catch (err) {
        expect((err as Error).message).toBeTruthy();
      }
      outcomes.push(`drill: ${verdict}`);
      await nothingLost();
    });

    it('a point-in-time restore either restores every archived row or fails saying so', async () => {
      const target = await startMariaDB({ profile: 'scratch' });
      try {
        let restored = false;
        for (let attempt = 0; attempt < 3 && !restored; attempt++) {
          try {
            await restoreToPoint({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, target: parseDsn(`mysql://root@127.0.0.1:${target.port}`), dryRun: false, force: true, forceOverwriteSource: false, skipUsers: true, noBinlog: false, point: { kind: 'latest' } });
            restored = true;
          } catch (err) {
            // A failure mid-way says the target holds a partial restore.
            const msg = (err as Error).message;
            if (!/PARTIAL restore/.test(msg)) expect(msg).toMatch(/./);
          }
        }
        outcomes.push(`restore: ${restored ? 'restored' : 'failed cleanly 3 times'}`);
        if (restored) expect(await idsOn(target)).toEqual(work.rows.map((r) => r.id));
      } finally {
        await target.stop();
      }
      await nothingLost();
    });

    it('prune deletes only what retention says, and point-in-time recovery still reaches every row', async () => {
      const before = await intactBackups();
      let result;
      try {
        result = await pruneSource({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, dryRun: false });
      } catch (err) {
        expect((err as Error).message).toBeTruthy();
      }
      const after = (await intactBackups()).map((m) => m.id);
      const newestTwo = before.map((m) => m.id).slice(-2);
      for (const id of newestTwo) expect(after).toContain(id);
      if (result) expect(after.sort()).toEqual(result.decision.keep.map((k) => k.id).sort());
      outcomes.push(`prune: ${result ? `kept ${after.length}` : 'failed cleanly'}`);
      committed = new Set(after);
      await nothingLost();
      // With the faults gone, the repository restores every row.
      await archiver.stop();
      const target = await startMariaDB({ profile: 'scratch' });
      try {
        const cleanWrite = new WritableRepository(new FsStore(new URL(t.cfg.repository.url).pathname));
        await restoreToPoint({ cfg: t.cfg, source: t.cfg.sources[0]!, repo: cleanWrite, log, actor, target: parseDsn(`mysql://root@127.0.0.1:${target.port}`), dryRun: false, force: false, forceOverwriteSource: false, skipUsers: true, noBinlog: false, point: { kind: 'latest' } });
        expect(await idsOn(target)).toEqual(work.rows.map((r) => r.id));
      } finally {
        await target.stop();
      }
    });
  });
  });
}
