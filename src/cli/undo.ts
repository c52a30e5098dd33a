/** `backtrack undo --gtid GTID`: the SQL that reverses one transaction's row changes (MariaDB), to review and apply. */
import { UsageError } from '../errors.js';
import { loadChain, repositorySegments } from '../binlog/chain.js';
import { undoTransaction } from '../binlog/undo.js';
import { closeQuietly, connect, queryRows } from '../mysql/connect.js';
import { cliActor } from '../repository/audit.js';
import { codecFor, openRepository, sourceSpec, toolPaths, withWorkDir } from '../runtime/context.js';
import { str, oneSource, type Command } from './command.js';

export const undoCommand: Command = {
  name: 'undo',
  summary: 'print the SQL that reverses one transaction\'s row changes (MariaDB), to review and apply',
  usage: 'backtrack undo --gtid GTID [--source NAME] [--json] > undo.sql',
  source: 'one',
  options: {
    gtid: { type: 'string', arg: 'GTID', description: 'the transaction to reverse (backtrack find prints it)' },
  },
  details: [
    'Made by mariadb-binlog --flashback from the archived transaction. Nothing is written to any server: review the output, then apply it',
    'with the mariadb client as an account with the BINLOG ADMIN (or SUPER) privilege (it is a set of BINLOG statements).',
    'Refused, with the reason: a MySQL source (use restore --before or --skip), DDL in the transaction, row images that are not full,',
    'and a later archived transaction that changed the same tables (the undo would overwrite it).',
  ].join('\n'),
  async run(ctx) {
    const gtid = str(ctx, 'gtid');
    if (!gtid) throw new UsageError('undo needs --gtid GTID, the transaction to reverse (backtrack find prints it)');
    const source = oneSource(ctx);
    const repo = await openRepository(ctx.cfg, 'write', ctx.log, ctx.signal);
    const started = Date.now();
    // Column names from the live table's definition (the refusal of later changes means it is the one the rows were written against).
    const conn = await connect(sourceSpec(source)).catch(() => undefined);
    try {
      return await withWorkDir(ctx.cfg, 'undo', async (work) => {
        const r = await undoTransaction(await loadChain(repo, source.name), gtid, repositorySegments(repo, source.name, codecFor(ctx.cfg, source), work, ctx.signal), {
          binlogTool: toolPaths(ctx.cfg, 'mariadb').binlog,
          workDir: work,
          signal: ctx.signal,
          columns: async (schema, table) => {
            if (!conn) return undefined;
            const rows = await queryRows<{ c: string }>(conn, 'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [schema, table]).catch(() => []);
            return rows.length ? rows.map((x) => x.c) : undefined;
          },
        });
        await repo.appendAudit({ action: 'undo', actor: cliActor(), source: source.name, params: { gtid: r.transaction.gtid, file: r.transaction.file, start: r.transaction.start, tables: r.transaction.tables.map((t) => `${t.schema}.${t.table}`) }, outcome: 'ok', durationSeconds: (Date.now() - started) / 1000 });
        const t = r.transaction;
        const header = [
          `-- backtrack undo --gtid ${t.gtid}: the reverse of ${t.file}:${t.start} (${t.time}), made by mariadb-binlog --flashback`,
          ...t.tables.map((x) => `--   ${x.schema}.${x.table}: ${x.deleted} deleted, ${x.updated} updated, ${x.inserted} inserted (reversed below)`),
          '-- Review it, then apply as an account with BINLOG ADMIN (or SUPER): mariadb -h <source> -u <admin> -p < undo.sql',
          '-- The reversed rows, readable:',
          ...r.readable.map((l) => `-- ${l.replace(/^### ?/, '')}`),
          '',
        ].join('\n');
        return { json: { ok: true, transaction: t, readable: r.readable, sql: r.sql }, text: `${header}\n${r.sql}` };
      });
    } finally {
      if (conn) await closeQuietly(conn);
    }
  },
};
