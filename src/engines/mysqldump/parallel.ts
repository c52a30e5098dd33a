/**
 * A table-by-table backup (format 2) from several dump sessions that share
 * one snapshot.
 *
 * The work: every base table is one object, or, when larger than
 * `chunkSize` and keyed by one integer column, several chunks by key range.
 * Whole tables are packed into `parallelism` data sessions by size; each
 * chunk is a session of its own (`--where` applies to a whole session); one
 * session dumps the schema (tables, sequences, view stand-ins and views) and
 * one the triggers, routines and events. If that makes more than
 * `maxSessions`, chunks grow until it fits.
 *
 * The snapshot: every session is a `mariadb-dump --single-transaction`
 * process. They are all started while one connection holds a lock that
 * blocks commits (flavor.ts commitLockSql), and the lock is released once
 * every session has printed its snapshot coordinates. The proof that they
 * share one snapshot is those coordinates: each session's CHANGE MASTER
 * comment (and its GTID position, at its end) must be the same, or the
 * backup fails. After the lock is released only `parallelism` sessions are
 * read at a time; the others wait, blocked on their output pipe, holding
 * their snapshot.
 *
 * Each session's output is cut into objects at the dump tool's section
 * comments (sections.ts) and every object gets the dump's preamble (session
 * settings), so each object loads on its own. Row counts come from scanning
 * each object as it passes (scanner.ts).
 */
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BacktrackError, ToolError } from '../../errors.js';
import { withClientCredentials, type ClientCredentials } from '../../mysql/client.js';
import { closeQuietly, connect, queryRows } from '../../mysql/connect.js';
import { commitLockSql, dumpFlags, parseSnapshotComment, sessionDumpFlags, toolsFor, type SnapshotPoint } from '../../mysql/flavor.js';
import { runTool, runToolText, type ToolProcess } from '../../pipeline/spawn.js';
import { objectSuffix } from '../../pipeline/stages.js';
import { uploadCompressed, uploadSmall } from '../../pipeline/upload.js';
import type { DumpContext, DumpResult, EngineObject } from '../engine.js';
import { dumpAccountsObject } from './dump.js';
import { DumpScanner } from './scanner.js';
import { DumpSections, type Section, type SectionSink } from './sections.js';

const INSTALL_HINT = 'install the client tools (apt-get install mariadb-client, or mysql-client for MySQL)';
const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** One table's place in the backup: its index (for object names) and what the planner knows. */
interface TableWork {
  schema: string;
  table: string;
  schemaIndex: number;
  tableIndex: number;
  bytes: number;
  /** Single-column integer primary key, when there is one (chunks need it). */
  key?: { column: string; min: bigint; max: bigint } | undefined;
  history: boolean;
}

interface Chunk {
  t: TableWork;
  index: number;
  count: number;
  from: bigint | null;
  to: bigint | null;
}

type SessionKind = 'schema' | 'post' | 'data' | 'chunk';

