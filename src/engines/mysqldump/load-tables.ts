/**
 * Loading a table-by-table backup (format 2): every database's schema
 * object, then the table objects `parallel` at a time (each in its own
 * client session, in its database), then every database's post-data object
 * (views, triggers, routines, events), then the accounts. Each object
 * streams from the repository through its sha256 check and zstd straight
 * into its client; a failure names the object and its table.
 */
import { Writable } from 'node:stream';
import { ToolError, asBacktrackError } from '../../errors.js';
import { withClientCredentials, type ClientCredentials } from '../../mysql/client.js';
import { identifierForms, quoteIdent } from '../../mysql/connect.js';
import { downloadDecompressed, downloadInto } from '../../pipeline/download.js';
import { runTool } from '../../pipeline/spawn.js';
import type { LoadContext, LoadObject, LoadResult } from '../engine.js';
import { countWarnings } from './load.js';
import { DumpSections, type SectionSink } from './sections.js';

type Chosen = NonNullable<LoadContext['selection']>['schemas'][number];

/** Apply a format-2 backup's objects to the target. */
export async function loadTables(ctx: LoadContext): Promise<LoadResult> {
  const schema = ctx.objects.filter((o) => o.role === 'schema');
  const tables = ctx.objects.filter((o) => o.role === 'table').sort((a, b) => b.size - a.size);
  const post = ctx.objects.filter((o) => o.role === 'post');
  const users = ctx.skipUsers ? [] : ctx.objects.filter((o) => o.role === 'users');
  const result: LoadResult = { bytesRead: 0, rawBytes: 0, warnings: 0, warningSamples: [], parallel: ctx.parallel };
  const ac = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, ac.signal]) : ac.signal;
  await withClientCredentials(ctx.target, async (cred) => {
    for (const o of schema) await loadOne(ctx, cred, o, result, signal);
    // Largest first, so the long ones start early; the first failure stops the others.
    const queue = [...tables];
    let failure: unknown;
    const worker = async () => {
      for (let o = queue.shift(); o && failure === undefined; o = queue.shift()) {
        try {
          await loadOne(ctx, cred, o, result, signal);
        } catch (err) {
          failure ??= err;
          ac.abort(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(ctx.parallel, tables.length)) }, worker));
    if (failure !== undefined) throw failure;
    for (const o of post) await loadOne(ctx, cred, o, result, signal);
    for (const o of users) await loadOne(ctx, cred, o, result, signal);
  });
  return result;
}

/** What an object is, in an error message. */
export function describeObject(o: LoadObject): string {
  if (o.role === 'table') return `${o.key} (rows of ${o.schema}.${o.table}${o.chunk ? `, chunk ${o.chunk.index + 1} of ${o.chunk.count}` : ''})`;
  if (o.role === 'schema') return `${o.key} (tables of database ${o.schema})`;
  if (o.role === 'post') return `${o.key} (views, triggers, routines and events of database ${o.schema})`;
  return `${o.key} (${o.role})`;
}

async function loadOne(ctx: LoadContext, cred: ClientCredentials, o: LoadObject, result: LoadResult, signal: AbortSignal): Promise<void> {
  const args = [...cred.args, '--binary-mode', '--batch', '--max-allowed-packet=1G', '--show-warnings'];
  if (ctx.noBinlog) args.push('--init-command=SET SESSION sql_log_bin=0');
  const chosen = ctx.selection?.schemas.find((x) => x.schema === o.schema);
  // Rows go into their database by name: the object itself names no database.
  if (o.role === 'table') args.push(`--database=${chosen?.target ?? (o.schema as string)}`);
  ctx.onObject?.(o, 'start');
  let read = 0;
  const onBytes = (n: number) => {
    result.bytesRead += n - read;
    read = n;
    ctx.onBytes?.(result.bytesRead);
  };
  try {
    // A partial restore rewrites the schema and post-data objects (small: no rows) in memory.
    if (chosen && (o.role === 'schema' || o.role === 'post') && (!chosen.whole || chosen.target !== chosen.schema || o.role === 'post')) {
      await loadRewritten(ctx, cred, o, chosen, args, result, signal, onBytes);
      result.rawBytes += o.rawSize ?? 0;
      ctx.onObject?.(o, 'done');
      return;
    }
    await downloadInto(
      ctx.store,
      o,
      {
        command: ctx.client,
        args,
        fds: cred.fds,
        label: `${ctx.client} (loading ${describeObject(o)})`,
        installHint: 'install the client tools (apt-get install mariadb-client)',
        onStdout: (out) =>
          countWarnings(out, (w) => {
            result.warnings++;
            if (result.warningSamples.length < 10) result.warningSamples.push(w);
          }),
      },
      { codec: ctx.codec, signal, onBytes },
    );
  } catch (err) {
    if (signal.aborted && !ctx.signal?.aborted) throw err;
    // The same error (its class decides exit codes and drill verdicts), naming the object and its table.
    const e = asBacktrackError(err);
    e.message = `loading ${describeObject(o)} failed: ${e.message}`;
    throw e;
  }
  result.rawBytes += o.rawSize ?? 0;
  ctx.onObject?.(o, 'done');
}

