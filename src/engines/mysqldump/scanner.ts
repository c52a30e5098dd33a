/**
 * Reads the dump as it streams past, without holding it: counts the rows of
 * every table and picks up the snapshot point and the list of tables the dump
 * created. Because the counts come from the very bytes that are stored, they
 * are from the dump's own snapshot by construction; no second connection can
 * give that guarantee, since MySQL cannot share a snapshot between sessions.
 *
 * The dump tools write each INSERT as one statement whose string values have
 * newlines escaped, quotes as \' and backslashes as \\; binary values are hex
 * (--hex-blob). Routine, trigger and event bodies sit between DELIMITER ;; and
 * DELIMITER ; lines, so an INSERT inside them is never taken for data.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { opensMultilineGtid, parseSnapshotComment, type SnapshotPoint } from '../../mysql/flavor.js';

/** What the scan found. */
export interface DumpFacts {
  /** Rows per `schema`.`table`, keyed "schema\0table". */
  rows: Map<string, number>;
  /** Tables whose CREATE TABLE the dump contains, keyed "schema\0table". */
  tablesCreated: Set<string>;
  snapshot: Partial<SnapshotPoint>;
  /** Uncompressed bytes seen. */
  bytes: number;
  /** The last line of the dump ("-- Dump completed ..."), proof the tool finished writing. */
  completed: boolean;
}

const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const SEMI = 0x3b;
const COMMA = 0x2c;
const NL = 0x0a;
const BACKTICK = 0x60;
const INSERT_PREFIX = Buffer.from('INSERT INTO `');
const META_LINE_CAP = 4096;

type Mode = 'meta' | 'insertName' | 'insertBody';

export class DumpScanner extends Transform {
  readonly facts: DumpFacts = { rows: new Map(), tablesCreated: new Set(), snapshot: {}, bytes: 0, completed: false };
  private mode: Mode = 'meta';
  private line: number[] = [];
  private lineOverflow = false;
  private atLineStart = true;
  private schema = '';
  private inCompound = false;
  private gtidCarry: string | undefined;
  // INSERT state
  private table: number[] = [];
  private tickPending = false;
  private inString = false;
  private escape = false;
  private depth = 0;
  private tuples = 0;
  private sawBodyByte = false;
  private columnList = false;
  /** The last byte outside strings before the first tuple (to spot "VALUES\n("). */
  private lastByte = 0;
  /** Row-per-line format: each tuple on its own line, counted by line ends. */
  private lineMode = false;
  private tail1 = 0;
  private tail2 = 0;