interface Session {
  index: number;
  kind: SessionKind;
  args: string[];
  tables?: TableWork[];
  chunk?: Chunk;
  proc?: ToolProcess;
  sections?: DumpSections;
  snapshot: Partial<SnapshotPoint>;
  completed: boolean;
  /** Resolved once the session has printed its snapshot coordinates (or ended). */
  opened: Promise<void>;
  markOpened: () => void;
  /** Data sections seen, keyed schema\0table (a dropped table shows as missing). */
  seen: Set<string>;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** Take a table-by-table backup. */
export async function dumpTables(ctx: DumpContext): Promise<DumpResult> {
  const tool = ctx.tools.dump ?? toolsFor(ctx.server.flavor).dump;
  const toolVersion = runToolText(tool, ['--version'], { label: tool, installHint: INSTALL_HINT }).then((v) => v.trim());
  toolVersion.catch(() => undefined);
  const suffix = objectSuffix(ctx.codec.age !== undefined);
  const hasVersioned = ctx.inventory.tables.some((t) => t.type === 'SYSTEM VERSIONED');
  let base = dumpFlags({ flavor: ctx.server.flavor, version: ctx.server.version, gtidMode: ctx.server.gtidMode, hasSystemVersioned: hasVersioned });
  if (!ctx.server.logBin) base = base.filter((f) => !/^--(master|source)-data|^--gtid$|^--set-gtid-purged/.test(f));
  if (ctx.server.flavor === 'mysql') base.push('--no-tablespaces');
  base = [...base, ...ctx.extraArgs];
  const history = hasVersioned && base.includes('--dump-history');

  const work = await planTables(ctx, history);
  const sessions = planSessions(ctx, work, base);
  const ac = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, ac.signal]) : ac.signal;
  const objects: EngineObject[] = [];
  const uploads: Array<Promise<void>> = [];
  /** Post-data text per database: final views (schema session), then triggers, events, routines (post session). */
  const viewText = new Map<string, Buffer[]>();
  const postText = new Map<string, Buffer[]>();
  const seenSchema = new Set<string>();
  let currentSchemaSink: SectionSink = null;
  const accounts = ctx.includeUsers ? dumpAccountsObject(ctx, suffix) : Promise.resolve(undefined);
  accounts.catch(() => undefined);
  const lockInfo: { value: { method: string; waitedSeconds: number; heldSeconds: number } | null } = { value: null };

  // The first failure is the one reported; the others are what stopping everything caused.
  let firstError: unknown;
  const fail = (err: unknown): never => {
    firstError ??= err;
    ac.abort(err);
    throw err;
  };

  try {
    await withClientCredentials(ctx.source, async (cred) => {
      // 1. Every session opens its snapshot while commits are blocked.
      const lock = ctx.hooks?.noLock || !ctx.server.logBin ? undefined : await takeCommitLock(ctx);
      const heldFrom = Date.now();
      let allOpened = false;
      try {
        for (const s of sessions) {
          start(s, cred);
          await ctx.hooks?.afterSessionStart?.(s.index);
        }
        await Promise.race([Promise.all(sessions.map((s) => s.opened)), ...sessions.map((s) => s.proc!.done.then(() => new Promise<never>(() => undefined)))]);
        allOpened = true;
      } finally {
        if (lock) lockInfo.value = { method: lock.method, waitedSeconds: lock.waitedSeconds, heldSeconds: (Date.now() - heldFrom) / 1000 };
        // A lock connection that died took its lock with it. When a session failed, its error is the one to report.
        const released = await lock?.release().then(
          () => undefined,
          (err: unknown) => err,
        );
        if (released !== undefined && allOpened) {
          fail(new BacktrackError(`lost the connection that held ${lock?.method} on the source (${(released as Error).message}): the source restarted or the connection was killed; the backup was not committed`, { code: 'SOURCE_LOST', cause: released }));
        }
      }
      checkSameSnapshot(sessions, ctx.server.logBin, 'opened');
      // 2. Read `parallelism` sessions at a time; the others wait on their pipes.
      const queue = [...sessions];
      const active = sessions.filter((s) => s.kind === 'schema' || s.kind === 'post');
      const dataSessions = queue.filter((s) => s.kind === 'data' || s.kind === 'chunk');
      for (const s of dataSessions) {
        s.proc!.stdout.unpipe(s.sections);
        s.proc!.stdout.pause();
      }
      const runOne = async (s: Session) => {
        s.proc!.stdout.pipe(s.sections as DumpSections);
        await finish(s);
      };
      const pool = async () => {
        for (let s = dataSessions.shift(); s && !signal.aborted; s = dataSessions.shift()) await runOne(s);
      };
      await Promise.all([...active.map((s) => finish(s)), ...Array.from({ length: Math.max(1, ctx.parallelism) }, pool)]);
    });
    await Promise.all(uploads);
  } catch (err) {
    firstError ??= err;
    ac.abort(err);
    await Promise.allSettled(uploads);
    await accounts.catch(() => undefined);
    await toolVersion.catch(() => undefined);
    throw ctx.signal?.aborted ? err : firstError;
  }
  checkSameSnapshot(sessions, ctx.server.logBin, 'ended');
  checkTablesSeen(sessions, work);
  // 3. One post-data object per database: final views, triggers, events, routines.
  for (const [i, schema] of ctx.schemas.entries()) {
    const parts = [...(viewText.get(schema) ?? []), ...(postText.get(schema) ?? [])];
    if (!parts.length) continue;
    const name = `post.${pad(i + 1, 4)}.sql${suffix}`;
    const stored = await uploadSmall(Buffer.concat([preambleOf(sessions, 'post'), ...parts]), ctx.objects, name, { codec: ctx.codec, signal });
    objects.push({ ...stored, name, role: 'post', schema });
  }
  const users = await accounts;
  if (users) objects.push(users.object);
  const snap = sessions[0]?.snapshot ?? {};
  const rowCounts = rowCountsOf(ctx, work, objects, history);
  return {
    format: 2,
    tool,
    toolVersion: await toolVersion,
    args: base,
    objects: sortObjects(objects),
    snapshot: ctx.server.logBin ? snapshotOf(snap, tool) : null,
    rowCounts,
    accounts: users?.accounts ?? [],
    notes: ctx.server.logBin ? [] : ['the source has no binary log: this backup has no snapshot point and cannot anchor point-in-time recovery; its rows were dumped by one session'],
    parallel: { sessions: sessions.length, parallelism: ctx.parallelism, lock: lockInfo.value },
  };

  /** Spawn a session's dump and route its sections. */
  function start(s: Session, cred: ClientCredentials): void {
    const proc = runTool(tool, [...cred.args, ...s.args], { fds: cred.fds, signal, label: `${tool} (session ${s.index + 1} of ${sessions.length}, ${describeSession(s)})`, installHint: INSTALL_HINT });
    s.proc = proc;
    let current: { stream: PassThrough } | undefined;
    const endCurrent = () => {
      current?.stream.end();
      current = undefined;
    };
    const sections = new DumpSections(
      (sec) =>
        route(s, sec, (stream) => {
          endCurrent();
          current = { stream };
        }),
      (line) => {
        const found = parseSnapshotComment(line);
        if (found) Object.assign(s.snapshot, found);
        if (found?.position !== undefined) s.markOpened();
        if (line.startsWith('-- Dump completed')) s.completed = true;
      },
    );
    s.sections = sections;
    proc.stdout.pipe(sections);
    proc.stdout.once('error', (err) => sections.destroy(err));
    sections.once('finish', endCurrent);
    sections.once('error', () => current?.stream.destroy());
    // A session without a binary log prints no coordinates: it is open once it has output.
    if (!ctx.server.logBin) proc.stdout.once('data', () => s.markOpened());
    proc.done.then(
      () => s.markOpened(),
      () => s.markOpened(),
    );
  }

  /** Wait for a session to end and every object it wrote. */
  async function finish(s: Session): Promise<void> {
    // `finished` also settles for a stream that already ended or failed.
    await finished(s.sections as DumpSections, { readable: false }).catch(fail);
    await s.proc!.done.catch(fail);
    if (!s.completed) fail(new ToolError(`${tool} (${describeSession(s)}) exited successfully but its output has no "Dump completed" line: the dump is incomplete; the backup was not committed`));
  }

  /** Where a section of a session goes. */
  function route(s: Session, sec: Section, open: (stream: PassThrough) => void): SectionSink {
    if (s.kind === 'schema') {
      if (sec.kind === 'database') {
        // The schema session visits each database twice: tables first, then the final views.
        const first = !seenSchema.has(sec.schema);
        seenSchema.add(sec.schema);
        if (!first) return textSink(viewText, sec.schema);
        const i = ctx.schemas.indexOf(sec.schema);
        const name = `schema.${pad(i + 1, 4)}.sql${suffix}`;
        const stream = objectStream(s, name, { role: 'schema', schema: sec.schema });
        open(stream);
        return sinkOf(stream);
      }
      if (sec.kind === 'view-final') return textSink(viewText, sec.schema);
      // Table and sequence structures and view stand-ins stay with the database's schema object.
      return currentSchemaSink;
    }
    if (s.kind === 'post') return textSink(postText, sec.schema);
    if (sec.kind !== 'data') return null;
    const schema = s.kind === 'chunk' ? (s.chunk as Chunk).t.schema : sec.schema;
    const t = work.find((w) => w.schema === schema && w.table === sec.name);
    if (!t) fail(new BacktrackError(`a dump session wrote rows of ${schema}.${sec.name}, which it was not given: the schema changed while the backup ran; the backup was not committed: run it again`, { code: 'DDL_DURING_BACKUP' }));
    const tw = t as TableWork;
    s.seen.add(`${tw.schema}\u0000${tw.table}`);
    const c = s.kind === 'chunk' ? (s.chunk as Chunk) : undefined;
    const name = `table.${pad(tw.schemaIndex + 1, 4)}.${pad(tw.tableIndex + 1, 5)}${c ? `.c${pad(c.index + 1, 4)}` : ''}.sql${suffix}`;
    const chunk = c && tw.key ? { index: c.index, count: c.count, column: tw.key.column, from: c.from?.toString() ?? null, to: c.to?.toString() ?? null } : undefined;
    const stream = objectStream(s, name, { role: 'table', schema: tw.schema, table: tw.table, chunk });
    open(stream);
    return sinkOf(stream);
  }

  /** An object's raw stream: the session's preamble, then its section's lines, scanned and uploaded. */
  function objectStream(s: Session, name: string, place: Omit<EngineObject, 'name' | 'key' | 'size' | 'sha256' | 'rawSize'>): PassThrough {
    const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
    // When the backup stops, an object half written must not wait for more bytes.
    const stop = () => stream.destroy(signal.reason instanceof Error ? signal.reason : new Error('the backup stopped'));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', stop));
    for (const p of (s.sections as DumpSections).preamble) stream.write(p);
    const scanner = new DumpScanner();
    stream.pipe(scanner);
    stream.once('error', (err) => scanner.destroy(err));
    const upload = uploadCompressed(scanner, ctx.objects, name, { codec: { ...ctx.codec, signal }, signal, bufferUpTo: 4 * 1024 * 1024, sizeHint: place.role === 'table' ? (work.find((w) => w.schema === place.schema && w.table === place.table)?.bytes ?? 0) : undefined })
      .then((stored) => {
        const rows = place.role === 'table' ? [...scanner.facts.rows.values()].reduce((a, b) => a + b, 0) : undefined;
        objects.push({ ...stored, name, ...place, ...(rows !== undefined ? { rows } : {}) });
      })
      .catch(fail);
    upload.catch(() => undefined);
    uploads.push(upload);
    if (place.role === 'schema') currentSchemaSink = sinkOf(stream);
    return stream;
  }

  function textSink(into: Map<string, Buffer[]>, schema: string): SectionSink {
    return {
      write: (chunk: Buffer) => {
        const parts = into.get(schema) ?? [];
        parts.push(Buffer.from(chunk));
        into.set(schema, parts);
        return true;
      },
    };
  }
}

