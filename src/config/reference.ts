/**
 * The configuration reference, generated from the zod schema so that README
 * and `backtrack help config` can never disagree with what is validated.
 * `npm run docs:config` (scripts/docs-config.mjs) rewrites the marked
 * section of README.md with it.
 */
import { z } from 'zod';
import { ConfigSchema, type PathKind } from './schema.js';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  /** Set by the schema's duration(): the smallest value accepted. */
  durationMinimum?: string;
  sizeMinimum?: string;
  /** Set by the schema's localPath(): resolved against the config file's directory. */
  path?: PathKind;
}

/** One row of the reference: a dotted option path, its type, default and meaning. */
export interface OptionRow {
  option: string;
  type: string;
  default: string;
  description: string;
  /** A path option (schema.ts localPath): a relative value is taken from the config file's directory. */
  path?: PathKind;
}

let cachedRows: readonly OptionRow[] | undefined;

/** Every option, depth first, in schema order (made once: every command reads it for the environment). */
export function optionRows(): readonly OptionRow[] {
  if (cachedRows) return cachedRows;
  const schema = z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const rows: OptionRow[] = [];
  walk(schema, '', true, rows);
  cachedRows = rows;
  return rows;
}

function walk(node: JsonSchema, at: string, required: boolean, rows: OptionRow[]): void {
  const variants = node.anyOf ?? node.oneOf;
  if (variants) {
    // A union is documented by its discriminator ("mode"): one row for the
    // union, then each variant's options tagged with the mode they belong to.
    const modes = variants.map((v) => v.properties?.mode);
    const modeText = modes.map((m) => `${JSON.stringify(m?.const)}: ${m?.description ?? ''}`).join(' ');
    rows.push({ ...row(node, `${at}.mode`, required, modes.map((m) => JSON.stringify(m?.const)).join(' \\| ')), description: `${node.description ?? ''} ${modeText}`.trim() });
    for (const v of variants) {
      for (const [k, child] of Object.entries(v.properties ?? {})) {
        if (k === 'mode') continue;
        const first = rows.length;
        walk(child, `${at}.${k}`, (v.required ?? []).includes(k), rows);
        for (const r of rows.slice(first)) r.description = `(mode ${JSON.stringify(v.properties?.mode?.const)}) ${r.description}`;
      }
    }
    return;
  }
  if (node.type === 'object' && node.properties) {
    if (at) rows.push(row(node, at, required, 'object'));
    for (const [k, child] of Object.entries(node.properties)) walk(child, at ? `${at}.${k}` : k, (node.required ?? []).includes(k), rows);
    return;
  }
  if (node.type === 'array' && node.items?.type === 'object') {
    rows.push(row(node, at, required, 'list of objects'));
    for (const [k, child] of Object.entries(node.items.properties ?? {})) walk(child, `${at}[].${k}`, (node.items.required ?? []).includes(k), rows);
    return;
  }
  rows.push(row(node, at, required, typeOf(node)));
}

function typeOf(n: JsonSchema): string {
  if (n.enum) return n.enum.map((e) => JSON.stringify(e)).join(' \\| ');
  if (n.const !== undefined) return JSON.stringify(n.const);
  if (n.type === 'array') return `list of ${n.items ? typeOf(n.items) : 'any'}`;
  if (n.anyOf) return n.anyOf.map(typeOf).join(' \\| ');
  return Array.isArray(n.type) ? n.type.join(' \\| ') : (n.type ?? 'any');
}

function row(n: JsonSchema, at: string, required: boolean, type: string): OptionRow {
  let def = '';
  if (n.default !== undefined && !(typeof n.default === 'object' && n.default !== null && !Array.isArray(n.default))) def = JSON.stringify(n.default);
  else if (required && n.default === undefined) def = '(required)';
  const min = n.durationMinimum ? ` Minimum: ${n.durationMinimum}.` : n.sizeMinimum ? ` Minimum: ${n.sizeMinimum}.` : '';
  const relative = n.path === 'file' ? ' A relative path is taken from the config file\'s directory.' : '';
  return { option: at, type, default: def, description: `${n.description ?? ''}${min}${relative}`, ...(n.path ? { path: n.path } : {}) };
}

/** The environment variable of an option (env.ts reads them): `sources[].mysql.host` -> `BACKTRACK_SOURCES_<N>_MYSQL_HOST`. */
export function envVariable(option: string): string {
  const snake = (x: string) => x.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  return `BACKTRACK_${option
    .split('.')
    .map((p) => (p.endsWith('[]') ? `${snake(p.slice(0, -2))}_<N>` : snake(p)))
    .join('_')}`;
}

/** The reference as a Markdown table. */
export function referenceMarkdown(): string {
  const lines = ['| option | environment variable | type | default | meaning |', '| --- | --- | --- | --- | --- |'];
  for (const r of optionRows()) {
    const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\\\\\|/g, '\\|');
    const variable = r.type === 'object' || r.type === 'list of objects' ? '' : `\`${envVariable(r.option)}\``;
    lines.push(`| \`${r.option}\` | ${variable} | ${esc(r.type)} | ${r.default ? `\`${r.default}\`` : ''} | ${esc(r.description)} |`);
  }
  return lines.join('\n');
}

const BEGIN = '<!-- config-reference:begin (generated by npm run docs:config; do not edit) -->';
const END = '<!-- config-reference:end -->';

/** Replace the generated section of a README text. */
export function withReference(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error('README.md has no config-reference markers');
  return `${readme.slice(0, start + BEGIN.length)}\n${referenceMarkdown()}\n${readme.slice(end)}`;
}
