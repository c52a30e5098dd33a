/**
 * Finding the accident: search a source's archived binlog for transactions
 * by table, kind of statement, rows changed, GTID or statement text. Every
 * archived file in the range is read through the binlog reader with detail
 * (tables and row counts of row events, statement texts); files whose
 * sidecars say they lie outside the time range are not downloaded.
 */
import { UsageError } from '../errors.js';
import { BinlogParser, type TransactionInfo } from '../mysql/binlog/parser.js';
import { formatGtid } from '../mysql/gtid.js';
import type { Selector } from '../restore/select.js';
import type { Gap, Timeline } from './chain.js';
import { fileBytes, type SegmentSource } from './segments.js';
import { cannotMatch } from './segment-index.js';

export const DDL_KINDS = ['drop', 'truncate', 'alter', 'rename', 'create'] as const;
export const DML_KINDS = ['delete', 'update', 'insert'] as const;
export type Kind = (typeof DDL_KINDS)[number] | (typeof DML_KINDS)[number];

export interface FindQuery {
  tables: Selector[];
  kinds: Set<Kind>;
  minRows?: number | undefined;
  gtid?: string | undefined;
  grep?: string | undefined;
  /** Seconds (inclusive). */
  since?: number | undefined;
  until?: number | undefined;
  /** The newest this many matches are kept. */
  limit: number;
  /** Read every file, ignoring the segment indexes (to measure them). */
  fullScan?: boolean | undefined;
}

export interface Match {
  time: string;
  timeline: string;
  gtid?: string | undefined;
  file: string;
  start: number;
  end: number;
  kinds: Kind[];
  /** Each table with its rows changed and the kinds of change made to it. */
  tables: Array<{ schema: string; table: string; inserted: number; updated: number; deleted: number; counted: boolean; kinds: Kind[] }>;
  statements: string[];
  /** Row changes without the statement that made them (the server did not write it). */
  textMissing: boolean;
}

export interface FindResult {
  matches: Match[];
  /** Matches beyond the limit, left out (older ones). */
  more: number;
  scanned: { files: number; bytes: number; transactions: number; seconds: number; skippedByIndex: { files: number; bytes: number } };
  gaps: Gap[];
}

/** Parse --statement values: each kind, or ddl / dml for a group. */
export function parseKinds(values: string[]): Set<Kind> {
  const out = new Set<Kind>();
  for (const v of values.flatMap((x) => x.split(',')).map((x) => x.trim().toLowerCase())) {
    if (v === 'ddl') DDL_KINDS.forEach((k) => out.add(k));
    else if (v === 'dml') DML_KINDS.forEach((k) => out.add(k));
    else if ((DDL_KINDS as readonly string[]).includes(v) || (DML_KINDS as readonly string[]).includes(v)) out.add(v as Kind);
    else throw new UsageError(`--statement "${v}" is not one of ${[...DDL_KINDS, ...DML_KINDS, 'ddl', 'dml'].join(', ')}`);
  }
  return out;
}

const DDL_RE = /^\s*(?:\/\*.*?\*\/\s*)*(DROP|TRUNCATE|ALTER|RENAME|CREATE)\b\s*(?:TEMPORARY\s+)?(TABLE|DATABASE|SCHEMA|VIEW|INDEX|TRIGGER|PROCEDURE|FUNCTION|EVENT|SEQUENCE|OR\s+REPLACE|DEFINER|UNIQUE|FULLTEXT|SPATIAL|ALGORITHM|SQL)?/is;
const NAME = '(`(?:[^`]|``)+`|[\\w$]+)';
const TABLE_AFTER = new RegExp(`^\\s*(?:\\/\\*.*?\\*\\/\\s*)*(?:DROP|TRUNCATE|ALTER|RENAME|CREATE)\\s+(?:TEMPORARY\\s+)?(?:TABLE\\s+)?(?:IF\\s+(?:NOT\\s+)?EXISTS\\s+)?${NAME}(?:\\s*\\.\\s*${NAME})?`, 'is');

const unquote = (n: string) => (n.startsWith('`') ? n.slice(1, -1).replace(/``/g, '`') : n);

