/**
 * Finding, reading and validating the configuration file. The file is looked
 * up as `--config`, then `$BACKTRACK_CONFIG`, then `config/backtrack.yaml`.
 * Relative paths inside it are resolved against the file's own directory, so
 * a config works the same from any working directory.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ConfigSchema, SECRET_HINT, type Config } from './schema.js';

/** A validated configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it was read from. */
  file: string;
}

/** Which file to read: the flag, then the environment, then the default. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(flag ?? env.BACKTRACK_CONFIG ?? 'config/backtrack.yaml');
}

/** Read, parse and validate a config file; every problem becomes a ConfigError (exit 2). */
export function loadConfig(flag?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = resolveConfigPath(flag, env);
  if (!existsSync(file)) {
    throw new ConfigError(
      `config file ${file} does not exist; pass --config FILE, set BACKTRACK_CONFIG, or copy config/backtrack.example.yaml to config/backtrack.yaml`,
      { file },
    );
  }
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
    throw new ConfigError(`config file ${file} is not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`, { file });
  }
  return { config: parseConfig(raw ?? {}, file), file };
}

/** Validate an already-parsed config object; `file` is used for messages and relative paths. */
export function parseConfig(raw: unknown, file = path.resolve('config/backtrack.yaml')): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => describeIssue(i, raw));
    throw new ConfigError(`config file ${file} is invalid:\n  - ${problems.join('\n  - ')}`, { file, problems });
  }
  return resolvePaths(result.data, path.dirname(file));
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const secret = issue.keys.some((k) => /pass|secret|token|key$/i.test(k) && !/File$|Env$/.test(k));
    const hint = secret ? `; ${SECRET_HINT}` : '; check the spelling against the configuration reference in README.md';
    return `${where || '(top level)'}: unknown option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}${hint}`;
  }
  const value = valueAt(raw, issue.path);
  const got = value === undefined ? 'it is missing' : `got ${JSON.stringify(value)}`;
  return `${where || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')} (${got})`;
}

function formatPath(p: PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('');
}

function valueAt(raw: unknown, p: PropertyKey[]): unknown {
  let cur = raw;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return typeof cur === 'object' ? undefined : cur;
}

/** Make file paths in the config absolute, relative to the config's directory. */
function resolvePaths(cfg: Config, dir: string): Config {
  const abs = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  const url = cfg.repository.url;
  const repoUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `file://${path.resolve(dir, url)}`;
  const conn = <T extends { passwordFile?: string | undefined }>(c: T): T => ({ ...c, passwordFile: abs(c.passwordFile) });
  return {
    ...cfg,
    workDir: abs(cfg.workDir) as string,
    repository: {
      ...cfg.repository,
      url: repoUrl,
      encryption: cfg.repository.encryption && {
        recipientsFile: abs(cfg.repository.encryption.recipientsFile) as string,
        identityFile: abs(cfg.repository.encryption.identityFile),
      },
    },
    http: { ...cfg.http, tokenFile: abs(cfg.http.tokenFile) },
    sources: cfg.sources.map((s) => ({
      ...s,
      mysql: conn(s.mysql),
      binlog: { ...s.binlog, spoolDir: abs(s.binlog.spoolDir) },
      verify: {
        ...s.verify,
        scratch: s.verify.scratch.mode === 'server' ? { ...s.verify.scratch, connection: conn(s.verify.scratch.connection) } : s.verify.scratch,
      },
    })),
  };
}

/** The source named on the command line, or the only one; a clear error otherwise. */
export function selectSource(cfg: Config, name: string | undefined): Config['sources'][number] {
  if (name === undefined) {
    if (cfg.sources.length === 1) return cfg.sources[0] as Config['sources'][number];
    throw new ConfigError(`several sources are configured (${cfg.sources.map((s) => s.name).join(', ')}); pick one with --source NAME`);
  }
  const found = cfg.sources.find((s) => s.name === name);
  if (!found) throw new ConfigError(`no source named "${name}" in the config; configured: ${cfg.sources.map((s) => s.name).join(', ')}`);
  return found;
}
