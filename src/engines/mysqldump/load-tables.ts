/**
 * Loading a table-by-table backup (format 2): every database's schema
 * object, then the table objects `parallel` at a time (each in its own
 * client session, in its database), then every database's post-data object
 * (views, triggers, routines, events), then the accounts. Each object
 * streams from the repository through its sha256 check and zstd straight
 * into its client; a failure names the object and its table.
 */
import { asBacktrackError } from '../../errors.js';
import { withClientCredentials, type ClientCredentials } from '../../mysql/client.js';
import { downloadInto } from '../../pipeline/download.js';
import type { LoadContext, LoadObject, LoadResult } from '../engine.js';
import { countWarnings } from './load.js';

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
  // Rows go into their database by name: the object itself names no database.
  if (o.role === 'table') args.push(`--database=${o.schema as string}`);
  ctx.onObject?.(o, 'start');
  let read = 0;
  try {
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
      {
        codec: ctx.codec,
        signal,
        onBytes: (n) => {
          result.bytesRead += n - read;
          read = n;
          ctx.onBytes?.(result.bytesRead);
        },
      },
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
