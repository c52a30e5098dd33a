/**
 * Loading a mysqldump backup: the data object, then the accounts, each
 * streamed from the repository through the checksum and zstd into one run of
 * the SQL client. The client stops at the first SQL error, and its message
 * (with the line number) becomes the error.
 */
import { withClientCredentials } from '../../mysql/client.js';
import { downloadInto } from '../../pipeline/download.js';
import type { LoadContext, LoadResult } from '../engine.js';
import { loadTables } from './load-tables.js';

/** Apply a backup's objects to the target: table by table (format 2), or the one stream (format 1). */
export async function loadWithMysqlClient(ctx: LoadContext): Promise<LoadResult> {
  return ctx.format === 2 ? loadTables(ctx) : loadStream(ctx);
}

async function loadStream(ctx: LoadContext): Promise<LoadResult> {
  const client = ctx.client;
  const ordered = [...ctx.objects.filter((o) => o.role === 'data'), ...(ctx.skipUsers ? [] : ctx.objects.filter((o) => o.role === 'users'))];
  let bytesRead = 0;
  let rawBytes = 0;
  let warnings = 0;
  const samples: string[] = [];
  await withClientCredentials(ctx.target, async (cred) => {
    for (const obj of ordered) {
      const args = [...cred.args, '--binary-mode', '--batch', '--max-allowed-packet=1G', '--show-warnings'];
      if (ctx.noBinlog) args.push('--init-command=SET SESSION sql_log_bin=0');
      const base = bytesRead;
      await downloadInto(
        ctx.store,
        obj,
        {
          command: client,
          args,
          fds: cred.fds,
          label: `${client} (loading ${obj.role})`,
          installHint: 'install the client tools (apt-get install mariadb-client)',
          onStdout: (out) =>
            countWarnings(out, (w) => {
              warnings++;
              if (samples.length < 10) samples.push(w);
            }),
        },
        { codec: ctx.codec, signal: ctx.signal, onBytes: (n) => ctx.onBytes?.(base + n) },
      );
      bytesRead += obj.size;
      rawBytes += obj.rawSize ?? 0;
    }
  });
  return { bytesRead, rawBytes, warnings, warningSamples: samples, parallel: 1 };
}

/** The client prints "Warning (Code N): ..." lines for --show-warnings; count them as they pass. */
export function countWarnings(stdout: NodeJS.ReadableStream, onWarning: (line: string) => void): void {
  let rest = '';
  stdout.setEncoding('utf8');
  stdout.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.startsWith('Warning (Code')) onWarning(l);
  });
}