  constructor(private readonly onBytes?: (total: number) => void) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.facts.bytes += chunk.length;
    this.scan(chunk);
    this.onBytes?.(this.facts.bytes);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.mode === 'meta' && this.line.length) this.endMetaLine();
    cb();
  }

  private scan(buf: Buffer): void {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      if (this.mode === 'insertBody') i = this.scanBody(buf, i);
      else if (this.mode === 'insertName') i = this.scanName(buf, i);
      else i = this.scanMeta(buf, i);
    }
  }

  /** Outside INSERTs: collect the line (capped) and look at it when it ends. */
  private scanMeta(buf: Buffer, start: number): number {
    let i = start;
    if (this.atLineStart && !this.inCompound) {
      // Decide as early as possible whether this line is a data INSERT.
      while (i < buf.length && this.line.length < INSERT_PREFIX.length && buf[i] !== NL) {
        this.line.push(buf[i] as number);
        i++;
        if (buf[i - 1] !== INSERT_PREFIX[this.line.length - 1]) {
          this.atLineStart = false;
          break;
        }
      }
      if (this.line.length === INSERT_PREFIX.length && this.atLineStart) {
        this.startInsert();
        return i;
      }
      if (i >= buf.length) return i;
    }
    this.atLineStart = false;
    const nl = buf.indexOf(NL, i);
    const end = nl < 0 ? buf.length : nl;
    for (let j = i; j < end && this.line.length < META_LINE_CAP; j++) this.line.push(buf[j] as number);
    if (end - i > META_LINE_CAP) this.lineOverflow = true;
    if (nl < 0) return buf.length;
    this.endMetaLine();
    return nl + 1;
  }

  private endMetaLine(): void {
    const text = Buffer.from(this.line).toString('utf8');
    this.line = [];
    this.atLineStart = true;
    const overflow = this.lineOverflow;
    this.lineOverflow = false;
    if (this.gtidCarry !== undefined) {
      this.gtidCarry += text;
      if (!opensMultilineGtid(this.gtidCarry) || this.gtidCarry.length > 1_000_000) {
        this.takeSnapshotLine(this.gtidCarry);
        this.gtidCarry = undefined;
      }
      return;
    }
    if (overflow) return;
    if (text.startsWith('DELIMITER ')) {
      this.inCompound = text.trim() !== 'DELIMITER ;';
      return;
    }
    if (this.inCompound) return;
    if (text.startsWith('USE `')) {
      this.schema = unquoteIdent(text.slice(4).replace(/;\s*$/, ''));
    } else if (text.startsWith('CREATE TABLE `')) {
      const name = readIdent(text, 'CREATE TABLE '.length);
      if (name !== undefined) this.facts.tablesCreated.add(`${this.schema}\u0000${name}`);
    } else if (text.startsWith('-- Dump completed')) {
      this.facts.completed = true;
    } else if (text.startsWith('--') || text.startsWith('/*') || text.startsWith('SET ')) {
      if (opensMultilineGtid(text)) this.gtidCarry = text;
      else this.takeSnapshotLine(text);
    }
  }

  private takeSnapshotLine(text: string): void {
    const found = parseSnapshotComment(text);
    if (found) Object.assign(this.facts.snapshot, found);
  }

  private startInsert(): void {
    this.line = [];
    this.atLineStart = false;
    this.mode = 'insertName';
    this.table = [];
    this.tickPending = false;
  }

  /** The backquoted table name after INSERT INTO, with `` as an escaped backtick. */
  private scanName(buf: Buffer, start: number): number {
    for (let i = start; i < buf.length; i++) {
      const c = buf[i] as number;
      if (this.tickPending) {
        this.tickPending = false;
        if (c === BACKTICK) {
          this.table.push(c);
          continue;
        }
        this.mode = 'insertBody';
        this.inString = false;
        this.escape = false;
        this.depth = 0;
        this.tuples = 0;
        this.sawBodyByte = false;
        this.columnList = false;
        this.lineMode = false;
        this.lastByte = 0;
        return i;
      }
      if (c === BACKTICK) this.tickPending = true;
      else this.table.push(c);
    }
    return buf.length;
  }

  /**
   * Row-per-line INSERTs (MariaDB's dump writes "VALUES\n(...),\n(...);"):
   * string values have their newlines escaped, so every raw newline ends a
   * tuple line, which ends in "),", or ");" for the last. Counting line ends
   * with indexOf (memchr) is many times faster than stepping through bytes.
   */
  private scanLines(buf: Buffer, start: number): number {
    let i = start;
    for (;;) {
      const nl = buf.indexOf(NL, i);
      if (nl < 0) {
        if (buf.length - i >= 2) {
          this.tail2 = buf[buf.length - 2] as number;
          this.tail1 = buf[buf.length - 1] as number;
        } else if (buf.length - i === 1) {
          this.tail2 = this.tail1;
          this.tail1 = buf[buf.length - 1] as number;
        }
        return buf.length;
      }
      const b1 = nl - 1 >= i ? (buf[nl - 1] as number) : this.tail1;
      const b2 = nl - 2 >= i ? (buf[nl - 2] as number) : nl - 1 >= i ? this.tail1 : this.tail2;
      this.tail1 = 0;
      this.tail2 = 0;
      i = nl + 1;
      if (b2 === RPAREN && b1 === COMMA) this.tuples++;
      else if (b2 === RPAREN && b1 === SEMI) {
        this.finishInsert(this.tuples + 1);
        this.atLineStart = true;
        return i;
      }
    }
  }

  /** The hot loop: count top-level parenthesised tuples up to the closing ';'. */
  private scanBody(buf: Buffer, start: number): number {
    if (this.lineMode) return this.scanLines(buf, start);
    let inString = this.inString;
    let escape = this.escape;
    let depth = this.depth;
    let tuples = this.tuples;
    let i = start;
    const n = buf.length;
    // Inside strings, jump between quotes and backslashes with indexOf
    // (memchr) instead of stepping byte by byte; positions are cached so
    // each search covers each byte of the chunk at most once.
    let nextBs = -2;
    let nextQ = -2;
    for (; i < n; i++) {
      if (inString) {
        if (escape) {
          escape = false;
          continue;
        }
        if (nextQ !== -1 && nextQ < i) nextQ = buf.indexOf(QUOTE, i);
        const q = nextQ;
        if (nextBs !== -1 && nextBs < i) nextBs = buf.indexOf(BACKSLASH, i);
        if (nextBs !== -1 && (q === -1 || nextBs < q)) {
          i = nextBs; // the loop's i++ moves past it; the escaped byte is skipped next
          escape = true;
          continue;
        }
        if (q === -1) {
          i = n;
          break;
        }
        i = q;
        inString = false;
        continue;
      }
      const c = buf[i] as number;
      const prev = this.lastByte;
      if (tuples === 0 && c !== 0x20) this.lastByte = c;
      if (!this.sawBodyByte && c !== 0x20) {
        this.sawBodyByte = true;
        // "INSERT INTO `t` (`a`, `b`) VALUES ..." names its columns first.
        if (c === LPAREN) this.columnList = true;
      }
      if (c === QUOTE) inString = true;
      else if (c === LPAREN) {
        if (depth === 0) {
          if (tuples === 0 && !this.columnList && prev === NL) {
            // "VALUES\n(": the row-per-line format; the rest goes by lines.
            this.lineMode = true;
            this.tuples = 0;
            return this.scanLines(buf, i + 1);
          }
          tuples++;
        }
        depth++;
      } else if (c === RPAREN) depth--;
      else if (c === SEMI && depth === 0) {
        this.finishInsert(tuples - (this.columnList ? 1 : 0));
        return i + 1;
      }
    }
    this.inString = inString;
    this.escape = escape;
    this.depth = depth;
    this.tuples = tuples;
    return i;
  }

  private finishInsert(rows: number): void {
    const key = `${this.schema}\u0000${Buffer.from(this.table).toString('utf8')}`;
    this.facts.rows.set(key, (this.facts.rows.get(key) ?? 0) + rows);
    this.mode = 'meta';
    this.atLineStart = false; // the rest of this line is the newline after ';'
    this.line = [];
  }
}

/** `a``b` -> a`b */
export function unquoteIdent(text: string): string {
  const t = text.trim();
  return t.startsWith('`') && t.endsWith('`') ? t.slice(1, -1).replace(/``/g, '`') : t;
}

/** The backquoted identifier starting at `at`, or undefined. */
function readIdent(text: string, at: number): string | undefined {
  if (text[at] !== '`') return undefined;
  let out = '';
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === '`') {
      if (text[i + 1] === '`') {
        out += '`';
        i++;
      } else return out;
    } else out += text[i];
  }
  return undefined;
}
