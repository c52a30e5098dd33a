/**
 * The binlog chain of a source as the repository holds it: per timeline, the
 * archived files in order (each a whole file or its pieces so far), every gap
 * (recorded by the archiver, or found here: a missing file, pieces that do
 * not meet, a GTID discontinuity), and the restorable windows: stretches
 * without a gap that start at a backup's snapshot point.
 */
import { GtidSet, type Flavor } from '../mysql/gtid.js';
import type { Manifest } from '../repository/manifest.js';
import { segmentKey, type Repository } from '../repository/repository.js';
import type { SegmentSource } from './segments.js';
import { fileIndex, nextFileName, timelineOf, type GapRecord, type Sidecar } from '../repository/sidecar.js';

/** One binlog file as archived. */
export interface ChainFile {
  file: string;
  index: number;
  /**
   * The segments to read the file from, in offset order: the whole file,
   * or a cover of pieces. Two pieces may overlap (two writers once
   * archived the same bytes); the reader skips the overlap after checking
   * that both hold the same bytes there.
   */
  segments: Sidecar[];
  /** End of the covered bytes (from 0 or the first piece's start). */
  end: number;
  closed: boolean;
  whole: boolean;
}

/** A break in the chain: transactions that cannot be replayed. */
export interface Gap {
  timeline: string;
  reason: GapRecord['reason'];
  detail: string;
  /** The last archived point before the gap. */
  before?: { file: string; offset: number; time?: string | undefined } | undefined;
  /** The first archived point after it. */
  after?: { file: string; offset: number; time?: string | undefined } | undefined;
}

export interface Timeline {
  id: string;
  flavor: Flavor;
  files: ChainFile[];
  gaps: Gap[];
  lastTransactionTime?: string | undefined;
  lastArchivedAt?: string | undefined;
}

/** A point in a timeline's log. */
export interface LogPoint {
  file: string;
  offset: number;
}

/** Order two points of one timeline. */
export function comparePoints(a: LogPoint, b: LogPoint): number {
  return fileIndex(a.file) - fileIndex(b.file) || a.offset - b.offset;
}

/** Read every sidecar and gap record of a source and build its timelines. */
export async function loadChain(repo: Repository, source: string): Promise<Timeline[]> {
  const { sidecars, gaps: gapRecords, objects } = await repo.listBinlogRecords(source);
  const byTimeline = new Map<string, Sidecar[]>();
  for (const s of sidecars) byTimeline.set(s.timeline, [...(byTimeline.get(s.timeline) ?? []), s]);
  const ids = new Set([...byTimeline.keys(), ...gapRecords.map((g) => g.timeline)]);
  return [...ids]
    .map((id) => buildTimeline(id, byTimeline.get(id) ?? [], gapRecords.filter((g) => g.timeline === id), objects))
    .sort((a, b) => ((a.lastArchivedAt ?? '') < (b.lastArchivedAt ?? '') ? -1 : 1));
}

/**
 * Assemble one timeline from its sidecars and the objects present; pure,
 * so it is unit-tested directly. `objects` (segment key -> size) leaves out
 * segments whose object is missing or of the wrong size; without it every
 * sidecar's object is taken as present.
 */