/** A PassThrough as a section sink with backpressure. */
function sinkOf(stream: PassThrough): SectionSink {
  return {
    write: (chunk: Buffer) => stream.write(chunk),
    waitDrain: () =>
      new Promise<void>((resolve, reject) => {
        const done = () => {
          stream.off('drain', done);
          stream.off('error', done);
          stream.off('close', done);
          if (stream.errored) reject(stream.errored);
          else resolve();
        };
        stream.once('drain', done);
        stream.once('error', done);
        stream.once('close', done);
      }),
  };
}

function describeSession(s: Session): string {
  if (s.kind === 'schema') return 'schema';
  if (s.kind === 'post') return 'triggers, routines, events';
  if (s.kind === 'chunk') {
    const c = s.chunk as Chunk;
    return `${c.t.schema}.${c.t.table} chunk ${c.index + 1} of ${c.count}`;
  }
  const n = s.tables?.length ?? 0;
  return `${n} table${n === 1 ? '' : 's'}`;
}

/** The preamble of the first session of a kind (every session's is the same). */
function preambleOf(sessions: Session[], kind: SessionKind): Buffer {
  return Buffer.concat(sessions.find((s) => s.kind === kind)?.sections?.preamble ?? []);
}

/** Sizes and keys of the base tables, from information_schema. */
async function planTables(ctx: DumpContext, history: boolean): Promise<TableWork[]> {
  const base = ctx.inventory.tables.filter((t) => t.type === 'BASE TABLE' || t.type === 'SYSTEM VERSIONED');
  const conn = await connect(ctx.source);
  try {
    const inList = ctx.schemas.map(() => '?').join(',');
    const sizes = await queryRows<{ s: string; t: string; bytes: string | number }>(conn, `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COALESCE(DATA_LENGTH, 0) AS bytes FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${inList})`, ctx.schemas);
    const keys = await queryRows<{ s: string; t: string; c: string; type: string; n: number | string }>(
      conn,
      `SELECT k.TABLE_SCHEMA AS s, k.TABLE_NAME AS t, MIN(k.COLUMN_NAME) AS c, MIN(c.DATA_TYPE) AS type, COUNT(*) AS n
         FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.COLUMNS c
           ON c.TABLE_SCHEMA = k.TABLE_SCHEMA AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME
        WHERE k.CONSTRAINT_NAME = 'PRIMARY' AND k.TABLE_SCHEMA IN (${inList})
        GROUP BY k.TABLE_SCHEMA, k.TABLE_NAME`,
      ctx.schemas,
    );
    const size = new Map(sizes.map((r) => [`${r.s}\u0000${r.t}`, Number(r.bytes)]));
    const key = new Map(keys.filter((r) => Number(r.n) === 1 && INTEGER_TYPES.has(String(r.type).toLowerCase())).map((r) => [`${r.s}\u0000${r.t}`, r.c]));
    const perSchema = new Map<string, number>();
    const out: TableWork[] = [];
    for (const t of base) {
      const k = `${t.schema}\u0000${t.name}`;
      const tableIndex = perSchema.get(t.schema) ?? 0;
      perSchema.set(t.schema, tableIndex + 1);
      const w: TableWork = { schema: t.schema, table: t.name, schemaIndex: ctx.schemas.indexOf(t.schema), tableIndex, bytes: size.get(k) ?? 0, history: history && t.type === 'SYSTEM VERSIONED' };
      const column = key.get(k);
      // Chunks need a key range; a system-versioned table keeps its history rows together.
      if (column && w.bytes > ctx.chunkSize && t.type === 'BASE TABLE' && ctx.server.logBin) {
        const q = (id: string) => `\`${id.replace(/`/g, '``')}\``;
        const [r] = await queryRows<{ lo: string | null; hi: string | null }>(conn, `SELECT CAST(MIN(${q(column)}) AS CHAR) AS lo, CAST(MAX(${q(column)}) AS CHAR) AS hi FROM ${q(t.schema)}.${q(t.name)}`);
        if (r?.lo != null && r.hi != null) w.key = { column, min: BigInt(r.lo), max: BigInt(r.hi) };
      }
      out.push(w);
    }
    return out;
  } finally {
    await closeQuietly(conn);
  }
}

