/**
 * Cutting a dump stream into its sections, as the dump tools mark them with
 * comment lines (mariadb-dump and mysqldump write the same ones):
 *
 *   -- Current Database: `d`
 *   -- Table structure for table `t`          (also sequences, in MariaDB)
 *   -- Dumping data for table `t`
 *   -- Temporary table structure for view `v` (MySQL: "Temporary view structure")
 *   -- Final view structure for view `v`
 *   -- Dumping events for database 'd'
 *   -- Dumping routines for database 'd'
 *
 * Everything before the first section is the preamble (the session settings
 * every part needs: character set, time zone, SQL mode, checks off). A
 * string value never holds a raw newline in a dump (it is written \n), so a
 * line that starts with "-- " is always the tool's own comment; lines are
 * found with indexOf (memchr), and only lines that start with "--" are read.
 */
import { Writable } from 'node:stream';

export type Section =
  | { kind: 'database'; schema: string }
  | { kind: 'structure' | 'data' | 'view-temp' | 'view-final'; schema: string; name: string }
  | { kind: 'events' | 'routines'; schema: string };

/** Where a section's lines go: a writable, or nowhere. */
export type SectionSink = { write(chunk: Buffer): boolean | Promise<void>; waitDrain?: () => Promise<void> } | null;

const NL = 0x0a;
const DASH = 0x2d;
const SLASH = 0x2f;
const STAR = 0x2a;
const OLD_MARK = Buffer.from('=@OLD_');

/**
 * A line of the dump's trailer, which restores what the preamble saved:
 * "/*!40101 SET SQL_MODE=@OLD_SQL_MODE *\/;". (The preamble saves with
 * "SET @OLD_X=@@X"; the per-table history setting uses lower-case @old_.)
 */
function isTrailerLine(buf: Buffer, at: number): boolean {
  const nl = buf.indexOf(NL, at);
  return buf.subarray(at, nl < 0 ? buf.length : Math.min(nl, at + 200)).includes(OLD_MARK);
}
/** Longest comment line read (identifiers are at most 64 characters, quoted and escaped). */
const COMMENT_CAP = 2048;

/** Parse a section comment line, or undefined when it is not one. */
export function sectionOf(line: string, schema: string): Section | undefined {
  let m = /^-- Current Database: (`(?:[^`]|``)*`)\s*$/.exec(line);
  if (m) return { kind: 'database', schema: unquote(m[1] as string) };
  m = /^-- (Table structure for table|Dumping data for table|Temporary (?:table|view) structure for view|Final view structure for view|Sequence structure for) (`(?:[^`]|``)*`)\s*$/.exec(line);
  if (m) {
    const what = m[1] as string;
    const kind = what.startsWith('Table') || what.startsWith('Sequence') ? 'structure' : what.startsWith('Dumping') ? 'data' : what.startsWith('Temporary') ? 'view-temp' : 'view-final';
    return { kind, schema, name: unquote(m[2] as string) };
  }
  m = /^-- Dumping (events|routines) for database '((?:[^'\\]|\\.)*)'\s*$/.exec(line);
  if (m) return { kind: m[1] as 'events' | 'routines', schema: (m[2] as string).replace(/\\(.)/g, '$1') };
  return undefined;
}

/** `a``b` -> a`b */
function unquote(q: string): string {
  return q.slice(1, -1).replace(/``/g, '`');
}

/**
 * A Writable that routes each section of a dump to the sink `open` returns
 * for it. A section's lines, from its comment line on, go to its sink; the
 * "--" line just before a comment stays with the section before (harmless).
 * `onLine` sees every comment line (the caller reads the snapshot point and
 * the completion line from them).
 */
export class DumpSections extends Writable {
  private current: SectionSink = null;
  private schema = '';
  private carry: Buffer | undefined;
  readonly preamble: Buffer[] = [];
  private inPreamble = true;
  private inTrailer = false;

  constructor(private readonly open: (s: Section) => SectionSink | Promise<SectionSink>, private readonly onComment?: (line: string) => void) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.route(chunk).then(() => cb(), (err: unknown) => cb(err as Error));
  }

  override _final(cb: (err?: Error | null) => void): void {
    const rest = this.carry;
    this.carry = undefined;
    (rest?.length ? this.emit_(rest) : Promise.resolve()).then(() => cb(), (err: unknown) => cb(err as Error));
  }

  private async route(chunk: Buffer): Promise<void> {
    let buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    // Everything up to the last newline is whole lines; the rest waits for the next chunk.
    const lastNl = buf.lastIndexOf(NL);
    if (lastNl < 0) {
      this.carry = buf;
      return;
    }
    if (lastNl < buf.length - 1) {
      this.carry = Buffer.from(buf.subarray(lastNl + 1));
      buf = buf.subarray(0, lastNl + 1);
    }
    let from = 0;
    let at = 0;
    while (at < buf.length) {
      // The trailer ("/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;" ...) restores what the preamble
      // saved; a part loaded on its own may lack the saved value (a NULL error), so it is left out.
      if (!this.inTrailer && buf[at] === SLASH && buf[at + 1] === STAR && isTrailerLine(buf, at)) {
        if (at > from) await this.emit_(buf.subarray(from, at));
        from = at;
        this.inTrailer = true;
        this.current = null;
      }
      // A line that starts with "--" may open a section.
      if (buf[at] === DASH && buf[at + 1] === DASH) {
        const nl = buf.indexOf(NL, at);
        const line = buf.subarray(at, Math.min(nl, at + COMMENT_CAP)).toString('utf8');
        this.onComment?.(line);
        const s = line.length > 3 ? sectionOf(line, this.schema) : undefined;
        if (s && !this.inTrailer) {
          if (at > from) await this.emit_(buf.subarray(from, at));
          from = at;
          if (s.kind === 'database') this.schema = s.schema;
          this.inPreamble = false;
          this.current = await this.open(s);
        }
        at = nl + 1;
        continue;
      }
      const nl = buf.indexOf(NL, at);
      at = nl + 1;
    }
    if (from < buf.length) await this.emit_(buf.subarray(from));
  }

  private async emit_(bytes: Buffer): Promise<void> {
    if (this.inTrailer) return;
    if (this.inPreamble) {
      this.preamble.push(Buffer.from(bytes));
      return;
    }
    const sink = this.current;
    if (!sink) return;
    const r = sink.write(bytes);
    if (r instanceof Promise) await r;
    else if (r === false && sink.waitDrain) await sink.waitDrain();
  }
}