/** A statement's DDL kind and the table it names (for DROP/TRUNCATE/ALTER/RENAME/CREATE TABLE). */
export function ddlOf(text: string, schema: string | undefined): { kind: Kind; table?: { schema: string; table: string } | undefined } | undefined {
  const m = DDL_RE.exec(text);
  if (!m) return undefined;
  const kind = (m[1] as string).toLowerCase() as Kind;
  const object = (m[2] ?? '').toUpperCase();
  if (object && object !== 'TABLE' && !(kind === 'truncate' && object === '')) return { kind };
  const t = TABLE_AFTER.exec(text);
  if (!t) return { kind };
  const [a, b] = [t[1] as string, t[2]];
  const table = b ? { schema: unquote(a), table: unquote(b) } : schema ? { schema, table: unquote(a) } : undefined;
  return { kind, table };
}

/** What one transaction is, for matching and for the output. */
export function describe(t: TransactionInfo, file: string, timeline: string): Match {
  const kinds = new Set<Kind>();
  const tables = new Map<string, Match['tables'][number]>();
  for (const c of t.tables ?? []) {
    const own: Kind[] = [...(c.inserted ? ['insert' as const] : []), ...(c.updated ? ['update' as const] : []), ...(c.deleted ? ['delete' as const] : [])];
    tables.set(`${c.schema}\u0000${c.table}`, { schema: c.schema, table: c.table, inserted: c.inserted, updated: c.updated, deleted: c.deleted, counted: c.counted, kinds: own });
    own.forEach((k) => kinds.add(k));
  }
  for (const s of t.statements ?? []) {
    const d = ddlOf(s.text, s.schema);
    if (d) {
      kinds.add(d.kind);
      if (d.table) {
        const key = `${d.table.schema}\u0000${d.table.table}`;
        const had = tables.get(key);
        if (had) had.kinds = [...new Set([...had.kinds, d.kind])];
        else tables.set(key, { ...d.table, inserted: 0, updated: 0, deleted: 0, counted: true, kinds: [d.kind] });
      }
      continue;
    }
    // Statement-format DML (no rows events): its kind from its first word.
    const w = /^\s*(?:\/\*.*?\*\/\s*)*(INSERT|REPLACE|UPDATE|DELETE)\b/is.exec(s.text)?.[1]?.toUpperCase();
    if (w && !t.tables?.length) kinds.add(w === 'UPDATE' ? 'update' : w === 'DELETE' ? 'delete' : 'insert');
  }
  const statements = (t.statements ?? []).map((s) => s.text).filter((x) => !/^\s*(BEGIN|COMMIT|XA )/i.test(x));
  return {
    time: new Date(t.timestamp * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    timeline,
    ...(t.gtid ? { gtid: formatGtid(t.gtid) } : {}),
    file,
    start: t.start,
    end: t.end,
    kinds: [...kinds],
    tables: [...tables.values()],
    statements,
    textMissing: (t.tables?.length ?? 0) > 0 && !statements.some((x) => !DDL_RE.test(x)),
  };
}

/**
 * The tables a query judges kinds and row counts on: with --table, the
 * chosen ones (a DELETE of orders is not a DELETE of prices), narrowed to
 * those with a wanted kind; undefined when nothing can match. One rule for
 * a transaction (`matches`) and for a segment's index (segment-index.ts).
 */
export function tablesInQuestion<T extends { schema: string; table: string; kinds: readonly string[] }>(tables: T[], kinds: readonly string[], q: FindQuery): T[] | undefined {
  let out = q.tables.length ? tables.filter((x) => q.tables.some((s) => s.schema.test(x.schema) && (!s.table || s.table.test(x.table)))) : tables;
  if (q.tables.length && !out.length) return undefined;
  if (q.kinds.size) {
    const wanted = (k: string) => q.kinds.has(k as Kind);
    if (!q.tables.length && !kinds.some(wanted)) return undefined;
    out = out.filter((x) => x.kinds.some(wanted));
    if (q.tables.length && !out.length) return undefined;
  }
  return out;
}

function matches(m: Match, t: TransactionInfo, q: FindQuery): boolean {
  if (q.since !== undefined && t.timestamp < q.since) return false;
  if (q.until !== undefined && t.timestamp > q.until) return false;
  if (q.gtid !== undefined && m.gtid !== q.gtid) return false;
  const tables = tablesInQuestion(m.tables, m.kinds, q);
  if (!tables) return false;
  if (q.minRows !== undefined && Math.max(0, ...tables.map((x) => x.inserted + x.updated + x.deleted)) < q.minRows) return false;
  if (q.grep !== undefined && !m.statements.some((s) => s.toLowerCase().includes(q.grep!.toLowerCase()))) return false;
  return true;
}

/** Search every timeline's archived files in the range; newest matches first. */
export async function findTransactions(timelines: Timeline[], q: FindQuery, src: SegmentSource, onFile?: (file: string, bytes: number) => void): Promise<FindResult> {
  const t0 = Date.now();
  const kept: Match[] = [];
  let more = 0;
  const scanned = { files: 0, bytes: 0, transactions: 0, seconds: 0, skippedByIndex: { files: 0, bytes: 0 } };
  const gaps: Gap[] = [];
  for (const tl of timelines) {
    for (const g of tl.gaps) {
      const at = g.before?.time ?? g.after?.time;
      const s = at ? Date.parse(at) / 1000 : undefined;
      if (s === undefined || ((q.since === undefined || s >= q.since) && (q.until === undefined || s <= q.until))) gaps.push(g);
    }
    for (const f of tl.files) {
      // The sidecars' time range: a file wholly outside the search's is not read.
      const mins = f.segments.map((x) => x.minTimestamp);
      const maxs = f.segments.map((x) => x.maxTimestamp);
      if (q.until !== undefined && mins.every((x) => x !== undefined && x > q.until!)) continue;
      if (q.since !== undefined && maxs.every((x) => x !== undefined && x < q.since!)) continue;
      // Every segment's index says it holds no match: not read.
      if (!q.fullScan && f.segments.length && f.segments.every((seg) => cannotMatch(seg, q, tl.flavor))) {
        scanned.skippedByIndex.files++;
        scanned.skippedByIndex.bytes += f.segments.reduce((n, seg) => n + (seg.end - seg.start), 0);
        continue;
      }
      scanned.files++;
      const parser = new BinlogParser(tl.flavor, {
        name: f.file,
        detail: true,
        onTransaction: (t) => {
          scanned.transactions++;
          const m = describe(t, f.file, tl.id);
          if (!matches(m, t, q)) return;
          kept.push(m);
          if (kept.length > q.limit) {
            kept.shift();
            more++;
          }
        },
      });
      for await (const chunk of fileBytes(src, f, 0, f.end)) {
        parser.push(chunk);
        scanned.bytes += chunk.length;
      }
      onFile?.(f.file, scanned.bytes);
    }
  }
  scanned.seconds = (Date.now() - t0) / 1000;
  // Newest first: by time, and within one second by binlog order, reversed.
  const order = kept.map((m, i) => ({ m, i })).sort((a, b) => (a.m.time < b.m.time ? 1 : a.m.time > b.m.time ? -1 : b.i - a.i));
  return { matches: order.map((x) => x.m), more, scanned, gaps };
}

/**
 * For restore --skip: the tables each skipped transaction changed, and every
 * later transaction in the replay range that changed one of them (they may
 * fail, or come out different, without the skipped one).
 */
export async function laterOnSameTables(
  steps: Array<{ file: string; chain: Timeline['files'][number]; start?: number | undefined; stop?: number | undefined }>,
  flavor: Timeline['flavor'],
  skip: ReadonlySet<string>,
  src: SegmentSource,
): Promise<{ skipped: Match[]; later: Match[] }> {
  const skipped: Match[] = [];
  const later: Match[] = [];
  const touched = new Set<string>();
  for (const s of steps) {
    const parser = new BinlogParser(flavor, {
      name: s.file,
      detail: true,
      onTransaction: (t) => {
        if ((s.start !== undefined && t.start < s.start) || (s.stop !== undefined && t.end > s.stop)) return;
        const m = describe(t, s.file, '');
        const keys = m.tables.map((x) => `${x.schema}.${x.table}`);
        if (m.gtid && skip.has(m.gtid)) {
          skipped.push(m);
          keys.forEach((k) => touched.add(k));
        } else if (keys.some((k) => touched.has(k))) later.push(m);
      },
    });
    for await (const chunk of fileBytes(src, s.chain, 0, s.stop ?? s.chain.end)) parser.push(chunk);
  }
  return { skipped, later };
}
