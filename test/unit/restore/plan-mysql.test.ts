/**
 * Planning a point-in-time restore over a MySQL 8.4 binlog that mixes plain
 * and compressed (Transaction_payload) transactions with tagged and untagged
 * GTIDs. The binlog is written by the test's own writer; the repository is
 * a real local one holding zstd-compressed segments and sidecars made from
 * what the writer knows (not from the parser under test), so the stop
 * points below are checked against the bytes as written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChain, type Timeline } from '../../../src/binlog/chain.js';
import { uploadCompressed } from '../../../src/pipeline/upload.js';
import type { Manifest } from '../../../src/repository/manifest.js';
import { WritableRepository } from '../../../src/repository/repository.js';
import { binlogKeys } from '../../../src/repository/layout.js';
import { timelineOf, type Sidecar } from '../../../src/repository/sidecar.js';
import { FsStore } from '../../../src/storage/fs.js';
import { planPointInTime } from '../../../src/restore/plan.js';
import { parseTime, targetPointFromFlags, type TargetPoint } from '../../../src/restore/point.js';
import * as W from '../../helpers/binlog-writer.js';

const { T, C, V } = W;
const U = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const SOURCE = 'shop';
const FILE = 'binlog.000001';
const identity = { serverUuid: U, serverId: 1, hostname: 'db1', port: 3306 };
const TIMELINE = timelineOf('mysql', identity);
const T0 = 1_780_000_000;

interface Written {
  start: number;
  end: number;
  ts: number;
  gtid: string;
  compressed: boolean;
}

/** Transaction i commits at T0 + 10*i; odd ones are compressed; 3..5 carry the tag "alpha". */
function writeFile(withUnknownAt?: number) {
  const w = new W.BinlogWriter(true);
  const trx: Written[] = [];
  w.add(T.FORMAT_DESCRIPTION, W.fde('8.4.3', true), T0);
  w.add(T.PREVIOUS_GTIDS, W.previousGtids([{ uuid: U, intervals: [[1, 100]] }], true), T0);
  const cols = [{ type: C.LONG }, { type: C.VARCHAR, meta: [40, 0] }];
  let untagged = 101;
  let tagged = 1;
  for (let i = 1; i <= 8; i++) {
    const ts = T0 + 10 * i;
    const isTagged = i >= 3 && i <= 5;
    const gno = isTagged ? tagged++ : untagged++;
    const gtid = isTagged ? `${U}:alpha:${gno}` : `${U}:${gno}`;
    const start = isTagged ? w.add(T.GTID_TAGGED, W.mysqlTaggedGtid(U, 'alpha', gno), ts).start : w.add(T.GTID, W.mysqlGtid(U, gno), ts).start;
    const events: Array<[number, Buffer]> = [
      [T.QUERY, W.query('BEGIN')],
      [T.TABLE_MAP, W.tableMap(70, 'shop', 'orders', cols)],
      [T.WRITE_ROWS, W.rows(T.WRITE_ROWS, 70, 2, [{ after: [V.int(i), V.varchar(`order ${i}`, 40)] }])],
    ];
    let end: number;
    if (i % 2 === 1) {
      end = w.add(T.TRANSACTION_PAYLOAD, W.transactionPayload([...events.map(([t, b]) => W.innerEvent(t, b, ts)), W.innerEvent(T.XID, W.xid(i), ts)]), ts).end;
    } else {
      for (const [t, b] of events) w.add(t, b, ts);
      if (withUnknownAt === i) w.add(77, Buffer.alloc(12), ts);
      end = w.add(T.XID, W.xid(i), ts).end;
    }
    trx.push({ start, end, ts, gtid, compressed: i % 2 === 1 });
  }
  w.add(T.ROTATE, W.rotate('binlog.000002'), T0 + 100);
  return { bytes: w.file(), trx };
}

