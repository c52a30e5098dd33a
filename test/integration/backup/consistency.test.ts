/**
 * A table-by-table backup is one snapshot, though its tables are dumped by
 * several sessions: money moved between two tables by a busy writer adds up
 * in the restored data; and sessions that end up on different snapshot
 * points fail the backup instead of committing it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { takeBackup } from '../../../src/backup/backup.js';
import { closeQuietly, connect } from '../../../src/mysql/connect.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { WritableRepository } from '../../../src/repository/repository.js';
import { FsStore } from '../../../src/storage/fs.js';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { alive, descendants } from '../../helpers/procs.js';
import { sleep, waitFor } from '../../helpers/wait.js';

const N = 20_000;
let source: TestServer;
let target: TestServer;
let t: TestConfig;
let repo: WritableRepository;
const log = silentLogger();
const actor = { kind: 'cli' as const, name: 'test' };

beforeAll(async () => {
  [source, target] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' })]);
  await source.source(`
    CREATE DATABASE bank; USE bank;
    CREATE TABLE bank.a (id INT PRIMARY KEY, balance BIGINT NOT NULL, pad VARCHAR(200)) ENGINE=InnoDB;
    CREATE TABLE bank.b (id INT PRIMARY KEY, balance BIGINT NOT NULL, pad VARCHAR(200)) ENGINE=InnoDB;
    INSERT INTO bank.a SELECT seq, 1000, REPEAT(MD5(seq), 6) FROM seq_1_to_${N};
    INSERT INTO bank.b SELECT seq, 1000, REPEAT(MD5(seq), 6) FROM seq_1_to_${N};
  `);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { backup: { parallelism: 2 } } });
  repo = new WritableRepository(new FsStore(new URL(t.cfg.repository.url).pathname));
});
afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
});

/** Move amounts from a row of one table to a row of the other, one transaction each, until stopped. */
function transfers() {
  let stop = false;
  let count = 0;
  const done = (async () => {
    const conn = await connect(source.spec);
    try {
      let i = 0;
      while (!stop) {
        i++;
        const amount = 1 + (i % 97);
        const [from, to] = i % 2 ? ['a', 'b'] : ['b', 'a'];
        await conn.query('START TRANSACTION');
        await conn.query(`UPDATE bank.${from} SET balance = balance - ? WHERE id = ?`, [amount, 1 + ((i * 7919) % N)]);
        await conn.query(`UPDATE bank.${to} SET balance = balance + ? WHERE id = ?`, [amount, 1 + ((i * 104729) % N)]);
        await conn.query('COMMIT');
        count++;
      }
    } finally {
      await closeQuietly(conn);
    }
  })();
  return {
    stop: async () => {
      stop = true;
      await done;
      return count;
    },
  };
}

describe('a table-by-table backup under writes', () => {
  it('is one snapshot: amounts moved between two tables during the backup add up in the restored data', async () => {
    const writer = transfers();
    await sleep(300);
    let m;
    try {
      m = await takeBackup({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor });
    } finally {
      const moved = await writer.stop();
      expect(moved).toBeGreaterThan(10);
    }
    expect(m.format).toBe(2);
    // The two tables went through different dump sessions, which opened under one lock.
    expect(m.parallel?.sessions).toBeGreaterThanOrEqual(4);
    expect(m.parallel?.lock?.method).toMatch(/BACKUP STAGE/);
    expect(m.parallel?.lock?.heldSeconds).toBeLessThan(5);
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--backup', m.id]);
    expect(r.code, r.stderr).toBe(0);
    const [sums] = await target.query('SELECT (SELECT SUM(balance) FROM bank.a) + (SELECT SUM(balance) FROM bank.b) AS total, (SELECT COUNT(*) FROM bank.a) AS na');
    expect(Number(sums?.total)).toBe(2 * N * 1000);
    expect(Number(sums?.na)).toBe(N);
    // Not the starting state either: the snapshot fell among the transfers.
    const [moved] = await target.query('SELECT COUNT(*) AS n FROM bank.a WHERE balance <> 1000');
    expect(Number(moved?.n)).toBeGreaterThan(0);
  });

  it('fails, committing nothing, when a session ends up on another snapshot point', async () => {
    const before = (await repo.listBackups('main')).backups.length;
    const conn = await connect(source.spec);
    try {
      // Without the lock, a commit between the first session's start and the others' moves their snapshot.
      const hooks = {
        noLock: true,
        afterSessionStart: async (i: number) => {
          if (i !== 0) return;
          await sleep(1500);
          await conn.query('UPDATE bank.a SET balance = balance WHERE id = 1');
          await conn.query('INSERT INTO bank.b (id, balance) VALUES (?, 0)', [N + 1]);
        },
      };
      await expect(takeBackup({ cfg: t.cfg, source: t.cfg.sources[0]!, repo, log, actor, hooks })).rejects.toMatchObject({ code: 'SNAPSHOT_MISMATCH', message: expect.stringMatching(/do not share one snapshot.*was not committed/) });
    } finally {
      await closeQuietly(conn);
    }
    expect((await repo.listBackups('main')).backups.length).toBe(before);
  });

  it('a parallel restore killed with kill -9 leaves no client running; the next restore refuses the partial target, and --force redoes it', async () => {
    const id = (await repo.listBackups('main')).backups.at(-1)!.manifest.id;
    const dsn = `mysql://root@127.0.0.1:${target.port}`;
    for (const delay of [0, 400]) {
      await target.query('DROP DATABASE IF EXISTS bank');
      const child = cliSpawn(['restore', '--config', t.file, '--target', dsn, '--backup', id, '--parallel', '2']);
      // Killed once loading has begun (the schema exists), at two points of it.
      await waitFor(async () => (await target.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'bank'")).length === 1, 'the restore to start loading', 20_000, 20);
      await sleep(delay);
      const kids = descendants(child.pid!);
      child.kill('SIGKILL');
      await child;
      await waitFor(() => kids.every((k) => !alive(k)), 'every client of the killed restore to exit', 5000, 100);
      const refused = await cli(['restore', '--config', t.file, '--target', dsn, '--backup', id]);
      expect(refused.code).toBe(6);
      expect(refused.stderr).toMatch(/already holds user schemas \(bank\).*--force/);
      const redo = await cli(['restore', '--config', t.file, '--target', dsn, '--backup', id, '--force']);
      expect(redo.code, redo.stderr).toBe(0);
      const [sums] = await target.query('SELECT (SELECT SUM(balance) FROM bank.a) + (SELECT SUM(balance) FROM bank.b) AS total');
      expect(Number(sums?.total)).toBe(2 * N * 1000);
    }
  });
});
