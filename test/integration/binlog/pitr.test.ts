/**
 * Point-in-time recovery, checked like pgBackRest's own test: a workload
 * writes rows carrying their commit time, GTID and position; full backups
 * are taken mid-workload; the logs rotate mid-workload; then restores to
 * several points give exactly the rows committed at or before each point.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { ResultPromise } from 'execa';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { startS3, type S3Sandbox } from '../../helpers/s3.js';
import { writeTestConfig, type TestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { WORKLOAD_SCHEMA, Workload, idsOn, nextSecond, sleep } from '../../helpers/workload.js';
import { waitFor } from '../../helpers/wait.js';

let source: TestServer;
let target: TestServer;
let s3: S3Sandbox;
let t: TestConfig;
let archiver: ResultPromise;
let work: Workload;
const backups: string[] = [];
const marks: Record<string, number> = {};

beforeAll(async () => {
  [source, target, s3] = await Promise.all([startMariaDB(), startMariaDB({ profile: 'scratch' }), startS3()]);
  await source.source(WORKLOAD_SCHEMA);
  const account = await source.createBacktrackUser();
  t = await writeTestConfig(source, account, { kind: 's3', s3 }, { source: { binlog: { uploadInterval: '500ms' } } });
  archiver = cliSpawn(['binlog', '--config', t.file]);
  work = new Workload(source);
  await work.writeOne('before any backup');
  marks.beforeBackups = Math.floor(Date.now() / 1000);
  await nextSecond();
  let r = await cli(['backup', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  backups.push(r.json.backup.id);
  // Phase A: writes after the first backup.
  work.start(20);
  marks.phaseA = await nextSecond();
  await sleep(1500);
  // The second backup is taken while the workload runs.
  r = await cli(['backup', '--config', t.file, '--json']);
  expect(r.code, r.stderr).toBe(0);
  backups.push(r.json.backup.id);
  marks.phaseB = await nextSecond();
  await sleep(1500);
  await source.query('FLUSH BINARY LOGS');
  marks.phaseC = await nextSecond();
  await sleep(1500);
  await work.stop();
  const last = work.rows[work.rows.length - 1]!;
  // Everything written must reach the repository.
  await waitFor(async () => {
    const l = await cli(['list', '--config', t.file, '--json']);
    const newest = l.json?.sources?.[0]?.binlog?.timelines?.[0]?.lastTransactionTime;
    return newest && Date.parse(newest) >= Math.floor(last.at.getTime() / 1000) * 1000;
  }, 'the archiver to upload the last transaction', 30_000, 300);
});

afterAll(async () => {
  archiver?.kill('SIGTERM');
  await archiver;
  await work?.close();
  await Promise.all([source?.stop(), target?.stop(), s3?.stop()]);
});

const targetDsn = () => `mysql://root@127.0.0.1:${target.port}`;

async function restore(extra: string[]) {
  return cli(['restore', '--config', t.file, '--target', targetDsn(), '--force', '--json', ...extra]);
}

describe('restore --to TIME', () => {
  it('gives exactly the rows committed at or before T, for T in each phase', async () => {
    for (const [phase, T] of [['A', marks.phaseA! + 1], ['B', marks.phaseB! + 1], ['C', marks.phaseC! + 1]] as const) {
      const at = new Date(T * 1000).toISOString();
      const r = await restore(['--to', at]);
      expect(r.code, `phase ${phase}: ${r.stderr}`).toBe(0);
      expect(await idsOn(target), `phase ${phase} at ${at}`).toEqual(work.idsAtOrBefore(T));
      // Phase A is before the second backup's snapshot: the first backup is the start.
      if (phase === 'A') expect(r.json.plan.backup.id).toBe(backups[0]);
      if (phase === 'C') expect(r.json.plan.pitr.files.length).toBeGreaterThanOrEqual(1);
    }
  });

  it('reads a time without an offset as UTC and says so in the plan', async () => {
    const T = marks.phaseB! + 1;
    const noZone = new Date(T * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
    const r = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--force', '--dry-run', '--to', noZone]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/no offset given: read as UTC/);
    expect(r.stdout).toMatch(/dry run/);
  });

  it('refuses a time before the oldest backup\'s snapshot point', async () => {
    const r = await restore(['--to', new Date((marks.beforeBackups! - 5) * 1000).toISOString()]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/no backup can reach/);
  });

  it('restores the newest archived transaction when given neither --to nor --backup', async () => {
    const r = await restore([]);
    expect(r.code, r.stderr).toBe(0);
    expect(await idsOn(target)).toEqual(work.rows.map((x) => x.id));
    expect(r.json.plan.backup.id).toBe(backups[1]);
  });
});

describe('restore --to-gtid and --to-position', () => {
  it('stops right after the named GTID', async () => {
    const row = work.rows[Math.floor(work.rows.length * 0.8)]!;
    const r = await restore(['--to-gtid', row.gtid]);
    expect(r.code, r.stderr).toBe(0);
    expect(await idsOn(target)).toEqual(work.rows.filter((x) => x.id <= row.id).map((x) => x.id));
    expect(r.json.plan.pitr.lastIncluded.gtid).toBe(row.gtid);
  });

  it('stops exactly at a binlog position that ends a transaction', async () => {
    const row = work.rows[Math.floor(work.rows.length * 0.6)]!;
    const r = await restore(['--to-position', `${row.file}:${row.pos}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(await idsOn(target)).toEqual(work.rows.filter((x) => x.id <= row.id).map((x) => x.id));
  });

  it('refuses a position inside a transaction and names the nearest boundaries', async () => {
    const row = work.rows[Math.floor(work.rows.length * 0.6)]!;
    const r = await restore(['--to-position', `${row.file}:${row.pos - 3}`, '--dry-run']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/is not a transaction boundary; the nearest are/);
  });
});

describe('the binlog tool that replays', () => {
  it('is named in the plan; MySQL\'s mysqlbinlog for this MariaDB source is refused before the target is touched, and check says so', async () => {
    const dry = await cli(['restore', '--config', t.file, '--target', targetDsn(), '--force', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/the binlog is replayed with mariadb-binlog \(\S*mariadb-binlog Ver \d+\.\d+/);
    // A stand-in for MySQL's tool: it answers --version as MySQL 8.4's does.
    const fake = path.join(t.dir, 'mysqlbinlog-8.4');
    await writeFile(fake, '#!/bin/sh\necho "mysqlbinlog  Ver 8.4.3 for Linux on x86_64 (MySQL Community Server - GPL)"\n', { mode: 0o755 });
    const file = path.join(t.dir, 'wrong-tool.yaml');
    await writeFile(file, stringify({ ...t.raw, tools: { binlog: fake } }));
    await target.query('CREATE DATABASE IF NOT EXISTS untouched');
    const r = await cli(['restore', '--config', file, '--target', targetDsn(), '--force', '--to', 'latest']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the binlog tool .*mysqlbinlog-8\.4 cannot replay this MariaDB .* source's binlog: it is MySQL's .* cannot read MariaDB's GTID events/);
    expect(await target.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'untouched'")).toHaveLength(1);
    const check = await cli(['check', '--config', file]);
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/tool .*mysqlbinlog-8\.4.*cannot read MariaDB's GTID events/);
    await target.query('DROP DATABASE untouched');
  });
});
