/**
 * A careless user at the command line: values that pass a glance but would
 * hammer the source or crash the daemon later, flags and words that mean
 * nothing, secrets files that are empty, dates that do not exist. Each is
 * refused at once with exit 2 and a message that names what to fix; none
 * of these cases needs a running server.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import net from 'node:net';
import { cli, cliSpawn } from '../../helpers/cli.js';

/** A config file in its own directory; the source points at a closed port. */
async function config(top: Record<string, unknown> = {}, source: Record<string, unknown> = {}, dir?: string): Promise<{ dir: string; file: string }> {
  dir ??= await mkdtemp(path.join(tmpdir(), 'bt-careless-'));
  const file = path.join(dir, 'backtrack.yaml');
  const raw = { repository: { url: path.join(dir, 'repo') }, workDir: path.join(dir, 'work'), sources: [{ name: 'main', mysql: { host: '127.0.0.1', port: 1, ...(source.mysql as object) }, ...source }], ...top };
  await writeFile(file, stringify(raw));
  return { dir, file };
}

describe('durations', () => {
  it('refuses zero intervals, naming each field and its minimum', async () => {
    const c = await config(
      { shutdownTimeout: '0s', daemon: { leaderRetry: '0ms' } },
      { binlog: { uploadInterval: '0s' }, verify: { heartbeat: { enabled: true, interval: '0s' } } },
    );
    const r = await cli(['check', '--config', c.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sources\[0\]\.binlog\.uploadInterval: uploadInterval must be at least 200ms/);
    expect(r.stderr).toMatch(/sources\[0\]\.verify\.heartbeat\.interval: heartbeat\.interval must be at least 100ms/);
    expect(r.stderr).toMatch(/daemon\.leaderRetry: daemon\.leaderRetry must be at least 100ms/);
    expect(r.stderr).toMatch(/shutdownTimeout: shutdownTimeout must be at least 1s/);
  });

  it('shows every minimum in the configuration reference', async () => {
    const r = await cli(['help', 'config', '--markdown']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/`sources\[\]\.binlog\.uploadInterval` .* Minimum: 200ms\./);
    expect(r.stdout).toMatch(/`daemon\.lockSessionTimeout` .* Minimum: 1s\./);
    // For a terminal: grouped, each option with its variable, the meaning wrapped (no table).
    const text = await cli(['help', 'config']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/\n {2}sources\[\]\.binlog\.uploadInterval {2}string {2}default "\d+\w+"\n {6}BACKTRACK_SOURCES_<N>_BINLOG_UPLOAD_INTERVAL\n[^]*?Minimum:\s+200ms\./);
    expect(text.stdout).not.toMatch(/^\| /m);
    expect(Math.max(...text.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(120);
    // Bare backtrack is the overview, exit 0.
    const bare = await cli([]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toMatch(/^backtrack - /);
  });
});

describe('values the daemon would crash on later', () => {
  it('refuses an unknown time zone and a port above 65535 at load time', async () => {
    const c = await config({ timezone: 'Mars/Olympus', http: { listen: '127.0.0.1:99999' } });
    const r = await cli(['daemon', '--config', c.file], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/timezone: timezone must be an IANA time zone name/);
    expect(r.stderr).toMatch(/http\.listen: the port of listen must be 0\.\.65535/);
  });

  it('refuses a token file that holds only comments instead of running without the API', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-careless-'));
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, '# ops token goes here\n\n');
    const c = await config({ http: { listen: '127.0.0.1:0', tokenFile } }, {}, dir);
    const r = await cli(['daemon', '--config', c.file], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/http\.tokenFile .* holds no token \(only comments or blank lines\)/);
    const check = await cli(['check', '--config', c.file, '--json']);
    expect(check.json.checks.find((x: { name: string }) => x.name === 'http api tokens')).toMatchObject({ status: 'fail' });
  });

  it('refuses a repository inside /proc at once instead of spinning', async () => {
    const c = await config({ repository: { url: 'file:///proc/backtrack-repo' } });
    const started = Date.now();
    const r = await cli(['backup', '--config', c.file], { timeoutMs: 20_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/points into \/proc, a kernel pseudo-filesystem/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('a command stuck on something that never answers', () => {
  it('ends within shutdownTimeout of SIGTERM, with exit 130', async () => {
    // A "server" that accepts connections and never says a word.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const c = await config({ shutdownTimeout: '1s' }, { mysql: { port, connectTimeout: '60s' } });
      const child = cliSpawn(['backup', '--config', c.file]);
      await new Promise((r) => setTimeout(r, 1500));
      const t0 = Date.now();
      child.kill('SIGTERM');
      const r = await child;
      expect(r.exitCode).toBe(130);
      expect(Date.now() - t0).toBeLessThan(4000);
    } finally {
      silent.close();
    }
  });
});

describe('unknown options in the file', () => {
  it('suggests the option meant for a misspelled key, and keeps the secrets hint for a literal secret', async () => {
    const c = await config({}, { mysql: { passwordfile: '/x' }, binlog: { uploadIntervall: '5s' } });
    const r = await cli(['check', '--config', c.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sources\[0\]\.mysql: unknown option passwordfile; did you mean passwordFile\?/);
    expect(r.stderr).toMatch(/sources\[0\]\.binlog: unknown option uploadIntervall; did you mean uploadInterval\?/);
    expect(r.stderr).not.toMatch(/secrets are never written/);
    const c2 = await config({}, { mysql: { password: 'hunter2' } });
    const r2 = await cli(['check', '--config', c2.file]);
    expect(r2.stderr).toMatch(/unknown option password; secrets are never written in the config file/);
  });
});

describe('the command line', () => {
  it('refuses stray words instead of ignoring them', async () => {
    const c = await config();
    const r = await cli(['backup', 'now', '--config', c.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/backtrack backup takes no argument "now"/);
  });

  it('refuses an unknown log level with exit 2, naming the flag', async () => {
    const c = await config();
    const r = await cli(['list', '--log-level', 'bogus', '--config', c.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--log-level "bogus" is not a log level/);
  });

  it('refuses a date that does not exist instead of rolling it over', async () => {
    const c = await config();
    const r = await cli(['restore', '--config', c.file, '--target', 'mysql://root@127.0.0.1:1', '--to', '2026-02-30T00:00:00Z', '--dry-run']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--to "2026-02-30T00:00:00Z" is not a real time: 2026-02 has no day 30 \(it has 28\)/);
  });
});

describe('empty secrets', () => {
  it('says the password file is empty instead of reporting a wrong password', async () => {
    const c = await config();
    const pw = path.join(c.dir, 'pw');
    await writeFile(pw, '');
    const c2 = await config({}, { mysql: { passwordFile: pw } });
    const r = await cli(['backup', '--config', c2.file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the source main password file .*pw is empty: write the password on its first line/);
    const t = await cli(['restore', '--config', c.file, '--target', 'mysql://root@127.0.0.1:1', '--target-password-file', pw, '--dry-run']);
    expect(t.code).toBe(2);
    expect(t.stderr).toMatch(/the target password file \(--target-password-file\) .*pw is empty/);
  });
});
