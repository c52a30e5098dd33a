/**
 * End to end with a real Prometheus (Debian's prometheus server on loopback,
 * loaded with the shipped rules): it scrapes the daemon, and after a drill
 * fails on a deliberately corrupted backup, BacktrackDrillFailed is firing in
 * Prometheus's own /api/v1/alerts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { findBinary, freePort } from '../../../src/scratch/spawn.js';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { request } from '../../helpers/http.js';
import { waitFor, waitForStderr } from '../../helpers/wait.js';

const prometheusBin = findBinary(['prometheus']);
const required = process.env.BACKTRACK_REQUIRE_ALL === '1';
const RULES = fileURLToPath(new URL('../../../config/prometheus/alerts.yaml', import.meta.url));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('alerting with a real Prometheus', () => {
  it.skipIf(!prometheusBin && !required)('fires BacktrackDrillFailed after a drill of a corrupted backup fails', async () => {
    expect(prometheusBin, 'prometheus is required here (BACKTRACK_REQUIRE_ALL=1): apt-get install prometheus').toBeDefined();
    const source: TestServer = await startMariaDB();
    cleanups.push(() => source.stop());
    await source.source('CREATE DATABASE shop; CREATE TABLE shop.t (id INT PRIMARY KEY); INSERT INTO shop.t VALUES (1), (2), (3);');
    const account = await source.createBacktrackUser();
    const [daemonPort, promPort] = [await freePort(), await freePort()];
    const t = await writeTestConfig(source, account, { kind: 'fs' }, { source: { binlog: { enabled: false } } });
    const tokenFile = path.join(t.dir, 'token');
    await writeFile(tokenFile, 'tok-123\n');
    await writeFile(t.file, stringify({ ...t.raw, http: { listen: `127.0.0.1:${daemonPort}`, tokenFile }, daemon: { refreshInterval: '2s' } }));
    const b = await cli(['backup', '--config', t.file, '--json']);
    expect(b.code, b.stderr).toBe(0);
    // Corrupt the stored dump: one flipped byte.
    const backupDir = path.join(t.dir, 'repo', 'main', 'backups', b.json.backup.id);
    const obj = path.join(backupDir, readdirSync(backupDir).find((f) => f.startsWith('table.')) as string);
    const bytes = await readFile(obj);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0x20;
    await writeFile(obj, bytes);

    const daemon: ResultPromise = cliSpawn(['daemon', '--config', t.file]);
    cleanups.push(async () => {
      daemon.kill('SIGTERM');
      await daemon;
    });
    await waitForStderr(daemon, /daemon started/);

    const dir = await mkdtemp(path.join(tmpdir(), 'bt-prometheus-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(path.join(dir, 'prometheus.yml'), stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES],
      scrape_configs: [{ job_name: 'backtrack', static_configs: [{ targets: [`127.0.0.1:${daemonPort}`] }] }],
    }));
    const prom = execa(prometheusBin!, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { reject: false });
    cleanups.push(async () => {
      prom.kill('SIGTERM');
      await prom;
    });
    const api = `http://127.0.0.1:${promPort}/api/v1`;
    await waitFor(async () => (await request('GET', `${api}/targets`)).json?.data?.activeTargets?.[0]?.health === 'up', 'Prometheus to scrape the daemon', 60_000, 500);

    const trig = await request('POST', `http://127.0.0.1:${daemonPort}/api/v1/sources/main/drills`, 'tok-123');
    expect(trig.status).toBe(202);
    const firing = await waitFor(async () => {
      const alerts = (await request('GET', `${api}/alerts`)).json?.data?.alerts ?? [];
      return alerts.find((a: { labels: { alertname: string }; state: string }) => a.labels.alertname === 'BacktrackDrillFailed' && a.state === 'firing');
    }, 'BacktrackDrillFailed to fire', 90_000, 500);
    expect(firing.labels).toMatchObject({ source: 'main', severity: 'page' });
    expect(firing.annotations.summary).toMatch(/restore drill of main failed/);
    const job = await request('GET', `http://127.0.0.1:${daemonPort}/api/v1/jobs/${trig.json.job.id}`, 'tok-123');
    expect(job.json.state).toBe('failed');
    expect(job.json.error).toMatch(/integrity/);
  });
});
