/**
 * The archiver under trouble: killed with -9 and restarted (no gap, no
 * duplicate), the source restarted mid-archive (reconnects, nothing lost), a
 * binlog purged before it was archived (a gap that list shows and restore
 * refuses to cross), and a corrupted segment (replay stops and names it).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { restartMariaDB, startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { WORKLOAD_SCHEMA, Workload, idsOn, sleep } from '../../helpers/workload.js';
import { waitFor, waitForStderr } from '../../helpers/wait.js';
import { alive, cmdline, descendants } from '../../helpers/procs.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

async function setup(): Promise<{ source: TestServer; t: TestConfig; work: Workload }> {
  const source = await startMariaDB();
  cleanups.push(() => source.stop());
  await source.source(WORKLOAD_SCHEMA);
  const account = await source.createBacktrackUser();
  const t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' } } });
  const work = new Workload(source);
  cleanups.push(() => work.close());
  return { source, t, work };
}

function startArchiver(t: TestConfig): ResultPromise {
  const child = cliSpawn(['binlog', '--config', t.file]);
  cleanups.push(async () => {
    child.kill('SIGKILL');
    await child;
  });
  return child;
}

async function listing(t: TestConfig) {
  const r = await cli(['list', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return r.json.sources[0];
}

/** Wait until the archive holds the transaction of the last written row. */
async function waitArchived(t: TestConfig, work: Workload) {
  const last = work.rows[work.rows.length - 1]!;
  await waitFor(async () => {
    const l = await listing(t);
    const tl = l.binlog.timelines.find((x: { lastTransactionTime?: string }) => x.lastTransactionTime);
    return tl && Date.parse(tl.lastTransactionTime) >= Math.floor(last.at.getTime() / 1000) * 1000 && (await piecesCover(t, last));
  }, 'the last row to be archived', 30_000, 300);
}

/** Every segment sidecar of the repository, parsed. */
type SidecarLike = { file: string; kind: string; start: number; end: number; timeline?: string; transactions?: number; lastTransaction?: { gtid?: string }; object?: { name: string } };
async function sidecars(t: TestConfig): Promise<SidecarLike[]> {
  const out: SidecarLike[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.name.endsWith('.json') && !p.includes('/gaps/')) out.push(JSON.parse(await readFile(p, 'utf8')));
    }
  };
  await walk(path.join(t.dir, 'repo', 'main', 'binlogs'));
  return out;
}

async function piecesCover(t: TestConfig, row: { gtid: string }): Promise<boolean> {
  return (await sidecars(t)).some((s) => s.lastTransaction?.gtid === row.gtid || (s.kind === 'file' && s.lastTransaction?.gtid && s.lastTransaction.gtid >= row.gtid));
}

/** No file is stored twice and pieces of a file meet end to start. */
async function expectNoDuplicates(t: TestConfig) {
  const all = await sidecars(t);
  const wholes = all.filter((s) => s.kind === 'file').map((s) => s.file);
  expect(new Set(wholes).size).toBe(wholes.length);
  const byFile = new Map<string, Array<{ start: number; end: number }>>();
  for (const s of all.filter((x) => x.kind === 'piece' && !wholes.includes(x.file))) byFile.set(s.file, [...(byFile.get(s.file) ?? []), s]);
  for (const [file, pieces] of byFile) {
    pieces.sort((a, b) => a.start - b.start);
    for (let i = 1; i < pieces.length; i++) expect(pieces[i]!.start, `${file} pieces overlap or leave a hole`).toBe(pieces[i - 1]!.end);
  }
}

