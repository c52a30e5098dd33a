/**
 * Every configuration option from the environment: `BACKTRACK_<PATH>`, the
 * option's path in upper snake case, with a source's index for the list of
 * sources (`BACKTRACK_REPOSITORY_URL`, `BACKTRACK_SOURCES_0_MYSQL_HOST`,
 * `BACKTRACK_SOURCES_0_BINLOG_UPLOAD_INTERVAL`). Derived from the schema's
 * option table (reference.ts), so a new option gets its variable for free.
 * Values are written over the file's before validation: the environment
 * wins over the file (and command-line flags over both).
 */
import { ConfigError } from '../errors.js';
import { envVariable, optionRows, type OptionRow } from './reference.js';

/** Variables that are Backtrack's but not configuration options. */
const NOT_OPTIONS = new Set(['BACKTRACK_CONFIG', 'BACKTRACK_TARGET_PASSWORD', 'BACKTRACK_NODE', 'BACKTRACK_LOG_LEVEL']);

interface Leaf {
  row: OptionRow;
  re: RegExp;
}

function leaves(): Leaf[] {
  return optionRows()
    .filter((r) => r.type !== 'object' && r.type !== 'list of objects')
    .map((row) => ({ row, re: new RegExp(`^${envVariable(row.option).replace('<N>', '(\\d+)')}$`) }));
}

function convert(name: string, value: string, type: string): unknown {
  if (type === 'integer' || type === 'number') {
    if (!/^-?\d+(\.\d+)?$/.test(value.trim())) throw new ConfigError(`${name}="${value}" is not a number`, { variable: name });
    return Number(value);
  }
  if (type === 'boolean') {
    const v = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    throw new ConfigError(`${name}="${value}" is not true or false`, { variable: name });
  }
  if (type.startsWith('list of ')) return value.split(',').map((x) => x.trim()).filter(Boolean);
  return value;
}

/** Write one value at an option path (`sources[].mysql.host` with index 0). */
function setAt(raw: Record<string, unknown>, option: string, index: number | undefined, value: unknown): void {
  let cur: Record<string, unknown> = raw;
  const parts = option.split('.');
  for (const [i, p] of parts.entries()) {
    const last = i === parts.length - 1;
    if (p.endsWith('[]')) {
      const key = p.slice(0, -2);
      const list = (Array.isArray(cur[key]) ? cur[key] : (cur[key] = [])) as Array<Record<string, unknown>>;
      list[index as number] ??= {};
      cur = list[index as number] as Record<string, unknown>;
      continue;
    }
    if (last) cur[p] = value;
    else cur = (cur[p] && typeof cur[p] === 'object' ? cur[p] : (cur[p] = {})) as Record<string, unknown>;
  }
}

/**
 * The BACKTRACK_ variables meant as options: those under an option section
 * (BACKTRACK_REPOSITORY_..., BACKTRACK_SOURCES_..., BACKTRACK_HTTP_...). Other
 * BACKTRACK_ variables (BACKTRACK_DEBUG, the test suite's own) are left alone.
 */
export function optionVariables(env: NodeJS.ProcessEnv): string[] {
  const ours = Object.keys(env).filter((k) => k.startsWith('BACKTRACK_') && !NOT_OPTIONS.has(k) && env[k] !== undefined);
  if (!ours.length) return [];
  const sections = [...new Set(optionRows().map((r) => envVariable(r.option.split(/[.[]/)[0] as string)))];
  return ours.filter((k) => sections.some((s) => k === s || k.startsWith(`${s}_`)));
}

/**
 * Apply the environment's options over a parsed config file (or an empty
 * one). A BACKTRACK_ variable that names no option is an error naming the
 * nearest one, so a typo never silently does nothing.
 */
export function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out = (raw && typeof raw === 'object' ? structuredClone(raw) : {}) as Record<string, unknown>;
  const names = optionVariables(env);
  if (!names.length) return out;
  const all = leaves();
  for (const name of names) {
    const value = env[name] as string;
    let hit = false;
    for (const l of all) {
      const m = l.re.exec(name);
      if (!m) continue;
      const index = m[1] === undefined ? undefined : Number(m[1]);
      if (index !== undefined && index > 99) throw new ConfigError(`${name}: source index ${index} is too large (0..99)`, { variable: name });
      setAt(out, l.row.option, index, convert(name, value, l.row.type));
      hit = true;
      break;
    }
    if (!hit) {
      const near = all.map((l) => envVariable(l.row.option)).find((n) => n.replace('<N>', '0').startsWith(name.replace(/_\d+_/, '_0_').slice(0, 14)));
      throw new ConfigError(`${name} is not a configuration option${near ? ` (options look like ${near})` : ''}; backtrack help config lists every option with its variable`, { variable: name });
    }
  }
  // A list written sparsely (SOURCES_1 without SOURCES_0) would hold a hole: say so.
  if (Array.isArray(out.sources) && Array.from(out.sources as unknown[]).some((s) => s === undefined)) {
    throw new ConfigError('BACKTRACK_SOURCES_<N>_... variables must number the sources from 0 without holes', {});
  }
  return out;
}