/** Sessions for the work: schema, post, packed whole tables, and chunks. */
function planSessions(ctx: DumpContext, work: TableWork[], base: string[]): Session[] {
  const sessions: Session[] = [];
  const add = (kind: SessionKind, args: string[], extra: Partial<Session> = {}) => {
    let markOpened = () => undefined as void;
    const opened = new Promise<void>((r) => (markOpened = r));
    sessions.push({ index: sessions.length, kind, args, snapshot: {}, completed: false, opened, markOpened, seen: new Set(), ...extra });
  };
  const quote = (s: string, t: string) => `--ignore-table=${s}.${t}`;
  // Chunk counts, grown to fit maxSessions.
  const big = work.filter((w) => w.key);
  const budget = Math.max(1, ctx.maxSessions - 2 - Math.min(ctx.parallelism, Math.max(1, work.length - big.length)));
  let chunkSize = ctx.chunkSize;
  const chunksOf = (w: TableWork) => Math.max(1, Math.ceil(w.bytes / chunkSize));
  while (big.reduce((n, w) => n + chunksOf(w), 0) > budget) chunkSize *= 1.25;
  const chunks: Chunk[] = [];
  const whole: TableWork[] = [];
  for (const w of work) {
    const n = w.key ? Math.min(chunksOf(w), Number(w.key.max - w.key.min + 1n)) : 1;
    if (!w.key || n < 2) {
      whole.push(w);
      continue;
    }
    const span = w.key.max - w.key.min + 1n;
    const bounds = Array.from({ length: n - 1 }, (_, i) => w.key!.min + (span * BigInt(i + 1)) / BigInt(n));
    for (let i = 0; i < n; i++) chunks.push({ t: w, index: i, count: n, from: i === 0 ? null : (bounds[i - 1] as bigint), to: i === n - 1 ? null : (bounds[i] as bigint) });
  }
  add('schema', [...sessionDumpFlags(base, 'schema'), '--databases', ...ctx.schemas]);
  add('post', [...sessionDumpFlags(base, 'post'), '--databases', ...ctx.schemas]);
  // Whole tables, largest first, each to the least loaded group. No binary log: one group (one snapshot).
  const groups = Array.from({ length: ctx.server.logBin ? Math.min(ctx.parallelism, Math.max(1, whole.length)) : 1 }, () => ({ bytes: 0, tables: [] as TableWork[] }));
  for (const w of [...whole].sort((a, b) => b.bytes - a.bytes)) {
    const g = groups.reduce((a, b) => (b.bytes < a.bytes ? b : a));
    g.bytes += w.bytes;
    g.tables.push(w);
  }
  const all = ctx.inventory.tables;
  for (const g of groups.filter((x) => x.tables.length)) {
    const mine = new Set(g.tables.map((t) => `${t.schema}\u0000${t.table}`));
    const schemas = [...new Set(g.tables.map((t) => t.schema))];
    const ignore = all.filter((t) => schemas.includes(t.schema) && !mine.has(`${t.schema}\u0000${t.name}`)).map((t) => quote(t.schema, t.name));
    add('data', [...sessionDumpFlags(base, 'data'), ...ignore, '--databases', ...schemas], { tables: g.tables });
  }
  for (const c of chunks) {
    const col = `\`${c.t.key!.column.replace(/`/g, '``')}\``;
    const where = [c.from !== null ? `${col} >= ${c.from}` : '', c.to !== null ? `${col} < ${c.to}` : ''].filter(Boolean).join(' AND ') || '1=1';
    add('chunk', [...sessionDumpFlags(base, 'data'), `--where=${where}`, c.t.schema, c.t.table], { chunk: c, tables: [c.t] });
  }
  return sessions;
}