/**
 * Load a schema or post-data object of a partial restore: decoded into
 * memory, cut to the chosen tables (schema object), its database renamed,
 * then fed to the client. Post-data is applied with --force: a view,
 * trigger, routine or event that fails (its tables were not restored) is
 * skipped and named in a warning; each is one statement, so none is
 * half-created.
 */
async function loadRewritten(ctx: LoadContext, cred: ClientCredentials, o: LoadObject, chosen: Chosen, args: string[], result: LoadResult, signal: AbortSignal, onBytes: (n: number) => void): Promise<void> {
  const chunks: Buffer[] = [];
  const collect = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  await downloadDecompressed(ctx.store, o, collect, { codec: ctx.codec, signal, onBytes });
  let sql: Buffer;
  if (o.role === 'schema') sql = await cutSchemaObject(Buffer.concat(chunks), chosen);
  else {
    const kept = keepUnqualified(Buffer.concat(chunks).toString('utf8'), chosen.schema, chosen.target);
    for (const w of kept.dropped) ctx.onSkip?.(w);
    sql = renameDatabase(Buffer.from(kept.text, 'utf8'), chosen.schema, chosen.target);
  }
  const lenient = o.role === 'post';
  const errors: string[] = [];
  const proc = runTool(ctx.client, lenient ? [...args, '--force'] : args, {
    fds: cred.fds,
    signal,
    label: `${ctx.client} (loading ${describeObject(o)})`,
    okExitCodes: lenient ? [1] : [],
    onStderrLine: (l) => {
      if (/^ERROR \d+/.test(l)) errors.push(l);
    },
  });
  countWarnings(proc.stdout, (w) => {
    result.warnings++;
    if (result.warningSamples.length < 10) result.warningSamples.push(w);
  });
  proc.stdin.on('error', () => undefined);
  proc.stdin.end(sql);
  await proc.done;
  if (!errors.length) return;
  const lines = sql.toString('utf8').split('\n');
  for (const e of errors) {
    const at = /at line (\d+)/.exec(e);
    const what = at ? objectAtLine(lines, Number(at[1])) : undefined;
    if (!what) throw new ToolError(`${ctx.client} (loading ${describeObject(o)}) failed: ${e}`);
    ctx.onSkip?.(`${what} of ${chosen.target} was not created: ${e.replace(/^ERROR \d+ \(\w+\) at line \d+: /, '')}`);
  }
}

