/** Config files for tests: one temp directory per test, YAML written from an object. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { TestServer } from './mariadb.js';
import type { S3Sandbox } from './s3.js';
import { uniqueName } from './names.js';

export interface TestConfig {
  dir: string;
  file: string;
  cfg: Config;
  raw: Record<string, unknown>;
}

/** Where a test's repository lives. */
export type RepoKind = { kind: 'fs' } | { kind: 's3'; s3: S3Sandbox };

/** Write a config for one source, with a repository of the given kind. */
export async function writeTestConfig(
  server: TestServer,
  account: { user: string; passwordFile: string },
  repo: RepoKind,
  extra: { source?: Record<string, unknown>; top?: Record<string, unknown>; name?: string } = {},
): Promise<TestConfig> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bt-test-'));
  const repository =
    repo.kind === 'fs'
      ? { url: path.join(dir, 'repo') }
      : { url: `s3://${repo.s3.bucket}/${uniqueName('repo')}`, s3: { endpoint: repo.s3.endpoint, forcePathStyle: true, region: 'us-east-1', partSize: 5 } };
  const raw = {
    repository,
    workDir: path.join(dir, 'work'),
    sources: [
      {
        name: extra.name ?? 'main',
        mysql: { host: '127.0.0.1', port: server.port, user: account.user, passwordFile: account.passwordFile },
        ...extra.source,
      },
    ],
    ...extra.top,
  };
  const file = path.join(dir, 'backtrack.yaml');
  await writeFile(file, stringify(raw));
  return { dir, file, cfg: parseConfig(raw, file), raw };
}

/** A raw config as BACKTRACK_<OPTION> variables (lists of scalars comma-joined, sources by index). */
export function configToEnv(raw: Record<string, unknown>, prefix = 'BACKTRACK'): Record<string, string> {
  const out: Record<string, string> = {};
  const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  for (const [k, v] of Object.entries(raw)) {
    const name = `${prefix}_${snake(k)}`;
    if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) v.forEach((x, i) => Object.assign(out, configToEnv(x as Record<string, unknown>, `${name}_${i}`)));
    else if (Array.isArray(v)) out[name] = v.join(',');
    else if (v !== null && typeof v === 'object') Object.assign(out, configToEnv(v as Record<string, unknown>, name));
    else if (v !== undefined) out[name] = String(v);
  }
  return out;
}