/** Take the commit lock, giving up (and killing the wait) after lockTimeout. */
async function takeCommitLock(ctx: DumpContext): Promise<{ method: string; waitedSeconds: number; release: () => Promise<void> }> {
  const sql = commitLockSql(ctx.server.flavor);
  const conn = await connect(ctx.source);
  const t0 = Date.now();
  const seconds = Math.max(1, Math.ceil(ctx.lockTimeoutMs / 1000));
  let timer: NodeJS.Timeout | undefined;
  try {
    await conn.query(`SET SESSION lock_wait_timeout = ${seconds}`);
    const id = conn.threadId;
    const killed = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // The statement is still waiting: stop it from another session, so writes queue behind it no longer.
        void (async () => {
          const killer = await connect(ctx.source).catch(() => undefined);
          await killer?.query(`KILL QUERY ${id}`).catch(() => undefined);
          if (killer) await closeQuietly(killer);
        })();
        reject(new BacktrackError(`could not take ${sql.method} within ${ctx.lockTimeoutMs / 1000}s (backup.lockTimeout): a long query or transaction on the source holds it up; the wait was stopped so the source's writes are not stalled, and the backup was not taken. Run it again when that query has finished, or raise backup.lockTimeout`, { code: 'LOCK_TIMEOUT' }));
      }, ctx.lockTimeoutMs);
    });
    killed.catch(() => undefined);
    for (const stmt of sql.take) await Promise.race([conn.query(stmt), killed]);
    clearTimeout(timer);
    return {
      method: sql.method,
      waitedSeconds: (Date.now() - t0) / 1000,
      release: async () => {
        try {
          for (const stmt of sql.release) await conn.query(stmt);
        } finally {
          await closeQuietly(conn);
        }
      },
    };
  } catch (err) {
    clearTimeout(timer);
    await closeQuietly(conn);
    if (err instanceof BacktrackError) throw err;
    throw new BacktrackError(`could not take ${sql.method} on the source: ${(err as Error).message}. The backup account needs the RELOAD privilege${ctx.server.flavor === 'mysql' ? ' and BACKUP_ADMIN' : ''} (backtrack check lists the grants)`, { code: 'LOCK_FAILED', cause: err });
  }
}

