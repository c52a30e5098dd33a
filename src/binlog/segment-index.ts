/**
 * The per-segment index `find` uses to pass over segments that cannot match
 * (sidecar `index`): built by the archiver from each transaction it reads,
 * merged when pieces fold, and judged here.
 */
import type { TransactionInfo } from '../mysql/binlog/parser.js';
import { GtidSet, parseGtid, type Flavor } from '../mysql/gtid.js';
import type { Sidecar } from '../repository/sidecar.js';
import { describe, tablesInQuestion, type FindQuery } from './find.js';

export type SegmentIndex = NonNullable<Sidecar['index']>;

/** Tables listed per segment; a segment touching more is read in full by find. */
const MAX_TABLES = 2000;

/** An index being built over a range of transactions. */
export class IndexBuilder {
  private complete = true;
  private readonly kinds = new Set<string>();
  private readonly tables = new Map<string, { schema: string; table: string; maxRows: number; kinds: string[] }>();

  add(t: TransactionInfo): void {
    if (t.unread) this.complete = false;
    const m = describe(t, '', '');
    for (const k of m.kinds) this.kinds.add(k);
    for (const x of m.tables) {
      const key = `${x.schema}\u0000${x.table}`;
      const rows = x.inserted + x.updated + x.deleted;
      const had = this.tables.get(key);
      if (had) {
        had.maxRows = Math.max(had.maxRows, rows);
        had.kinds = [...new Set([...had.kinds, ...x.kinds])].sort();
      } else if (this.tables.size < MAX_TABLES) this.tables.set(key, { schema: x.schema, table: x.table, maxRows: rows, kinds: [...x.kinds].sort() });
      else this.complete = false;
    }
  }

  build(): SegmentIndex {
    return { complete: this.complete, kinds: [...this.kinds].sort(), tables: [...this.tables.values()] };
  }
}

/** The index of folded pieces: every piece must have one. */
export function mergeIndexes(parts: Array<SegmentIndex | undefined>): SegmentIndex | undefined {
  if (parts.some((p) => p === undefined)) return undefined;
  const tables = new Map<string, { schema: string; table: string; maxRows: number; kinds: string[] }>();
  let complete = true;
  const kinds = new Set<string>();
  for (const p of parts as SegmentIndex[]) {
    complete &&= p.complete;
    p.kinds.forEach((k) => kinds.add(k));
    for (const t of p.tables) {
      const key = `${t.schema}\u0000${t.table}`;
      const had = tables.get(key);
      if (had) {
        had.maxRows = Math.max(had.maxRows, t.maxRows);
        had.kinds = [...new Set([...had.kinds, ...t.kinds])].sort();
      } else tables.set(key, { ...t, kinds: [...t.kinds] });
    }
  }
  return { complete, kinds: [...kinds].sort(), tables: [...tables.values()] };
}

/** Whether a segment certainly holds no match (from its sidecar alone). */
export function cannotMatch(seg: Sidecar, q: FindQuery, flavor: Flavor): boolean {
  if (q.gtid !== undefined) {
    try {
      if (!GtidSet.parse(flavor, seg.gtids).contains(parseGtid(flavor, q.gtid))) return true;
    } catch {
      // An unparsable --gtid matches nothing anyway; let the scan say so.
    }
  }
  const ix = seg.index;
  if (!ix?.complete) return false;
  const tables = tablesInQuestion(ix.tables, ix.kinds, q);
  if (!tables) return true;
  // A transaction's rows in one table are at most the table's maxRows (over any kind: an upper bound).
  if (q.minRows !== undefined && Math.max(0, ...tables.map((t) => t.maxRows)) < q.minRows) return true;
  return false;
}