async function restoreLatestEquals(t: TestConfig, work: Workload) {
  const target = await startMariaDB({ profile: 'scratch' });
  cleanups.push(() => target.stop());
  const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`]);
  expect(r.code, r.stderr).toBe(0);
  expect(await idsOn(target)).toEqual(work.rows.map((x) => x.id));
}

describe('the binlog archiver', () => {
  it('resumes after kill -9 with no gap and no duplicate segment', async () => {
    const { t, work } = await setup();
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    let archiver = startArchiver(t);
    await waitForStderr(archiver, /binlog archiving started/);
    work.start(30);
    await sleep(1500);
    const stream = descendants(archiver.pid!).filter((p) => /mariadb-binlog .*--stop-never/.test(cmdline(p)));
    expect(stream).toHaveLength(1);
    archiver.kill('SIGKILL');
    await archiver;
    // The replication stream dies with the archiver: it must not go on streaming.
    await waitFor(() => !alive(stream[0]!), 'the mariadb-binlog child of the killed archiver to die', 5000, 100);
    await sleep(300);
    archiver = startArchiver(t);
    await waitForStderr(archiver, /binlog archiving started/);
    await sleep(1000);
    await work.stop();
    await waitArchived(t, work);
    const l = await listing(t);
    expect(l.binlog.gaps).toEqual([]);
    expect(l.window).not.toBeNull();
    await expectNoDuplicates(t);
    await restoreLatestEquals(t, work);
  });

  it('reconnects when the source restarts and loses nothing', async () => {
    const { source, t, work } = await setup();
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    const archiver = startArchiver(t);
    await waitForStderr(archiver, /binlog archiving started/);
    for (let i = 0; i < 20; i++) await work.writeOne('before restart');
    await work.close();
    await source.stop({ keepData: true });
    const again = await restartMariaDB(source);
    cleanups.push(() => again.stop());
    const work2 = new Workload(again);
    cleanups.push(() => work2.close());
    for (let i = 0; i < 20; i++) await work2.writeOne('after restart');
    work2.rows.unshift(...work.rows);
    await waitArchived(t, work2);
    const l = await listing(t);
    expect(l.binlog.gaps).toEqual([]);
    await restoreLatestEquals(t, work2);
  });

  it('records a gap for a binlog purged before it was archived, shows it, and refuses to restore across it', async () => {
    const { source, t, work } = await setup();
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    let archiver = startArchiver(t);
    await waitForStderr(archiver, /binlog archiving started/);
    await work.writeOne('archived');
    await waitArchived(t, work);
    archiver.kill('SIGTERM');
    await archiver;
    // While nobody archives: writes, rotations, and a purge of what was not archived.
    const lost1 = await work.writeOne('lost 1');
    await source.query('FLUSH BINARY LOGS');
    const lost = await work.writeOne('lost 2');
    await source.query('FLUSH BINARY LOGS');
    const current = (await source.query<{ File: string }>('SHOW MASTER STATUS'))[0]?.File;
    await source.query(`PURGE BINARY LOGS TO '${current}'`);
    archiver = startArchiver(t);
    await waitForStderr(archiver, /binlog gap/);
    const afterGap = await work.writeOne('after the gap');
    await waitArchived(t, work);
    const l = await listing(t);
    expect(l.binlog.gaps).toHaveLength(1);
    expect(l.binlog.gaps[0].reason).toBe('purged-before-archived');
    const shown = await cli(['list', '--config', t.file]);
    expect(shown.stdout).toMatch(/GAP in .*were purged on the source before they were archived/);
    const r = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1', '--dry-run', '--to-gtid', lost.gtid]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/has a gap after .*purged on the source.*nearest restorable point before the gap is/);
    const latest = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1', '--dry-run']);
    expect(latest.code).toBe(4);
    // find names the gap and searches around it: the rows before and after it are found, the lost ones cannot be.
    const found = await cli(['find', '--config', t.file, '--table', 'pitr.events', '--statement', 'insert', '--limit', '100', '--json']);
    expect(found.code, found.stderr).toBe(0);
    expect(found.json.notes.join('\n')).toMatch(/the archive has a gap in this range .*purged/);
    const gtids = found.json.matches.map((m: { gtid: string }) => m.gtid);
    expect(gtids).toContain(afterGap.gtid);
    // (MariaDB may keep the newest purged file while its checkpoint needs it: 'lost 2' can survive; 'lost 1' cannot.)
    expect(gtids).not.toContain(lost1.gtid);
  });

  it('stops the replay on a corrupted segment and names it', async () => {
    const { t, work } = await setup();
    expect((await cli(['backup', '--config', t.file])).code).toBe(0);
    const archiver = startArchiver(t);
    await waitForStderr(archiver, /binlog archiving started/);
    for (let i = 0; i < 30; i++) await work.writeOne('x');
    await waitArchived(t, work);
    archiver.kill('SIGTERM');
    await archiver;
    const segs = (await sidecars(t)).filter((s) => s.kind === 'piece' || s.kind === 'file');
    const victim = segs.find((s) => (s as { transactions?: number }).transactions)!;
    const obj = path.join(t.dir, 'repo', 'main', 'binlogs', victim.timeline!, victim.kind === 'file' ? victim.object!.name : `${victim.file}.partial/${victim.object!.name}`);
    const bytes = await readFile(obj);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0x55;
    await writeFile(obj, bytes);
    const target = await startMariaDB({ profile: 'scratch' });
    cleanups.push(() => target.stop());
    // The plan is made from the sidecars (a dry run reads no segment); the replay checks every segment before using it.
    const dry = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    const r = await cli(['restore', '--config', t.file, '--target', `mysql://root@127.0.0.1:${target.port}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`binlog segment .*${victim.file}.* is damaged`));
    expect(r.stderr).toMatch(/PARTIAL restore/);
  });
});