/** Every session must report the same snapshot point. */
function checkSameSnapshot(sessions: Session[], logBin: boolean, when: 'opened' | 'ended'): void {
  if (!logBin) return;
  const first = sessions[0] as Session;
  const key = (s: Session) => (when === 'opened' ? `${s.snapshot.file}:${s.snapshot.position}` : `${s.snapshot.file}:${s.snapshot.position} ${s.snapshot.gtid ?? ''}`);
  for (const s of sessions) {
    if (s.snapshot.file === undefined || s.snapshot.position === undefined) {
      throw new ToolError(`dump session ${s.index + 1} (${describeSession(s)}) did not print its binlog coordinates; the snapshot point is unknown, so the backup was not committed`);
    }
    if (key(s) !== key(first)) {
      throw new BacktrackError(
        `the dump sessions do not share one snapshot: session ${s.index + 1} (${describeSession(s)}) opened at ${key(s)}, session 1 at ${key(first)}; the backup was not committed (the commit lock did not hold while they opened: run it again)`,
        { code: 'SNAPSHOT_MISMATCH' },
      );
    }
  }
}

/** Every table given to a data session must have been dumped (a table dropped meanwhile would be missing). */
function checkTablesSeen(sessions: Session[], work: TableWork[]): void {
  const seen = new Set(sessions.flatMap((s) => [...s.seen]));
  const missing = work.filter((w) => !seen.has(`${w.schema}\u0000${w.table}`));
  if (missing.length) {
    throw new BacktrackError(`tables changed while the backup ran: ${missing.slice(0, 10).map((w) => `${w.schema}.${w.table} (not dumped)`).join(', ')}; the backup was not committed: run it again`, { code: 'DDL_DURING_BACKUP' });
  }
}