async function archive(repo: WritableRepository, bytes: Buffer, trx: Written[], cuts: number[], problems: Sidecar['problems'] = []): Promise<void> {
  const bounds = [0, ...cuts, bytes.length];
  for (let k = 0; k + 1 < bounds.length; k++) {
    const [start, end] = [bounds[k] as number, bounds[k + 1] as number];
    const inside = trx.filter((t) => t.end > start && t.end <= end);
    const name = binlogKeys.segmentName('piece', FILE, start, end, '.zst');
    const key = `${TIMELINE}/${FILE}.partial/${name}`;
    const stored = await uploadCompressed(Readable.from([bytes.subarray(start, end)]), repo.binlogWriter(SOURCE), key, { codec: { zstd: 'zstd', level: 3, threads: 1 } });
    const asTrx = (t: Written) => ({ start: t.start, end: t.end, timestamp: t.ts, gtid: t.gtid });
    const mine = (problems ?? []).filter((p) => p.pos >= start && p.pos < end);
    await repo.putSidecar({
      format: 1,
      source: SOURCE,
      timeline: TIMELINE,
      file: FILE,
      kind: 'piece',
      start,
      end,
      closed: end === bytes.length,
      ...(end === bytes.length ? { nextFile: 'binlog.000002' } : {}),
      checksum: true,
      transactions: inside.length,
      ...(inside.length ? { firstTransaction: asTrx(inside[0] as Written), lastTransaction: asTrx(inside[inside.length - 1] as Written), minTimestamp: Math.min(...inside.map((t) => t.ts)), maxTimestamp: Math.max(...inside.map((t) => t.ts)) } : {}),
      ...(start === 0 ? { startGtids: `${U}:1-100` } : {}),
      ...(mine.length ? { problems: mine } : {}),
      gtids: inside.map((t) => t.gtid).join(','),
      object: { name, size: stored.size, sha256: stored.sha256, rawSize: stored.rawSize, encryption: null },
      server: { flavor: 'mysql', ...identity },
      archivedAt: new Date().toISOString(),
      level: 0,
    });
  }
}

function manifestAfter(t: Written, gtids: string): Manifest {
  return {
    format: 1,
    id: '20260601T000000Z-aaaa',
    source: SOURCE,
    server: { flavor: 'mysql', version: '8.4.3', identity },
    startedAt: new Date((t.ts - 1) * 1000).toISOString(),
    finishedAt: new Date((t.ts + 1) * 1000).toISOString(),
    snapshot: { file: FILE, position: t.end, gtid: gtids },
  } as unknown as Manifest;
}

