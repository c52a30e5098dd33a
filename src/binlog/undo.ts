/**
 * `backtrack undo GTID` (MariaDB): the reverse of one transaction's row
 * changes, made by `mariadb-binlog --flashback` from the archived bytes of
 * that transaction alone (the file's format description, then the
 * transaction), for the SRE to review and apply. Refused, with the reason,
 * when the reverse could not be exact: a MySQL source, DDL or statement-
 * format DML in the transaction, row images that are not full (judged from
 * the rows events' column bitmaps), or a later archived transaction on the
 * same tables (the undo would overwrite its changes). It never writes to a
 * server.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BacktrackError, NotFoundError, UsageError } from '../errors.js';
import { rowsEventShape } from '../mysql/binlog/events.js';
import { Reader } from '../mysql/binlog/reader.js';
import { formatGtid, parseGtid } from '../mysql/gtid.js';
import { runTool } from '../pipeline/spawn.js';
import type { Timeline } from './chain.js';
import { findTransactions, laterOnSameTables, type Match } from './find.js';
import { fileBytes, type SegmentSource } from './segments.js';

export class UndoRefusedError extends BacktrackError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, { code: 'UNDO_REFUSED', details });
  }
}

export interface UndoResult {
  transaction: Match;
  /** mariadb-binlog --flashback output: BINLOG statements that apply the reverse. */
  sql: string;
  /** The reversed rows, readable (### lines, @N replaced by column names when known). */
  readable: string[];
}

async function collect(src: SegmentSource, chain: Timeline['files'][number], from: number, to: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of fileBytes(src, chain, from, to)) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** Every rows event of the transaction must carry full row images (every column's bit set). */
function checkFullImages(trx: Buffer, checksum: boolean, where: string): void {
  for (let at = 0; at + 19 <= trx.length; ) {
    const size = trx.readUInt32LE(at + 9);
    const type = trx[at + 4] as number;
    const shape = rowsEventShape(type);
    if (shape?.compressed) throw new UndoRefusedError(`${where}: the transaction's row events are compressed (log_bin_compress), which the flashback tool cannot reverse`);
    if (shape) {
      const r = new Reader(trx.subarray(at + 19, at + size - (checksum ? 4 : 0)), where);
      r.skip(6, 'table id');
      r.skip(2, 'flags');
      if (shape.v2) r.skip(r.u16('extra data length') - 2, 'extra data');
      const n = r.packed('column count');
      const maps = shape.kind === 'update' ? 2 : 1;
      for (let k = 0; k < maps; k++) {
        const bits = r.bytes(Math.ceil(n / 8), 'columns bitmap');
        for (let c = 0; c < n; c++) {
          if (((bits[c >> 3] as number) & (1 << (c & 7))) === 0) {
            throw new UndoRefusedError(`${where}: a ${shape.kind} row event holds only some columns (binlog_row_image is not FULL when it was written), so the reverse cannot restore whole rows; use restore --before or --skip instead`);
          }
        }
      }
    }
    at += size;
  }
}

/** Make the undo of one transaction. `columns` gives column names by table (schema.table -> names by ordinal). */
export async function undoTransaction(
  timelines: Timeline[],
  gtidText: string,
  src: SegmentSource,
  o: { binlogTool: string; workDir: string; signal?: AbortSignal | undefined; columns?: (schema: string, table: string) => Promise<string[] | undefined> },
): Promise<UndoResult> {
  const tl = timelines.find((t) => t.files.length > 0);
  if (!tl) throw new NotFoundError('no binlog is archived for this source');
  if (tl.flavor === 'mysql') {
    throw new UsageError('undo needs MariaDB\'s mariadb-binlog --flashback, which MySQL has no counterpart of; for a MySQL source use restore --before GTID (the state just before it) or restore --skip GTID (everything but it)');
  }
  const gtid = formatGtid(parseGtid(tl.flavor, gtidText));
  const found = await findTransactions(timelines, { tables: [], kinds: new Set(), gtid, limit: 1 }, src);
  const m = found.matches[0];
  if (!m) throw new NotFoundError(`GTID ${gtid} is not in the archived binlog; backtrack find lists what is there`);
  const line = timelines.find((t) => t.id === m.timeline) ?? tl;
  const fileIdx = line.files.findIndex((f) => f.file === m.file);
  const chain = line.files[fileIdx] as Timeline['files'][number];
  const where = `${gtid} (${m.file}:${m.start})`;
  if (m.kinds.some((k) => !['insert', 'update', 'delete'].includes(k))) throw new UndoRefusedError(`${where} holds DDL (${m.kinds.join(', ')}): a schema change cannot be reversed from the binlog; use restore --before it`);
  if (!m.tables.length) throw new UndoRefusedError(`${where} changed no rows by row events (statement-format DML or none): there is nothing the flashback tool can reverse; use restore --before or --skip`);
  // A later transaction on the same tables: the reverse would overwrite what it did.
  const rest = line.files.slice(fileIdx).map((f, i) => ({ file: f.file, chain: f, ...(i === 0 ? { start: m.start } : {}) }));
  const later = (await laterOnSameTables(rest, line.flavor, new Set([gtid]), src)).later;
  if (later.length) {
    throw new UndoRefusedError(
      `${where} cannot be undone exactly: ${later.length} later transaction(s) changed the same tables (${later.slice(0, 10).map((x) => `${x.gtid ?? '?'} at ${x.file}:${x.start}, ${x.time}`).join('; ')}${later.length > 10 ? '; ...' : ''}), and reversing it would overwrite their changes. Use restore --skip ${gtid} into another server, or restore --before it with --only and --rename, and compare`,
      { later: later.map((x) => x.gtid) },
    );
  }
  // The transaction alone, after the file's format description.
  const head = await collect(src, chain, 0, 4 + 19);
  const fdeSize = head.readUInt32LE(4 + 9);
  const fde = await collect(src, chain, 0, 4 + fdeSize);
  const checksum = fde[fde.length - 5] === 1;
  const trx = await collect(src, chain, m.start, m.end);
  checkFullImages(trx, checksum, where);
  const file = path.join(o.workDir, 'undo.bin');
  await writeFile(file, Buffer.concat([fde, trx]));
  let out = '';
  const proc = runTool(o.binlogTool, ['--flashback', '-vv', file], { label: `${o.binlogTool} --flashback`, signal: o.signal, installHint: 'apt-get install mariadb-client' });
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (c: string) => (out += c));
  await proc.done;
  const readable: string[] = [];
  let table: string[] | undefined;
  for (const l of out.split('\n')) {
    if (!l.startsWith('###')) continue;
    const t = /^### (?:INSERT INTO|DELETE FROM|UPDATE) `((?:[^`]|``)*)`\.`((?:[^`]|``)*)`/.exec(l);
    if (t) table = await o.columns?.((t[1] as string).replace(/``/g, '`'), (t[2] as string).replace(/``/g, '`'));
    readable.push(table ? l.replace(/@(\d+)=/g, (x, n: string) => (table![Number(n) - 1] ? `${table![Number(n) - 1]}=` : x)) : l);
  }
  return { transaction: m, sql: out, readable };
}