export function buildTimeline(id: string, sidecars: Sidecar[], records: GapRecord[], objects?: Map<string, number>): Timeline {
  const byFile = new Map<string, Sidecar[]>();
  for (const s of sidecars) byFile.set(s.file, [...(byFile.get(s.file) ?? []), s]);
  const gaps: Gap[] = records.map((r) => ({
    timeline: id,
    reason: r.reason,
    detail: r.detail,
    before: r.after ? { file: r.after.file, offset: r.after.offset } : undefined,
    after: r.resumedAt ? { file: r.resumedAt.file, offset: r.resumedAt.offset } : undefined,
  }));
  const files: ChainFile[] = [];
  const lost = new Map<string, { detail: string; end: number }>();
  for (const [file, segs] of byFile) {
    const present = (s: Sidecar) => !objects || objects.get(segmentKey(s)) === s.object.size;
    const cover = coverFile(id, file, segs.filter(present), segs.filter((s) => !present(s)), objects);
    gaps.push(...cover.gaps);
    if (cover.file) files.push(cover.file);
    if (cover.lost) lost.set(file, cover.lost);
  }
  files.sort((a, b) => a.index - b.index);
  const flavor = (sidecars[0]?.server.flavor ?? 'mariadb') as Flavor;
  gaps.push(...findGaps(id, flavor, files, lost));
  const lastSeg = files[files.length - 1]?.segments.slice(-1)[0];
  const allSegs = files.flatMap((f) => f.segments);
  return {
    id,
    flavor,
    files,
    gaps: dedupeGaps(gaps).sort((a, b) => comparePoints(a.before ?? { file: '', offset: 0 }, b.before ?? { file: '', offset: 0 })),
    lastTransactionTime: lastTxTime(files),
    lastArchivedAt: allSegs.map((s) => s.archivedAt).sort().slice(-1)[0] ?? lastSeg?.archivedAt,
  };
}

/**
 * The segments one file is read from: its whole file if that is usable,
 * else a cover of its pieces, each step taking the piece that reaches
 * furthest from where the last one ended (pieces of two writers may
 * overlap; that is not a gap). Bytes no usable segment holds are a gap,
 * named by the sidecar whose object is missing when there is one.
 */
function coverFile(id: string, file: string, usable: Sidecar[], missing: Sidecar[], objects?: Map<string, number>): { file?: ChainFile; gaps: Gap[]; lost?: { detail: string; end: number } } {
  const gaps: Gap[] = [];
  const why = (from: number, to: number): string => {
    const lost = missing.filter((m) => m.start < to && m.end > from);
    if (lost.length === 0) return `bytes ${from}..${to} of ${file} are not in the repository`;
    const what = lost.map((m) => `${segmentKey(m)} (${objects?.has(segmentKey(m)) ? `${objects.get(segmentKey(m))} bytes, its sidecar says ${m.object.size}` : 'missing'})`);
    return `bytes ${from}..${to} of ${file} are not usable: the object of ${what.join(', ')}`;
  };
  const whole = usable.find((s) => s.kind === 'file');
  const maxEnd = Math.max(0, ...usable.map((s) => s.end), ...missing.map((s) => s.end));
  let segments: Sidecar[];
  if (whole) segments = [whole];
  else {
    const pieces = usable.filter((s) => s.kind === 'piece').sort((a, b) => a.start - b.start || b.end - a.end);
    segments = [];
    let cur = pieces[0]?.start ?? 0;
    for (;;) {
      const reach = pieces.filter((p) => p.start <= cur && p.end > cur).sort((a, b) => b.end - a.end)[0];
      if (reach) {
        segments.push(reach);
        cur = reach.end;
        continue;
      }
      const next = pieces.find((p) => p.start > cur);
      if (!next) break;
      gaps.push({ timeline: id, reason: 'missing-segment', detail: why(cur, next.start), before: { file, offset: cur }, after: { file, offset: next.start } });
      cur = next.start;
    }
  }
  const last = segments[segments.length - 1];
  const end = last?.end ?? 0;
  // A sidecar that starts before the usable bytes: the start of the file is missing.
  const minStart = Math.min(...usable.map((x) => x.start), ...missing.map((x) => x.start));
  const coverStart = segments[0]?.start;
  if (coverStart !== undefined && coverStart > minStart) gaps.push({ timeline: id, reason: 'missing-segment', detail: why(minStart, coverStart), before: { file, offset: minStart }, after: { file, offset: coverStart } });
  // Nothing of the file is usable: the chain sees a missing file (findGaps).
  if (!last) return { gaps, lost: { detail: why(0, maxEnd), end: maxEnd } };
  // A sidecar that reaches past the usable bytes: its object is missing at the end of the file.
  if (maxEnd > end) gaps.push({ timeline: id, reason: 'missing-segment', detail: why(end, maxEnd), before: { file, offset: end }, after: { file, offset: maxEnd } });
  // A file stored as pieces is complete when its last piece holds the rotate or stop event.
  return { file: { file, index: fileIndex(file), segments, end, closed: whole?.closed ?? (last.closed && end === maxEnd), whole: !!whole }, gaps };
}

