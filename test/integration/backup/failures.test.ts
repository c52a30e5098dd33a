/**
 * Every way a backup can fail leaves no committed backup, exits non-zero and
 * names the cause: the dump tool failing part way, the server dying, the
 * repository refusing the upload or running out of space, SIGINT, and kill -9
 * (whose leftovers the next backup removes).
 */
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { startS3, type S3Sandbox } from '../../helpers/s3.js';
import { writeTestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { waitFor, waitForStderr, sleep } from '../../helpers/wait.js';
import { alive, cmdline, descendants } from '../../helpers/procs.js';

let source: TestServer;
let s3: S3Sandbox;
let account: { user: string; passwordFile: string };

/** Slow enough to be caught in the middle: zstd -19 over ~40 MB of SQL. */
const SLOW = { source: { backup: { compressionLevel: 19, compressionThreads: 1 } } };

beforeAll(async () => {
  [source, s3] = await Promise.all([startMariaDB(), startS3()]);
  await source.source(`
    CREATE DATABASE shop; USE shop;
    CREATE TABLE shop.big (id INT PRIMARY KEY, payload VARCHAR(200));
    INSERT INTO shop.big SELECT seq, CONCAT(MD5(seq), REPEAT(SHA1(seq), 3), MD5(seq * 7)) FROM seq_1_to_250000;
    CREATE VIEW shop.v AS SELECT COUNT(*) AS n FROM shop.big;
  `);
  account = await source.createBacktrackUser();
});
afterAll(async () => {
  await Promise.all([source?.stop(), s3?.stop()]);
});

async function committedBackups(file: string): Promise<unknown[]> {
  const r = await cli(['list', '--config', file, '--json']);
  expect(r.code).toBe(0);
  return r.json.sources[0].backups;
}

function repoFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else out.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  walk(dir);
  return out.filter((f) => f.includes('/backups/'));
}

