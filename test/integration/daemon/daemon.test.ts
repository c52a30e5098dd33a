/**
 * The daemon as SREs run it: a child process with second-level schedules
 * against MariaDB and s3rver for about a minute. Backups and drills happen on
 * schedule and never overlap, the archiver runs, /metrics shows it all, the
 * API wants its token, and SIGTERM ends it within the bound leaving no
 * scratch server, no partial backup and no binlog bytes behind. Then two
 * daemons on one source: one leads, and the other takes over when it dies.
 */
import { execSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { startS3, type S3Sandbox } from '../../helpers/s3.js';
import { configToEnv, writeTestConfig } from '../../helpers/config.js';
import { BIN, cli, cliSpawn } from '../../helpers/cli.js';
import { execa } from 'execa';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { S3_ENV } from '../../helpers/s3.js';
import { metric, request, getText } from '../../helpers/http.js';
import { waitFor, waitForStderr, sleep } from '../../helpers/wait.js';
import { WORKLOAD_SCHEMA, Workload } from '../../helpers/workload.js';
import { freePort } from '../../../src/scratch/spawn.js';

let source: TestServer;
let s3: S3Sandbox;
let account: { user: string; passwordFile: string };
const TOKEN = 'test-token-6c1f0e';
const running: ResultPromise[] = [];

beforeAll(async () => {
  [source, s3] = await Promise.all([startMariaDB(), startS3()]);
  await source.source(WORKLOAD_SCHEMA);
  account = await source.createBacktrackUser();
  await source.query("GRANT CREATE, INSERT, DELETE, SELECT ON backtrack.* TO 'backtrack'@'127.0.0.1'");
});
afterAll(async () => {
  for (const c of running) c.kill('SIGKILL');
  await Promise.all([source?.stop(), s3?.stop()]);
});

async function daemonConfig(port: number, source_: Record<string, unknown>, top: Record<string, unknown> = {}) {
  const t = await writeTestConfig(source, account, { kind: 's3', s3 }, { source: source_, top });
  const tokenFile = path.join(t.dir, 'token');
  await writeFile(tokenFile, `ops:${TOKEN}\n`, { mode: 0o600 });
  const { stringify } = await import('yaml');
  await writeFile(t.file, stringify({ ...t.raw, ...top, http: { listen: `127.0.0.1:${port}`, tokenFile }, shutdownTimeout: '20s', daemon: { leaderRetry: '1s', lockSessionTimeout: '10s', refreshInterval: '5s' } }));
  return t;
}

function startDaemon(file: string): ResultPromise {
  const child = cliSpawn(['daemon', '--config', file]);
  running.push(child);
  return child;
}

describe('backtrack daemon', () => {
  it('runs from BACKTRACK_* environment variables alone, with no config file: backs up, archives, answers /readyz', async () => {
    const port = await freePort();
    const t = await writeTestConfig(source, account, { kind: 's3', s3 }, { source: { backup: { schedule: '*/4 * * * * *' }, binlog: { uploadInterval: '1s' } } });
    const env = configToEnv({ ...t.raw, http: { listen: `127.0.0.1:${port}` }, shutdownTimeout: '20s', daemon: { leaderRetry: '1s', refreshInterval: '2s' } });
    expect(env.BACKTRACK_SOURCES_0_MYSQL_PORT).toBe(String(source.port));
    // A working directory with no config/backtrack.yaml: the variables are the whole configuration.
    const cwd = await mkdtemp(path.join(tmpdir(), 'bt-env-'));
    const d = execa(BIN, ['daemon'], { cwd, reject: false, env: { ...S3_ENV, BACKTRACK_NODE: process.execPath, ...env } });
    running.push(d);
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await request('GET', `${base}/readyz`).catch(() => ({ status: 0 }))).status === 200, 'the daemon to be ready', 30_000, 250);
      await source.query("INSERT INTO pitr.events (committed_at, note) VALUES (NOW(6), 'from env')");
      await waitFor(
        async () => {
          const m = (await getText(`${base}/metrics`)).body;
          return (metric(m, 'backtrack_backup_last_success_timestamp_seconds', { source: 'main' }) ?? 0) > 0 && (metric(m, 'backtrack_binlog_segments_uploaded_total', { source: 'main' }) ?? 0) > 0;
        },
        'a backup and an archived segment',
        40_000,
        500,
      );
      // backtrack health follows the configuration to the daemon: ready, exit 0.
      const health = await execa(BIN, ['health', '--json'], { cwd, reject: false, env: { ...S3_ENV, BACKTRACK_NODE: process.execPath, ...env } });
      expect(health.exitCode, String(health.stderr)).toBe(0);
      expect(JSON.parse(String(health.stdout))).toMatchObject({ ok: true, url: `http://127.0.0.1:${port}/readyz`, status: 200 });
    } finally {
      d.kill('SIGTERM');
    }
    const r = await d;
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    const gone = await execa(BIN, ['health'], { cwd, reject: false, env: { ...S3_ENV, BACKTRACK_NODE: process.execPath, ...env } });
    expect(gone.exitCode).toBe(1);
    expect(String(gone.stdout)).toMatch(/not reachable: http:\/\/127\.0\.0\.1:\d+\/readyz/);
    // A BACKTRACK_ variable that names no option stops the command, naming it.
    const typo = await execa(BIN, ['list'], { cwd, reject: false, env: { ...S3_ENV, BACKTRACK_NODE: process.execPath, ...env, BACKTRACK_SOURCES_0_MYSQL_HOTS: 'x' } });
    expect(typo.exitCode).toBe(2);
    expect(String(typo.stderr)).toMatch(/BACKTRACK_SOURCES_0_MYSQL_HOTS is not a configuration option/);
  });

  it('runs schedules without overlap, archives, serves metrics and the API, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const t = await daemonConfig(port, {
      backup: { schedule: '*/12 * * * * *' },
      verify: { schedule: '5,35 * * * * *', heartbeat: { enabled: true, interval: '1s' } },
      binlog: { uploadInterval: '1s' },
    });
    const base = `http://127.0.0.1:${port}`;
    const d = startDaemon(t.file);
    await waitForStderr(d, /daemon started/);
    const work = new Workload(source);
    try {
      work.start(10);
      await sleep(50_000);
      await checkRunningDaemon(base, d, t, work);
    } finally {
      await work.close();
      d.kill('SIGKILL');
    }
  });

  async function checkRunningDaemon(base: string, d: ResultPromise, t: Awaited<ReturnType<typeof daemonConfig>>, work: Workload) {
    // /metrics is open and shows the work done.
    const m = (await getText(`${base}/metrics`)).body;
    expect(metric(m, 'backtrack_up')).toBe(1);
    expect(metric(m, 'backtrack_leader', { source: 'main' })).toBe(1);
    expect(metric(m, 'backtrack_backup_last_success_timestamp_seconds', { source: 'main' })).toBeGreaterThan(Date.now() / 1000 - 60);
    const verdict = metric(m, 'backtrack_drill_last_verdict', { source: 'main' });
    if (verdict !== 1) expect.fail(`the last drill did not pass: ${JSON.stringify((await request('GET', `${base}/api/v1/sources/main/drills`, TOKEN)).json.drills.map((x: { backupId: string; startedAt: string; verdict: string; checks: Array<{ verdict: string }> }) => [x.backupId, x.startedAt, x.verdict, x.checks.filter((c) => c.verdict === 'failed')]))}`);
    expect(metric(m, 'backtrack_binlog_archiver_up', { source: 'main' })).toBe(1);
    expect(metric(m, 'backtrack_binlog_segments_uploaded_total', { source: 'main' })).toBeGreaterThan(5);
    expect(metric(m, 'backtrack_restorable_window_end_timestamp_seconds', { source: 'main' })).toBeGreaterThan(0);
    expect(m).toMatch(/backtrack_process_resident_memory_bytes/);
    expect((await getText(`${base}/healthz`)).status).toBe(200);
    const ready = await request('GET', `${base}/readyz`);
    expect(ready.status, JSON.stringify(ready.json)).toBe(200);

    // The API needs the token, compared in constant time.
    expect((await request('GET', `${base}/api/v1/sources`)).status).toBe(401);
    expect((await request('GET', `${base}/api/v1/sources`, 'wrong-token')).status).toBe(401);
    const sources = await request('GET', `${base}/api/v1/sources`, TOKEN);
    expect(sources.status).toBe(200);
    expect(sources.json.sources[0]).toMatchObject({ name: 'main', leader: true });
    const trig = await request('POST', `${base}/api/v1/sources/main/backups`, TOKEN);
    expect([202, 409]).toContain(trig.status);
    const again = await request('POST', `${base}/api/v1/sources/main/backups`, TOKEN);
    expect(again.status).toBe(409);
    const jobId = (trig.json.job ?? again.json.job).id;
    await waitFor(async () => ['succeeded', 'failed'].includes((await request('GET', `${base}/api/v1/jobs/${jobId}`, TOKEN)).json.state), 'the triggered backup to finish', 30_000, 250);
    expect((await request('GET', `${base}/api/v1/jobs/${jobId}`, TOKEN)).json.state).toBe('succeeded');

    // The last row before the stop must be archived by the time the daemon exits.
    await work.stop();
    const last = await work.writeOne('last before SIGTERM');
    await work.close();
    const t0 = Date.now();
    d.kill('SIGTERM');
    const r = await d;
    const took = Date.now() - t0;
    expect(r.exitCode, String(r.stderr).slice(-2000)).toBe(0);
    expect(took).toBeLessThan(20_000);

    // Schedules ran, several times, and jobs never overlapped.
    const audit = await cli(['audit', '--config', t.file, '--json']);
    const jobs = audit.json.events.filter((e: { action: string }) => e.action === 'backup' || e.action === 'drill');
    expect(jobs.filter((e: { action: string }) => e.action === 'backup').length).toBeGreaterThanOrEqual(3);
    expect(jobs.filter((e: { action: string }) => e.action === 'drill').length).toBeGreaterThanOrEqual(2);
    // The API's backup is audited under its token's name (unless it met a scheduled one already running: 409).
    if (trig.status === 202) expect(jobs.some((e: { actor: { kind: string; name: string } }) => e.actor.kind === 'api' && e.actor.name === 'ops')).toBe(true);
    const spans = jobs.map((e: { at: string; durationSeconds: number }) => [Date.parse(e.at) - e.durationSeconds * 1000, Date.parse(e.at)]).sort((a: number[], b: number[]) => a[0]! - b[0]!);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0], 'two jobs of one source overlapped').toBeGreaterThanOrEqual(spans[i - 1][1] - 50);

    // Nothing left behind: no partial backup, no scratch server, no unarchived bytes.
    const list = await cli(['list', '--config', t.file, '--json']);
    expect(list.json.sources[0].leftovers).toEqual([]);
    expect(list.json.sources[0].backups.every((b: { drill: unknown }) => b !== null)).toBe(true);
    const scratch = path.join(t.dir, 'work', 'scratch');
    expect(existsSync(scratch) ? readdirSync(scratch) : []).toEqual([]);
    expect(execSync(`pgrep -af '[m]ariadbd.*${t.dir}' || true`).toString().trim()).toBe('');
    const plan = await cli(['restore', '--config', t.file, '--target', 'mysql://root@127.0.0.1:1', '--dry-run', '--to-gtid', last.gtid]);
    expect(plan.code, plan.stderr).not.toBe(8);
    expect(plan.stderr).not.toMatch(/is not in the archived binlog/);
  }

  it('lets only one of two daemons lead a source, and the other takes over when it dies', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const c1 = await daemonConfig(p1, { binlog: { uploadInterval: '1s' } });
    const { stringify } = await import('yaml');
    const c2file = path.join(c1.dir, 'second.yaml');
    await writeFile(c2file, stringify({ ...(await import('yaml')).parse(await (await import('node:fs/promises')).readFile(c1.file, 'utf8')), http: { listen: `127.0.0.1:${p2}`, tokenFile: path.join(c1.dir, 'token') } }));
    const d1 = startDaemon(c1.file);
    await waitForStderr(d1, /daemon started/);
    const d2 = startDaemon(c2file);
    await waitForStderr(d2, /daemon started/);
    const leaderOf = async (port: number) => metric((await getText(`http://127.0.0.1:${port}/metrics`)).body, 'backtrack_leader', { source: 'main' });
    const archiving = async (port: number) => metric((await getText(`http://127.0.0.1:${port}/metrics`)).body, 'backtrack_binlog_archiver_up', { source: 'main' });
    await waitFor(async () => (await leaderOf(p1))! + (await leaderOf(p2))! >= 1, 'one daemon to lead', 30_000, 200);
    await sleep(2500);
    const [l1, l2] = [await leaderOf(p1), await leaderOf(p2)];
    expect(l1! + l2!).toBe(1);
    const [leader, standby, standbyPort, leaderPort] = l1 === 1 ? [d1, d2, p2, p1] : [d2, d1, p1, p2];
    expect(await archiving(standbyPort)).toBe(0);
    // The API answers the same on either daemon: the standby forwards a trigger, and a job's state, to the leader.
    const sb = `http://127.0.0.1:${standbyPort}/api/v1`;
    const listed = await request('GET', `${sb}/sources`, TOKEN);
    expect(listed.json.sources[0]).toMatchObject({ name: 'main', leader: false, ledBy: { url: `http://127.0.0.1:${leaderPort}` } });
    const forwarded = await fetch(`${sb}/sources/main/backups`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(forwarded.status).toBe(202);
    expect(forwarded.headers.get('x-backtrack-forwarded-to')).toBe(listed.json.sources[0].ledBy.identity);
    const job = ((await forwarded.json()) as { job: { id: string } }).job;
    await waitFor(async () => (await request('GET', `${sb}/jobs/${job.id}`, TOKEN)).json.state === 'succeeded', 'the forwarded backup to succeed, seen from the standby', 60_000, 300);
    expect((await request('GET', `http://127.0.0.1:${leaderPort}/api/v1/jobs/${job.id}`, TOKEN)).json).toMatchObject({ id: job.id, state: 'succeeded', actor: 'ops' });
    // A forwarded request is never forwarded again; the token is still needed.
    expect((await request('POST', `${sb}/sources/main/backups`, 'wrong-token')).status).toBe(401);
    const twice = await fetch(`${sb}/sources/main/backups`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'x-backtrack-forwarded-by': 'elsewhere' } });
    expect(twice.status).toBe(503);
    expect(((await twice.json()) as { error: string }).error).toMatch(/is not forwarded twice/);
    const killedAt = Date.now();
    leader.kill('SIGKILL');
    await leader;
    await waitFor(async () => (await leaderOf(standbyPort)) === 1, 'the standby to take over', 15_000, 100);
    const takeover = Date.now() - killedAt;
    expect(takeover).toBeLessThan(5_000);
    await waitFor(async () => (await archiving(standbyPort)) === 1, 'the new leader to archive', 15_000, 200);
    // The new leader records itself, and runs a trigger itself.
    expect((await request('GET', `${sb}/sources`, TOKEN)).json.sources[0]).toMatchObject({ leader: true, ledBy: { url: `http://127.0.0.1:${standbyPort}` } });
    const own = await request('POST', `${sb}/sources/main/backups`, TOKEN);
    expect(own.status).toBe(202);
    await waitFor(async () => (await request('GET', `${sb}/jobs/${own.json.job.id}`, TOKEN)).json.state === 'succeeded', 'the new leader\'s backup', 60_000, 300);
    standby.kill('SIGTERM');
    expect((await standby).exitCode).toBe(0);
  });
});
