/**
 * A failover: the server behind the source's address changes identity. The
 * archiver notices, starts a new timeline for the new server's log, records
 * the old timeline's end as a gap, and never mixes the two servers' files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ResultPromise } from 'execa';
import { startMariaDB, type TestServer } from '../../helpers/mariadb.js';
import { writeTestConfig } from '../../helpers/config.js';
import { cli, cliSpawn } from '../../helpers/cli.js';
import { WORKLOAD_SCHEMA, Workload } from '../../helpers/workload.js';
import { waitFor, waitForStderr } from '../../helpers/wait.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
});

describe('the archiver across a failover', () => {
  it('starts a new timeline for the new server and records where the old one ends', async () => {
    const a: TestServer = await startMariaDB({ serverId: 1 });
    cleanups.push(() => a.stop());
    await a.source(WORKLOAD_SCHEMA);
    const account = await a.createBacktrackUser();
    const t = await writeTestConfig(a, account, { kind: 'fs' }, { source: { binlog: { uploadInterval: '300ms' } } });
    const archiver: ResultPromise = cliSpawn(['binlog', '--config', t.file]);
    cleanups.push(async () => {
      archiver.kill('SIGKILL');
      await archiver;
    });
    await waitForStderr(archiver, /binlog archiving started/);
    const wa = new Workload(a);
    for (let i = 0; i < 10; i++) await wa.writeOne('on a');
    await wa.close();
    const binlogs = path.join(t.dir, 'repo', 'main', 'binlogs');
    await waitFor(() => readdirSync(binlogs).length === 1, 'the first timeline');
    const first = readdirSync(binlogs)[0]!;

    // The failover: another server (server_id 2) takes over the address.
    await a.stop();
    const b = await startMariaDB({ serverId: 2, port: a.port });
    cleanups.push(() => b.stop());
    await b.source(WORKLOAD_SCHEMA);
    const password = readFileSync(account.passwordFile, 'utf8').trim();
    await b.query("CREATE USER 'backtrack'@'127.0.0.1' IDENTIFIED BY ?", [password]);
    await b.query("GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'backtrack'@'127.0.0.1'");
    const wb = new Workload(b);
    for (let i = 0; i < 10; i++) await wb.writeOne('on b');
    await wb.close();

    await waitFor(() => readdirSync(binlogs).length === 2, 'a second timeline', 60_000, 300);
    const second = readdirSync(binlogs).find((d) => d !== first)!;
    await waitFor(() => readdirSync(path.join(binlogs, second), { recursive: true }).some((f) => String(f).endsWith('.json')), 'segments on the new timeline', 30_000, 300);
    // No mixing: every sidecar of a timeline names that timeline's server.
    for (const [dir, serverId] of [[first, 1], [second, 2]] as const) {
      const ids = new Set<number>();
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          const p = path.join(d, e.name);
          if (e.isDirectory() && e.name !== 'gaps') walk(p);
          else if (e.name.endsWith('.json') && !d.endsWith('gaps')) ids.add(JSON.parse(readFileSync(p, 'utf8')).server.serverId);
        }
      };
      walk(path.join(binlogs, dir));
      expect([...ids], `timeline ${dir}`).toEqual([serverId]);
    }
    const l = await cli(['list', '--config', t.file, '--json']);
    const gaps = l.json.sources[0].binlog.gaps;
    expect(gaps.map((g: { reason: string; timeline: string }) => [g.reason, g.timeline])).toEqual([['failover', first]]);
    expect(gaps[0].detail).toMatch(/now a different server/);
  });
});