describe('backup failures', () => {
  it('fails with the dump tool\'s own message when the tool exits non-zero part way', async () => {
    // The account may read tables but not views: mariadb-dump fails when it reaches the view.
    await source.query("REVOKE SHOW VIEW ON *.* FROM 'backtrack'@'127.0.0.1'");
    try {
      const t = await writeTestConfig(source, account, { kind: 'fs' });
      const r = await cli(['backup', '--config', t.file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/backtrack: error: mariadb-dump( \([^)]*\))? exited with status \d+: .*SHOW VIEW/);
      expect(await committedBackups(t.file)).toEqual([]);
      expect(repoFiles(path.join(t.dir, 'repo'))).toEqual([]);
    } finally {
      await source.query("GRANT SHOW VIEW ON *.* TO 'backtrack'@'127.0.0.1'");
    }
  });

  it('fails and names the cause when the S3 bucket refuses the upload', async () => {
    const t = await writeTestConfig(source, account, { kind: 's3', s3 }, { top: {} });
    const raw = { ...t.raw, repository: { ...(t.raw.repository as object), url: 's3://no-such-bucket/x' } };
    const { writeFile } = await import('node:fs/promises');
    const { stringify } = await import('yaml');
    await writeFile(t.file, stringify(raw));
    const r = await cli(['backup', '--config', t.file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bucket does not exist/);
  });

  it('fails with "disk is full" when the repository file system fills up, and leaves nothing behind', async () => {
    const mnt = await mkdtemp(path.join(tmpdir(), 'bt-full-'));
    execSync(`mount -t tmpfs -o size=3m tmpfs ${mnt}`);
    try {
      mkdirSync(path.join(mnt, 'repo'));
      const t = await writeTestConfig(source, account, { kind: 'fs' }, { top: { repository: { url: path.join(mnt, 'repo') } }, source: { backup: { compressionLevel: 1 } } });
      const r = await cli(['backup', '--config', t.file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/disk is full/);
      expect(repoFiles(path.join(mnt, 'repo'))).toEqual([]);
    } finally {
      execSync(`umount ${mnt}`);
      await rm(mnt, { recursive: true, force: true });
    }
  });

  it('stops on SIGINT with exit 130, commits nothing and removes what it wrote', async () => {
    const t = await writeTestConfig(source, account, { kind: 'fs' }, SLOW);
    const child = cliSpawn(['backup', '--config', t.file]);
    await waitForStderr(child, /backup started/);
    await sleep(700);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(String(r.stderr)).toMatch(/interrupted/);
    expect(await committedBackups(t.file)).toEqual([]);
    expect(repoFiles(path.join(t.dir, 'repo'))).toEqual([]);
  });

  it('fails naming the lost connection when the source dies mid-dump', async () => {
    const own = await startMariaDB();
    try {
      await own.source('CREATE DATABASE shop; USE shop; CREATE TABLE shop.big (id INT PRIMARY KEY, p VARCHAR(200)); INSERT INTO shop.big SELECT seq, REPEAT(MD5(seq), 5) FROM seq_1_to_200000;');
      const acct = await own.createBacktrackUser();
      const t = await writeTestConfig(own, acct, { kind: 'fs' }, SLOW);
      const child = cliSpawn(['backup', '--config', t.file]);
      await waitForStderr(child, /backup started/);
      await sleep(500);
      await own.crash();
      const r = await child;
      expect(r.exitCode).toBe(1);
      // The dump tool's own words, or (when the source died while Backtrack's own connection was busy: planning, the lock) Backtrack's.
      expect(String(r.stderr)).toMatch(/mariadb-dump( \([^)]*\))? (exited with status \d+|was killed).*(Lost connection|server has gone away|Error 20\d\d)|lost the connection (to the MySQL server|that held)/i);
      expect(repoFiles(path.join(t.dir, 'repo'))).toEqual([]);
    } finally {
      await own.stop();
    }
  });

  it('after kill -9 leaves no password on disk and no child process running', async () => {
    const t = await writeTestConfig(source, account, { kind: 'fs' }, SLOW);
    const tmp = await mkdtemp(path.join(tmpdir(), 'bt-tmp-'));
    const child = cliSpawn(['backup', '--config', t.file], { env: { TMPDIR: tmp } });
    await waitForStderr(child, /backup started/);
    await sleep(500);
    const kids = descendants(child.pid!);
    expect(kids.map(cmdline).join('\n')).toMatch(/mariadb-dump --defaults-extra-file=\/dev\/fd\/3/);
    // The options reach the tools by file descriptor: no file with the password exists, even now.
    expect(readdirSync(tmp)).toEqual([]);
    child.kill('SIGKILL');
    await child;
    await waitFor(() => kids.every((k) => !alive(k)), 'every child of the killed backup to die', 5000, 100);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('after kill -9 lists no backup, and the next backup removes the leftovers', async () => {
    const t = await writeTestConfig(source, account, { kind: 'fs' }, SLOW);
    const child = cliSpawn(['backup', '--config', t.file]);
    await waitForStderr(child, /backup started/);
    const repo = path.join(t.dir, 'repo');
    // Killed once it has written something (objects of a few MiB go up whole, so that can take a moment).
    await waitFor(() => existsSync(repo) && repoFiles(repo).length > 0, 'the backup to write its first object', 20_000, 50);
    child.kill('SIGKILL');
    await child;
    expect(repoFiles(repo).length).toBeGreaterThan(0);
    expect(repoFiles(repo).some((f) => f.endsWith('manifest.json'))).toBe(false);
    expect(await committedBackups(t.file)).toEqual([]);
    // The lock died with the connection; a normal backup runs and cleans up.
    const fast = await writeTestConfig(source, account, { kind: 'fs' });
    const { writeFile } = await import('node:fs/promises');
    const { stringify } = await import('yaml');
    await writeFile(t.file, stringify({ ...fast.raw, repository: { url: repo } }));
    const ok = await cli(['backup', '--config', t.file, '--json']);
    expect(ok.code).toBe(0);
    const files = repoFiles(repo);
    expect(files.every((f) => f.includes(ok.json.backup.id))).toBe(true);
    expect(files.filter((f) => f.endsWith('manifest.json'))).toHaveLength(1);
    expect(await committedBackups(t.file)).toHaveLength(1);
  });
});