function lastTxTime(files: ChainFile[]): string | undefined {
  for (let i = files.length - 1; i >= 0; i--) {
    const segs = (files[i] as ChainFile).segments;
    for (let j = segs.length - 1; j >= 0; j--) {
      const t = (segs[j] as Sidecar).lastTransaction;
      if (t) return new Date(t.timestamp * 1000).toISOString();
    }
  }
  return undefined;
}

function findGaps(id: string, flavor: Flavor, files: ChainFile[], lost: Map<string, { detail: string; end: number }>): Gap[] {
  const gaps: Gap[] = [];
  const because = (names: string[]) => names.map((n) => lost.get(n)?.detail).filter(Boolean).map((d) => ` (${d})`).join('');
  files.forEach((f, i) => {
    const first = f.segments[0] as Sidecar;
    if (first.start > 4 && i > 0) {
      gaps.push({ timeline: id, reason: 'missing-segment', detail: `the start of ${f.file} (bytes 4..${first.start}) is not in the repository`, before: { file: f.file, offset: 4 }, after: { file: f.file, offset: first.start } });
    }
    const next = files[i + 1];
    if (!next) return;
    if (next.index !== f.index + 1) {
      const missing: string[] = [];
      for (let name = nextFileName(f.file); fileIndex(name) < next.index; name = nextFileName(name)) missing.push(name);
      gaps.push({ timeline: id, reason: 'missing-segment', detail: `${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not in the repository${because(missing)}`, before: { file: f.file, offset: f.end }, after: { file: next.file, offset: 4 } });
    } else if (!f.whole && !f.closed) {
      gaps.push({ timeline: id, reason: 'missing-segment', detail: `${f.file} was archived only up to byte ${f.end}; its end is not in the repository`, before: { file: f.file, offset: f.end }, after: { file: next.file, offset: 4 } });
    }
    const disc = gtidDiscontinuity(flavor, f, next);
    if (disc) gaps.push({ timeline: id, reason: 'gtid-discontinuity', detail: disc, before: { file: f.file, offset: f.end }, after: { file: next.file, offset: 4 } });
  });
  // Files after the last usable one whose segments are all unusable: the chain ends in a gap.
  const last = files[files.length - 1];
  const after = [...lost.keys()].filter((n) => !last || fileIndex(n) > last.index).sort((a, b) => fileIndex(a) - fileIndex(b));
  const newest = after[after.length - 1];
  if (newest) {
    const from = last ? { file: last.file, offset: last.end } : { file: after[0] as string, offset: 0 };
    gaps.push({ timeline: id, reason: 'missing-segment', detail: `${after.join(', ')} ${after.length === 1 ? 'is' : 'are'} not usable${because(after)}`, before: from, after: { file: newest, offset: lost.get(newest)!.end } });
  }
  return gaps;
}

/** The next file's starting GTID state must not hold transactions we never saw. */
function gtidDiscontinuity(flavor: Flavor, f: ChainFile, next: ChainFile): string | undefined {
  const start = f.segments[0]?.startGtids;
  const nextStart = next.segments[0]?.startGtids;
  if (start === undefined || nextStart === undefined) return undefined;
  const seen = GtidSet.parse(flavor, start);
  for (const s of f.segments) seen.addAll(GtidSet.parse(flavor, s.gtids));
  if (seen.containsAll(GtidSet.parse(flavor, nextStart))) return undefined;
  return `${next.file} starts at GTID state ${nextStart}, but the archive up to the end of ${f.file} only reaches ${seen.toString() || '(empty)'}`;
}

