/**
 * What part of a backup a partial restore takes (`--only`) and under which
 * names (`--rename`). A selector is `SCHEMA` or `SCHEMA.TABLE`; `*` and `?`
 * are globs; a part in backticks is literal (it may hold a dot, a `*`, or a
 * doubled backtick for a backtick): `` `odd.name`.`t*` ``.
 */
import { UsageError } from '../errors.js';
import { escapeRegExp } from '../mysql/connect.js';
import type { Manifest, ManifestObject } from '../repository/manifest.js';

export interface Selector {
  text: string;
  schema: RegExp;
  /** Undefined: every table of the matching schemas (and their views, routines, triggers, events). */
  table?: RegExp | undefined;
}

/** Split `a.b` at unquoted dots into parts, each a pattern (globs only outside backticks). */
function parts(text: string, flag: string): RegExp[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  let quoted = false;
  let started = false;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '`' && text[i + 1] === '`') {
        cur += escapeRegExp('`');
        i += 2;
        continue;
      }
      if (c === '`') {
        quoted = false;
        i++;
        continue;
      }
      cur += escapeRegExp(c);
      i++;
      continue;
    }
    if (c === '`') {
      quoted = true;
      started = true;
      i++;
      continue;
    }
    if (c === '.') {
      if (!started) throw new UsageError(`${flag} "${text}" has an empty name; write SCHEMA or SCHEMA.TABLE (backtick-quote a name that holds a dot: \`a.b\`.t)`);
      out.push(cur);
      cur = '';
      started = false;
      i++;
      continue;
    }
    cur += c === '*' ? '.*' : c === '?' ? '.' : escapeRegExp(c);
    started = true;
    i++;
  }
  if (quoted) throw new UsageError(`${flag} "${text}" has an unclosed backtick`);
  if (!started) throw new UsageError(`${flag} "${text}" has an empty name; write SCHEMA or SCHEMA.TABLE`);
  out.push(cur);
  return out.map((p) => new RegExp(`^${p}$`, 's'));
}

/** Parse one `--only` value. */
export function parseSelector(text: string): Selector {
  const p = parts(text.trim(), '--only');
  if (p.length > 2) throw new UsageError(`--only "${text}" has more than two parts; write SCHEMA or SCHEMA.TABLE (backtick-quote a name that holds a dot)`);
  return { text, schema: p[0] as RegExp, table: p[1] };
}

/** Parse one `--rename OLD:NEW` value (plain names; no globs). */
export function parseRename(text: string): { from: string; to: string } {
  const m = /^([^:]+):([^:]+)$/.exec(text);
  if (!m) throw new UsageError(`--rename "${text}" must be OLD:NEW (a schema and its new name)`);
  const [from, to] = [(m[1] as string).trim(), (m[2] as string).trim()];
  for (const n of [from, to]) if (n.length > 64 || /[*?]/.test(n) || n.endsWith(' ')) throw new UsageError(`--rename "${text}": "${n}" is not a schema name (at most 64 characters, no globs)`);
  if (from === to) throw new UsageError(`--rename "${text}" renames a schema to itself`);
  return { from, to };
}

/** What a partial restore takes from one backup. */
export interface Selection {
  /** Per chosen schema of the backup: its name on the target, and the chosen tables (all: the whole schema). */
  schemas: Array<{ schema: string; target: string; whole: boolean; tables: string[] }>;
  /** The objects to download, in load order. */
  objects: ManifestObject[];
  /** What is left out and why, for the plan and the log. */
  warnings: string[];
}

/**
 * Apply `--only` and `--rename` to a backup. Without either, undefined (the
 * whole backup). A one-stream backup (format 1) cannot be taken apart.
 */
export function selectFromBackup(m: Manifest, only: Selector[], renames: Array<{ from: string; to: string }>): Selection | undefined {
  if (!only.length && !renames.length) return undefined;
  if (m.format !== 2) {
    throw new UsageError(
      `backup ${m.id} is one stream (format 1, written before table-by-table backups), so --only and --rename cannot take part of it. Restore it whole into a scratch server and copy the tables out, or use a newer backup (backtrack list shows each backup's format)`,
    );
  }
  const rename = new Map<string, string>();
  for (const r of renames) {
    if (!m.inventory.schemas.includes(r.from)) throw new UsageError(`--rename ${r.from}:${r.to}: backup ${m.id} has no schema ${r.from} (it has ${m.inventory.schemas.join(', ')})`);
    if (rename.has(r.from)) throw new UsageError(`--rename names schema ${r.from} twice`);
    rename.set(r.from, r.to);
  }
  const baseTables = m.inventory.tables.filter((t) => t.type !== 'VIEW');
  const schemas: Selection['schemas'] = [];
  const sels = only.length ? only : [...rename.keys()].map((s) => ({ text: s, schema: new RegExp(`^${escapeRegExp(s)}$`), table: undefined }));
  for (const s of sels) {
    if (!m.inventory.schemas.some((x) => s.schema.test(x))) throw new UsageError(`--only ${s.text} matches no schema of backup ${m.id} (it has ${m.inventory.schemas.join(', ')})`);
    if (s.table && !baseTables.some((t) => s.schema.test(t.schema) && s.table!.test(t.name))) {
      throw new UsageError(`--only ${s.text} matches no table of backup ${m.id}${m.inventory.views.some((v) => s.schema.test(v.schema) && s.table!.test(v.name)) ? ' (it names a view: restore its schema whole, as views depend on tables)' : ''}`);
    }
  }
  for (const schema of m.inventory.schemas) {
    const hits = sels.filter((s) => s.schema.test(schema));
    if (!hits.length) continue;
    const whole = hits.some((s) => !s.table);
    const tables = baseTables.filter((t) => t.schema === schema && (whole || hits.some((s) => s.table!.test(t.name)))).map((t) => t.name);
    schemas.push({ schema, target: rename.get(schema) ?? schema, whole, tables });
  }
  for (const from of rename.keys()) if (!schemas.some((s) => s.schema === from)) throw new UsageError(`--rename ${from}:${rename.get(from)}: schema ${from} is not among those --only chooses`);
  const targets = schemas.map((s) => s.target);
  const dup = targets.find((t, i) => targets.indexOf(t) !== i);
  if (dup) throw new UsageError(`two schemas would be restored as ${dup}; give each its own --rename`);

  const warnings: string[] = [];
  const chosen = new Map(schemas.map((s) => [s.schema, s]));
  const objects = m.objects.filter((o) => {
    const s = o.schema !== undefined ? chosen.get(o.schema) : undefined;
    if (o.role === 'schema') return s !== undefined;
    if (o.role === 'table') return s !== undefined && s.tables.includes(o.table as string);
    if (o.role === 'post') return s?.whole === true;
    return false;
  });
  for (const s of schemas.filter((x) => !x.whole)) {
    const left = [
      ...m.inventory.views.filter((v) => v.schema === s.schema).map((v) => `view ${v.name}`),
      ...m.inventory.triggers.filter((t) => t.schema === s.schema && s.tables.includes(t.table)).map((t) => `trigger ${t.name} (on ${t.table})`),
      ...m.inventory.routines.filter((r) => r.schema === s.schema).map((r) => `${r.type.toLowerCase()} ${r.name}`),
      ...m.inventory.events.filter((e) => e.schema === s.schema).map((e) => `event ${e.name}`),
    ];
    if (left.length) warnings.push(`not restored from ${s.schema} (only some of its tables are): ${left.join(', ')}; restore the schema whole to get them`);
  }
  if (m.objects.some((o) => o.role === 'users')) warnings.push('accounts are not created by a partial restore');
  return { schemas, objects, warnings };
}
