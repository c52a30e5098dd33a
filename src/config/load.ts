/**
 * Finding, reading and validating the configuration. The file is looked
 * up as `--config`, then `$BACKTRACK_CONFIG`, then `./config/backtrack.yaml`,
 * then `/etc/backtrack/backtrack.yaml`; BACKTRACK_<OPTION> variables are
 * written over it (env.ts), or make the whole configuration without one.
 * Relative paths inside it are resolved against the file's own directory, so
 * a config works the same from any working directory.
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { ConfigSchema, SECRET_HINT, type Config, type PathKind } from './schema.js';
import { optionRows } from './reference.js';
import { applyEnv, optionVariables } from './env.js';

/** A validated configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it was read from. */
  file: string;
}

/** Where the configuration comes from when no file is named: the environment alone. */
export const FROM_ENVIRONMENT = '(environment)';

/** The default places, in order, when neither --config nor BACKTRACK_CONFIG names a file. */
export const DEFAULT_CONFIG_PATHS = ['config/backtrack.yaml', '/etc/backtrack/backtrack.yaml'];

/**
 * Which file to read: --config, then BACKTRACK_CONFIG, then the first of
 * DEFAULT_CONFIG_PATHS that exists; undefined when none does (the
 * environment alone may then hold the whole configuration).
 */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = flag ?? env.BACKTRACK_CONFIG;
  if (named !== undefined) return path.resolve(named);
  return DEFAULT_CONFIG_PATHS.map((p) => path.resolve(p)).find((p) => existsSync(p));
}

/**
 * Read, parse and validate the configuration: the file, with every
 * BACKTRACK_<OPTION> variable written over it (env.ts); or, with no file
 * anywhere, the variables alone. Every problem is a ConfigError (exit 2).
 */
export function loadConfig(flag?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const file = resolveConfigPath(flag, env);
  if (file === undefined) {
    if (optionVariables(env).length === 0) {
      throw new ConfigError(
        `no configuration: pass --config FILE, set BACKTRACK_CONFIG, create ${DEFAULT_CONFIG_PATHS.join(' or ')} (config/backtrack.example.yaml is a start), or set the options as BACKTRACK_* variables (backtrack help config lists them)`,
        {},
      );
    }
    const where = path.resolve(FROM_ENVIRONMENT);
    return { config: parseConfig(applyEnv({}, env), where), file: where };
  }
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
  return { config: parseConfig(applyEnv(raw ?? {}, env), file), file };
}

/** Validate an already-parsed config object; `file` is used for messages and relative paths. */
export function parseConfig(raw: unknown, file = path.resolve('config/backtrack.yaml')): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => describeIssue(i, raw));
    const what = path.basename(file) === FROM_ENVIRONMENT ? 'the configuration from the BACKTRACK_* variables' : `config file ${file}`;
    throw new ConfigError(`${what} is invalid:\n  - ${problems.join('\n  - ')}`, { file, problems });
  }
  return resolvePaths(result.data, path.dirname(file));
}

function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => unknownKey(where, issue.path, k)).join('\n  - ');
  const value = valueAt(raw, issue.path);
  const got = value === undefined ? 'it is missing' : `got ${JSON.stringify(value)}`;
  return `${where || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')} (${got})`;
}

/** A key that looks like a secret itself (a password or token written into the file). */
const LITERAL_SECRET = /^(pass(word|wd)?|pwd|secret|token|api[-_]?key|(aws)?(secret)?[-_]?access[-_]?key([-_]?id)?|secret[-_]?key|session[-_]?token)$/i;

/** An unknown key: the secrets hint for a literal secret, else the nearest known option. */
function unknownKey(where: string, at: PropertyKey[], key: string): string {
  const here = where || '(top level)';
  if (LITERAL_SECRET.test(key)) return `${here}: unknown option ${key}; ${SECRET_HINT}`;
  const near = nearestOption(at, key);
  const hint = near ? `did you mean ${near}?` : 'check the spelling against the configuration reference (backtrack help config)';
  return `${here}: unknown option ${key}; ${hint}`;
}

/** The known option at the same level closest in spelling to `key`, if any is close. */
function nearestOption(at: PropertyKey[], key: string): string | undefined {
  const prefix = at.map((k) => (typeof k === 'number' ? '[]' : `.${String(k)}`)).join('').replace(/^\./, '').replace(/\.\[\]/g, '[]');
  const siblings = new Set<string>();
  for (const r of optionRows()) {
    const rest = prefix ? (r.option.startsWith(`${prefix}.`) ? r.option.slice(prefix.length + 1) : undefined) : r.option;
    if (rest !== undefined && /^[^.[\]]+$/.test(rest)) siblings.add(rest);
  }
  let best: { name: string; d: number } | undefined;
  for (const name of siblings) {
    const d = name.toLowerCase() === key.toLowerCase() ? 0 : editDistance(name.toLowerCase(), key.toLowerCase());
    if (!best || d < best.d) best = { name, d };
  }
  return best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? best.name : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] as number;
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

/**
 * Make the path options (marked by localPath in schema.ts) absolute, relative
 * to the config's directory, by walking the schema beside the parsed value.
 */
function resolvePaths(cfg: Config, dir: string): Config {
  return resolveMarked(ConfigSchema, cfg, dir) as Config;
}

function resolveMarked(schema: z.core.$ZodType, value: unknown, dir: string): unknown {
  if (value === undefined || value === null) return value;
  const kind = (z.globalRegistry.get(schema as z.ZodType) as { path?: PathKind } | undefined)?.path;
  if (kind && typeof value === 'string') {
    if (kind === 'location') return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `file://${path.resolve(dir, value)}`;
    return path.resolve(dir, value);
  }
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
      return resolveMarked(def.innerType as z.core.$ZodType, value, dir);
    case 'pipe':
      // A transform's input schema carries the marks; a path is never transformed.
      return resolveMarked(def.in as z.core.$ZodType, value, dir);
    case 'array':
      return Array.isArray(value) ? value.map((v) => resolveMarked(def.element as z.core.$ZodType, v, dir)) : value;
    case 'object': {
      if (typeof value !== 'object') return value;
      const shape = def.shape as Record<string, z.core.$ZodType>;
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const [k, child] of Object.entries(shape)) if (k in out) out[k] = resolveMarked(child, out[k], dir);
      return out;
    }
    case 'union': {
      // A discriminated union (scratch.mode): the option whose discriminator value the parsed value has.
      const key = def.discriminator as string | undefined;
      const options = def.options as z.core.$ZodType[];
      if (!key || typeof value !== 'object') return value;
      const chosen = options.find((o) => {
        const d = ((o._zod.def as unknown as { shape?: Record<string, z.core.$ZodType> }).shape ?? {})[key];
        return (d?._zod.def as { values?: unknown[] } | undefined)?.values?.includes((value as Record<string, unknown>)[key]);
      });
      return chosen ? resolveMarked(chosen, value, dir) : value;
    }
    default:
      return value;
  }
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