function dedupeGaps(gaps: Gap[]): Gap[] {
  const seen = new Set<string>();
  return gaps.filter((g) => {
    // One break in the chain is one gap, however many ways it was noticed;
    // the archiver's own record (listed first) says the most about it.
    const k = `${g.before?.file}:${g.before?.offset}|${g.after?.file}:${g.after?.offset}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** A stretch of time that can be restored to any second. */
export interface RestorableWindow {
  timeline: string;
  from: string;
  to: string;
  /** The oldest backup the window starts at. */
  fromBackup: string;
}

/** The timeline a backup's snapshot point belongs to. */
export function backupTimeline(m: Manifest): string {
  return timelineOf(m.server.flavor, m.server.identity);
}

/** Restorable windows: from each backup that starts a gap-free stretch, to the end of that stretch. */
export function restorableWindows(timelines: Timeline[], manifests: Manifest[]): RestorableWindow[] {
  const windows: RestorableWindow[] = [];
  for (const tl of timelines) {
    const backups = manifests.filter((m) => m.snapshot && backupTimeline(m) === tl.id).sort((a, b) => (a.id < b.id ? -1 : 1));
    const stretches = stretchesOf(tl);
    for (const st of stretches) {
      const inside = backups.filter((m) => {
        const p = { file: m.snapshot!.file, offset: m.snapshot!.position };
        return comparePoints(p, st.from) >= 0 && comparePoints(p, st.to) <= 0;
      });
      const first = inside[0];
      if (!first) continue;
      // A source idle since its backup has no transaction after it: the window is that backup's point.
      const to = st.toTime && st.toTime > first.startedAt ? st.toTime : first.startedAt;
      windows.push({ timeline: tl.id, from: first.startedAt, to, fromBackup: first.id });
    }
  }
  return windows;
}

/** Gap-free stretches of a timeline: [from, to] points with the last transaction time. */
export function stretchesOf(tl: Timeline): Array<{ from: LogPoint; to: LogPoint; toTime?: string | undefined }> {
  if (tl.files.length === 0) return [];
  const first = tl.files[0] as ChainFile;
  const cuts = tl.gaps.filter((g) => g.before && g.after).sort((a, b) => comparePoints(a.before!, b.before!));
  const out: Array<{ from: LogPoint; to: LogPoint; toTime?: string | undefined }> = [];
  let from: LogPoint = { file: first.file, offset: first.segments[0]?.start || 4 };
  for (const g of cuts) {
    out.push({ from, to: g.before!, toTime: timeBefore(tl, g.before!) });
    from = g.after!;
  }
  const last = tl.files[tl.files.length - 1] as ChainFile;
  out.push({ from, to: { file: last.file, offset: last.end }, toTime: tl.lastTransactionTime });
  return out.filter((s) => comparePoints(s.to, s.from) >= 0);
}

function timeBefore(tl: Timeline, p: LogPoint): string | undefined {
  let best: number | undefined;
  for (const f of tl.files) {
    for (const s of f.segments) {
      const t = s.lastTransaction;
      if (t && comparePoints({ file: s.file, offset: t.end }, p) <= 0) best = t.timestamp;
    }
  }
  return best === undefined ? undefined : new Date(best * 1000).toISOString();
}

/** The current cover of a segment's file, read again from the repository (segments.ts reload). */
export function chainReloader(repo: Repository, source: string): (seg: Sidecar) => Promise<ChainFile | undefined> {
  return async (seg) => (await loadChain(repo, source)).find((t) => t.id === seg.timeline)?.files.find((f) => f.file === seg.file);
}

/** A source's archived segments as every reader takes them: from the repository, staged in `workDir`, reloading a cover a fold changed. */
export function repositorySegments(repo: Repository, source: string, codec: SegmentSource['codec'], workDir: string, signal?: AbortSignal): SegmentSource {
  return { store: repo.binlogObjects(source), codec, workDir, signal, reload: chainReloader(repo, source) };
}
