import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, resolveConfigPath, selectSource } from '../../../src/config/load.js';
import { optionRows } from '../../../src/config/reference.js';
import { openBackend } from '../../../src/storage/open.js';
import { ConfigError } from '../../../src/errors.js';

const minimal = { sources: [{ name: 'main' }] };

function problems(raw: unknown): string {
  try {
    parseConfig(raw, '/etc/backtrack/backtrack.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills every default from the schema', () => {
    const cfg = parseConfig(minimal, '/etc/backtrack/backtrack.yaml');
    expect(cfg.repository.url).toBe('file:///var/lib/backtrack');
    expect(cfg.sources[0]?.mysql).toMatchObject({ host: '127.0.0.1', port: 3306, user: 'backtrack', connectTimeout: 10_000 });
    expect(cfg.sources[0]?.binlog.uploadInterval).toBe(5000);
    expect(cfg.sources[0]?.verify.scratch).toMatchObject({ mode: 'spawn', startTimeout: 120_000 });
    expect(cfg.retention).toEqual({ keepLast: 7, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 });
    expect(cfg.http.listen).toBe('127.0.0.1:9464');
  });

  it('names the field, the problem and the value for a wrong type', () => {
    expect(problems({ sources: [{ name: 'main', mysql: { port: 'abc' } }] })).toMatch(/sources\[0\]\.mysql\.port: expected number, received string \(got "abc"\)/);
  });

  it('says how to write a duration', () => {
    expect(problems({ sources: [{ name: 'main', binlog: { uploadInterval: 'fast' } }] })).toMatch(/sources\[0\]\.binlog\.uploadInterval: uploadInterval must be a duration such as 500ms, 5s/);
  });

  it('refuses a password written into the file and says where secrets go', () => {
    expect(problems({ sources: [{ name: 'main', mysql: { password: 'hunter2' } }] })).toMatch(/unknown option password; secrets are never written in the config file: use passwordFile/);
    expect(problems({ sources: [{ name: 'main', mysql: { password: 'hunter2' } }] })).not.toMatch(/hunter2/);
  });

  it('refuses a config without sources and a duplicate source name', () => {
    expect(problems({})).toMatch(/sources: expected array/);
    expect(problems({ sources: [{ name: 'a' }, { name: 'a' }] })).toMatch(/source name "a" is used twice/);
  });

  it('refuses a source name that cannot name a folder', () => {
    expect(problems({ sources: [{ name: 'Main DB' }] })).toMatch(/lower-case letters, digits/);
  });

  it('resolves relative paths against the config file', () => {
    const cfg = parseConfig({ repository: { url: './repo' }, workDir: 'work', sources: [{ name: 'm', mysql: { passwordFile: 'secret' } }] }, '/etc/bt/backtrack.yaml');
    expect(cfg.repository.url).toBe('file:///etc/bt/repo');
    expect(cfg.workDir).toBe('/etc/bt/work');
    expect(cfg.sources[0]?.mysql.passwordFile).toBe('/etc/bt/secret');
  });

  it('resolves every option the schema marks as a path, and only those', () => {
    // Every marked option set to a relative value; a new path option fails here until it is set below.
    const conn = { socket: 'sock', passwordFile: 'pw' };
    const raw = {
      repository: { url: 'repo', encryption: { recipientsFile: 'recipients', identityFile: 'identity' } },
      http: { tokenFile: 'token' },
      workDir: 'work',
      tools: { zstd: 'zstd' },
      sources: [{ name: 'm', mysql: conn, binlog: { spoolDir: 'spool' }, verify: { scratch: { mode: 'server', connection: conn } } }],
    };
    const cfg = parseConfig(raw, '/etc/bt/backtrack.yaml') as unknown as Record<string, unknown>;
    const marked = optionRows().filter((r) => r.path);
    expect(marked.map((r) => r.option)).toEqual([
      'repository.url',
      'repository.encryption.recipientsFile',
      'repository.encryption.identityFile',
      'sources[].mysql.socket',
      'sources[].mysql.passwordFile',
      'sources[].binlog.spoolDir',
      'sources[].verify.scratch.connection.socket',
      'sources[].verify.scratch.connection.passwordFile',
      'http.tokenFile',
      'workDir',
    ]);
    for (const r of marked) {
      const value = r.option.split('.').reduce<unknown>((v, k) => {
        const o = v as Record<string, unknown> | undefined;
        return k.endsWith('[]') ? (o?.[k.slice(0, -2)] as unknown[] | undefined)?.[0] : o?.[k];
      }, cfg);
      expect(value, `${r.option} is set in this test and resolved`).toMatch(r.path === 'location' ? /^file:\/\/\/etc\/bt\// : /^\/etc\/bt\//);
      if (r.path === 'file') expect(r.description).toContain('from the config file\'s directory');
    }
    // A program name is looked up on PATH, not next to the config file.
    expect((cfg.tools as Record<string, string>).zstd).toBe('zstd');
  });

  it('refuses a malformed Object Lock setting, and Object Lock on a local repository', async () => {
    const lock = (objectLock: unknown, url = 's3://bkt/x') => problems({ ...minimal, repository: { url, s3: { objectLock } } });
    expect(lock({ minRetainDays: 0 })).toMatch(/repository\.s3\.objectLock\.minRetainDays: Too small/);
    expect(lock({ minRetainDays: 1.5 })).toMatch(/minRetainDays: expected int/);
    expect(lock({ mode: 'governance' })).toMatch(/objectLock\.mode: Invalid option: expected one of "GOVERNANCE"\|"COMPLIANCE"/);
    expect(lock({ mode: 'GOVERNANCE', days: 3 })).toMatch(/days/);
    const cfg = parseConfig({ ...minimal, repository: { url: 'file:///var/tmp/repo', s3: { objectLock: { mode: 'COMPLIANCE' } } } });
    await expect(openBackend(cfg.repository)).rejects.toThrow(/repository\.s3\.objectLock is set but repository\.url "file:\/\/\/var\/tmp\/repo" is a local directory: Object Lock is an S3 feature/);
  });

  it('refuses an advertiseUrl that is not an http(s) URL', () => {
    expect(problems({ ...minimal, http: { advertiseUrl: 'ftp://10.0.0.7:9464' } })).toMatch(/advertiseUrl is an http:\/\/ or https:\/\/ URL/);
    expect(problems({ ...minimal, http: { advertiseUrl: 'http://$(POD_IP):9464' } })).toMatch(/an unexpanded \$\(VAR\) is not one/);
    for (const ok of ['http://10.0.0.7:9464', 'http://[fd00::1]:9464', 'https://backtrack-0.backtrack.svc:9464/']) expect(parseConfig({ ...minimal, http: { advertiseUrl: ok } }).http.advertiseUrl).toBe(ok);
  });

  it('keeps s3:// and file:// URLs as they are', () => {
    expect(parseConfig({ repository: { url: 's3://bkt/prefix' }, ...minimal }).repository.url).toBe('s3://bkt/prefix');
    expect(parseConfig({ repository: { url: 'file:///var/x' }, ...minimal }).repository.url).toBe('file:///var/x');
  });
});

describe('loadConfig', () => {
  it('points at the missing file and what to do', () => {
    expect(() => loadConfig('/nonexistent/backtrack.yaml')).toThrow(/does not exist; pass --config FILE, set BACKTRACK_CONFIG/);
  });

  it('reports YAML syntax errors with the line', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-cfg-'));
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'sources:\n  - name: main\n    mysql: { port: 1\n');
    expect(() => loadConfig(file)).toThrow(/is not valid YAML at line \d+/);
  });

  it('prefers --config, then BACKTRACK_CONFIG, then config/backtrack.yaml, then /etc/backtrack/backtrack.yaml', async () => {
    expect(resolveConfigPath('/a.yaml', { BACKTRACK_CONFIG: '/b.yaml' })).toBe('/a.yaml');
    expect(resolveConfigPath(undefined, { BACKTRACK_CONFIG: '/b.yaml' })).toBe('/b.yaml');
    const { existsSync } = await import('node:fs');
    const expected = [path.resolve('config/backtrack.yaml'), '/etc/backtrack/backtrack.yaml'].find((p) => existsSync(p));
    expect(resolveConfigPath(undefined, {})).toBe(expected);
  });
});