/** The view, trigger, routine or event a post-data line belongs to. */
function objectAtLine(lines: string[], n: number): string | undefined {
  for (let i = Math.min(n, lines.length) - 1; i >= 0; i--) {
    const l = lines[i] as string;
    let m = /^-- Final view structure for view `((?:[^`]|``)*)`/.exec(l);
    if (m) return `view ${(m[1] as string).replace(/``/g, '`')}`;
    m = /\b(PROCEDURE|FUNCTION|EVENT)\s+`((?:[^`]|``)*)`/i.exec(l);
    if (m) return `${(m[1] as string).toLowerCase()} ${(m[2] as string).replace(/``/g, '`')}`;
    m = /\btrigger\s+`?((?:[^`\s]|``)+)`?/i.exec(l);
    if (m && !/^--/.test(l)) return `trigger ${(m[1] as string).replace(/``/g, '`')}`;
    if (/^-- (Dumping|Current Database)/.test(l)) return undefined;
  }
  return undefined;
}

/** `CREATE DATABASE ... \`old\`` and `USE \`old\`;` lines, pointed at the new name. */
export function renameDatabase(sql: Buffer, from: string, to: string): Buffer {
  if (from === to) return sql;
  const old = identifierForms(from).quoted;
  const text = sql
    .toString('utf8')
    .replace(new RegExp(`^(CREATE DATABASE (?:/\\*!32312 IF NOT EXISTS\\*/ )?)${old}`, 'gm'), (_m, pre: string) => `${pre}${quoteIdent(to)}`)
    .replace(new RegExp(`^USE ${old};`, 'gm'), `USE ${quoteIdent(to)};`);
  return Buffer.from(text, 'utf8');
}

/** A schema object cut to the chosen tables (with their database renamed). */
export async function cutSchemaObject(sql: Buffer, chosen: Chosen): Promise<Buffer> {
  const out: Buffer[] = [];
  const keep: SectionSink = {
    write: (c: Buffer) => {
      out.push(Buffer.from(c));
      return true;
    },
  };
  const db: SectionSink = {
    write: (c: Buffer) => {
      out.push(renameDatabase(Buffer.from(c), chosen.schema, chosen.target));
      return true;
    },
  };
  const sections = new DumpSections((sec) => {
    if (sec.kind === 'database') return db;
    if (chosen.whole) return keep;
    return sec.kind === 'structure' && chosen.tables.includes(sec.name) ? keep : null;
  });
  await new Promise<void>((resolve, reject) => {
    sections.once('error', reject);
    sections.end(sql, () => resolve());
  });
  return Buffer.concat([...sections.preamble, ...out]);
}

/**
 * A schema restored under a new name must not create anything in the old
 * one: a trigger or routine written as `CREATE TRIGGER shop.t ... ON
 * shop.orders` (the dump keeps the text as the user wrote it) would act on
 * the live schema. Every view, trigger, routine or event whose text names
 * the old schema is left out (a view is dropped, so its stand-in does not
 * stay behind), and named.
 */
export function keepUnqualified(text: string, from: string, to: string): { text: string; dropped: string[] } {
  if (from === to) return { text, dropped: [] };
  const forms = identifierForms(from);
  const names = [forms.quoted, ...(forms.bare ? [`\\b${forms.bare}\\b`] : [])];
  const qualified = new RegExp(`(?:${names.join('|')})\\s*\\.\\s*[\`\\w]`);
  const lines = text.split('\n');
  const out: string[] = [];
  const dropped: string[] = [];
  const why = `its definition names ${from} explicitly, so in ${to} it would act on ${from}; create it by hand if you need it`;
  for (let i = 0; i < lines.length; ) {
    const line = lines[i] as string;
    let end = -1;
    if (line === 'DELIMITER ;;') end = lines.indexOf('DELIMITER ;', i + 1);
    else if (line.startsWith('-- Final view structure for view ')) {
      end = lines.findIndex((l, j) => j > i + 1 && l.startsWith('--'));
      if (end > 0) end -= 1;
      else end = lines.length - 1;
    }
    if (end < 0) {
      out.push(line);
      i++;
      continue;
    }
    const block = lines.slice(i, end + 1);
    if (qualified.test(block.filter((l) => !l.startsWith('--')).join('\n'))) {
      const what = objectAtLine(block, block.length) ?? 'an object';
      dropped.push(`${what} of ${to} was not created: ${why}`);
      const view = /^-- Final view structure for view (`(?:[^`]|``)*`)/.exec(line);
      if (view) out.push(`DROP VIEW IF EXISTS ${view[1]};`);
    } else out.push(...block);
    i = end + 1;
  }
  return { text: out.join('\n'), dropped };
}