function snapshotOf(s: Partial<SnapshotPoint>, tool: string): SnapshotPoint {
  if (s.file === undefined || s.position === undefined) throw new ToolError(`${tool} did not print the binlog coordinates; the snapshot point is unknown, so the backup was not committed`);
  return { file: s.file, position: s.position, gtid: s.gtid ?? '' };
}

function rowCountsOf(ctx: DumpContext, work: TableWork[], objects: EngineObject[], history: boolean): DumpResult['rowCounts'] {
  const rows = new Map<string, number>();
  for (const o of objects) if (o.role === 'table') rows.set(`${o.schema}\u0000${o.table}`, (rows.get(`${o.schema}\u0000${o.table}`) ?? 0) + (o.rows ?? 0));
  return ctx.inventory.tables
    .filter((t) => t.type !== 'SEQUENCE' && t.type !== 'VIEW')
    .map((t) => ({ schema: t.schema, table: t.name, rows: rows.get(`${t.schema}\u0000${t.name}`) ?? 0, history: history && t.type === 'SYSTEM VERSIONED' && work.some((w) => w.schema === t.schema && w.table === t.name) }));
}

/** Objects in load order: schema, tables (by name), post, users. */
function sortObjects(objects: EngineObject[]): EngineObject[] {
  const rank = { schema: 0, table: 1, data: 1, post: 2, users: 3 } as const;
  return [...objects].sort((a, b) => rank[a.role] - rank[b.role] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