describe('planning over compressed and plain MySQL transactions', () => {
  let dir: string;
  let repo: WritableRepository;
  let timelines: Timeline[];
  let written: Written[];
  let m: Manifest;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'bt-plan-mysql-'));
    repo = new WritableRepository(new FsStore(path.join(dir, 'repo')));
    const f = writeFile();
    written = f.trx;
    // Three pieces, cut inside the file at transaction boundaries (after trx 3 and 6).
    await archive(repo, f.bytes, written, [(written[2] as Written).end, (written[5] as Written).end]);
    timelines = await loadChain(repo, SOURCE);
    // The backup holds trx 1 (untagged 101): snapshot after it.
    m = manifestAfter(written[0] as Written, `${U}:1-101`);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const plan = (point: TargetPoint) => planPointInTime(point, [m], timelines, { src: { store: repo.binlogObjects(SOURCE), codec: { zstd: 'zstd' }, workDir: path.join(dir, 'work') }, now: new Date((T0 + 1000) * 1000) });
  const w = (i: number) => written[i - 1] as Written;

  it('--to a time stops after the last transaction committed by then, compressed or not', async () => {
    for (const i of [2, 3, 4, 5, 7, 8]) {
      const p = await plan(parseTime(new Date(w(i).ts * 1000).toISOString()));
      expect(p.stop, `trx ${i}`).toEqual({ file: FILE, offset: w(i).end });
      expect(p.lastIncluded?.gtid).toBe(w(i).gtid);
      if (i < 8) expect(p.firstExcluded?.gtid).toBe(w(i + 1).gtid);
      // Five seconds later is still before the next commit.
      const later = await plan(parseTime(new Date((w(i).ts + 5) * 1000).toISOString()));
      expect(later.stop).toEqual(p.stop);
    }
  });

  it('--to-gtid with a tagged set stops right after its last transaction', async () => {
    const p = await plan(targetPointFromFlags({ toGtid: `${U}:1-102:alpha:1-2` }));
    expect(p.stop).toEqual({ file: FILE, offset: w(4).end });
    expect(p.lastIncluded?.gtid).toBe(`${U}:alpha:2`);
    expect(p.firstExcluded).toBeUndefined();
    const q = await plan(targetPointFromFlags({ toGtid: `${U}:1-103:ALPHA:1-3` }));
    expect(q.stop).toEqual({ file: FILE, offset: w(6).end });
    expect(q.lastIncluded?.gtid).toBe(`${U}:103`);
  });

  it('--to-gtid with an untagged set stops right after its last transaction', async () => {
    const p = await plan(targetPointFromFlags({ toGtid: `${U}:1-102` }));
    expect(p.stop).toEqual({ file: FILE, offset: w(2).end });
    expect(p.lastIncluded?.gtid).toBe(`${U}:102`);
  });

  it('--to-gtid refuses a set that is not a prefix of the log', async () => {
    // alpha:1 comes after 102 in the log: 101 + alpha:1 skips 102.
    await expect(plan(targetPointFromFlags({ toGtid: `${U}:1-101:alpha:1` }))).rejects.toThrow(/not part of it|no backup can reach/);
  });

  it('--to-position stops at a transaction boundary, before or after a compressed transaction', async () => {
    for (const i of [3, 4, 5]) {
      const after = await plan(targetPointFromFlags({ toPosition: `${FILE}:${w(i).end}` }));
      expect(after.stop).toEqual({ file: FILE, offset: w(i).end });
      expect(after.lastIncluded?.gtid).toBe(w(i).gtid);
      const before = await plan(targetPointFromFlags({ toPosition: `${FILE}:${w(i).start}` }));
      expect(before.stop).toEqual({ file: FILE, offset: w(i).start });
      expect(before.lastIncluded?.gtid).toBe(w(i - 1).gtid);
    }
  });

  it('--to-position inside a compressed transaction is refused: a stop is never inside a payload', async () => {
    const inside = w(5).end - 10; // inside the payload event, the transaction's last
    await expect(plan(targetPointFromFlags({ toPosition: `${FILE}:${inside}` }))).rejects.toThrow(new RegExp(`${FILE}:${inside} is not a transaction boundary; the nearest are ${FILE}:${w(5).start} and ${FILE}:${w(5).end}`));
  });
});

describe('planning across an event the archiver could not read', () => {
  it('refuses to replay past it, naming offset and type, and plans a point before it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'bt-plan-mysql-'));
    try {
      const repo = new WritableRepository(new FsStore(path.join(dir, 'repo')));
      const f = writeFile(6);
      const t6 = f.trx[5] as Written;
      // The unknown event sits just before trx 6's XID (13 + 19 + 4 bytes before its end... found from the bytes).
      const pos = t6.end - (19 + 8 + 4) - (19 + 12 + 4);
      expect(f.bytes.readUInt8(pos + 4)).toBe(77);
      const problem = { pos, type: 77, kind: 'unknown-type' as const, message: `${FILE}: the event at offset ${pos} (unknown type 77): an event type this reader does not know` };
      await archive(repo, f.bytes, f.trx, [(f.trx[2] as Written).end], [problem]);
      const timelines = await loadChain(repo, SOURCE);
      const m = manifestAfter(f.trx[0] as Written, `${U}:1-101`);
      const plan = (point: TargetPoint) => planPointInTime(point, [m], timelines, { src: { store: repo.binlogObjects(SOURCE), codec: { zstd: 'zstd' }, workDir: path.join(dir, 'work') }, now: new Date((T0 + 1000) * 1000) });
      await expect(plan({ kind: 'latest' })).rejects.toMatchObject({ code: 'BINLOG_UNREADABLE', exitCode: 4 });
      await expect(plan({ kind: 'latest' })).rejects.toThrow(new RegExp(`cannot replay ${FILE} past offset ${pos}: .*unknown type 77.*--to-position ${FILE}:\\d+`));
      const ok = await plan(parseTime(new Date((f.trx[4] as Written).ts * 1000).toISOString()));
      expect(ok.stop.offset).toBe((f.trx[4] as Written).end);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