describe('selectSource', () => {
  const cfg = parseConfig({ sources: [{ name: 'a' }, { name: 'b' }] });
  it('needs --source when several are configured', () => {
    expect(() => selectSource(cfg, undefined)).toThrow(/several sources are configured \(a, b\); pick one with --source/);
    expect(selectSource(cfg, 'b').name).toBe('b');
    expect(() => selectSource(cfg, 'c')).toThrow(/no source named "c"/);
  });
});

describe('config/backtrack.example.yaml', () => {
  it('is a valid configuration', () => {
    const file = new URL('../../../config/backtrack.example.yaml', import.meta.url).pathname;
    const { config } = loadConfig(file);
    expect(config.sources[0]?.binlog.uploadInterval).toBe(5000);
  });
});

describe('options from the environment', () => {
  it('writes BACKTRACK_<OPTION> variables over the file, sources by index, typed by the schema', async () => {
    const { applyEnv } = await import('../../../src/config/env.js');
    const { envVariable } = await import('../../../src/config/reference.js');
    expect(envVariable('repository.url')).toBe('BACKTRACK_REPOSITORY_URL');
    expect(envVariable('sources[].binlog.uploadInterval')).toBe('BACKTRACK_SOURCES_<N>_BINLOG_UPLOAD_INTERVAL');
    const raw = applyEnv(
      { repository: { url: '/from/file' }, sources: [{ name: 'main', mysql: { host: 'file-host', port: 3306 } }] },
      {
        BACKTRACK_REPOSITORY_URL: 's3://bucket/prefix',
        BACKTRACK_SOURCES_0_MYSQL_HOST: 'db1',
        BACKTRACK_SOURCES_0_MYSQL_PORT: '3307',
        BACKTRACK_SOURCES_1_NAME: 'second',
        BACKTRACK_SOURCES_1_BACKUP_DATABASES: 'shop, crm',
        BACKTRACK_SOURCES_0_VERIFY_HEARTBEAT_ENABLED: 'yes',
        BACKTRACK_TARGET_PASSWORD: 'not an option',
        BACKTRACK_REQUIRE_ALL: '1',
        BACKTRACK_DEBUG: '1',
      },
    );
    const cfg = parseConfig(raw);
    expect(cfg.repository.url).toBe('s3://bucket/prefix');
    expect(cfg.sources[0]).toMatchObject({ name: 'main', mysql: { host: 'db1', port: 3307 }, verify: { heartbeat: { enabled: true } } });
    expect(cfg.sources[1]).toMatchObject({ name: 'second', backup: { databases: ['shop', 'crm'] } });
  });
  it('refuses a variable that names no option, a bad number and a hole in the sources', async () => {
    const { applyEnv } = await import('../../../src/config/env.js');
    expect(() => applyEnv({}, { BACKTRACK_REPOSITORY_URLL: 'x' })).toThrow(/BACKTRACK_REPOSITORY_URLL is not a configuration option/);
    expect(() => applyEnv({}, { BACKTRACK_SOURCES_0_MYSQL_PORT: 'abc' })).toThrow(/is not a number/);
    expect(() => applyEnv({}, { BACKTRACK_SOURCES_1_NAME: 'b' })).toThrow(/from 0 without holes/);
  });
  it('makes the whole configuration when no file exists anywhere', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-env-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const { config, file } = loadConfig(undefined, { BACKTRACK_REPOSITORY_URL: 'repo', BACKTRACK_SOURCES_0_NAME: 'main' });
      expect(path.basename(file)).toBe('(environment)');
      expect(config.repository.url).toBe(`file://${path.join(dir, 'repo')}`);
      expect(() => loadConfig(undefined, {})).toThrow(/no configuration: pass --config FILE, set BACKTRACK_CONFIG, create config\/backtrack.yaml or \/etc\/backtrack\/backtrack.yaml/);
      expect(() => loadConfig(undefined, { BACKTRACK_SOURCES_0_MYSQL_PORT: '99999999' })).toThrow(/the configuration from the BACKTRACK_\* variables is invalid/);
    } finally {
      process.chdir(cwd);
    }
  });
});
